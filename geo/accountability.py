"""Group accountability: the weekly list for each group leader, commitments and model streets.

Hai Bà Trưng district cut repeat violations by making each residential group (tổ dân phố) answer
for its own: every week the leader gets the places and households with violations, households
sign a sidewalk self-management commitment (cam kết tự quản) and are flagged when they break
it, and streets kept in order are designated model streets (tuyến phố kiểu mẫu).

Households are known only by ``offender_key``, the salted HMAC that ingest makes of a household
or plate (:func:`offender_keys`); lists show a short anonymous label such as "Hộ #3f2a", never a
name. A commitment typed as "số 12 ngõ 4B Phương Mai" gets the same key as an uploaded violation
of that household, with the store's salt.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import unicodedata
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from geo._accountability_streets import model_street_frame, model_street_rates, record_model_street
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError
from geo.i18n import Lang, t
from geo.model import conform, local_time
from geo.repeats import _discs, _per_group
from geo.store import Store
from geo.text import normalise

__all__ = [
    "commitment_breaches",
    "commitment_frame",
    "model_street_frame",
    "model_street_rates",
    "offender_keys",
    "record_commitments",
    "record_model_street",
    "weekly_group_list",
]

log = logging.getLogger(__name__)

#: Columns of the weekly list, in order.
_LIST_COLUMNS = [
    "kind", "label", "offender_key", "address", "count", "count_4w", "categories", "last_at",
    "repeat", "committed", "breaches", "flags",
]  # fmt: skip


def offender_keys(values: pd.Series, salt: bytes) -> pd.Series:
    """Salted HMAC of each plate or household text, normalised; never the text itself.

    Case, spaces, dots and hyphens are ignored, and Unicode is composed (NFC) first, so text
    typed with a decomposed Vietnamese keyboard setting gets the same key. Empty text gives NA.

    Examples
    --------
    >>> keys = offender_keys(pd.Series(["số 12 ngõ 4B", "Số 12  Ngõ 4b", " ", None]), b"salt")
    >>> keys.iloc[0] == keys.iloc[1], bool(keys.iloc[2:].isna().all()), len(keys.iloc[0])
    (True, True, 64)
    """

    def key(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return None
        composed = unicodedata.normalize("NFC", text)
        normal = "".join(composed.upper().split()).replace("-", "").replace(".", "")
        return hmac.new(salt, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    return values.map(key).astype("string")


# --- the weekly list --------------------------------------------------------------------------


def weekly_group_list(
    violations: pd.DataFrame,
    *,
    group_id: str,
    week_start: pd.Timestamp | str,
    commitments: pd.DataFrame | None = None,
    radius_m: float = 15.0,
    lang: Lang = "vi",
) -> pd.DataFrame:
    """The places and households of one group with violations in the week, for its leader.

    Every violation of the week counts once: for its household when it has an
    ``offender_key``, otherwise for its place: its address, or without one a disc of
    ``radius_m`` as :func:`geo.repeats.repeat_places` draws them (two records or more; a lone
    record is a place of its own).

    Parameters
    ----------
    violations
        Violations with ``group_id``, ``observed_at`` and optionally ``offender_key``,
        ``category``, ``address`` and point geometry.
    group_id
        The residential group.
    week_start
        First day of the week (naive: Hà Nội time); the week is the 7 days from its midnight.
    commitments
        The ``commitments`` table: households that signed are marked, and their violations
        after signing (and before ``ended_at``) are breaches.
    radius_m
        Radius of a place without address.
    lang
        Language of ``label`` and ``flags``.

    Returns
    -------
    DataFrame
        One row per household or place (a GeoDataFrame with the latest record's point when
        ``violations`` is one): ``kind`` (``"household"``/``"place"``), ``label`` ("Hộ #3f2a"
        or the address), ``offender_key``, ``address``, ``count`` (this week), ``count_4w``
        (the 4 weeks ending with this one), ``categories`` (top three this week), ``last_at``,
        ``repeat`` (2 or more in 4 weeks), ``committed``, ``breaches`` (this week's violations
        after signing) and ``flags``; breaches first, then repeats, then the most violations.
    """
    if "group_id" not in violations.columns or "observed_at" not in violations.columns:
        raise InputError("violations need group_id and observed_at columns.")
    problems: list[str] = []
    start = _stamp(week_start, "week_start", problems)
    if start is None:
        raise InputError(problems[0])
    start, end = start.normalize(), start.normalize() + pd.Timedelta(days=7)
    stamps = _local(violations["observed_at"])
    window = (
        (violations["group_id"] == group_id).fillna(False)
        & (stamps >= end - pd.Timedelta(days=28))
        & (stamps < end)
    ).to_numpy()
    recent = violations[window].reset_index(drop=True)
    recent["_at"] = stamps[window].array
    recent["_week"] = (recent["_at"] >= start).to_numpy()
    keys = (
        recent["offender_key"].astype("string")
        if "offender_key" in recent.columns
        else pd.Series(pd.NA, index=recent.index, dtype="string")
    )
    recent["_row"] = ("h:" + keys).fillna(_place_keys(recent[keys.isna().to_numpy()], radius_m))

    rows = _list_rows(recent)
    rows["kind"] = np.where(rows.index.str.startswith("h:"), "household", "place")
    rows["offender_key"] = pd.Series(rows.index.str[2:], index=rows.index, dtype="string").where(
        rows["kind"] == "household"
    )
    rows["repeat"] = rows["count_4w"] >= 2
    week = recent[recent["_week"]]
    breaches = _breach_counts(week, commitments)
    rows["breaches"] = rows["offender_key"].map(breaches).fillna(0).astype("int64")
    active = _active_keys(commitments, start, end)
    rows["committed"] = rows["offender_key"].isin(active).fillna(False).astype(bool)
    rows = rows.sort_values(
        ["breaches", "repeat", "count", "last_at"], ascending=[False, False, False, False]
    ).reset_index(drop=True)
    rows["label"] = _labels(rows, lang)  # places without address numbered in list order
    rows["flags"] = _flags(rows, lang)
    out = rows[_LIST_COLUMNS]
    if isinstance(violations, gpd.GeoDataFrame):
        geometry = gpd.GeoSeries(rows["geometry"].to_numpy(), crs=violations.crs)
        return gpd.GeoDataFrame(
            out, geometry=geometry.to_crs(STORAGE_CRS).to_numpy(), crs=STORAGE_CRS
        )
    return out


def _place_keys(frame: pd.DataFrame, radius_m: float) -> pd.Series:
    """``a:<address>`` for records with an address, else ``p:<n>`` by 15 m discs."""
    address = (
        frame["address"].astype("string")
        if "address" in frame.columns
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    known = address.notna() & address.str.strip().ne("")
    out = pd.Series(pd.NA, index=frame.index, dtype="string")
    out[known] = "a:" + address[known].map(normalise)
    rest = frame[~known.to_numpy()]
    if rest.empty:
        return out
    if isinstance(rest, gpd.GeoDataFrame) and rest.crs is not None:
        located = ~(rest.geometry.isna() | rest.geometry.is_empty).to_numpy()
        label = np.arange(len(rest)) + len(rest)  # lone records: a place each
        if located.any():
            metric = rest.geometry[located].to_crs(metric_crs(rest[located])).centroid
            xy = np.column_stack([metric.x.to_numpy(), metric.y.to_numpy()])
            discs = _discs(xy, radius_m, 2)
            label[located] = np.where(discs >= 0, discs, label[located])
        out[rest.index] = [f"p:{k}" for k in label]
    else:
        out[rest.index] = [f"p:{k}" for k in range(len(rest))]
    return out


def _list_rows(recent: pd.DataFrame) -> pd.DataFrame:
    """Per household or place: counts, the week's categories, last time, address, point."""
    week = recent[recent["_week"]]
    rows = pd.DataFrame(index=pd.Index(week["_row"].unique(), dtype="string"))
    rows["count"] = week.groupby("_row").size().reindex(rows.index).astype("int64")
    rows["count_4w"] = recent.groupby("_row").size().reindex(rows.index).astype("int64")
    rows["categories"] = _per_group(week, "_row", "category", 3).reindex(rows.index)
    latest = week.sort_values("_at").groupby("_row").tail(1).set_index("_row")
    rows["last_at"] = latest["_at"].reindex(rows.index)
    rows["address"] = _per_group(week, "_row", "address", 1).reindex(rows.index).astype("string")
    if isinstance(recent, gpd.GeoDataFrame):
        rows["geometry"] = latest.geometry.reindex(rows.index).to_numpy()
    return rows


def _labels(rows: pd.DataFrame, lang: Lang) -> pd.Series:
    """Short anonymous labels of households (4 hex digits, more if two collide); addresses."""
    keys = rows["offender_key"].dropna()
    width = 4
    while keys.str[:width].duplicated().any() and width < 64:
        width += 2
    labels = rows["address"].copy()
    labels[keys.index] = [t("accountability.household", lang, code=k[:width]) for k in keys]
    places = labels.isna()
    labels[places] = [t("accountability.place", lang, n=n + 1) for n in range(int(places.sum()))]
    return labels.astype("string")


def _flags(rows: pd.DataFrame, lang: Lang) -> pd.Series:
    """The leader's flags: broke the commitment, signed one, repeats."""
    flags = []
    for row in rows.itertuples():
        marks = []
        if row.breaches:
            marks.append(t("accountability.flag.breach", lang))
        elif row.committed:
            marks.append(t("accountability.flag.committed", lang))
        if row.repeat:
            marks.append(t(f"accountability.flag.repeat_{row.kind}", lang))
        flags.append("; ".join(marks))
    return pd.Series(flags, index=rows.index, dtype="string")


# --- commitments ------------------------------------------------------------------------------


def commitment_frame(
    *,
    household: str,
    address: str | None,
    signed_at: pd.Timestamp | str,
    salt: bytes,
    ward_id: str,
    point: Point | tuple[float, float] | None = None,
    group_id: str | None = None,
    ended_at: pd.Timestamp | str | None = None,
    notes: str | None = None,
    now: pd.Timestamp | str | None = None,
) -> gpd.GeoDataFrame:
    """One signed commitment (cam kết tự quản), as a row of the ``commitments`` table.

    Parameters
    ----------
    household
        The household or plate as written on violation records (e.g. "số 12 ngõ 4B Phương
        Mai"); only its salted key is kept.
    address
        Where the commitment applies (shown to the leader).
    signed_at, ended_at
        When it was signed (not in the future) and, if so, when it lapsed.
    salt
        The store's offender salt (``store.offender_salt()``).
    ward_id, group_id, point
        The ward, and the group or the point (longitude, latitude, EPSG:4326); one of the two.
    notes
        Free text.
    now
        The present, for the future-date check (default: now).

    Returns
    -------
    GeoDataFrame
        One row conforming to the ``commitments`` schema; ``commitment_id`` is derived from the
        key and the signing time, so the same commitment cannot be recorded twice.
    """
    problems = []
    if not isinstance(household, str) or not household.strip():
        problems.append("household is empty: write the household or plate as on the records")
    signed = _stamp(signed_at, "signed_at", problems)
    ended = _stamp(ended_at, "ended_at", problems) if ended_at is not None else None
    present = local_time(pd.Timestamp.now(tz=TIMEZONE_NAME) if now is None else pd.Timestamp(now))
    if signed is not None and signed > present:
        problems.append(f"signed_at {signed:%Y-%m-%d %H:%M} is in the future")
    if signed is not None and ended is not None and ended <= signed:
        problems.append("ended_at must come after signed_at")
    if point is None and not group_id:
        problems.append("give the group (group_id) or the place (point) of the commitment")
    geometry = _point(point, problems)
    if problems or signed is None:
        raise InputError("The commitment has problems:\n- " + "\n- ".join(problems))
    key = str(offender_keys(pd.Series([household]), salt).iloc[0])
    ident = hashlib.sha256(f"{key}|{signed.isoformat()}".encode()).hexdigest()[:16]
    row = {
        "commitment_id": f"cam-{ident}",
        "ward_id": ward_id,
        "group_id": group_id,
        "offender_key": key,
        "address": address,
        "signed_at": signed,
        "ended_at": ended if ended is not None else pd.NaT,
        "notes": notes,
    }
    frame = gpd.GeoDataFrame([row], geometry=[geometry], crs=STORAGE_CRS)
    return conform("commitments", frame)


def record_commitments(
    store: Store, rows: pd.DataFrame | Iterable[pd.DataFrame], *, user: str
) -> pd.DataFrame:
    """Write commitments (from :func:`commitment_frame`) in one audited transaction."""
    frames = [rows] if isinstance(rows, pd.DataFrame) else list(rows)
    frame = conform("commitments", pd.concat(frames, ignore_index=True)) if frames else None
    if frame is None or frame.empty:
        raise InputError("No commitments to record.")
    twice = frame["commitment_id"][frame["commitment_id"].duplicated()]
    if not twice.empty:
        raise InputError(f"The same commitment is given twice: {', '.join(twice)}.")
    store.write({"commitments": frame}, user=user, action="commitments.record")
    log.info("recorded %d commitment(s) by %s", len(frame), user)
    return frame


def commitment_breaches(violations: pd.DataFrame, commitments: pd.DataFrame) -> pd.DataFrame:
    """Violations by committed households after signing (and before ``ended_at``).

    Returns the violations (all their columns) with the ``commitment_id`` and ``signed_at`` of
    the latest commitment in force at the time, oldest first.

    Examples
    --------
    >>> v = pd.DataFrame({"record_id": ["r1", "r2", "r3"], "offender_key": ["k", "k", "j"],
    ...     "observed_at": pd.to_datetime(["2025-07-01", "2025-07-09", "2025-07-09"])})
    >>> c = pd.DataFrame({"commitment_id": ["c1"], "offender_key": ["k"],
    ...     "signed_at": pd.to_datetime(["2025-07-05"]), "ended_at": [pd.NaT]})
    >>> commitment_breaches(v, c)["record_id"].tolist()
    ['r2']
    """
    for name, frame, columns in (
        ("violations", violations, ("offender_key", "observed_at")),
        ("commitments", commitments, ("commitment_id", "offender_key", "signed_at")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{name} lacks the column(s) {', '.join(missing)}.")
    ended = commitments.get("ended_at", pd.Series(pd.NaT, index=commitments.index))
    terms = pd.DataFrame(
        {
            "offender_key": commitments["offender_key"].astype("string"),
            "commitment_id": commitments["commitment_id"].astype("string"),
            "signed_at": _local(commitments["signed_at"]),
            "_until": _local(ended),
        }
    ).reset_index(drop=True)
    cases = pd.DataFrame(
        {
            "offender_key": violations["offender_key"].astype("string"),
            "_at": _local(violations["observed_at"]),
        }
    ).reset_index(drop=True)
    cases["_pos"] = np.arange(len(cases))
    cases = cases.dropna(subset=["offender_key"])
    pairs = cases.merge(terms, on="offender_key")
    inside = (pairs["_at"] > pairs["signed_at"]) & (
        pairs["_until"].isna() | (pairs["_at"] < pairs["_until"])
    )
    hits = pairs[inside].sort_values("signed_at").drop_duplicates("_pos", keep="last")
    hits = hits.sort_values(["_at", "_pos"])
    out = violations.iloc[hits["_pos"].to_numpy()].copy()
    out["commitment_id"] = hits["commitment_id"].astype("string").set_axis(out.index)
    out["signed_at"] = hits["signed_at"].set_axis(out.index)
    return out


def _breach_counts(week: pd.DataFrame, commitments: pd.DataFrame | None) -> pd.Series:
    if commitments is None or commitments.empty or week.empty or "offender_key" not in week:
        return pd.Series(dtype="int64")
    return commitment_breaches(week, commitments)["offender_key"].value_counts()


def _active_keys(
    commitments: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp
) -> set[str]:
    """Households with a commitment in force at some time in [start, end)."""
    if commitments is None or commitments.empty:
        return set()
    signed = _local(commitments["signed_at"])
    ended = _local(commitments.get("ended_at", pd.Series(pd.NaT, index=commitments.index)))
    live = (signed < end) & (ended.isna() | (ended > start))
    return set(commitments.loc[live.to_numpy(), "offender_key"].dropna().astype(str))


# --- shared -----------------------------------------------------------------------------------


def _local(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce")
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize(TIMEZONE_NAME)
    return stamps.dt.tz_convert(TIMEZONE_NAME)


def _stamp(value: object, what: str, problems: list[str]) -> pd.Timestamp | None:
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or pd.isna(stamp):
        problems.append(f"{what} is not a date (write YYYY-MM-DD)")
        return None
    return local_time(stamp)


def _point(point: Point | tuple[float, float] | None, problems: list[str]) -> Point | None:
    if point is None:
        return None
    geom = point if isinstance(point, Point) else Point(*point)
    if geom.is_empty or not (-180 <= geom.x <= 180 and -90 <= geom.y <= 90):
        problems.append("point must be (longitude, latitude) in degrees")
        return None
    return geom
