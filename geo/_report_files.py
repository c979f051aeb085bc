"""The monthly reports as files: an Excel workbook (one sheet per table) and a PNG map.

Text cells follow the export rule of :mod:`geo.export`: a text a spreadsheet would run as a
formula is stored as text with Excel's quote prefix, its value intact. The map is drawn
offline (no web tiles) on a bare matplotlib ``Figure`` with the Agg canvas, so that no
pyplot state is left behind in a server process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo._report_text import header, month_text, ward
from geo.crs import metric_crs
from geo.export import _sheet_name, defuse_formula
from geo.i18n import Lang, t
from geo.model import categories

if TYPE_CHECKING:
    from geo.report import MonthlyReport

_MAX_WIDTH = 60


def write_xlsx(report: MonthlyReport, path: Path) -> Path:
    """Write ``report``'s tables to ``path``, one sheet each, in the order of ``TABLES``."""
    from geo.report import TABLES

    sheets = {t(f"report.sheet.{name}", report.lang): report.tables[name] for name in TABLES}
    return write_book(sheets, report.lang, path)


def write_book(sheets: Mapping[str, pd.DataFrame], lang: Lang, path: Path) -> Path:
    """Write each table of ``sheets`` (sheet name → table of code-named columns) to a sheet
    of the workbook ``path``, headers in ``lang``, in the order given."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    for sheet, table in sheets.items():
        ws = book.create_sheet(_sheet_name(sheet))
        headers = [header(str(c), lang) for c in table.columns]
        for i, (title, column) in enumerate(zip(headers, table.columns, strict=True), start=1):
            values = [len(str(v)) for v in table[column].head(200)]
            width = max([len(title), *values])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), _MAX_WIDTH)
        ws.freeze_panes = "A2"

        ws.append([_cell(ws, h) for h in headers])
        for row in table.astype(object).itertuples(index=False, name=None):
            ws.append([_cell(ws, v) for v in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _cell(ws: Any, value: Any) -> Any:
    """A write-only cell of ``value``: text is never a formula, missing values stay empty."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment

    c = WriteOnlyCell(ws, value=None)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        c.value = value
        c.data_type = "s"  # stored as text whatever it starts with ...
        c.quotePrefix = defuse_formula(value) != value  # ... and shown as text (export's rule)
        if len(value) > _MAX_WIDTH:  # the paragraph
            c.alignment = Alignment(wrap_text=True, vertical="top")
    elif not (value is None or value is pd.NA or value is pd.NaT or
              (isinstance(value, float) and np.isnan(value))):  # fmt: skip
        c.value = value
    return c


def write_png(report: MonthlyReport, path: Path, *, dpi: int = 150) -> Path:
    """Draw the month's map to ``path``: groups shaded by records per 1,000 residents,
    zone outlines, fined cases as points coloured by category, a legend and a title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    lang = report.lang
    groups = report.layers["groups"]
    crs = metric_crs(groups) if len(groups) else "EPSG:3857"
    fig = Figure(figsize=(9.5, 9), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if len(groups):
        shapes = groups.to_crs(crs)
        shapes["per_1000"] = shapes["per_1000"].astype("float64")
        shapes.plot(
            ax=ax,
            column="per_1000",
            cmap="YlOrRd",
            edgecolor="white",
            linewidth=0.4,
            legend=True,
            legend_kwds={"label": t("report.col.per_1000", lang), "shrink": 0.6},
            missing_kwds={"color": "#dddddd", "label": t("report.map.no_data", lang)},
        )
    handles: list[Line2D] = []
    zones = report.layers["zones"]
    if len(zones):
        zones.to_crs(crs).boundary.plot(ax=ax, color="#222222", linewidth=1.4)
        handles.append(Line2D([], [], color="#222222", linewidth=1.4,
                              label=t("report.map.zones", lang)))  # fmt: skip
    fined = report.layers["fined"]
    fined = fined[~(fined.geometry.isna() | fined.geometry.is_empty)]
    known = categories()
    fined = fined.to_crs(crs)
    codes = fined["category"].astype("string").fillna("other")
    for code in [*(c for c in known if c in set(codes)), *sorted(set(codes) - set(known))]:
        points = fined[(codes == code).to_numpy()]
        colour = known[code].color if code in known else "#7f7f7f"
        label = known[code].label(lang) if code in known else str(code)
        points.plot(ax=ax, color=colour, markersize=16, edgecolor="black", linewidth=0.4)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour,
                              markeredgecolor="black",
                              label=t("report.map.fined", lang, label=label,
                                      count=len(points))))  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 0.0), ncols=2,
                  fontsize=8, frameon=False)  # fmt: skip
    title = t("report.map_title", lang, month=month_text(report.start, lang),
              ward=ward(report.ward_name, lang))  # fmt: skip
    ax.set_title(title[:1].upper() + title[1:], fontsize=11)
    ax.set_axis_off()
    ax.set_aspect("equal")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
