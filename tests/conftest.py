"""Shared fixtures: the real data in ../shared/data, and a guard that keeps tests offline."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stores import KINDS, store_urls

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
KIM_LIEN_WARD = SHARED_DATA / "hanoi" / "kim_lien_ward_osm.geojson"
KIM_LIEN_OSM = SHARED_DATA / "hanoi" / "kim_lien_streets_2025-05.osm"
HANOI_WARDS = SHARED_DATA / "hanoi" / "hanoi_wards_2025_osm.geojson"


def shared_file(path: Path) -> Path:
    """Return ``path`` or skip the test with a reason when ../shared/data is absent."""
    if not path.exists():
        pytest.skip(f"real data not available: {path} (../shared/data is only on dev machines)")
    return path


@pytest.fixture
def kim_lien_ward() -> Path:
    return shared_file(KIM_LIEN_WARD)


@pytest.fixture
def kim_lien_osm() -> Path:
    return shared_file(KIM_LIEN_OSM)


_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")):
        return _real_connect(self, address)  # type: ignore[arg-type]
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)  # type: ignore[arg-type]
    raise OSError(f"tests must not reach the network (tried to connect to {address!r})")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail fast on any connection off this machine: tests never reach the network."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic demo store (seed 0), built once per test run and shared by the workers."""
    import os
    import time

    from geo.demo import build_demo

    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist each worker has its own basetemp below the run's: share the run's.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = root / "demo-seed0.gpkg"
    lock = root / "demo-seed0.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        deadline = time.monotonic() + 300
        while not path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"another worker did not finish building {path}") from None
            time.sleep(0.5)
        return path
    os.close(fd)
    building = root / "demo-seed0.building.gpkg"
    build_demo(building, seed=0, overwrite=True)
    building.replace(path)
    return path


@pytest.fixture
def demo_copy(demo_store: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store, for a test that writes (the original is shared)."""
    path = tmp_path / "store.gpkg"
    path.write_bytes(demo_store.read_bytes())
    return path


@pytest.fixture(params=KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a store not yet created, once per backend (see ``tests/stores.py``)."""
    yield from (urls[0] for urls in store_urls(request.param, tmp_path))
