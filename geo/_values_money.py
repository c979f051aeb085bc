"""Reading fines in Vietnamese đồng and checking them against the schedule (part of
:mod:`geo.values`, whose docstring gives the rules for amounts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo._values_base import _column_name, _matches, _present, _text, problems_where
from geo._values_numbers import _is_digits, _numbers
from geo.model import categories, fine_schedule
from geo.problems import ProblemBatch, RowProblem

__all__ = ["check_fines", "parse_vnd"]

_UNITS: dict[str, float] = {
    "tỷ": 1e9, "tỉ": 1e9, "ty": 1e9, "ti": 1e9,
    "triệu": 1e6, "trieu": 1e6, "tr": 1e6,
    "nghìn": 1e3, "nghin": 1e3, "ngàn": 1e3, "ngan": 1e3, "k": 1e3,
}  # fmt: skip
_UNIT = "(?:" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
_CURRENCY_BEFORE = r"(?:vnđ|vnd|₫)? ?"
_CURRENCY_AFTER = r" ?(?:vnđ|vnd|việt nam đồng|đồng|dong|đ|₫|d)?\.?"
_AMOUNT = (
    rf"^{_CURRENCY_BEFORE}(?P<a>[-+]?\d(?:[\d., ]*\d)?) ?"
    rf"(?:(?P<ua>{_UNIT})(?: ?(?P<b>\d{{1,3}})(?: ?(?P<ub>{_UNIT}))?)?)?{_CURRENCY_AFTER}$"
)
#: Thousands grouped by dots, with or without "đ" after: read by dropping all but the digits
#: (what ``_AMOUNT`` reads them as, tested), without its captures.
_DOTTED = r"^\d{1,3}(?:\.\d{3})+ ?(?:đ|₫)?$"
_NO_AMOUNT = r"^(?:-+|–|—|không|khong|không phạt|khong phat|ko|n/?a)$"
_MAX_VND = 1e13


def parse_vnd(
    values: pd.Series, *, column: str | None = None
) -> tuple[pd.Series, list[RowProblem]]:
    """Read amounts in Vietnamese đồng (the rules are in the docstring of :mod:`geo.values`).

    Returns
    -------
    (pandas.Series, list of RowProblem)
        ``Int64`` amounts (``<NA>`` where empty or refused) and reject problems ``bad_fine``.

    Examples
    --------
    >>> amounts, probs = parse_vnd(pd.Series(
    ...     ["2.000.000", "2,000,000 đ", "1,5 triệu", "500k", "1tr5", "300000.0", "", "abc"]))
    >>> amounts.tolist()
    [2000000, 2000000, 1500000, 500000, 1500000, 300000, <NA>, <NA>]
    >>> [(p.row, p.reason) for p in probs]
    [(7, 'bad_fine')]
    """
    column = _column_name(values, column)
    text = _text(values, lower=True)
    present = _present(text)
    amount = np.full(len(values), np.nan)
    digits = present & _is_digits(text)
    if digits.any():  # the usual case, without the regular expressions
        amount[digits] = pc.cast(text.filter(pa.array(digits)), pa.float64()).to_numpy()
    # then the office's usual "2.000.000", "500.000 đ": dots between groups of three
    dotted = present & ~digits & _matches(text, _DOTTED)
    if dotted.any():
        plain = pc.replace_substring_regex(text.filter(pa.array(dotted)), r"[^0-9]", "")
        amount[dotted] = pc.cast(plain, pa.float64()).to_numpy()
    rest = present & ~digits & ~dotted
    if rest.any():
        got, none = _amounts(text.filter(pa.array(rest)))
        amount[rest] = got
        present[np.flatnonzero(rest)[none]] = False
    unread = present & np.isnan(amount)
    negative = present & (amount < 0)
    fraction = present & ~unread & ~negative & (np.abs(amount - np.round(amount)) > 1e-6)
    huge = present & ~unread & (amount > _MAX_VND)
    problems = problems_where(
        unread,
        values,
        column=column,
        reason="bad_fine",
        message=lambda v: (
            f"{v!r} is not an amount in VND; write it as 2000000, 2.000.000đ, 2,000,000 or 2 triệu."
        ),
    )
    for mask, why in (
        (negative, "is negative; a fine is a positive amount"),
        (fraction, "has a fraction of a đồng; write the whole amount (1.500.000 or 1,5 triệu)"),
        (huge, "is larger than any fine; check the digits"),
    ):
        problems += problems_where(
            mask & ~unread,
            values,
            column=column,
            reason="bad_fine",
            message=_suffixed(why),
        )
    bad = unread | negative | fraction | huge
    out = pd.Series(np.where(bad | ~present, np.nan, np.round(amount)), index=values.index)
    return out.astype("Int64"), sorted(problems, key=lambda p: p.row)


def check_fines(
    fines: pd.Series, categories_: pd.Series, *, column: str | None = None
) -> ProblemBatch:
    """Flag fines outside the schedule's range for their category (``fine_outside_schedule``).

    Parameters
    ----------
    fines
        Parsed amounts (``Int64``, from :func:`parse_vnd`); empty and 0 (no fine) pass.
    categories_
        Category codes aligned with ``fines``; categories without a rule (``other``) pass.
    column
        The fine's column in the file, for the problems.

    Examples
    --------
    >>> probs = check_fines(pd.Series([350_000, 5_000_000], dtype="Int64"),
    ...                     pd.Series(["street_vending", "street_vending"]))
    >>> [(p.row, p.reason, p.severity) for p in probs]
    [(1, 'fine_outside_schedule', 'flag')]
    """
    rules = fine_schedule()
    # the range of each distinct category, then each row's taken from those
    codes, names = pd.factorize(categories_)
    known = [rules.get(str(c)) for c in names]
    lo = np.array([np.nan if r is None else r.min_vnd for r in known] + [np.nan])[codes]
    hi = np.array([np.nan if r is None else r.max_vnd for r in known] + [np.nan])[codes]
    amount = pd.Series(fines, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        outside = (amount > 0) & ((amount < lo) | (amount > hi))
    where = np.flatnonzero(outside)
    rows = fines.index.to_numpy()[where].astype(np.int64)
    amounts = amount[where].astype(np.int64)
    # one message per distinct (amount, category), in order of first row
    nth, seen = pd.factorize(amounts)
    width = len(names) + 1
    which, keys = pd.factorize(nth * width + codes[where])
    distinct = [(int(seen[k // width]), str(names[k % width])) for k in keys.tolist()]
    made = []
    for fine, code in distinct:
        rule = rules[code]
        made.append(
            f"The fine {_vnd(int(fine))} is outside the usual range for "
            f"{categories()[code].label_en.lower()} ({_vnd(rule.min_vnd)} to "
            f"{_vnd(rule.max_vnd)}, {rule.legal_basis} {rule.provision}); check the "
            f"amount (organisations pay up to twice as much). Kept, for review."
        )
    texts = np.array(made, dtype=object)
    return ProblemBatch(rows, column, "fine_outside_schedule", texts, which, "flag")


def _amounts(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(amount or NaN, says "no amount") for VND text other than plain digits."""
    parts = pc.extract_regex(text, _AMOUNT)
    matched = ~np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    out = np.full(len(text), np.nan)
    none = ~matched & _matches(text, _NO_AMOUNT)
    if not matched.any():
        return out, none
    parts = parts.filter(pa.array(matched))
    a, _ = _numbers(parts.field("a"), one_group="thousands")
    ua, ub = _unit_factor(parts.field("ua")), _unit_factor(parts.field("ub"))
    b_text = parts.field("b")
    digits = pc.utf8_length(b_text).to_numpy(zero_copy_only=False).astype(float)
    b = np.zeros(len(parts))
    has_b = digits > 0
    if has_b.any():
        b[has_b] = pc.cast(b_text.filter(pa.array(has_b)), pa.float64()).to_numpy()
    whole_a = a == np.round(a)
    total = np.where(np.isnan(ua), a, a * ua)
    # "1 tỷ 200 triệu": a bigger unit, then a smaller one
    compound = has_b & ~np.isnan(ub)
    total[compound] = np.where(ub < ua, a * ua + b * ub, np.nan)[compound]
    # "1tr5", "2 triệu 500": the digits continue the number (1.5 triệu, 2.500 triệu)
    spoken = has_b & np.isnan(ub)
    total[spoken] = np.where(whole_a, (a + b / 10.0**digits) * ua, np.nan)[spoken]
    out[matched] = total
    return out, none


def _unit_factor(units: pa.Array) -> np.ndarray:
    names = pa.array(list(_UNITS), pa.large_string())
    where = pc.index_in(units.cast(pa.large_string()), value_set=names)
    found = where.to_numpy(zero_copy_only=False)
    factors = np.array([*_UNITS.values(), np.nan])
    return factors[np.where(pd.isna(found), len(_UNITS), found).astype(int)]


def _suffixed(why: str) -> Callable[[Any], str]:
    return lambda v: f"{v!r} {why}."


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"
