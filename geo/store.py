"""The store interface shared by every backend, and how a store is chosen.

A store keeps the tables of :mod:`geo.model`. GeoPackage (one file, zero set-up, opens in
QGIS) is the embedded default; a PostGIS store for multi-user deployments implements the same
:class:`Store` protocol, and the same contract tests run against both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from geo.errors import StoreError

__all__ = [
    "SCHEMA_VERSION",
    "BoundaryLevel",
    "Query",
    "Store",
    "create_store",
    "describe",
    "is_postgis_url",
    "open_store",
]

#: Version of the table layout; a store of another version is refused with a message.
SCHEMA_VERSION = 8

BoundaryLevel = Literal["wards", "zones", "groups"]


@dataclass(frozen=True, kw_only=True)
class Query:
    """Filters of a read; ``None`` means no filter.

    ``start`` is inclusive and ``end`` exclusive, both tz-aware (naive values are taken as
    Asia/Ho_Chi_Minh). ``as_of`` selects boundary versions valid at that time (default: current).
    """

    ward_id: str | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    categories: tuple[str, ...] | None = None
    zone_ids: tuple[str, ...] | None = None
    group_ids: tuple[str, ...] | None = None
    campaign_id: str | None = None
    as_of: pd.Timestamp | None = None


class Store(Protocol):
    """What every store backend offers."""

    location: str

    def read(self, table: str, query: Query | None = None) -> pd.DataFrame:
        """Rows of ``table`` matching ``query`` (a GeoDataFrame in EPSG:4326 if spatial)."""
        ...

    def write(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        user: str,
        action: str,
        delete: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
    ) -> None:
        """Append (and delete) rows of several tables in one transaction, audited."""
        ...

    def update(
        self,
        table: str,
        changes: Mapping[str, Mapping[str, object]],
        *,
        user: str,
        action: str,
    ) -> None:
        """Change columns of rows given by key, audited."""
        ...

    def replace_boundaries(
        self, level: BoundaryLevel, frame: pd.DataFrame, *, valid_from: pd.Timestamp, user: str
    ) -> None:
        """Close the frame's wards' current boundaries at ``valid_from``; add the new ones."""
        ...

    def count(self, table: str, query: Query | None = None) -> int:
        """Number of rows of ``table`` matching ``query``."""
        ...

    def aggregate(
        self, table: str, query: Query | None = None, *, by: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Rows of ``table`` matching ``query``, counted and summed per value of ``by``.

        One row per combination of the ``by`` columns found (one row of totals when ``by``
        is empty), sorted by them, missing values last: the ``by`` columns, ``count``, and
        where the table has the columns ``fined`` (cases fined as :mod:`geo.enforcement`
        counts them: status ``"fined"`` or ``fine_vnd`` > 0), ``fine_vnd`` and
        ``items_removed`` (sums, 0 when none). Computed in the store, without reading the
        rows out.
        """
        ...

    def time_span(
        self, table: str, query: Query | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The earliest and latest time (the table's time column, Asia/Ho_Chi_Minh) of the rows
        matching ``query``, or None when none match; from the store's index, no row read."""
        ...

    def data_version(self) -> int:
        """A number that grows with every committed write (a cache key for readers)."""
        ...

    def ward_ids(self) -> list[str]:
        """Ids of the wards with current boundaries."""
        ...

    def existing_keys(self, table: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are already primary keys of ``table``."""
        ...

    def offender_salt(self, *, stored: bool = False) -> bytes:
        """The secret salt of offender keys (households, plates), made when the store was;
        ``URBAN_ORDER_SALT`` overrides it unless ``stored``."""
        ...

    def schema_version(self) -> int:
        """The version of the store's table layout (see :mod:`geo.migrations`)."""
        ...


def is_postgis_url(url: str | Path) -> bool:
    """Whether ``url`` names a PostGIS database rather than a GeoPackage file."""
    return str(url).startswith(("postgresql://", "postgres://", "postgresql+"))


def open_store(url: str | Path, *, any_version: bool = False) -> Store:
    """Open an existing store by path or URL.

    Parameters
    ----------
    url
        A ``.gpkg`` path (or ``gpkg:///path``), or a PostGIS URL
        ``postgresql://user:password@host:port/database?schema=NAME`` (schema default
        ``urban_order``; one database can hold several stores in several schemas).
    any_version
        Open a store of another schema version too (to migrate or back it up).
    """
    if is_postgis_url(url):
        from geo.postgis_store import PostGISStore

        return PostGISStore.open(str(url), any_version=any_version)
    from geo.gpkg_store import GeoPackageStore

    return GeoPackageStore.open(_gpkg_path(url), any_version=any_version)


def create_store(url: str | Path, *, overwrite: bool = False, salt: bytes | None = None) -> Store:
    """Create an empty store of the current schema version at ``url`` (path or PostGIS URL).

    ``salt`` keeps a given offender-key salt (restoring a backup); by default a new one.
    """
    if is_postgis_url(url):
        from geo.postgis_store import PostGISStore

        return PostGISStore.create(str(url), overwrite=overwrite, salt=salt)
    from geo.gpkg_store import GeoPackageStore

    return GeoPackageStore.create(_gpkg_path(url), overwrite=overwrite, salt=salt)


def describe(url: str | Path) -> str:
    """``url`` fit to show or log: a PostGIS URL without its password.

    Examples
    --------
    >>> describe("postgresql://lan:s3cret@db/city?password=s3cret&schema=w1")
    'postgresql://lan@db/city?schema=w1'
    """
    text = str(url)
    if not is_postgis_url(text):
        return text
    # libpq also takes the password as a query parameter
    text = re.sub(r"([?&])password=[^&]*(&|$)", r"\1", text).rstrip("?&")
    if "@" not in text:
        return text
    scheme, rest = text.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"


def _gpkg_path(url: str | Path) -> Path:
    text = str(url)
    if text.startswith("gpkg://"):
        text = text.removeprefix("gpkg://")
    path = Path(text)
    if path.suffix.lower() != ".gpkg":
        raise StoreError(
            f"{path}: a store is a GeoPackage file ending in .gpkg, or a PostGIS URL "
            "(postgresql://user@host/database)."
        )
    return path
