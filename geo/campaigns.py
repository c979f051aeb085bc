"""Peak campaigns (đợt ra quân cao điểm): what they are, how they are kept, which records are
theirs.

A campaign is a period (whole local days), target residential groups, the categories it
enforces and the teams it sends. The records *of* a campaign are the violations observed
inside its period, in its target groups and of its categories: they are linked to it
(``violations.campaign_id``) when the campaign is saved, and uploads arriving later are linked
at ingest. A record belongs to one campaign at most: when two campaigns overlap, the one that
started first keeps it. Editing a campaign re-links: records that no longer fall inside are
released.

Planning (which groups to target, the workload, teams per zone) is in :mod:`geo.campaign_plan`;
judging the result (before/after, displacement) in :mod:`geo.campaign_eval`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo._timeseries import local_stamp
from geo.errors import InputError
from geo.model import CATEGORIES, conform
from geo.store import Query, Store

__all__ = [
    "Campaign",
    "delete_campaign",
    "link_records",
    "new_campaign",
    "read_campaigns",
    "resolve_groups",
    "save_campaign",
]

log = logging.getLogger(__name__)

_DAY_END = pd.Timedelta(days=1) - pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class Campaign:
    """One peak campaign of a ward.

    ``start`` is the first moment and ``end`` the last second of its period, both local time;
    an empty ``categories`` means every category.
    """

    campaign_id: str
    ward_id: str
    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    target: tuple[str, ...]
    categories: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    notes: str = ""

    @property
    def days(self) -> int:
        """Length of the period in whole days."""
        return round((self.end - self.start) / pd.Timedelta(days=1))

    @classmethod
    def from_row(cls, row: pd.Series) -> Campaign:
        """A campaign from a row of the ``campaigns`` table."""
        return cls(
            campaign_id=str(row["campaign_id"]),
            ward_id=str(row["ward_id"]),
            name=str(row["name"]),
            start=pd.Timestamp(row["start"]),
            end=pd.Timestamp(row["end"]),
            target=_split(row.get("target")),
            categories=_split(row.get("categories")),
            teams=_split(row.get("teams")),
            notes="" if pd.isna(row.get("notes")) else str(row.get("notes")),
        )

    def to_frame(self) -> pd.DataFrame:
        """The campaign as one row of the ``campaigns`` table."""
        return conform(
            "campaigns",
            pd.DataFrame(
                {
                    "campaign_id": [self.campaign_id],
                    "ward_id": [self.ward_id],
                    "name": [self.name],
                    "start": [self.start],
                    "end": [self.end],
                    "target": [",".join(self.target)],
                    "categories": [",".join(self.categories) or None],
                    "teams": [",".join(self.teams) or None],
                    "notes": [self.notes or None],
                }
            ),
        )

    def contains(self, violations: pd.DataFrame) -> np.ndarray:
        """Mask of the ``violations`` inside this campaign's period, targets and categories."""
        times = pd.to_datetime(violations["observed_at"])
        inside = (times >= self.start).to_numpy() & (times <= self.end).to_numpy()
        inside &= violations["group_id"].isin(self.target).to_numpy()
        if self.categories:
            inside &= violations["category"].isin(self.categories).to_numpy()
        return inside


def new_campaign(
    *,
    name: str,
    first_day: object,
    last_day: object,
    groups: pd.DataFrame,
    target_groups: Sequence[str] = (),
    target_zones: Sequence[str] = (),
    categories: Sequence[str] = (),
    teams: Sequence[str] = (),
    notes: str = "",
    campaign_id: str | None = None,
    ward_id: str | None = None,
) -> Campaign:
    """Check a campaign typed by a leader and return it (nothing is stored yet).

    Parameters
    ----------
    name
        What the ward calls it ("Ra quân cao điểm tháng 7/2025 — đợt 1").
    first_day, last_day
        First and last day, inclusive (dates or ``"YYYY-MM-DD"``; local time).
    groups
        The ward's current groups (``group_id``, ``zone_id``, ``name``, ``ward_id``): targets
        are checked against them.
    target_groups, target_zones
        Targets by group (id or name, e.g. ``"Tổ dân phố số 19"``) and by zone (every group
        of the zone); at least one of them.
    categories
        Category codes enforced (empty: every category).
    teams
        Names of the teams sent.
    campaign_id
        Keep an existing campaign's id (editing); a new id otherwise.
    ward_id
        The ward; by default that of the target groups.

    Examples
    --------
    >>> groups = pd.DataFrame({"group_id": ["G1", "G2"], "zone_id": ["Z1", "Z1"],
    ...                        "name": ["Tổ 1", "Tổ 2"], "ward_id": ["W", "W"]})
    >>> c = new_campaign(name="Đợt 1", first_day="2025-07-07", last_day="2025-07-13",
    ...                  groups=groups, target_zones=["Z1"])
    >>> c.target, c.days, str(c.end)
    (('G1', 'G2'), 7, '2025-07-13 23:59:59+07:00')
    """
    errors = []
    name = " ".join(str(name or "").split())
    if not name:
        errors.append("name is empty: give the campaign the name the ward uses.")
    start = _day(first_day, "first_day", errors)
    last = _day(last_day, "last_day", errors)
    if start is not None and last is not None and last < start:
        errors.append(f"last_day {last.date()} is before first_day {start.date()}.")
    try:
        target = resolve_groups(groups, target_groups, target_zones)
    except InputError as exc:
        errors.append(str(exc))
        target = ()
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        errors.append(
            f"unknown categories {', '.join(unknown)}; use codes of data/categories.csv "
            f"({', '.join(CATEGORIES)})."
        )
    if errors:
        raise InputError("The campaign cannot be saved:\n- " + "\n- ".join(errors))
    assert start is not None and last is not None
    wards = groups.loc[groups["group_id"].isin(target), "ward_id"].dropna().unique()
    if ward_id is None:
        if len(wards) != 1:
            raise InputError(
                "the target groups belong to several wards; a campaign is one ward's: "
                "choose groups of one ward."
            )
        ward_id = str(wards[0])
    return Campaign(
        campaign_id=campaign_id or str(uuid.uuid4()),
        ward_id=ward_id,
        name=name,
        start=start,
        end=last + _DAY_END,
        target=target,
        categories=tuple(c for c in CATEGORIES if c in set(categories)),
        teams=tuple(dict.fromkeys(" ".join(t.split()) for t in teams if t and t.strip())),
        notes=notes.strip(),
    )


def resolve_groups(
    groups: pd.DataFrame, target_groups: Iterable[str] = (), target_zones: Iterable[str] = ()
) -> tuple[str, ...]:
    """Group ids of targets given by group id or name, and by zone id or name.

    Names are matched ignoring case and spaces; plain numbers match "Tổ dân phố số N".
    Unknown targets are an error naming them; the result keeps the groups' table order.
    """
    gids = groups["group_id"].astype(str)
    by_key: dict[str, set[str]] = {}
    for gid, gname in zip(gids, groups.get("name", gids).astype(str), strict=True):
        for key in (gid, gname, _number_of(gname)):
            if key:
                by_key.setdefault(_norm(key), set()).add(gid)
    ids = {_norm(g): g for g in gids}
    chosen: set[str] = set()
    unknown = []
    for item in target_groups:
        key = _norm(str(item))
        hit = {ids[key]} if key in ids else by_key.get(key, set())
        if len(hit) == 1:
            chosen |= hit
        else:  # unknown, or a name that several groups share
            unknown.append(str(item))
    zones = groups["zone_id"].astype(str) if "zone_id" in groups.columns else None
    for item in target_zones:
        if zones is None:
            unknown.append(str(item))
            continue
        hit = set(gids[zones.map(_norm) == _norm(str(item))])
        if not hit:
            unknown.append(f"zone {item}")
        chosen |= hit
    if unknown:
        raise InputError(
            f"unknown target(s): {', '.join(unknown)}; give group ids or names "
            "(e.g. 'Tổ dân phố số 19' or 19) and zone ids as listed on the map."
        )
    if not chosen:
        raise InputError("no target: choose at least one residential group or zone.")
    return tuple(g for g in gids if g in chosen)


def read_campaigns(store: Store, *, ward_id: str | None = None) -> list[Campaign]:
    """The ward's campaigns, the latest first."""
    frame = store.read("campaigns", Query(ward_id=ward_id) if ward_id else None)
    campaigns = [Campaign.from_row(row) for _, row in frame.iterrows()]
    return sorted(campaigns, key=lambda c: (c.start, c.name), reverse=True)


def link_records(violations: pd.DataFrame, campaigns: Sequence[Campaign]) -> pd.Series:
    """The campaign each record belongs to (its id), or NA.

    A record already linked keeps its campaign while it still lies inside it; otherwise the
    campaign that started first among those containing it takes it.

    Parameters
    ----------
    violations
        Records with ``group_id``, ``category``, ``observed_at`` and (optionally)
        ``campaign_id``.
    campaigns
        The ward's campaigns.
    """
    out = pd.Series(pd.NA, index=violations.index, dtype="string")
    if violations.empty:
        return out
    current = (
        violations["campaign_id"].astype("string")
        if "campaign_id" in violations.columns
        else out.copy()
    )
    by_id = {c.campaign_id: c for c in campaigns}
    for campaign in sorted(campaigns, key=lambda c: (c.start, c.campaign_id), reverse=True):
        out[campaign.contains(violations)] = campaign.campaign_id
    # a record linked by hand or upload to a campaign it still lies in stays there
    for cid, campaign in by_id.items():
        mine = (current == cid).fillna(False).to_numpy()
        out[mine & campaign.contains(violations)] = cid
    return out


def save_campaign(store: Store, campaign: Campaign, *, user: str) -> int:
    """Store a new or edited campaign and re-link the ward's records; return how many changed.

    One transaction for the campaign row, then the record links (each audited).
    """
    existing = read_campaigns(store, ward_id=campaign.ward_id)
    if any(c.campaign_id == campaign.campaign_id for c in existing):
        row = {str(k): v for k, v in campaign.to_frame().iloc[0].drop("campaign_id").items()}
        store.update("campaigns", {campaign.campaign_id: row}, user=user, action="edit campaign")
        others = [c for c in existing if c.campaign_id != campaign.campaign_id]
    else:
        store.write({"campaigns": campaign.to_frame()}, user=user, action="add campaign")
        others = existing
    return _relink(store, [*others, campaign], ward_id=campaign.ward_id, user=user)


def delete_campaign(store: Store, campaign: Campaign, *, user: str) -> int:
    """Remove a campaign; its records stay, released (or taken by an overlapping campaign)."""
    store.write(
        {},
        user=user,
        action="delete campaign",
        delete={"campaigns": [{"campaign_id": campaign.campaign_id}]},
    )
    rest = [c for c in read_campaigns(store, ward_id=campaign.ward_id)]
    return _relink(store, rest, ward_id=campaign.ward_id, user=user, released=campaign)


def _relink(
    store: Store,
    campaigns: list[Campaign],
    *,
    ward_id: str,
    user: str,
    released: Campaign | None = None,
) -> int:
    records = store.read("violations", Query(ward_id=ward_id))
    if records.empty:
        return 0
    if released is not None:
        current = records["campaign_id"].astype("string")
        records = records.assign(campaign_id=current.mask(current == released.campaign_id, pd.NA))
    wanted = link_records(records, campaigns)
    stored = store.read("violations", Query(ward_id=ward_id))["campaign_id"].astype("string")
    changed = stored.fillna("") != wanted.fillna("")
    if not changed.any():
        return 0
    changes = {
        str(rid): {"campaign_id": None if pd.isna(cid) else str(cid)}
        for rid, cid in zip(records.loc[changed, "record_id"], wanted[changed], strict=True)
    }
    store.update("violations", changes, user=user, action="link campaign records")
    log.info("campaign links changed on %d records of %s", len(changes), ward_id)
    return len(changes)


# -- small helpers ----------------------------------------------------------------------------


def _split(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()  # None, NA
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def _day(value: object, name: str, errors: list[str]) -> pd.Timestamp | None:
    if isinstance(value, str) and "/" in value:
        # dd/mm/yyyy, as Vietnamese offices write dates
        parsed = pd.to_datetime(value.strip(), dayfirst=True, errors="coerce")
        value = None if pd.isna(parsed) else parsed
        if value is None:
            errors.append(f"{name}: cannot read the date; write it as dd/mm/yyyy or YYYY-MM-DD.")
            return None
    try:
        stamp = local_stamp(value, name=name)
    except InputError as exc:
        errors.append(str(exc))
        return None
    if stamp is None:
        errors.append(f"{name} is missing: give a date as YYYY-MM-DD or dd/mm/yyyy.")
        return None
    return stamp.normalize()


def _norm(text: str) -> str:
    return "".join(str(text).lower().split())


def _number_of(name: str) -> str | None:
    """ "Tổ dân phố số 19" → "19", so a leader can type the number alone."""
    tail = name.rsplit(" ", 1)[-1]
    return tail.lstrip("0") or tail if tail.isdigit() else None
