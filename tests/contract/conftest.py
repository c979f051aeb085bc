"""Every test here runs once per store backend (the ``store_url`` fixture of tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geo.store import Store, create_store, is_postgis_url, open_store


@pytest.fixture(scope="session")
def empty_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty GeoPackage store, made once: GDAL takes ~1 s to lay out 17 tables."""
    path = tmp_path_factory.mktemp("template") / "empty.gpkg"
    create_store(path)
    return path


@pytest.fixture
def store(store_url: str, request: pytest.FixtureRequest) -> Store:
    """A new, empty store of the backend under test.

    GeoPackage stores are copies of one template (same offender salt); tests of creation
    itself call ``create_store``.
    """
    if is_postgis_url(store_url):
        return create_store(store_url)
    shutil.copy(request.getfixturevalue("empty_gpkg"), store_url)
    return open_store(store_url)
