"""Reading numbers written the Vietnamese, Excel or English way (part of :mod:`geo.values`).

``.`` and ``,`` may be thousands separators or decimal points; the rules, and how the
ambiguous ``1.500`` is read, are in the docstring of :mod:`geo.values`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo._values_base import _column_name, _matches, _present, _replace, _text, problems_where
from geo.problems import RowProblem, Severity

__all__ = ["parse_accuracy_flags", "parse_number"]

_ONE_GROUP = r"^[-+]?[1-9]\d{0,2}[.,]\d{3}$"
_GROUPED = r"^[-+]?[1-9]\d{0,2}(?:(?:\.\d{3}){2,}|(?:,\d{3}){2,}|(?: \d{3})+)$"
_DEC_DOT = r"^[-+]?(?:\d+|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}(?: \d{3})+)\.\d+$"
_DEC_COMMA = r"^[-+]?(?:\d+|[1-9]\d{0,2}(?:\.\d{3})+|[1-9]\d{0,2}(?: \d{3})+),\d+$"


OneGroup = Literal["thousands", "decimal", "ambiguous"]


def parse_number(
    values: pd.Series,
    *,
    column: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    severity: Severity = "reject",
) -> tuple[pd.Series, list[RowProblem]]:
    """Read numbers (accuracy in m, items removed, participants, waste in kg, severity).

    Decimal commas are read (``4,5``); a trailing unit is ignored (``5 m``, ``12 người``,
    ``4,5 kg``); ``1.500`` / ``1,500`` is 1500 for whole counts (``integer``) and refused as
    ambiguous otherwise.

    Returns
    -------
    (pandas.Series, list of RowProblem)
        ``Int64`` when ``integer`` else ``float64`` (missing where empty or refused), and
        problems ``bad_number`` (unreadable, ambiguous, or not whole) and ``out_of_range``,
        of the given ``severity``.

    Examples
    --------
    >>> cells = pd.Series(["4,5", "12 m", "1.500", "-1"], index=[2, 3, 4, 5])
    >>> nums, probs = parse_number(cells, minimum=0)
    >>> nums.tolist()[:2], [(p.row, p.reason) for p in probs]
    ([4.5, 12.0], [(4, 'bad_number'), (5, 'out_of_range')])
    """
    column = _column_name(values, column)
    text = _text(values, lower=True)
    text = _replace(_replace(text, r"^[~≈±]\s*", ""), r"(\d)\s*\p{L}[\p{L}\s./²³]*$", r"\1")
    present = _present(text)
    number = np.full(len(values), np.nan)
    ambiguous = np.zeros(len(values), dtype=bool)
    if present.any():
        got, amb = _numbers(
            text.filter(pa.array(present)), one_group="thousands" if integer else "ambiguous"
        )
        number[present], ambiguous[present] = got, amb
    unread = present & np.isnan(number) & ~ambiguous
    fractional = present & ~np.isnan(number) & integer & (number != np.round(number))
    low = present & (number < minimum) if minimum is not None else np.zeros_like(present)
    high = present & (number > maximum) if maximum is not None else np.zeros_like(present)
    bounds = _bounds_text(minimum, maximum)
    problems = problems_where(
        unread,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: f"{v!r} is not a number; write digits, e.g. 12 or 4,5.",
        severity=severity,
    )
    problems += problems_where(
        ambiguous,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: (
            f"{v!r} is ambiguous: one thousand five hundred, or one and a half? Write "
            f"{_digits(v)} or {_digits(v, decimal=True)}."
        ),
        severity=severity,
    )
    problems += problems_where(
        fractional,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: f"{v!r} is not a whole number; write a count such as 3.",
        severity=severity,
    )
    problems += problems_where(
        (low | high) & ~fractional,
        values,
        column=column,
        reason="out_of_range",
        message=lambda v: f"{v!r} is outside the accepted range ({bounds}).",
        severity=severity,
    )
    bad = unread | ambiguous | fractional | low | high
    out = pd.Series(np.where(bad, np.nan, number), index=values.index)
    problems.sort(key=lambda p: p.row)
    return (out.round().astype("Int64") if integer else out.astype("float64")), problems


def parse_accuracy_flags(
    acc: pd.Series, *, cap_m: float = 30.0, column: str | None = None
) -> list[RowProblem]:
    """Flag GPS fixes less accurate than ``cap_m`` metres (``poor_gps_accuracy``).

    ``acc`` holds metres (from :func:`parse_number`); empty cells pass.

    Examples
    --------
    >>> [(p.row, p.reason) for p in parse_accuracy_flags(pd.Series([5.0, 80.0, None]))]
    [(1, 'poor_gps_accuracy')]
    """
    column = _column_name(acc, column)
    metres = pd.to_numeric(acc, errors="coerce").astype("float64")
    return problems_where(
        (metres > cap_m).to_numpy(),
        metres,
        column=column,
        reason="poor_gps_accuracy",
        message=lambda v: (
            f"The GPS accuracy is {v:.0f} m, worse than {cap_m:.0f} m: the point may lie in "
            f"the wrong group; check it on the map."
        ),
        severity="flag",
    )


def _numbers(text: pa.Array, *, one_group: OneGroup) -> tuple[np.ndarray, np.ndarray]:
    """(value or NaN, ambiguous) for number text by the rules in the docstring of :mod:`geo.values`.

    Each rule reads only the cells the previous ones left, the cheapest rules first.
    """
    out = np.full(len(text), np.nan)
    ambiguous = np.zeros(len(text), dtype=bool)
    idx = np.flatnonzero(_present(text))
    sub = text.filter(pa.array(_present(text)))

    def take(hits: np.ndarray, clean: Callable[[pa.Array], pa.Array] | None) -> None:
        nonlocal idx, sub
        if not hits.any():
            return
        if clean is None:
            ambiguous[idx[hits]] = True
        else:
            cleaned = clean(sub.filter(pa.array(hits)))
            out[idx[hits]] = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        idx, sub = idx[~hits], sub.filter(pa.array(~hits))

    take(_is_digits(sub), lambda t: t)
    if one_group == "decimal":
        take(_matches(sub, r"^[-+]?\d+(?:\.\d+)?$"), lambda t: t)
    if len(sub):
        one = _matches(sub, _ONE_GROUP)
        if one_group == "thousands":
            take(one, lambda t: _drop(t, ".,"))
        elif one_group == "decimal":
            take(one, lambda t: pc.replace_substring(t, ",", "."))
        else:
            take(one, None)
    for pattern, clean in (
        (r"^[-+]?\d+(?:\.\d+)?$", lambda t: t),
        (_GROUPED, lambda t: _drop(t, "., ")),
        (_DEC_DOT, lambda t: _drop(t, ", ")),
        (_DEC_COMMA, lambda t: pc.replace_substring(_drop(t, ". "), ",", ".")),
    ):
        if len(sub):
            take(_matches(sub, pattern), clean)
    return out, ambiguous


def _drop(text: pa.Array, chars: str) -> pa.Array:
    for ch in chars:
        text = pc.replace_substring(text, ch, "")
    return text


def _is_digits(text: pa.Array) -> np.ndarray:
    hits = pc.fill_null(pc.ascii_is_decimal(text), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _digits(text: str, *, decimal: bool = False) -> str:
    """The two readings of an ambiguous number: ``1.500`` -> ``1500`` or ``1.5``."""
    digits = "".join(ch for ch in str(text) if ch.isdigit() or ch in ".,")
    if not decimal:
        return digits.replace(".", "").replace(",", "")
    return f"{float(digits.replace(',', '.')):g}"


def _bounds_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"at least {minimum:g}"
    return f"at most {maximum:g}" if maximum is not None else "any"
