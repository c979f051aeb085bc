"""The synthetic city as a store, shared by the citywide benchmarks (map, report).

:func:`city_store` writes :func:`bench.city.make_city` (its records assigned to groups with
:func:`geo.assign.assign_to_groups`) and an all-wards administrator to a GeoPackage store,
kept under ``var/bench/`` and reused by later runs with the same arguments (a million records
take minutes to assign and write; reading the cache, nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.auth import add_user  # noqa: E402
from geo.errors import StoreError  # noqa: E402
from geo.store import create_store, open_store  # noqa: E402

__all__ = ["ACCOUNT", "PASSWORD", "build_store", "city_store"]

#: The benchmark's account: an administrator of every ward.
ACCOUNT = "thanhpho"
PASSWORD = "bench-password-2025"
#: Bumped when what the benchmarks write into their store changes.
_STORE_FORMAT = 1


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def city_store(
    records: int,
    groups: int,
    *,
    path: Path | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> Path:
    """The benchmark's store of the synthetic city (built once, then reused).

    ``path`` defaults to a file under ``var/bench/`` named by the arguments; ``cache_dir`` is
    where :func:`bench.city.make_city` caches its polygons (its default).
    """
    from bench.city import CACHE_DIR

    # "map-": the name the map benchmark gave its stores first; kept so that they are reused
    key = f"map-v{_STORE_FORMAT}-r{records}-g{groups}-s{seed}"
    path = Path(path) if path else CACHE_DIR / f"{key}.gpkg"
    marker = path.with_suffix(".built")
    if path.exists() and marker.exists() and marker.read_text() == key:
        try:
            open_store(path)
            return path
        except StoreError as exc:  # an older schema: build it again
            _say(f"rebuilding {path}: {exc}")
    _say(f"building the city store {path} ({records:,} records)…")
    build_store(path, records, groups, seed=seed, cache_dir=cache_dir)
    marker.write_text(key)
    return path


def build_store(
    path: Path, records: int, groups: int, *, seed: int = 0, cache_dir: Path | None = None
) -> None:
    """Write the synthetic city, its records assigned to groups, and the benchmark account
    (``cache_dir``: where :func:`bench.city.make_city` caches its polygons; its default)."""
    from bench.city import CACHE_DIR, make_city
    from geo.assign import assign_to_groups

    city = make_city(groups=groups, records=records, seed=seed, cache_dir=cache_dir or CACHE_DIR)
    assigned = assign_to_groups(city.records, city.groups)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = create_store(path, overwrite=True)
    boundaries = {"wards": city.wards, "zones": city.zones, "groups": city.groups}
    store.write(boundaries, user="bench", action="bench city")
    store.write({"violations": assigned}, user="bench", action="bench records")
    add_user(store, ACCOUNT, role="admin", wards=None, password=PASSWORD, by="bench")
