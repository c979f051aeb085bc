"""Excel workbooks (.xlsx): every visible sheet with data, as text the way Excel shows it.

Numbers come back without float noise (``1500000``, not ``1500000.0``), dates and times as ISO
text, formulas as their cached values. A formula that was never calculated (a workbook written
by a script and never opened in Excel) has no value: such cells are reported, not guessed.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from geo._read_base import (
    RawTable,
    Reading,
    header_names,
    header_position,
    text,
    text_frame,
)
from geo._zipsafe import open_zip, read_member
from geo.errors import InputError
from geo.problems import RowProblem

__all__ = ["read_xlsx"]

logger = logging.getLogger(__name__)

_FIX = "Open it in Excel and save it again as .xlsx (or save the sheet as CSV UTF-8)"
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CHECK_EVERY = 2_000

Row = tuple[int, list[str | None]]


def read_xlsx(data: bytes, reading: Reading) -> list[RawTable]:
    """One table per visible sheet with data, named ``file.xlsx:Sheet``."""
    archive = open_zip(data, reading, kind="Excel workbook", fix=_FIX)
    with archive:
        workbook = _open(data, reading, data_only=True)
        try:
            tables = []
            for sheet in workbook.worksheets:
                if sheet.sheet_state != "visible":
                    logger.info("%s: skipping hidden sheet %r", reading.name, sheet.title)
                    continue
                read = _sheet(sheet, reading)
                if read is None:
                    continue
                table, positions = read
                problems = _uncalculated(data, archive, sheet, table, positions, reading)
                name = f"{reading.name}:{sheet.title}"
                tables.append(RawTable(name, "records", table, problems=problems))
        finally:
            workbook.close()
    if not tables:
        raise reading.error("no sheet has a header row and rows of data under it", _FIX)
    return tables


def _open(data: bytes, reading: Reading, *, data_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds on damaged parts
        first = str(exc).strip().partition("\n")[0]
        raise reading.error(f"it could not be opened as an Excel workbook ({first})", _FIX) from exc


def _rows(sheet: Any, reading: Reading) -> Iterator[Row]:
    """Non-empty rows as (row number, cell texts without trailing blanks)."""
    sheet.reset_dimensions()  # a wrong or hostile <dimension> must not pad every row
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number % _CHECK_EVERY == 0:
                reading.check_time()
            reading.check_rows(number - 1)
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                reading.check_columns(len(cells))
                yield number, cells
    except InputError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        SyntaxError,
        ValueError,
        KeyError,
    ) as exc:
        # SyntaxError: XML parse errors; ValueError: also defusedxml's refusals of entities
        raise reading.error(f"the sheet {sheet.title!r} is damaged ({exc})", _FIX) from exc


def _sheet(sheet: Any, reading: Reading) -> tuple[pd.DataFrame, dict[int, str]] | None:
    """The sheet's table and its columns by position (from 0), or None when it has no data."""
    rows = list(_rows(sheet, reading))
    head = header_position([cells for _, cells in rows])
    if head is None or head == len(rows) - 1:
        return None
    width = max(len(cells) for _, cells in rows[head:])
    header = rows[head][1] + [None] * (width - len(rows[head][1]))
    names = header_names(header, blank=lambda i: f"column {get_column_letter(i)}")
    body = rows[head + 1 :]
    columns: dict[str, np.ndarray] = {}
    positions: dict[int, str] = {}
    for j, name in enumerate(names):
        values = np.array([cells[j] if j < len(cells) else None for _, cells in body], dtype=object)
        # a column with neither a name nor a value is layout, not data
        if header[j] is not None or any(v is not None for v in values):
            columns[name] = values
            positions[j] = name
    return text_frame(columns, [number for number, _ in body]), positions


def _uncalculated(
    data: bytes,
    archive: zipfile.ZipFile,
    sheet: Any,
    table: pd.DataFrame,
    positions: dict[int, str],
    reading: Reading,
) -> tuple[RowProblem, ...]:
    """Problems for formula cells of ``table`` that have no cached value."""
    # the sheet's part in the zip (a private attribute of openpyxl's read-only sheets): a
    # second pass over the formulas is only worth it when the part has any
    part = getattr(sheet, "_worksheet_path", None)
    if part is None or not _FORMULA.search(read_member(archive, part, reading, fix=_FIX)):
        return ()
    workbook = _open(data, reading, data_only=False)
    problems = []
    try:
        formulas = workbook[sheet.title]
        formulas.reset_dimensions()
        for number, values in enumerate(formulas.iter_rows(values_only=True), start=1):
            if number % _CHECK_EVERY == 0:
                reading.check_time()
            if number not in table.index:
                continue
            for j, value in enumerate(values):
                column = positions.get(j)
                if column is not None and _is_formula(value) and table.at[number, column] is None:
                    problems.append(_formula_problem(number, column, j, value))
    finally:
        workbook.close()
    return tuple(problems)


def _is_formula(value: Any) -> bool:
    # with data_only off, openpyxl gives formulas as "=..." text or formula objects
    return isinstance(value, ArrayFormula | DataTableFormula) or (
        isinstance(value, str) and value.startswith("=")
    )


def _formula_problem(number: int, column: str, j: int, value: Any) -> RowProblem:
    formula = value if isinstance(value, str) else getattr(value, "text", None) or "a formula"
    return RowProblem(
        number,
        column,
        "formula_without_value",
        f"Cell {get_column_letter(j + 1)}{number} holds {str(formula)[:60]!r} but no calculated "
        "value (the workbook was never calculated): open it in Excel or LibreOffice, save it, "
        "and upload it again.",
        "flag",
    )


def _cell_text(value: Any) -> str | None:
    """Excel's value as the text Excel would show, without float noise.

    Examples
    --------
    >>> _cell_text(1500000.0), _cell_text(21.0285), _cell_text(dt.datetime(2025, 3, 15, 8, 30))
    ('1500000', '21.0285', '2025-03-15 08:30:00')
    """
    if value is None or isinstance(value, str):
        return text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return f"{value.isoformat()} 00:00:00"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return text(str(value))
