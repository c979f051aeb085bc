"""Parsing the cells of an uploaded table: timestamps, VND amounts, numbers and positions.

Every function here reads a whole column at once (pyarrow string kernels and pandas' compiled
date parser: no Python loop over rows, so a million rows take about a second) and returns the
parsed values with one :class:`~geo.problems.RowProblem` per cell it cannot accept. It never
raises on a bad cell: an upload must account for every row. Only a mistake that concerns the
whole file, such as a declared CRS that puts the points far from the ward, raises.

How numbers are read (``.`` and ``,`` are thousands separators in Vietnam, decimal points in
Excel and English):

- ``2.000.000``, ``2,000,000``, ``2 000 000`` (two or more groups of three digits, or spaces):
  thousands separators.
- ``1,5``, ``0.75``, ``12,50``, ``2.000.000,00``, ``2,000,000.00``: the last separator is a
  decimal point when it is not followed by exactly three digits, or when the integer part is
  grouped with the other separator.
- ``1.500`` / ``1,500`` (one separator and exactly three digits) is the ambiguous case. In VND
  amounts it is 1500 (Vietnamese writing: ``1.500`` đ is one thousand five hundred đồng); in
  coordinates it is a decimal (``21.012``); for whole counts it is 1500; for other numbers
  (accuracy, waste in kg) it is refused as ambiguous, asking for ``1500`` or ``1.5``.

VND amounts also take a currency mark (``đ``, ``₫``, ``VND``, ``đồng``, before or after), a unit
(``nghìn``/``ngàn``/``k`` = 10³, ``triệu``/``tr`` = 10⁶, ``tỷ``/``tỉ`` = 10⁹) with a decimal part
(``1,5 triệu`` = ``1.5tr`` = 1 500 000, ``1.500 triệu`` = 1 500 000 000 as above), the spoken
shorthand ``1tr5`` = ``1 triệu 5`` = 1 500 000 (the digits after the unit continue it), and
compound forms (``2 triệu 500 nghìn``, ``1 tỷ 200 triệu``). ``-``, ``không`` (none) and an empty
cell are no amount. A negative amount, or a fraction of a đồng, is refused.

The parsers live in private modules, one concept each: ``geo._values_time``,
``_values_money``, ``_values_numbers``, ``_values_position`` (with ``_values_crs`` for
projected metres and the ward) and the shared ``_values_base``. Import them from here.
"""

from __future__ import annotations

from geo._values_base import problems_where
from geo._values_money import check_fines, parse_vnd
from geo._values_numbers import parse_accuracy_flags, parse_number
from geo._values_position import parse_coordinates, parse_geolocation
from geo._values_time import combine_date_time, parse_timestamps

__all__ = [
    "check_fines",
    "combine_date_time",
    "parse_accuracy_flags",
    "parse_coordinates",
    "parse_geolocation",
    "parse_number",
    "parse_timestamps",
    "parse_vnd",
    "problems_where",
]
