"""Who a record is, and whether it was seen before: ids, exact and likely duplicates.

Part of :mod:`geo.ingest`. A record keeps the id its file gives it (KoboToolbox ``_uuid``, a
record id column); otherwise its id is derived from its content, so the same record re-encoded
in another format gets the same id. Likely duplicates are the same category within a distance
and a time of a stored record or of an earlier kept row of the same upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Transformer

from geo._isotime import iso_utc
from geo.columns import TABLES, TIME_FIELDS
from geo.config import STORAGE_CRS
from geo.crs import metric_crs
from geo.model import KEYS
from geo.store import Query

if TYPE_CHECKING:
    from geo.ingest import UploadOptions, _Context

#: Keys of the content hashes behind derived record ids (16 bytes each; never change them:
#: the same record must get the same id in every upload, in every version).
_ID_KEYS = ("urban-order-id-1", "urban-order-id-2")


def identify(records: gpd.GeoDataFrame, kind: str, ctx: _Context) -> gpd.GeoDataFrame:
    """Give every record its id: the file's own, or one derived from its content."""
    if kind == "patrols":
        return _track_ids(records)
    key = KEYS[TABLES[kind]]
    when = records[TIME_FIELDS[kind]]
    category = records.get("category", pd.Series("", index=records.index)).fillna("").astype(str)
    parts = [
        category,
        _utc_seconds(when),
        _float_text(records.geometry.x.round(6)),
        _float_text(records.geometry.y.round(6)),
    ]
    # "kind|category|time|x|y", joined by Arrow; a missing part leaves the text missing, as
    # pandas' + does, but then pandas joins them so that the id stays what it always was
    text = [pa.array(p.array, type=pa.large_string()) for p in parts]
    joined = pc.binary_join_element_wise(pa.scalar(kind, pa.large_string()), *text,
                                         pa.scalar("|", pa.large_string()))  # fmt: skip
    if joined.null_count:
        content = kind + "|" + parts[0] + "|" + parts[1] + "|" + parts[2] + "|" + parts[3]
    else:
        content = pd.Series(pd.array(joined, dtype=_STR), index=records.index)
    derived = _content_ids(content)
    own = records[key].astype("string") if key in records.columns else None
    records[key] = own.fillna(derived) if own is not None else derived.astype("string")
    return records


#: The text dtype ``Series.astype(str)`` gives (missing values stay missing).
_STR = pd.Series([0.5]).astype(str).dtype


def _float_text(values: pd.Series) -> pd.Series:
    """``values.astype(str)`` (Python's shortest repr of each float), ~3x faster.

    Arrow writes the same shortest digits, but "107" for 107.0 and "0.00002" for 2e-05:
    whole numbers get their ".0" here, and values Python writes in exponent form (or Arrow
    might: below 1e-4, from 1e9 on) are written by Python itself.

    Examples
    --------
    >>> _float_text(pd.Series([105.8, 21.0, 2e-05, float("nan")])).tolist()
    ['105.8', '21.0', '2e-05', nan]
    """
    v = values.to_numpy(dtype=np.float64)
    text = pc.cast(pa.array(v, from_pandas=False), pa.string())
    plain = np.isfinite(v) & (np.abs(v) < 1e9) & ((v == 0) | (np.abs(v) >= 1e-4))
    whole = pa.array(plain & (v == np.round(v)))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    out = pd.Series(pd.array(text, dtype=_STR), index=values.index)
    odd = np.flatnonzero(~plain)
    if len(odd):
        out.iloc[odd] = [np.nan if np.isnan(x) else str(x) for x in v[odd].tolist()]
    return out


def _utc_seconds(when: pd.Series) -> pd.Series:
    """``when`` as "YYYY-MM-DDTHH:MM:SS" in UTC ("" where missing), as ``strftime`` writes it.

    Examples
    --------
    >>> t = pd.Series(pd.to_datetime(["2025-07-01 07:30:15.9", None]).tz_localize("Asia/Bangkok"))
    >>> _utc_seconds(t).tolist()
    ['2025-07-01T00:30:15', '']
    """
    text = iso_utc(when, millis=False, missing="")
    return pd.Series(pd.array(text, dtype=_STR), index=when.index)


def _content_ids(content: pd.Series) -> pd.Series:
    """A UUID-shaped id from each text: 128 bits of two keyed SipHashes, the same every run.

    Examples
    --------
    >>> _content_ids(pd.Series(["violations|a"])).str.len().tolist()
    [36]
    """
    # the hashes hash_pandas_object(content, index=False) gives, without its first pass of
    # finding the distinct texts (a hash table of a million rows that are nearly all distinct)
    text = content.to_numpy(dtype=object)
    a, b = (pd.util.hash_array(text, hash_key=key, categorize=False) for key in _ID_KEYS)
    n = len(a)
    both = np.empty((n, 2), dtype=">u8")  # big-endian: the hex reads as the number
    both[:, 0], both[:, 1] = a, b
    raw = both.view(np.uint8).reshape(n, 16)
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)  # 8-4-4-4-12 hex digits
    for (start, stop), first in zip(_GROUPS, (0, 8, 12, 16, 20), strict=True):
        text[:, start:stop] = hexed[:, first : first + stop - start]
    ids = pa.FixedSizeBinaryArray.from_buffers(pa.binary(36), n, [None, pa.py_buffer(text)])
    strings = ids.cast(pa.binary()).cast(pa.string())
    return pd.Series(pd.array(strings, dtype="string"), index=content.index)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_GROUPS = ((0, 8), (9, 13), (14, 18), (19, 23), (24, 36))


def _track_ids(records: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "track_id" in records.columns and records["track_id"].notna().all():
        return records
    day = records["t"].dt.strftime("%Y-%m-%d")
    name = records["_track"] if "_track" in records.columns else day
    team = records["team"].fillna("")
    basis = "patrol|" + team.astype(str) + "|" + name.astype(str).fillna("") + "|" + day.fillna("")
    first = records.groupby(basis.to_numpy())["t"].transform("min").dt.strftime("%Y-%m-%dT%H:%M")
    ids = _content_ids(basis + "|" + first.fillna(""))
    own = records["track_id"] if "track_id" in records.columns else None
    records["track_id"] = own.fillna(ids) if own is not None else ids
    return records.drop(columns=["_track"], errors="ignore")


def deduplicate(
    records: gpd.GeoDataFrame,
    kind: str,
    ctx: _Context,
    opts: UploadOptions,
    near: NearPairs | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Split off exact and likely duplicates; returns (kept records, duplicates by row).

    ``near`` is :func:`near_pairs` of these violations, if it was found beforehand (on another
    thread, say); otherwise it is found here.
    """
    dup_of = pd.Series(pd.NA, index=records.index, dtype="string")
    match = pd.Series(pd.NA, index=records.index, dtype="string")
    if kind == "patrols":
        key = records["track_id"].astype(str) + "@" + records["t"].astype(str)
        again = key.duplicated()
        existing = _existing_patrol_keys(records, ctx)
    else:
        key = records[KEYS[TABLES[kind]]].astype(str)
        again = key.duplicated()
        existing = ctx.store.existing_keys(TABLES[kind], key[~again])  # each key asked once
    in_store = key.isin(existing)
    dup_of[in_store] = key[in_store]
    match[in_store] = "same_id"
    repeated = again & ~in_store
    dup_of[repeated] = key[repeated]
    match[repeated] = "same_id"
    exact = in_store | repeated
    if kind == "violations" and (~exact).any():
        if near is None:
            near = near_pairs(records, ctx, opts)
        likely = _likely_duplicates(near, ~exact.to_numpy(), records["record_id"].to_numpy())
        dup_of[likely.index] = likely
        match[likely.index] = "likely"
    is_dup = dup_of.notna()
    duplicates = pd.DataFrame({"duplicate_of": dup_of[is_dup], "match": match[is_dup]})
    return records[~is_dup], duplicates


def _existing_patrol_keys(records: gpd.GeoDataFrame, ctx: _Context) -> set[str]:
    times = records["t"].dropna()
    if times.empty:
        return set()
    stored = ctx.store.read(
        "patrol_points",
        Query(start=times.min(), end=times.max() + pd.Timedelta(seconds=1)),
    )
    stored = stored[stored["track_id"].isin(records["track_id"].unique())]
    return set(stored["track_id"].astype(str) + "@" + stored["t"].astype(str))


@dataclass(frozen=True)
class NearPairs:
    """Violations of the same category within the distance and time of each other: an
    upload's rows and the stored records near them in time.

    Positions count the stored records first, then the upload's rows; ``left`` is always an
    upload's row.
    """

    stored_ids: np.ndarray  # the stored records' ids
    rows: np.ndarray  # the upload's row labels
    t: np.ndarray  # int64 ns (UTC), stored records then rows
    left: np.ndarray
    right: np.ndarray


def near_pairs(new: gpd.GeoDataFrame, ctx: _Context, opts: UploadOptions) -> NearPairs:
    """The pairs of :class:`NearPairs` for the violations ``new`` (columns ``category`` and
    ``observed_at``, and points), found without their ids: on another thread while the ids
    are made, and narrowed once the exact duplicates are known (:func:`deduplicate`)."""
    window = pd.Timedelta(minutes=opts.duplicate_minutes)
    times = new["observed_at"]
    stored = ctx.store.read(
        "violations",
        Query(
            start=times.min() - window,
            end=times.max() + window + pd.Timedelta(seconds=1),
            categories=tuple(new["category"].dropna().unique()),
        ),
    )
    crs = metric_crs(new)
    pool = pd.concat(
        [
            stored[["category", "observed_at", "geometry"]].assign(_new=False),
            new[["category", "observed_at", "geometry"]].assign(_new=True),
        ],
        ignore_index=True,
    )
    # coordinates, not geometries, are what is measured: projected as arrays, as to_crs does
    lonlat = gpd.GeoSeries(pool["geometry"], crs=STORAGE_CRS)
    to_metric = Transformer.from_crs(STORAGE_CRS, crs, always_xy=True)
    x, y = to_metric.transform(lonlat.x.to_numpy(), lonlat.y.to_numpy())
    t = pool["observed_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    t = t.astype("int64")
    cat = pd.factorize(pool["category"])[0].astype("int64")
    is_new = pool["_new"].to_numpy(dtype=bool)
    left, right = _near_pairs(x, y, t, cat, is_new, metres=opts.duplicate_m,
                              nanoseconds=int(window.value))  # fmt: skip
    return NearPairs(stored["record_id"].to_numpy(), new.index.to_numpy(), t, left, right)


def _likely_duplicates(near: NearPairs, candidate: np.ndarray, ids: np.ndarray) -> pd.Series:
    """The upload's rows (of those ``candidate``, by position; ``ids`` theirs) of the same
    category within the distance and time of an earlier record.

    Earlier means a record already in the store, or a candidate row that is itself kept; a
    row repeats the first such record (in time order). Returns record id by row.
    """
    stored = len(near.stored_ids)
    # pairs whose both ends are candidates or stored records
    inside = np.r_[np.ones(stored, dtype=bool), candidate]
    both = inside[near.left] & inside[near.right]
    left, right = near.left[both], near.right[both]
    t, rows = near.t, np.r_[np.full(stored, -1), near.rows]
    every_id = np.r_[near.stored_ids, ids]
    partners: dict[int, list[int]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        partners.setdefault(a, []).append(b)
    # Stored records are originals. New rows are walked in time order: a row repeats the
    # first partner already kept; a row with no kept partner is kept, and may be repeated.
    kept: set[int] = set(range(stored))
    found: dict[int, str] = {}
    for i in sorted(partners, key=lambda i: (t[i], rows[i])):
        originals = [j for j in partners[i] if j in kept]
        if originals:
            first = min(originals, key=lambda j: (t[j], rows[j], j))
            found[int(rows[i])] = str(every_id[first])
        else:
            kept.add(i)
    return pd.Series(found, dtype="string")


def _near_pairs(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    cat: np.ndarray,
    is_new: np.ndarray,
    *,
    metres: float,
    nanoseconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (new row, other row) of the same category within the time window and distance.

    Rows are sorted by category, square cell and time; a row's candidates are the rows of
    4 cells around it within the window, found by binary search, and only they are measured.
    (By time alone, a busy street's hundreds of records a day made ~35 candidates a row; by
    cell and time, almost none.)
    """
    if not len(t) or metres <= 0:
        return _near_pairs_by_time(x, y, t, cat, is_new, metres=metres, nanoseconds=nanoseconds)
    seconds = (t - t.min()) // 1_000_000_000  # the key's clock; pairs are then checked in ns
    window = nanoseconds // 1_000_000_000 + 1
    # Cells of twice the distance: a row's partners lie in its own cell, the one beside it on
    # the side of the cell's middle it is on, the one above or below likewise, and the
    # corner between those: 4 searches, not 9.
    size = 2.0 * metres
    fx, fy = (x - x.min()) / size, (y - y.min()) / size
    cx, cy = np.floor(fx).astype(np.int64) + 1, np.floor(fy).astype(np.int64) + 1
    sx = np.where(fx - (cx - 1) < 0.5, -1, 1)  # toward the nearer side of the cell
    sy = np.where(fy - (cy - 1) < 0.5, -1, 1)
    t_span = int(seconds.max()) + 2 * window + 2
    y_span = int(cy.max()) + 2
    x_span = int(cx.max()) + 2
    if (int(cat.max()) + 1) * x_span * y_span * t_span >= 2**62:  # a country's years: by time
        return _near_pairs_by_time(x, y, t, cat, is_new, metres=metres, nanoseconds=nanoseconds)
    cell = (cat * x_span + cx) * y_span + cy
    key = cell * t_span + seconds + window
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    mine = order[np.flatnonzero(is_new[order])]  # new rows, in key order
    starts, stops = [], []
    for kx, ky in ((0, 0), (1, 0), (0, 1), (1, 1)):
        near = cell[mine] + kx * sx[mine] * y_span + ky * sy[mine]
        base = near * t_span + seconds[mine] + window
        starts.append(np.searchsorted(sorted_key, base - window, side="left"))
        stops.append(np.searchsorted(sorted_key, base + window, side="right"))
    a, b = _ranges(np.tile(mine, 4), np.concatenate(starts), np.concatenate(stops))
    return _close(a, order[b], x, y, t, metres=metres, nanoseconds=nanoseconds)


def _near_pairs_by_time(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    cat: np.ndarray,
    is_new: np.ndarray,
    *,
    metres: float,
    nanoseconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_near_pairs` from a sorted time index per category alone."""
    stride = int(t.max() - t.min()) + 4 * nanoseconds + 1 if len(t) else 1
    key = cat * stride + (t - (t.min() if len(t) else 0))
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    mine = np.flatnonzero(is_new[order])  # positions (in sorted order) of new rows
    lo = np.searchsorted(sorted_key, sorted_key[mine] - nanoseconds, side="left")
    hi = np.searchsorted(sorted_key, sorted_key[mine] + nanoseconds, side="right")
    a, b = _ranges(mine, lo, hi)
    return _close(order[a], order[b], x, y, t, metres=metres, nanoseconds=nanoseconds)


def _ranges(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (``rows[i]``, k) for every k in ``lo[i]`` ≤ k < ``hi[i]``, without a Python loop.

    Examples
    --------
    >>> a, b = _ranges(np.array([7, 8]), np.array([0, 5]), np.array([2, 6]))
    >>> a.tolist(), b.tolist()
    ([7, 7, 8], [0, 1, 5])
    """
    counts = hi - lo
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(rows, counts), np.arange(counts.sum()) - first + np.repeat(lo, counts)


def _close(
    a: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    *,
    metres: float,
    nanoseconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs that are distinct rows within ``metres`` and ``nanoseconds``."""
    keep = (
        (a != b)
        & (np.abs(t[a] - t[b]) <= nanoseconds)
        & ((x[a] - x[b]) ** 2 + (y[a] - y[b]) ** 2 <= metres**2)
    )
    return a[keep], b[keep]
