"""Model streets (tuyến phố kiểu mẫu): a street's edges joined, and its rates against the rest.

Part of :mod:`geo.accountability`, which exports these functions.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiLineString

from geo.config import TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import conform, local_time
from geo.store import Store
from geo.text import normalise

log = logging.getLogger(__name__)

#: Average month in days, to turn a period into months for rates.
_MONTH_DAYS = 30.4375
_RATE_COLUMNS = [
    "model_street_id", "name", "period", "start", "end", "months", "model_km", "model_count",
    "model_rate", "rest_km", "rest_count", "rest_rate",
]  # fmt: skip


def model_street_frame(
    streets: gpd.GeoDataFrame,
    *,
    name: str,
    designated_at: pd.Timestamp | str,
    ward_id: str,
    notes: str | None = None,
) -> gpd.GeoDataFrame:
    """A model street (tuyến phố kiểu mẫu): the ward's street edges of that name, joined.

    ``name`` is compared without case, diacritics or punctuation ("pho hoa sua" finds "Phố Hoa
    Sữa"); an unknown name raises :class:`InputError` listing the closest names. The row
    conforms to the ``model_streets`` schema, with the street's own spelling of its name.
    """
    if not isinstance(streets, gpd.GeoDataFrame) or "name" not in streets.columns:
        raise InputError("streets must be a GeoDataFrame with a name column (the streets table).")
    if streets.crs is None:
        raise InputError("streets has no CRS; set it (EPSG:4326 for the store's streets).")
    ward = streets
    if "ward_id" in streets.columns and (streets["ward_id"] == ward_id).any():
        ward = streets[(streets["ward_id"] == ward_id).to_numpy()]
    names = ward["name"].astype("string").fillna("")
    wanted = normalise(name)
    match = names.map(normalise) == wanted
    if not wanted or not match.any():
        known = {normalise(n): n for n in names.unique() if n}
        close = difflib.get_close_matches(wanted, list(known), n=5, cutoff=0.6)
        hint = ", ".join(known[c] for c in close) or "none close; check the streets table"
        raise InputError(f"No street named {name!r} in ward {ward_id}; close names: {hint}.")
    edges = ward[match.to_numpy()]
    merged = shapely.line_merge(shapely.union_all(edges.geometry.to_numpy()))
    parts = list(getattr(merged, "geoms", [merged]))
    designated = local_time(pd.Timestamp(designated_at))
    row = {
        "model_street_id": f"{ward_id}-ms-{wanted}-{designated:%Y%m%d}",
        "ward_id": ward_id,
        "name": names[match].mode().iloc[0],
        "designated_at": designated,
        "notes": notes,
    }
    frame = gpd.GeoDataFrame([row], geometry=[MultiLineString(parts)], crs=streets.crs)
    return conform("model_streets", frame)


def record_model_street(store: Store, row: pd.DataFrame, *, user: str) -> pd.DataFrame:
    """Write model street rows (from :func:`model_street_frame`) in one audited transaction."""
    frame = conform("model_streets", row)
    if frame.empty:
        raise InputError("No model street to record.")
    store.write({"model_streets": frame}, user=user, action="model_streets.designate")
    log.info("designated model street(s) %s by %s", ", ".join(frame["name"]), user)
    return frame


def model_street_rates(
    violations: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    model_streets: gpd.GeoDataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    distance_m: float = 15.0,
) -> pd.DataFrame:
    """Violations per km per month on each model street against the rest of its ward's streets.

    A violation within ``distance_m`` of a model street counts for it; one within
    ``distance_m`` of another street of the ward (and of no model street) counts for the rest.
    The rest's length is that of the ward's street edges not lying along a model street. The
    period [start, end) is split at the designation when it falls inside.

    Parameters
    ----------
    violations
        Violation points with ``observed_at`` (and ``ward_id`` to keep to the street's ward).
    streets
        The ward's street edges (the ``streets`` table).
    model_streets
        Model streets (the ``model_streets`` table or :func:`model_street_frame` rows).
    start, end
        The period, ``start`` inclusive and ``end`` exclusive (naive: Hà Nội time).
    distance_m
        How far from a street's centre line a violation still belongs to it; 15 m covers the
        carriageway, the sidewalks and GPS scatter of Hà Nội's inner streets.

    Returns
    -------
    DataFrame
        Per model street and period (``"before"``, ``"after"``): ``model_street_id``, ``name``,
        ``period``, ``start``, ``end``, ``months``, ``model_km``, ``model_count``,
        ``model_rate``, ``rest_km``, ``rest_count``, ``rest_rate`` and ``ratio`` (model over
        rest; below 1 means the model street has fewer violations per km than the rest).
    """
    for what, frame in (("violations", violations), ("streets", streets),
                        ("model_streets", model_streets)):  # fmt: skip
        if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
            raise InputError(f"{what} must be a GeoDataFrame with a CRS.")
    if "observed_at" not in violations.columns:
        raise InputError("violations need an observed_at column.")
    t0, t1 = local_time(pd.Timestamp(start)), local_time(pd.Timestamp(end))
    if t1 <= t0:
        raise InputError(f"end ({t1:%Y-%m-%d}) must come after start ({t0:%Y-%m-%d}).")
    if distance_m <= 0:
        raise InputError(f"distance_m must be positive, got {distance_m}.")
    crs = metric_crs(streets)
    lines, models = streets.to_crs(crs), model_streets.to_crs(crs)
    stamps = _local(violations["observed_at"])
    points = violations.to_crs(crs)
    points["_at"] = stamps.array
    points = points[((stamps >= t0) & (stamps < t1)).to_numpy()]
    rows = []
    for model in models.itertuples():
        ward = _same_ward(lines, model.ward_id)
        pts = _same_ward(points, model.ward_id)
        when = pts["_at"]
        every_model = shapely.union_all(_same_ward(models, model.ward_id).geometry.to_numpy())
        along = ward.geometry.within(every_model.buffer(1.0)).to_numpy()
        rest = ward[~along]
        near_model = (pts.geometry.distance(model.geometry) <= distance_m).to_numpy()
        near_any = (pts.geometry.distance(every_model) <= distance_m).to_numpy()
        hit = np.zeros(len(pts), dtype=bool)
        if len(rest) and len(pts):
            idx, _ = rest.sindex.query(pts.geometry, predicate="dwithin", distance=distance_m)
            hit[np.unique(idx)] = True
        near_rest = hit & ~near_any
        model_km = model.geometry.length / 1000
        rest_km = float(rest.geometry.length.sum()) / 1000
        for period, a, b in _periods(t0, t1, local_time(model.designated_at)):
            inside = ((when >= a) & (when < b)).to_numpy()
            months = (b - a) / pd.Timedelta(days=_MONTH_DAYS)
            m, r = int((near_model & inside).sum()), int((near_rest & inside).sum())
            rows.append(
                {
                    "model_street_id": model.model_street_id,
                    "name": model.name,
                    "period": period,
                    "start": a,
                    "end": b,
                    "months": months,
                    "model_km": model_km,
                    "model_count": m,
                    "model_rate": _rate(m, model_km, months),
                    "rest_km": rest_km,
                    "rest_count": r,
                    "rest_rate": _rate(r, rest_km, months),
                }
            )
    out = pd.DataFrame(rows, columns=_RATE_COLUMNS)
    out["ratio"] = (out["model_rate"] / out["rest_rate"].where(out["rest_rate"] > 0)).astype(
        "float64"
    )
    return out


def _periods(
    t0: pd.Timestamp, t1: pd.Timestamp, designated: pd.Timestamp
) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    out = []
    if designated > t0:
        out.append(("before", t0, min(t1, designated)))
    if designated < t1:
        out.append(("after", max(t0, designated), t1))
    return out


def _rate(count: int, km: float, months: float) -> float:
    return count / km / months if km > 0 and months > 0 else float("nan")


def _same_ward(frame: gpd.GeoDataFrame, ward_id: Any) -> gpd.GeoDataFrame:
    if "ward_id" not in frame.columns or pd.isna(ward_id):
        return frame
    return frame[(frame["ward_id"] == ward_id).fillna(False).to_numpy()]


def _local(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce")
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize(TIMEZONE_NAME)
    return stamps.dt.tz_convert(TIMEZONE_NAME)
