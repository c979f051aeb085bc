"""Constants of the domain core, in one place.

No mutable settings live here: per-call choices are function arguments, so that one
Streamlit server can serve many sessions from one process.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

#: Root of the project checkout (``geo/`` lives directly below it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Small embedded data: categories, fine schedule, translations.
DATA_DIR = PROJECT_ROOT / "data"
#: Static assets served by Streamlit at ``/app/static/`` (vendored Leaflet and plugins).
STATIC_DIR = PROJECT_ROOT / "static"

#: Local time of every record; stored timestamps are converted to it on read.
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TIMEZONE_NAME = "Asia/Ho_Chi_Minh"

#: Storage CRS of every geometry.
STORAGE_CRS = "EPSG:4326"
#: VN-2000 / TM-3 zone 482 (105°E, k = 0.9999): Hà Nội's cadastral CRS, used to measure there.
HANOI_CRS = "EPSG:5897"
#: VN-2000 / UTM zone 48N (k = 0.9996): the usual mix-up with EPSG:5897 (~697 m off in northing).
VN2000_UTM48_CRS = "EPSG:3405"
#: Hà Nội's extent in degrees (left, bottom, right, top), with a margin: EPSG:5897 inside it.
HANOI_BBOX = (105.25, 20.50, 106.05, 21.40)

#: A point outside every group but within this many metres of one is snapped to it.
SNAP_TOLERANCE_M = 15.0
#: Overlaps and gaps between groups smaller than this (m²) are digitising noise, not faults.
TOPOLOGY_AREA_TOLERANCE_M2 = 1.0

#: Where the app keeps its embedded demo store when no store is configured.
DEFAULT_STORE_PATH = PROJECT_ROOT / "var" / "demo.gpkg"

#: Attribution shown wherever OpenStreetMap-derived data is drawn.
OSM_ATTRIBUTION = (
    '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors, ODbL 1.0'
)
