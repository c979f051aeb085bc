"""Empty stores of each backend for the contract tests: GeoPackage always, PostGIS when
``URBAN_ORDER_TEST_POSTGIS_URL`` names a database (each PostGIS store lives in its own
throwaway schema, dropped after the test).

``URBAN_ORDER_REQUIRE_POSTGIS=1`` (set by CI) turns the PostGIS skip into a failure, so a CI
run can never pass with the PostGIS half of the suite silently skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGIS_ENV = "URBAN_ORDER_TEST_POSTGIS_URL"
REQUIRE_ENV = "URBAN_ORDER_REQUIRE_POSTGIS"

#: The backends every contract test runs on: use as ``@pytest.mark.parametrize("kind", KINDS)``
#: or through the ``store_url`` fixture in ``tests/conftest.py``.
KINDS = [
    pytest.param("gpkg", id="gpkg"),
    pytest.param("postgis", id="postgis", marks=pytest.mark.postgis),
]


def postgis_base_url() -> str:
    """The test database URL, or skip (fail in CI) when there is none."""
    url = os.environ.get(POSTGIS_ENV, "").strip()
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{POSTGIS_ENV} is not set but {REQUIRE_ENV}=1: PostGIS tests must run.")
        pytest.skip(f"PostGIS tests need {POSTGIS_ENV} (scripts/check starts a local cluster).")
    return url


def with_schema(url: str, schema: str) -> str:
    """``url`` pointing at ``schema`` (a store of its own in the same database)."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def new_store_url(kind: str, tmp_path: Path, *, name: str = "store") -> str:
    """The URL of a store that does not exist yet (create it with ``create_store``)."""
    if kind == "gpkg":
        return str(tmp_path / f"{name}.gpkg")
    return with_schema(postgis_base_url(), f"t_{uuid.uuid4().hex[:12]}")


def drop(url: str) -> None:
    """Remove a PostGIS test store (GeoPackage files go with ``tmp_path``)."""
    if url.startswith("postgresql"):
        from geo.postgis_store import drop_store

        drop_store(url)


def store_urls(kind: str, tmp_path: Path, n: int = 1) -> Iterator[list[str]]:
    """``n`` new store URLs of ``kind``; dropped afterwards (a generator for fixtures)."""
    urls = [new_store_url(kind, tmp_path, name=f"store{i}") for i in range(n)]
    try:
        yield urls
    finally:
        for url in urls:
            drop(url)
