"""Big batches reach a GeoPackage by way of a scratch SQLite file written from Arrow.

Through :mod:`sqlite3`, every value of every row becomes a Python object bound by a call of
its own: making and binding them took 8.5 s of the million-row import bench. ADBC's SQLite
driver binds Arrow columns in C instead (~1.8 s). The rows are written to a file in a private
temporary directory (journal off, no sync: it is scratch, never the store), which the store's
own connection attaches and copies from with one ``INSERT … SELECT`` inside its transaction,
so a big upload stays one transaction, all or nothing, in the store's own SQLite.

The columns are converted here to exactly what :func:`geo.gpkg_store._python_values` and
``_encode`` give ``executemany`` (the tests compare both paths value by value and type by
type).
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo._isotime import iso_utc
from geo.errors import StoreError

__all__ = ["STALE_SECONDS", "column", "gpkg_datetimes", "point_blobs", "staging", "write_tables"]

log = logging.getLogger(__name__)

_PREFIX = "urban-order-stage-"
#: A scratch directory untouched this long was left by a process that died (see ``staging``).
STALE_SECONDS = 24 * 3600


def gpkg_datetimes(times: pd.Series) -> pa.Array:
    """GeoPackage DATETIME text of ``times`` (UTC, ``YYYY-MM-DDTHH:MM:SS.SSSZ``), missing ones
    null.

    Examples
    --------
    >>> t = pd.to_datetime(["2025-03-30 03:29:34.1239", None]).tz_localize("Asia/Ho_Chi_Minh")
    >>> gpkg_datetimes(pd.Series(t)).to_pylist()
    ['2025-03-29T20:29:34.123Z', None]
    """
    return iso_utc(times, millis=True, suffix="Z")


def column(values: pd.Series, dtype: str) -> pa.Array | pa.ChunkedArray:
    """A model column as the Arrow array ADBC binds: text, integers (flags as 0/1), doubles
    (NaN as null) or GeoPackage DATETIME text."""
    if dtype.startswith("datetime64"):
        return gpkg_datetimes(values)
    if dtype in ("boolean", "Int64"):
        return pa.array(values.astype("Int64"), type=pa.int64())
    if dtype == "float64":
        return pa.array(values.to_numpy(dtype=float), from_pandas=True)
    return pa.array(values.astype("string[pyarrow]"))


def point_blobs(geoms: np.ndarray, srs_id: int) -> pa.Array | None:
    """GeoPackage blobs of ``geoms`` when all are non-empty points (a header without
    envelope + little-endian 2D ISO WKB, 29 bytes each, as ``_encode`` writes them), built as
    one byte matrix; else None."""
    if len(geoms) == 0 or not (shapely.get_type_id(geoms) == 0).all():
        return None
    xy = shapely.get_coordinates(geoms)
    if len(xy) != len(geoms) or np.isnan(xy).any():
        return None
    blobs = np.empty((len(geoms), 29), dtype=np.uint8)
    blobs[:, :13] = np.frombuffer(b"GP\x00\x01" + struct.pack("<iBI", srs_id, 1, 1), np.uint8)
    blobs[:, 13:] = xy.astype("<f8").view(np.uint8).reshape(-1, 16)
    offsets = np.arange(0, 29 * len(geoms) + 1, 29, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(geoms), [None, pa.py_buffer(offsets), pa.py_buffer(blobs)]
    )


def write_tables(path: Path, tables: Mapping[str, pa.Table]) -> None:
    """Create the scratch SQLite file ``path`` holding each of ``tables`` under its name, rows
    in order of rowid.

    Raises
    ------
    StoreError
        When the file cannot be written (a full disk, say), naming where it was.
    """
    import adbc_driver_sqlite.dbapi as adbc  # ~0.5 s to import; only big batches need it

    try:
        with adbc.connect(str(path), autocommit=True) as con, con.cursor() as cur:
            for pragma in ("journal_mode = OFF", "synchronous = OFF"):
                cur.execute(f"PRAGMA {pragma}")
                cur.fetchall()
            for name, table in tables.items():
                cur.adbc_ingest(name, table, mode="create")
    except (OSError, adbc.Error) as exc:
        raise _scratch_error(path.parent, exc) from exc


@contextmanager
def staging(tables: Mapping[str, pa.Table]) -> Iterator[Path]:
    """A scratch file holding ``tables`` (:func:`write_tables`) in a private temporary
    directory, which is deleted on exit with whatever else was put in it.

    A process killed outright leaves its directory behind (~200 bytes a record): those left
    untouched for :data:`STALE_SECONDS` are removed here first, as no write takes that long.
    """
    _remove_stale(Path(tempfile.gettempdir()))
    try:
        scratch = tempfile.TemporaryDirectory(prefix=_PREFIX)
    except OSError as exc:
        raise _scratch_error(Path(tempfile.gettempdir()), exc) from exc
    with scratch as tmp:
        path = Path(tmp) / "stage.sqlite"
        write_tables(path, tables)
        yield path


def _remove_stale(where: Path) -> None:
    """Remove scratch directories in ``where`` untouched for :data:`STALE_SECONDS`."""
    cutoff = time.time() - STALE_SECONDS
    for old in where.glob(f"{_PREFIX}*"):
        try:
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
                log.info("removed %s, left by a write that did not finish", old)
        except OSError:  # gone meanwhile, or not ours to remove
            continue


def _scratch_error(where: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f"a big batch is written to a scratch file in {where} before it goes into the store, "
        f"and that failed ({exc}); nothing was written to the store. Free some space there, "
        "or point TMPDIR at a disk that has it, and try again."
    )
