"""Enforcement figures of any set of violations: what a ward reports after a month or a campaign.

The figures are the ones Vietnamese wards publish: cases fined per category ("đã xử phạt 25
trường hợp vi phạm giao thông, …"), the total of the fines, the items removed (signs,
platforms, awnings taken down or seized), warnings, cases resolved, clean-ups held, and the
places where violations keep coming back.

A record counts as **fined** when its status is ``"fined"`` or it carries a fine above zero:
a team may record a fine together with a removal (status ``"removed"``), and that case was
fined all the same. The total of fines sums every record's ``fine_vnd``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import InputError
from geo.model import CATEGORIES
from geo.repeats import repeat_places

__all__ = [
    "REPEAT_MIN_RECORDS",
    "CleanupFigures",
    "EnforcementSummary",
    "enforcement_by",
    "enforcement_summary",
]

log = logging.getLogger(__name__)

#: A place is a repeat place when this many records lie within 15 m of one of them
#: (:func:`geo.repeats.repeat_places`, its default radius: one shop front).
REPEAT_MIN_RECORDS = 3
_BY_COLUMNS = ("records", "fined", "fines_vnd", "warned", "removed", "items_removed")


@dataclass(frozen=True)
class CleanupFigures:
    """Clean-ups (tổng vệ sinh môi trường) held: how many, people taking part, waste collected."""

    count: int
    participants: int
    waste_kg: float


@dataclass(frozen=True)
class EnforcementSummary:
    """What was done about a set of violations.

    ``cases_fined`` and ``fines_by_category`` list only categories with fined cases, in the
    order of ``geo.model.CATEGORIES`` (unknown codes after them, sorted). ``cleanups`` is
    None when no clean-ups were given; ``repeat_places`` is None for records without
    locations.
    """

    records: int
    cases_fined: dict[str, int]
    fines_by_category: dict[str, int]
    total_fines_vnd: int
    items_removed: int
    warnings: int
    resolved: int
    removals: int
    cleanups: CleanupFigures | None
    repeat_places: int | None

    @property
    def fined(self) -> int:
        """Cases fined, all categories together."""
        return sum(self.cases_fined.values())

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values (``fined`` included)."""
        out = asdict(self)
        out["fined"] = self.fined
        return out


def enforcement_summary(
    violations: pd.DataFrame, *, cleanups: pd.DataFrame | None = None
) -> EnforcementSummary:
    """Sum up the enforcement of ``violations`` (and the ``cleanups`` of the same frame).

    Parameters
    ----------
    violations
        Violations as the store reads them, already cut to the frame of interest (a month,
        a campaign, some groups): ``category`` and ``status`` columns, optionally
        ``fine_vnd`` and ``items_removed`` (missing counts 0) and point geometries (for the
        repeat places: spots with at least 3 records within 15 m).
    cleanups
        Clean-ups of the same frame, with ``participants`` and ``waste_kg``; None when
        clean-ups are not part of the summary.

    Returns
    -------
    EnforcementSummary

    Examples
    --------
    >>> v = pd.DataFrame({"category": ["traffic", "littering", "traffic", "littering"],
    ...                   "status": ["fined", "fined", "warned", "removed"],
    ...                   "fine_vnd": [400_000, 500_000, None, None],
    ...                   "items_removed": [None, None, None, 3]})
    >>> s = enforcement_summary(v)
    >>> s.cases_fined, s.total_fines_vnd, s.items_removed, s.warnings, s.removals
    ({'traffic': 1, 'littering': 1}, 900000, 3, 1, 1)
    """
    _check(violations, cleanups)
    table = enforcement_by(violations)
    fined = table[table["fined"] > 0]
    status = violations["status"].astype("string")
    return EnforcementSummary(
        records=len(violations),
        cases_fined={str(k): int(v) for k, v in fined["fined"].items()},
        fines_by_category={str(k): int(v) for k, v in fined["fines_vnd"].items()},
        total_fines_vnd=int(table["fines_vnd"].sum()),
        items_removed=int(table["items_removed"].sum()),
        warnings=int(status.eq("warned").sum()),
        resolved=int(status.eq("resolved").sum()),
        removals=int(status.eq("removed").sum()),
        cleanups=None if cleanups is None else _cleanup_figures(cleanups),
        repeat_places=_repeat_places(violations),
    )


def enforcement_by(violations: pd.DataFrame, *, by: str = "category") -> pd.DataFrame:
    """Records, fined cases, fines, warnings, removals and items removed per value of ``by``.

    Parameters
    ----------
    violations
        As for :func:`enforcement_summary`, with the column ``by``.
    by
        The column to group on: ``"category"`` (a missing category counts as ``"other"``),
        or any other, such as ``"group_id"``, ``"zone_id"`` or ``"campaign_id"`` (records
        without a value are left out).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by`` (values with records only; categories in the order of
        ``geo.model.CATEGORIES`` and unknown codes after them, other values sorted):
        ``records``, ``fined``, ``fines_vnd``, ``warned``, ``removed`` and ``items_removed``,
        all integers.

    Examples
    --------
    >>> v = pd.DataFrame({"category": ["littering", "traffic"], "status": ["fined", "warned"],
    ...                   "fine_vnd": [500_000, None], "group_id": ["G2", None]})
    >>> enforcement_by(v)[["records", "fined", "fines_vnd"]].to_dict("index")
    {'traffic': {'records': 1, 'fined': 0, 'fines_vnd': 0}, 'littering': {'records': 1, 'fined': 1, 'fines_vnd': 500000}}
    >>> enforcement_by(v, by="group_id")["fines_vnd"].to_dict()
    {'G2': 500000}
    """  # noqa: E501
    _check(violations, None)
    if by not in violations.columns:
        raise InputError(f"violations lack the column {by!r} to group the figures by.")
    key = violations[by].astype("string")
    if by == "category":
        key = key.fillna("other")
    status = violations["status"].astype("string")
    fines = _amounts(violations, "fine_vnd")
    frame = pd.DataFrame(
        {
            by: key.to_numpy(),
            "records": 1,
            "fined": status.eq("fined").fillna(False).to_numpy() | (fines > 0).to_numpy(),
            "fines_vnd": fines.to_numpy(),
            "warned": status.eq("warned").fillna(False).to_numpy(),
            "removed": status.eq("removed").fillna(False).to_numpy(),
            "items_removed": _amounts(violations, "items_removed").to_numpy(),
        }
    )
    frame = frame[key.notna().to_numpy()]
    sums = frame.groupby(by, sort=True)[list(_BY_COLUMNS)].sum().astype("int64")
    if by == "category":
        known = [c for c in CATEGORIES if c in sums.index]
        sums = sums.reindex([*known, *(c for c in sums.index if c not in CATEGORIES)])
    sums.index.name = by
    return sums


def _check(violations: pd.DataFrame, cleanups: pd.DataFrame | None) -> None:
    if not isinstance(violations, pd.DataFrame):
        raise InputError("violations must be a DataFrame of records (e.g. store.read(...)).")
    missing = sorted({"category", "status"} - set(violations.columns))
    if missing:
        raise InputError(
            f"violations lack the column(s) {', '.join(missing)}; read them from the store "
            "or upload them with a category and a status."
        )
    if cleanups is not None and not isinstance(cleanups, pd.DataFrame):
        raise InputError("cleanups must be a DataFrame of clean-ups, or None.")


def _amounts(frame: pd.DataFrame, column: str) -> pd.Series:
    """Whole amounts of ``column``, 0 where missing or absent."""
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype="int64")
    values = pd.to_numeric(frame[column], errors="coerce").astype("Float64").fillna(0)
    return values.round().astype("int64")


def _cleanup_figures(cleanups: pd.DataFrame) -> CleanupFigures:
    waste = (
        pd.to_numeric(cleanups["waste_kg"], errors="coerce").fillna(0).sum()
        if "waste_kg" in cleanups.columns
        else 0.0
    )
    return CleanupFigures(
        count=len(cleanups),
        participants=int(_amounts(cleanups, "participants").sum()),
        waste_kg=round(float(waste), 1),
    )


def _repeat_places(violations: pd.DataFrame) -> int | None:
    if not isinstance(violations, gpd.GeoDataFrame) or violations.crs is None:
        return None
    if violations.empty:
        return 0
    return len(repeat_places(violations, min_records=REPEAT_MIN_RECORDS))
