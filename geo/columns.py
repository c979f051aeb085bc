"""Which column of an uploaded table holds which field, and which category a cell names.

Ward offices type headers in Vietnamese or English, with or without diacritics ("Vĩ độ",
"Vi do", "LATITUDE"); KoboToolbox/ODK exports add ``_uuid``, ``_geolocation`` and
``_<field>_latitude`` columns, often behind a group prefix (``grp_main/_gps_latitude``); the
readers add ``_lon``, ``_lat``, ``_time``... for formats with geometry. :func:`detect_columns`
maps all of them to the fields of one kind of record, using the editable alias table
``data/column_aliases.csv``, and says where it is unsure instead of guessing.

Alias strengths in that table: ``reader`` (a column a reader adds: always wins), ``strong``,
``weak`` (a guess: enough for an optional field, but a required field found only this way is
"unsure" and must be confirmed), ``pair`` (``x``/``y``, easting/northing: used only when both
axes are present). Aliases that start with ``_`` or contain ``/`` match the header itself
(case-insensitively); the others match its :func:`normalise`-d form, also when the header only
adds a unit or qualifier ("Khối lượng rác (kg)", "Vĩ độ (WGS84)"). The role ``id`` is the
record's id (``record_id``, ``report_id``, ``cleanup_id``) and ``when`` its main timestamp
(``observed_at``, ``started_at``, ``t``, ``received_at``), depending on the kind.

Time may come as one column or as a date column plus a time-of-day column: the mapping then
holds ``date`` (and ``time``) instead of the main timestamp; see
:func:`geo.values.combine_date_time`. Position comes as ``lat`` + ``lon`` (degrees, or a
projected northing/easting: :func:`geo.values.parse_coordinates` tells them apart by value)
or as one ``geolocation`` column (:func:`geo.values.parse_geolocation`).
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, get_args

import numpy as np
import pandas as pd

from geo.config import DATA_DIR
from geo.errors import InputError
from geo.i18n import LANGUAGES, t
from geo.model import VIOLATION_STATUSES, categories
from geo.problems import RowProblem
from geo.text import normalise
from geo.values import problems_where

__all__ = [
    "FIELDS",
    "REQUIRED",
    "TABLES",
    "TIME_FIELDS",
    "ColumnMapping",
    "Kind",
    "category_code",
    "detect_columns",
    "normalise",
    "parse_overrides",
    "status_code",
]

logger = logging.getLogger(__name__)

Kind = Literal["violations", "cleanups", "patrols", "citizen_reports"]
_KINDS: tuple[str, ...] = get_args(Kind)

_POSITION = ("lat", "lon", "geolocation")
_WHEN = ("date", "time")

#: The fields an upload of each kind may fill, in display order.
FIELDS: dict[str, tuple[str, ...]] = {
    "violations": (
        "record_id", "category", "observed_at", *_WHEN, *_POSITION, "address", "fine_vnd",
        "legal_basis", "items_removed", "status", "gps_accuracy_m", "offender", "photo_sha256",
        "notes", "geometry_type",
    ),
    "cleanups": (
        "cleanup_id", "started_at", "ended_at", *_WHEN, *_POSITION, "participants", "waste_kg",
        "address", "notes", "gps_accuracy_m", "photo_sha256", "geometry_type",
    ),
    "patrols": (
        "track_id", "team", "t", *_WHEN, *_POSITION, "gps_accuracy_m", "geometry_type",
    ),
    "citizen_reports": (
        "report_id", "received_at", *_WHEN, *_POSITION, "category", "severity", "status",
        "accepted_at", "resolved_at", "address", "notes", "geometry_type",
    ),
}  # fmt: skip

#: The main timestamp of each kind; ``date`` (+ ``time``) may stand in for it.
TIME_FIELDS: dict[str, str] = {
    "violations": "observed_at",
    "cleanups": "started_at",
    "patrols": "t",
    "citizen_reports": "received_at",
}

#: The store table each kind of upload fills.
TABLES: dict[str, str] = {
    "violations": "violations",
    "cleanups": "cleanups",
    "patrols": "patrol_points",
    "citizen_reports": "citizen_reports",
}

#: Required besides a position (lat + lon, or geolocation) and the main timestamp.
REQUIRED: dict[str, tuple[str, ...]] = {
    "violations": ("category",),
    "cleanups": (),
    "patrols": (),
    "citizen_reports": (),
}

_ROLES: dict[str, dict[str, str]] = {
    "id": {"violations": "record_id", "cleanups": "cleanup_id", "citizen_reports": "report_id"},
    "when": TIME_FIELDS,
}
_IGNORE = "ignore"
_LEVELS = {"reader": 3, "strong": 2, "pair": 2, "weak": 1}
_OVERRIDE_LEVEL = 4
#: Trailing header words that only qualify the field ("Khối lượng rác (kg)", "Vĩ độ (WGS84)").
_QUALIFIERS = frozenset((
    "wgs84", "wgs", "84", "vn2000", "2000", "deg", "degree", "degrees", "do", "dd", "decimal",
    "m", "met", "metre", "meter", "metres", "meters", "km", "kg", "kilogram", "kgs", "vnd",
    "dong", "d", "e", "n", "s", "w", "b", "gps", "code", "ma", "so", "no", "number", "num",
    "text", "iso", "utc", "local", "gmt", "7", "value", "gia", "tri",
))  # fmt: skip
#: KoboToolbox/ODK geopoint parts: ``_<field>_latitude`` etc.
_KOBO_GEOPOINT = re.compile(r"^_(.+)_(latitude|longitude|altitude|precision)$")
_KOBO_PARTS = {"latitude": "lat", "longitude": "lon", "altitude": _IGNORE}
_KOBO_PARTS["precision"] = "gps_accuracy_m"


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of a table holds which field, and what detection could not settle.

    Attributes
    ----------
    kind
        The kind of records the table holds.
    fields
        field -> the column holding it.
    unsure
        field -> candidate columns, when two columns claim a field equally, or a required
        field was found only by a weak guess. Settle them with overrides (``--map COL=FIELD``).
    missing
        Required fields found in no column (``lat``/``lon`` stand for any position).
    unused
        Columns that hold no field and are no candidate for one.
    """

    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    unsure: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing is unsure or missing: the table can be read with this mapping."""
        return not self.unsure and not self.missing

    def describe(self, lang: Literal["vi", "en"] = "vi") -> str:
        """The mapping as a few lines for people, e.g. ``"Vĩ độ → lat, Kinh độ → lon"``.

        Examples
        --------
        >>> m = detect_columns(["Vĩ độ", "Kinh độ", "Ngày", "Loại vi phạm"], kind="violations")
        >>> print(m.describe("en"))
        Columns used: Loại vi phạm → category, Ngày → date, Vĩ độ → lat, Kinh độ → lon
        """
        words = _DESCRIBE[lang]
        lines = []
        if self.fields:
            used = ", ".join(f"{col} → {name}" for name, col in self.fields.items())
            lines.append(f"{words['used']}: {used}")
        if self.unsure:
            joiner = f" {words['or']} "
            pairs = "; ".join(f"{name}: {joiner.join(cols)}" for name, cols in self.unsure.items())
            lines.append(f"{words['unsure']}: {pairs}")
        if self.missing:
            lines.append(f"{words['missing']}: {', '.join(self.missing)}")
        if self.unused:
            lines.append(f"{words['unused']}: {', '.join(self.unused)}")
        if not self.complete:
            lines.append(words["fix"])
        return "\n".join(lines)


_DESCRIBE: dict[str, dict[str, str]] = {
    "vi": {
        "used": "Cột dùng",
        "unsure": "Chưa chắc",
        "or": "hoặc",
        "missing": "Thiếu",
        "unused": "Không dùng",
        "fix": "Chọn cột bằng --map CỘT=TRƯỜNG (hoặc trong ứng dụng), ví dụ --map 'Vĩ độ=lat'.",
    },
    "en": {
        "used": "Columns used",
        "unsure": "Unsure",
        "or": "or",
        "missing": "Missing",
        "unused": "Not used",
        "fix": "Choose columns with --map COLUMN=FIELD (or in the app), e.g. --map 'Vĩ độ=lat'.",
    },
}


def detect_columns(
    columns: Sequence[str],
    *,
    kind: Kind,
    overrides: Mapping[str, str] | None = None,
) -> ColumnMapping:
    """Map the columns of an uploaded table to the fields of ``kind``.

    Parameters
    ----------
    columns
        The table's own headers, in file order.
    kind
        What the rows are: ``"violations"``, ``"cleanups"``, ``"patrols"`` or
        ``"citizen_reports"``.
    overrides
        column -> field choices that win over detection (``--map COL=FIELD``); the field
        ``"ignore"`` leaves a column unused. Columns may be named without diacritics.

    Returns
    -------
    ColumnMapping
        No column ever holds two fields, and no field two columns.

    Raises
    ------
    InputError
        For an unknown kind, repeated headers, or overrides naming an unknown column or
        field (listing the valid ones) or giving one field two columns.

    Examples
    --------
    >>> m = detect_columns(["STT", "Vi do", "Kinh do", "Thoi gian", "Loai vi pham"],
    ...                    kind="violations")
    >>> m.fields
    {'category': 'Loai vi pham', 'observed_at': 'Thoi gian', 'lat': 'Vi do', 'lon': 'Kinh do'}
    >>> m.complete, m.unused
    (True, ('STT',))
    """
    name_of_kind = _check_kind(kind)
    cols = [str(c) for c in columns]
    repeated = sorted(c for c, k in Counter(cols).items() if k > 1)
    if repeated:
        raise InputError(
            f"The table repeats the header(s) {', '.join(map(repr, repeated))}; rename the "
            f"copies so that every column has its own name."
        )
    pinned, ignored = _check_overrides(overrides or {}, cols, name_of_kind)
    claims = _claims(cols, name_of_kind, pinned, ignored)
    fields, levels, unsure = _choose(claims)
    for name, col in pinned.items():
        fields[name] = col
        levels[name] = _OVERRIDE_LEVEL
    _settle_time(name_of_kind, fields, levels, unsure, pinned)
    _settle_position(fields, levels, unsure, pinned)
    missing = _missing(name_of_kind, fields, levels, unsure)
    order = {name: i for i, name in enumerate(FIELDS[name_of_kind])}
    fields = dict(sorted(fields.items(), key=lambda item: order[item[0]]))
    unsure = dict(sorted(unsure.items(), key=lambda item: order[item[0]]))
    taken = set(fields.values()) | {c for cands in unsure.values() for c in cands}
    mapping = ColumnMapping(
        kind=name_of_kind,
        fields=fields,
        unsure=unsure,
        missing=missing,
        unused=tuple(c for c in cols if c not in taken),
    )
    logger.debug("%s columns: %s", name_of_kind, mapping.describe("en").replace("\n", "; "))
    return mapping


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """Turn ``--map`` options (``"COL=FIELD"``) into the ``overrides`` of :func:`detect_columns`.

    The last ``=`` separates the field, so headers may contain ``=``.

    Examples
    --------
    >>> parse_overrides(["Vĩ độ=lat", "Ghi chú 2=ignore"])
    {'Vĩ độ': 'lat', 'Ghi chú 2': 'ignore'}
    """
    out: dict[str, str] = {}
    bad = []
    for item in items:
        col, sep, name = item.rpartition("=")
        if not sep or not col.strip() or not name.strip():
            bad.append(repr(item))
            continue
        out[col.strip()] = name.strip()
    if bad:
        raise InputError(
            f"--map {', '.join(bad)}: write each choice as COLUMN=FIELD, e.g. --map 'Vĩ độ=lat'."
        )
    return out


def category_code(
    values: pd.Series,
    *,
    column: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> tuple[pd.Series, list[RowProblem]]:
    """The category code each cell names, with a problem for each empty or unknown cell.

    Cells may hold a code (``street_vending``), a label of ``data/categories.csv``, or an
    alias of ``data/category_aliases.csv`` ("hàng rong", "lan chiem", "đỗ xe sai"), in any
    case, with or without diacritics. A longer text ("Lấn chiếm vỉa hè để kinh doanh") is
    read as the one category whose alias it contains as whole words (``other`` gives way).

    Parameters
    ----------
    values
        Raw text cells, indexed by the row numbers the user sees.
    column
        The file's column name, for the problems (default: ``values.name``).
    aliases
        Extra alias -> code pairs for this upload (e.g. ``{"VANDALISM": "other"}``).

    Returns
    -------
    (pandas.Series, list of RowProblem)
        Codes (``string`` dtype, ``<NA>`` where rejected) and reject problems
        ``no_category`` / ``unknown_category``.

    Examples
    --------
    >>> codes, probs = category_code(pd.Series(["Hàng rong", "xa rac", "??"], index=[2, 3, 4]))
    >>> codes.tolist(), [(p.row, p.reason) for p in probs]
    (['street_vending', 'littering', <NA>], [(4, 'unknown_category')])
    """
    column = _column_name(values, column)
    table = dict(_category_table())
    for alias, code in (aliases or {}).items():
        if code not in categories():
            raise InputError(
                f"category alias {alias!r} -> {code!r}: {code!r} is not a category; use one "
                f"of {', '.join(categories())}."
            )
        table[normalise(alias)] = code
    out, present = _map_distinct(values, lambda raw: _lookup_category(normalise(raw), table))
    listing = "; ".join(f"{c.code} ({c.label_vi})" for c in categories().values())
    problems = problems_where(
        ~present,
        values,
        column=column,
        reason="no_category",
        message=lambda _: f"The category is empty; fill in one of: {listing}.",
    )
    problems += problems_where(
        present & out.isna().to_numpy(),
        values,
        column=column,
        reason="unknown_category",
        message=lambda raw: (
            f"{raw!r} is not a known category; write one of: {listing} (or add it to "
            f"data/category_aliases.csv)."
        ),
    )
    return out, sorted(problems, key=lambda p: p.row)


def status_code(
    values: pd.Series, *, column: str | None = None
) -> tuple[pd.Series, list[RowProblem]]:
    """The violation status each cell names (``geo.model.VIOLATION_STATUSES``).

    Cells may hold a status code or an alias of ``data/status_aliases.csv`` ("nhắc nhở",
    "đã xử lý"). Empty cells stay ``<NA>`` without a problem; an unknown status is a *flag*
    (``unknown_status``): the record is kept, without a status.

    Examples
    --------
    >>> codes, probs = status_code(pd.Series(["Nhắc nhở", "da xu ly", None, "?"]))
    >>> codes.tolist(), [(p.row, p.reason, p.severity) for p in probs]
    (['warned', 'resolved', <NA>, <NA>], [(3, 'unknown_status', 'flag')])
    """
    column = _column_name(values, column)
    table = _status_table()
    out, present = _map_distinct(values, lambda raw: table.get(normalise(raw)))
    listing = ", ".join(VIOLATION_STATUSES)
    problems = problems_where(
        present & out.isna().to_numpy(),
        values,
        column=column,
        reason="unknown_status",
        message=lambda raw: (
            f"{raw!r} is not a known status, so it was left empty; write one of {listing} "
            f"(or add it to data/status_aliases.csv)."
        ),
        severity="flag",
    )
    return out, problems


# --- detection steps ----------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    normal = str(kind).replace("-", "_")
    if normal not in _KINDS:
        raise InputError(f"kind={kind!r}: use one of {', '.join(_KINDS)}.")
    return normal


def _check_overrides(
    overrides: Mapping[str, str], cols: list[str], kind: str
) -> tuple[dict[str, str], set[str]]:
    """field -> column pinned by the user, and the columns the user ignores."""
    problems: list[str] = []
    by_norm: dict[str, list[str]] = {}
    for header in cols:
        by_norm.setdefault(normalise(header), []).append(header)
    valid = FIELDS[kind]
    pinned: dict[str, str] = {}
    ignored: set[str] = set()
    for asked_col, asked_field in overrides.items():
        col: str | None = asked_col if asked_col in cols else None
        if col is None and len(by_norm.get(normalise(asked_col), [])) == 1:
            col = by_norm[normalise(asked_col)][0]
        if col is None:
            problems.append(
                f"column {asked_col!r} is not in the table; its columns are: {', '.join(cols)}"
            )
        name = normalise(asked_field)
        if name != _IGNORE and name not in valid:
            problems.append(
                f"field {asked_field!r} (for column {asked_col!r}) is not a field of {kind}; "
                f"use one of: {', '.join(valid)}, or {_IGNORE} to leave the column out"
            )
            continue
        if col is None:
            continue
        if name == _IGNORE:
            ignored.add(col)
        elif name in pinned and pinned[name] != col:
            problems.append(f"field {name!r} is given two columns: {pinned[name]!r} and {col!r}")
        else:
            pinned[name] = col
    if problems:
        raise InputError("The column choices (--map) have problems:\n- " + "\n- ".join(problems))
    return pinned, ignored


def _claims(
    cols: list[str], kind: str, pinned: dict[str, str], ignored: set[str]
) -> dict[str, list[tuple[int, int, str, bool]]]:
    """field -> [(level, position, column, from a pair alias)] for the unpinned columns."""
    taken = set(pinned.values()) | ignored
    claims: dict[str, list[tuple[int, int, str, bool]]] = {}
    for position, col in enumerate(cols):
        if col in taken:
            continue
        match = _match(col)
        if match is None:
            continue
        role, level, pair = match
        name = _ROLES[role].get(kind) if role in _ROLES else role
        if name is None or name not in FIELDS[kind] or name in pinned:
            continue
        claims.setdefault(name, []).append((level, position, col, pair))
    # x/y and easting/northing count only as a pair: a lone "y" may be anything.
    pairs = {axis for axis in ("lat", "lon") if any(c[3] for c in claims.get(axis, []))}
    if pairs != {"lat", "lon"}:
        for axis in pairs:
            claims[axis] = [c for c in claims[axis] if not c[3]]
    return claims


def _choose(
    claims: dict[str, list[tuple[int, int, str, bool]]],
) -> tuple[dict[str, str], dict[str, int], dict[str, tuple[str, ...]]]:
    fields: dict[str, str] = {}
    levels: dict[str, int] = {}
    unsure: dict[str, tuple[str, ...]] = {}
    for name, cands in claims.items():
        if not cands:
            continue
        best = max(c[0] for c in cands)
        top = sorted((c for c in cands if c[0] == best), key=lambda c: c[1])
        if len(top) > 1:
            unsure[name] = tuple(c[2] for c in top)
        else:
            fields[name] = top[0][2]
            levels[name] = best
    return fields, levels, unsure


def _settle_time(
    kind: str,
    fields: dict[str, str],
    levels: dict[str, int],
    unsure: dict[str, tuple[str, ...]],
    pinned: dict[str, str],
) -> None:
    """One timestamp column, or a date column (+ a time-of-day column): never both."""
    main = TIME_FIELDS[kind]

    def drop(*names: str) -> None:
        for name in names:
            if name not in pinned:
                fields.pop(name, None)
                unsure.pop(name, None)

    strong = _LEVELS["strong"]
    if main in pinned:
        drop(*_WHEN)
    elif main in fields and "date" in fields:
        has_time = "time" in fields or "time" in unsure
        date_level = strong if "date" in pinned else levels["date"]
        if date_level < levels[main]:
            drop(*_WHEN)  # "Thời gian" beside a guessed "Ngày xử lý": the timestamp wins
        elif levels[main] < date_level or ("date" in pinned and has_time):
            drop(main)
        elif not has_time and levels[main] >= strong:
            # "Ngày" + "Thời gian", "Date" + "Time": the second column is the time of day.
            fields["time"] = fields.pop(main)
            levels["time"] = levels.pop(main)
        else:
            unsure[main] = (fields.pop(main), fields.pop("date"))
    elif main in fields or main in unsure:
        if "date" not in fields and "date" not in unsure:
            drop("time")
        elif "date" in fields and levels["date"] < strong:
            drop(*_WHEN)  # Kobo's "today" beside its "start"
    elif "date" not in fields and "date" not in unsure and "time" in fields.keys() - pinned:
        # A lone time column may hold whole timestamps: a guess to confirm.
        fields[main] = fields.pop("time")
        levels[main] = min(levels.pop("time"), _LEVELS["weak"])
    if main in fields and levels.get(main, 0) <= _LEVELS["weak"]:
        unsure[main] = (fields.pop(main),)


def _settle_position(
    fields: dict[str, str],
    levels: dict[str, int],
    unsure: dict[str, tuple[str, ...]],
    pinned: dict[str, str],
) -> None:
    """Either lat + lon or geolocation (lat + lon when both are complete, unless chosen)."""
    pairs = {"lat", "lon"}
    if "geolocation" in pinned and not pairs <= pinned.keys():
        drop = pairs - pinned.keys()
    elif pairs <= fields.keys():
        drop = {"geolocation"} - pinned.keys()
    elif "geolocation" in fields:
        drop = pairs - pinned.keys()
    else:
        drop = set()
    for name in drop:
        fields.pop(name, None)
        unsure.pop(name, None)
    for name in _POSITION:
        if name in fields and levels.get(name, 0) <= _LEVELS["weak"]:
            unsure[name] = (fields.pop(name),)


def _missing(
    kind: str, fields: dict[str, str], levels: dict[str, int], unsure: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    missing: list[str] = []
    known = set(fields) | set(unsure)
    if not ({"lat", "lon"} <= known or "geolocation" in known):
        missing += [axis for axis in ("lat", "lon") if axis not in known]
    main = TIME_FIELDS[kind]
    if main not in known and "date" not in known:
        missing.append(main)
    for name in REQUIRED[kind]:
        if name not in known:
            missing.append(name)
        elif name in fields and levels.get(name, 0) <= _LEVELS["weak"]:
            unsure[name] = (fields.pop(name),)
    return tuple(missing)


def _match(header: str) -> tuple[str, int, bool] | None:
    """(role or field, level, from a pair alias) for one header, or None."""
    raw_table, norm_table = _column_aliases()
    raw = header.strip().lower()
    segment = raw.rsplit("/", 1)[-1]
    for key in (raw, segment):
        if key in raw_table:
            return raw_table[key]
    kobo = _KOBO_GEOPOINT.match(segment)
    if kobo:
        return _KOBO_PARTS[kobo.group(2)], _LEVELS["strong"], False
    for text in dict.fromkeys((raw, segment)):
        norm = normalise(text)
        if norm in norm_table:
            return norm_table[norm]
        tokens = norm.split("_")
        for k in range(len(tokens) - 1, 0, -1):
            found = norm_table.get("_".join(tokens[:k]))
            if found is None or found[0] == _IGNORE:
                continue
            role, level, pair = found
            if not set(tokens[k:]) <= _QUALIFIERS:
                if pair:
                    return None
                level = min(level, _LEVELS["weak"])
            return role, level, pair
    return None


@cache
def _column_aliases() -> tuple[dict[str, tuple[str, int, bool]], dict[str, tuple[str, int, bool]]]:
    """(raw header -> entry, normalised header -> entry) from ``data/column_aliases.csv``."""
    path = DATA_DIR / "column_aliases.csv"
    known = {n for names in FIELDS.values() for n in names} | set(_ROLES) | {_IGNORE}
    raw_table: dict[str, tuple[str, int, bool]] = {}
    norm_table: dict[str, tuple[str, int, bool]] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            name, alias, strength = row["field"], row["alias"].strip(), row["strength"]
            if name not in known or strength not in _LEVELS or not alias:
                problems.append(
                    f"line {line}: field {name!r} / strength {strength!r} / alias {alias!r}; "
                    f"fields are {', '.join(sorted(known))}, strengths {', '.join(_LEVELS)}"
                )
                continue
            entry = (name, _LEVELS[strength], strength == "pair")
            raw = alias.startswith("_") or "/" in alias
            table, key = (raw_table, alias.lower()) if raw else (norm_table, normalise(alias))
            if key in table and table[key][0] != name:
                problems.append(f"line {line}: {alias!r} is already an alias of {table[key][0]}")
            table.setdefault(key, entry)
    for name in known - {_IGNORE} - set(_ROLES):
        norm_table.setdefault(name, (name, _LEVELS["strong"], False))
    if problems:
        raise InputError(f"{path.name} has problems:\n- " + "\n- ".join(problems))
    return raw_table, norm_table


# --- categories and statuses --------------------------------------------------------------


@cache
def _category_table() -> dict[str, str]:
    """normalised alias -> category code: codes, labels, then ``data/category_aliases.csv``."""
    table: dict[str, str] = {}
    for cat in categories().values():
        for alias in (cat.code, cat.label_vi, cat.label_en):
            table[normalise(alias)] = cat.code
    table.update(_alias_file("category_aliases.csv", "category", categories()))
    return table


@cache
def _status_table() -> dict[str, str]:
    table = {code: code for code in VIOLATION_STATUSES}
    # The app's own labels (in both languages), so that an export uploads back unchanged.
    for code in VIOLATION_STATUSES:
        for lang in LANGUAGES:
            table[normalise(t(f"status.{code}", lang))] = code
    table.update(_alias_file("status_aliases.csv", "status", VIOLATION_STATUSES))
    return table


def _alias_file(name: str, target: str, valid: Mapping[str, object] | Sequence[str]) -> dict:
    path = DATA_DIR / name
    table: dict[str, str] = {}
    problems = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row[target] not in valid:
                problems.append(f"line {line}: {row[target]!r} is not a {target} code")
            else:
                table[normalise(row["alias"])] = row[target]
    if problems:
        raise InputError(f"{name} has problems:\n- " + "\n- ".join(problems))
    return table


def _lookup_category(norm: str, table: Mapping[str, str]) -> str | None:
    if norm in table:
        return table[norm]
    padded = f"_{norm}_"
    found = {code for alias, code in table.items() if alias and f"_{alias}_" in padded}
    if len(found) > 1:
        found.discard("other")
    return found.pop() if len(found) == 1 else None


# --- shared helpers -----------------------------------------------------------------------


def _column_name(values: pd.Series, column: str | None) -> str | None:
    if column is not None:
        return column
    return None if values.name is None else str(values.name)


def _map_distinct(
    values: pd.Series, lookup: Callable[[str], str | None]
) -> tuple[pd.Series, np.ndarray]:
    """(``lookup`` of each stripped cell, made once per distinct cell; which cells are filled)."""
    text = values.astype(pd.StringDtype("pyarrow")).str.strip()
    codes, distinct = pd.factorize(text, use_na_sentinel=True)
    names = [str(d) for d in distinct]
    found = np.array([lookup(d) if d else None for d in names] + [None], dtype=object)
    filled = np.array([bool(d) for d in names] + [False], dtype=bool)
    out = pd.Series(found[codes], index=values.index, dtype="string")
    return out, filled[codes]
