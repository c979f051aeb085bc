"""What every upload reader shares: the limits of a read, its clock, and the table it returns.

Readers return raw text: each cell as written in the file (NFC-normalised, stripped, empty as
``None``), indexed by the row number the user sees, so that later steps can name the row.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.problems import RowProblem

__all__ = ["RawTable", "ReadLimits", "Reading", "frame", "header_names", "header_position", "text"]

Layer = Literal["records", "tracks"]

#: How many leading non-empty rows may stand above the header (titles, dates, blank cells).
_HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True, kw_only=True)
class ReadLimits:
    """Bounds on the size, shape and duration of reading one upload.

    ``max_bytes`` bounds the file (and the KML inside a KMZ): a read holds a few copies of
    it and one server serves several people at once, so it is what a ward's files need (a
    year of records is a few MiB, a phone photo under 20 MiB); the app's
    ``server.maxUploadSize`` (``.streamlit/config.toml``) is the same. ``max_columns`` bounds
    a table's width and ``max_line_bytes`` one physical line of a text file, both checked
    before the whole file is parsed. ``max_uncompressed_bytes`` and ``max_compression_ratio``
    bound the content of a zip container (xlsx, kmz) before it is opened;
    ``max_image_pixels`` bounds a photo's declared size, checked from its header; ``seconds``
    is the wall-clock budget of the whole read.
    """

    max_bytes: int = 50 * 2**20
    max_rows: int = 2_000_000
    max_columns: int = 2_000
    max_line_bytes: int = 1 * 2**20
    max_uncompressed_bytes: int = 500 * 2**20
    max_compression_ratio: float = 200.0
    max_image_pixels: int = 60_000_000
    seconds: float = 120.0


@dataclass(frozen=True)
class RawTable:
    """One table of an upload, as text.

    ``frame`` has the file's own column names; every value is a ``str`` or ``None`` (object
    dtype), stripped and NFC-normalised. Its index (named ``row``) is the row number the user
    sees: the spreadsheet or CSV row with the header as row 1, or the feature, placemark,
    waypoint or track point number from 1. ``crs`` is the CRS the format declares for the
    ``_lon``/``_lat`` columns, if any. ``problems`` are rows the reader could not read in full;
    those rows are kept in ``frame`` with what could be read.
    """

    name: str
    layer: Layer
    frame: pd.DataFrame
    crs: str | None = None
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class Reading:
    """One read of one file: its name (for messages), its limits and its deadline."""

    name: str
    limits: ReadLimits
    started: float = field(default_factory=time.monotonic)

    def error(self, problem: str, fix: str) -> InputError:
        """An :class:`InputError` naming the file, what is wrong and what to do."""
        return InputError(f"{self.name}: {problem}. {fix}.")

    def check_time(self) -> None:
        """Raise once the read has used up its time budget."""
        if time.monotonic() - self.started > self.limits.seconds:
            raise self.error(
                f"reading it took longer than the {self.limits.seconds:g} s allowed",
                "Split it into smaller files and upload them one at a time",
            )

    def check_size(self, size: int, *, what: str = "it") -> None:
        """Raise when ``size`` bytes (of the file, or of ``what`` in it) exceed the limit."""
        if size > self.limits.max_bytes:
            raise self.error(
                f"{what} is {size / 2**20:,.1f} MiB, more than the "
                f"{self.limits.max_bytes / 2**20:,.0f} MiB allowed",
                "Split it into smaller files",
            )

    def check_rows(self, rows: int) -> None:
        """Raise when ``rows`` data rows exceed the limit."""
        if rows > self.limits.max_rows:
            raise self.error(
                f"it has more than {self.limits.max_rows:,} rows",
                f"Split it into files of at most {self.limits.max_rows:,} rows",
            )

    def check_columns(self, columns: int) -> None:
        """Raise when a table is wider than the limit."""
        if columns > self.limits.max_columns:
            raise self.error(
                f"it has {columns:,} columns, more than the {self.limits.max_columns:,} allowed",
                "Keep only the columns of the records (position, time, category, ...)",
            )


def text(value: str | None) -> str | None:
    """``value`` NFC-normalised and stripped; blank or missing gives ``None``.

    Examples
    --------
    >>> text("  Le\u0302\u0301 ") == "Lế", text("   "), text(None)
    (True, None, None)
    """
    if value is None:
        return None
    return unicodedata.normalize("NFC", value).strip() or None


def header_position(rows: Sequence[Sequence[str | None]]) -> int | None:
    """Index of the header among the first rows of a sheet, or ``None`` if all are empty.

    Office sheets often carry a title or a date above the header. The header is the first row
    filled at least half as much as the fullest of the first rows (and in two cells, when any
    row has two).

    Examples
    --------
    >>> title, header, row = ["DANH SÁCH", None, None], ["STT", "Loại", "Ngày"], ["1", "x", None]
    >>> header_position([title, header, row])
    1
    """
    counts = [sum(v is not None for v in row) for row in rows[:_HEADER_SEARCH_ROWS]]
    most = max(counts, default=0)
    if most == 0:
        return None
    need = max(min(2, most), -(-most // 2))
    return next(i for i, n in enumerate(counts) if n >= need)


def header_names(cells: Sequence[str | None], *, blank: Callable[[int], str]) -> list[str]:
    """Column names from header cells: a blank cell gets ``blank(position)`` (from 1) and a
    repeated name gets `` (2)``, `` (3)``...

    Examples
    --------
    >>> header_names(["Ngày", None, "Ngày"], blank=lambda i: f"column {i}")
    ['Ngày', 'column 2', 'Ngày (2)']
    """
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        base = cell if cell is not None else blank(position)
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base} ({k})"
        seen.add(name)
        names.append(name)
    return names


def frame(
    rows: Iterable[Mapping[str, str | None]],
    index: Sequence[int],
    *,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """A text frame from row mappings: ``columns`` first, then other keys in first-seen order."""
    rows = list(rows)
    order = dict.fromkeys(columns)
    for row in rows:
        order.update(dict.fromkeys(row))
    data = {c: np.array([row.get(c) for row in rows], dtype=object) for c in order}
    return text_frame(data, index)


def text_frame(data: Mapping[str, np.ndarray], index: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """A frame of object columns (``str`` or ``None``) indexed by the user's row numbers."""
    row_index = pd.Index(np.asarray(index, dtype="int64"), name="row")
    # dtype=object: pandas would otherwise infer its own string dtype, with NaN for None.
    return pd.DataFrame(dict(data), index=row_index, dtype=object)
