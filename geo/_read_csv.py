"""Delimited text: CSV from Excel, Google Sheets and KoboToolbox/ODK exports, as the user sees it.

The encoding is UTF-8 (with or without BOM), UTF-16 (with a BOM, or plain ASCII-range text) or,
failing UTF-8, Windows-1258, whose Vietnamese uses combining tone marks: text is normalised to
NFC. UTF-8 with a few damaged bytes is an error, not Windows-1258: that fallback would turn all
of its Vietnamese into mojibake without a word. The delimiter (comma,
semicolon, tab or bar) is sniffed on a sample. Rows are numbered as a spreadsheet numbers them:
one row per record (a quoted cell may span lines), the header as row 1.

Speed: a numpy pass over the bytes counts each record's cells; when every record has as many
cells as the header, pandas' C parser reads the file. Otherwise the csv module reads it and
reports each ragged row (too many or too few cells), keeping what it has.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo._read_base import (
    RawTable,
    Reading,
    header_names,
    header_position,
    text,
    text_frame,
)
from geo.errors import InputError
from geo.problems import RowProblem

__all__ = ["read_csv"]

logger = logging.getLogger(__name__)

_FIX = "Open it in Excel and save it as 'CSV UTF-8', or as .xlsx"
_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_CHARS = 65_536
_SNIFF_CHARS = 4_096
_SEP_LINE = re.compile(r"sep=([,;\t|])[ \t]*\r?\n")  # Excel's delimiter hint
_CHECK_EVERY = 65_536


@dataclass(frozen=True)
class _Layout:
    """Where each record of the UTF-8 text starts, and how many cells it has."""

    starts: np.ndarray
    widths: np.ndarray
    blank: np.ndarray


def read_csv(data: bytes, reading: Reading) -> list[RawTable]:
    """The table of a delimited text file (see :func:`geo.readers.read_upload`)."""
    _check_line_lengths(data, reading)
    content = _decode(data, reading)
    content, delimiter = _dialect(content)
    first_rows = _head(content, delimiter)
    head = header_position(first_rows)
    if head is None:
        raise reading.error("it has no header row and no data", _FIX)
    # a header far too wide is refused before the whole file is parsed into columns
    reading.check_columns(sum(cell is not None for cell in first_rows[head]))
    payload = content.encode("utf-8")
    layout = _layout(payload, delimiter, reading)
    read = _fast(payload, delimiter, layout, head, first_rows[head], reading)
    if read is None:
        logger.info("%s: ragged rows or stray quotes, reading it with the csv module", reading.name)
        read = _slow(content, delimiter, head, reading)
    header, columns, numbers, problems = read
    names = header_names(header, blank=lambda i: f"column {i}")
    frame_columns = {
        name: values
        for name, cell, values in zip(names, header, columns, strict=True)
        if cell is not None or any(v is not None for v in values)  # drop empty unnamed columns
    }
    reading.check_columns(len(frame_columns))
    empty = np.ones(len(numbers), dtype=bool)
    for values in frame_columns.values():
        empty &= values == None  # noqa: E711 - elementwise on an object array
    if empty.all():
        raise reading.error("it has a header but no rows of data under it", _FIX)
    keep = ~empty
    table = text_frame({n: v[keep] for n, v in frame_columns.items()}, numbers[keep])
    return [RawTable(reading.name, "records", table, problems=tuple(problems))]


def _check_line_lengths(data: bytes, reading: Reading) -> None:
    """Refuse a line far over the limit from the raw bytes, before decoding copies the file.

    :func:`_layout` checks the lines exactly once the text is decoded; this check spares
    the copies when a file is one huge line. Its margin (twice the limit) covers what
    decoding changes: UTF-16 doubles the bytes of ASCII, NFC shortens decomposed letters.
    """
    end_byte = b"\n" if b"\n" in data else b"\r"  # old Mac files end lines with CR alone
    window = 2 * reading.limits.max_line_bytes + 1
    start = 0
    while len(data) - start >= window:
        last = data.rfind(end_byte, start, start + window)
        if last < 0:  # the line at ``start`` is longer than the window
            end = data.find(end_byte, start)
            length = (len(data) if end < 0 else end) - start
            raise _too_long(data.count(end_byte, 0, start) + 1, length, reading)
        start = last + 1


def _too_long(line: int, length: int, reading: Reading) -> InputError:
    return reading.error(
        f"line {line:,} is {length:,} bytes long, more than the "
        f"{reading.limits.max_line_bytes:,} allowed for one line (is it really a CSV file?)",
        _FIX,
    )


def _decode(data: bytes, reading: Reading) -> str:
    """The file's text, NFC-normalised, with old Mac line ends made "\\n"."""
    if data.startswith(codecs.BOM_UTF8):
        content = _strict(data, "utf-8-sig", reading)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        content = _strict(data, "utf-16", reading)
    elif (utf16 := _utf16_without_bom(data[:4096])) is not None:
        content = _strict(data, utf16, reading)
    else:
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if _damaged_utf8(data):
                line = data.count(b"\n", 0, exc.start) + 1
                raise reading.error(
                    f"it is UTF-8 text with bytes that are not UTF-8 on line {line:,}", _FIX
                ) from exc
            content = _strict(data, "cp1258", reading)
    if "\x00" in content:
        raise reading.error("it contains NUL bytes, so it is a binary file, not CSV text", _FIX)
    # normalize() returns NFC input as is, after a quick check; is_normalized() first would
    # double the cost of text that needs it (Windows-1258 tone marks)
    content = unicodedata.normalize("NFC", content)
    if "\n" not in content and "\r" in content:
        content = content.replace("\r", "\n")
    return content


def _strict(data: bytes, encoding: str, reading: Reading) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        names = {"cp1258": "UTF-8 or Windows-1258", "utf-8-sig": "UTF-8"}
        raise reading.error(
            f"it is not text in {names.get(encoding, 'UTF-16')} (unreadable byte at position "
            f"{exc.start:,})",
            _FIX,
        ) from exc


def _damaged_utf8(data: bytes) -> bool:
    """True when most non-ASCII text decodes as UTF-8: a UTF-8 file with a few bad bytes."""
    content = data.decode("utf-8", errors="replace")
    bad = content.count("\ufffd")
    non_ascii = len(content) - len(content.encode("ascii", errors="ignore"))
    return non_ascii - bad > 2 * bad  # Windows-1258 text has almost no valid UTF-8 pairs


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 when every other byte of the head is zero (ASCII text in UTF-16)."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _dialect(content: str) -> tuple[str, str]:
    """The text without Excel's ``sep=`` line, and its delimiter."""
    content = content.lstrip("\ufeff")
    hint = _SEP_LINE.match(content)
    if hint is not None:
        return content[hint.end() :], hint.group(1)
    return content, _delimiter(_sample(content))


def _sample(content: str) -> str:
    """The first lines of the text, about 64 KiB of them; a longer first line is kept whole
    (it is the header of a very wide table, whose width must be known)."""
    if len(content) <= _SAMPLE_CHARS:
        return content
    cut = content.rfind("\n", 0, _SAMPLE_CHARS)
    if cut <= 0:
        cut = content.find("\n", _SAMPLE_CHARS)
    return content if cut < 0 else content[: cut + 1]


def _delimiter(sample: str) -> str:
    """The candidate that splits the sample's rows most consistently into most cells.

    csv.Sniffer's guess wins ties; counting decides when the sniffer fails or disagrees.

    Examples
    --------
    >>> _delimiter("Ngày;Tiền phạt;Vĩ độ\\n15/03/2025;1.500.000đ;21,0285\\n")
    ';'
    """
    scores: dict[str, tuple[bool, float, int]] = {}
    for candidate in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=candidate))
        except csv.Error:
            continue
        widths = [len(r) for r in rows if any(c.strip() for c in r)]
        if widths:
            width, count = Counter(widths).most_common(1)[0]
            scores[candidate] = (width > 1, count / len(widths), width)
    if not scores:
        return ","
    best = max(scores.values())
    try:
        # the sniffer's regular expressions take quadratic time on long lines: a few KiB
        head = sample[: sample.rfind("\n", 0, _SNIFF_CHARS) + 1] or sample[:_SNIFF_CHARS]
        guess = csv.Sniffer().sniff(head, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        guess = None
    if guess in scores and scores[guess] == best:
        return guess
    return next(d for d, score in scores.items() if score == best)


def _head(content: str, delimiter: str) -> list[list[str | None]]:
    """The first records of the text, stripped (to find the header)."""
    try:
        rows = list(csv.reader(io.StringIO(_sample(content)), delimiter=delimiter))
    except csv.Error:
        rows = [line.split(delimiter) for line in _sample(content).splitlines()]
    return [[text(c) for c in row] for row in rows[:40]]


def _layout(payload: bytes, delimiter: str, reading: Reading) -> _Layout:
    """Record starts and cell counts from the bytes, quotes respected; checks the limits.

    A delimiter or line end counts only outside quotes: where an even number of quote
    characters precedes it. Stray quotes inside unquoted cells can fool this count, which is
    why the fast path also checks that pandas found the same number of records.
    """
    data = np.frombuffer(payload, dtype=np.uint8)
    line_ends = np.flatnonzero(data == 10)
    lengths = np.diff(line_ends, prepend=-1, append=len(data)) - 1
    if len(lengths) and lengths.max() > reading.limits.max_line_bytes:
        raise _too_long(int(lengths.argmax()) + 1, int(lengths.max()), reading)
    quotes = np.flatnonzero(data == ord('"'))
    separators = np.flatnonzero(data == ord(delimiter))
    if len(quotes):
        line_ends = line_ends[(np.searchsorted(quotes, line_ends) & 1) == 0]
        separators = separators[(np.searchsorted(quotes, separators) & 1) == 0]
    ends = line_ends
    if not len(line_ends) or line_ends[-1] != len(data) - 1:
        ends = np.append(line_ends, len(data))
    reading.check_rows(len(ends) - 1)
    starts = np.concatenate(([0], ends[:-1] + 1))
    widths = np.diff(np.searchsorted(separators, ends), prepend=0) + 1
    sizes = ends - starts
    first = data[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else starts
    blank = (sizes == 0) | ((sizes == 1) & (first == 13))
    return _Layout(starts=starts, widths=widths, blank=blank)


_Read = tuple[list[str | None], list[np.ndarray], np.ndarray, list[RowProblem]]


def _fast(
    payload: bytes,
    delimiter: str,
    layout: _Layout,
    head: int,
    header: list[str | None],
    reading: Reading,
) -> _Read | None:
    """pandas' C parser, when every record has the header's number of cells.

    ``header`` is the header as the csv module read it: pandas must agree, or the byte
    layout was fooled by stray quotes and the csv module reads the file.
    """
    if head >= len(layout.widths):
        return None
    width = layout.widths[head]
    rest = slice(head, None)
    if not np.all((layout.widths[rest] == width) | layout.blank[rest]):
        return None
    reading.check_time()
    try:
        records = pd.read_csv(
            io.BytesIO(payload[int(layout.starts[head]) :]),
            sep=delimiter,
            header=None,
            dtype=object,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8",
            quotechar='"',
            doublequote=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    reading.check_time()
    if len(records) != len(layout.widths) - head or records.shape[1] != width:
        return None
    if [text(v) for v in records.iloc[0]] != header:
        return None
    columns = [_stripped(records[j].to_numpy()[1:]) for j in records.columns]
    numbers = np.arange(head + 2, head + 1 + len(records), dtype="int64")
    return header, columns, numbers, []


def _stripped(cells: np.ndarray) -> np.ndarray:
    """Each cell without surrounding blanks, ``None`` for an empty one (as ``v.strip() or None``,
    with the loop in C)."""
    out = np.fromiter(map(str.strip, cells), dtype=object, count=len(cells))
    out[out == ""] = None
    return out


def _slow(content: str, delimiter: str, head: int, reading: Reading) -> _Read:
    """The csv module, reporting every ragged row."""
    records: list[list[str | None]] = []
    number = 0
    cells: list[str] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(content), delimiter=delimiter), 1):
            if number % _CHECK_EVERY == 0:
                reading.check_time()
            if number > head:
                records.append([v.strip() or None for v in cells])
    except csv.Error as exc:
        raise reading.error(
            f'row {number + 1:,} cannot be read ({exc}); a quote (") may be left open', _FIX
        ) from exc
    if cells and "\n" in cells[-1] and not content.rstrip().endswith('"'):
        # the csv module reads an unclosed quote to the end of the file without a word
        raise reading.error(
            f'row {number:,} opens a quote (") that is never closed, so the rest of the file '
            "would be read as one cell (is the file truncated?)",
            "Close or remove the quote, or export the file again",
        )
    reading.check_rows(len(records) - 1)
    header, body = records[0], records[1:]
    width = _width(header, body)
    header = header + [None] * (width - len(header))
    problems = []
    for number, row in enumerate(body, start=head + 2):
        if len(row) == width or not any(v is not None for v in row):
            continue
        problem = _ragged(number, row, width, delimiter)
        if problem is not None:
            problems.append(problem)
    columns = [
        np.array([row[j] if j < len(row) else None for row in body], dtype=object)
        for j in range(width)
    ]
    numbers = np.arange(head + 2, head + 2 + len(body), dtype="int64")
    return header, columns, numbers, problems


def _width(header: list[str | None], body: list[list[str | None]]) -> int:
    """The header's width, or the most rows' width when most rows are wider (unnamed columns).

    A row's width here ends at its last filled cell, so that trailing empty cells (or a
    few ragged rows) do not add columns.
    """
    filled = [max((j + 1 for j, v in enumerate(row) if v is not None), default=0) for row in body]
    widths = Counter(w for w in filled if w)
    if not widths:
        return len(header)
    common, count = widths.most_common(1)[0]
    return common if common > len(header) and 2 * count > widths.total() else len(header)


def _ragged(number: int, row: list[str | None], width: int, delimiter: str) -> RowProblem | None:
    separator = "tab" if delimiter == "\t" else repr(delimiter)
    if len(row) < width:
        message = (
            f"Row {number} has {len(row)} cells where the header has {width}: a value is "
            f"missing or the values have shifted; check the row for a missing {separator}."
        )
    else:
        extra = [v for v in row[width:] if v is not None]
        if not extra:
            return None  # only empty cells past the header: nothing is lost
        example = " (e.g. a fine written 1,500,000)" if delimiter == "," else ""
        message = (
            f"Row {number} has {len(row)} cells where the header has {width}; the cells past "
            f"column {width} ({', '.join(extra)[:80]!r}) were not read. A value probably "
            f"contains a {separator} without quotes{example}: put quotes around it or fix "
            "the row."
        )
    return RowProblem(number, None, "ragged_row", message)
