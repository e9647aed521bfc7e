"""Calendar months as ``"YYYY-MM"`` keys, and the payment periods they fall in.

Month keys compare correctly as strings (four-digit year, two-digit month), so ranges and sorting
use plain string order; arithmetic goes through a month index (``year * 12 + month - 1``).
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Final

from contracts.pools import PaymentFrequency

_MONTH_KEY: Final = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")

PERIOD_MONTHS: Final[dict[str, int]] = {
    "monthly": 1,
    "quarterly": 3,
    "half_yearly": 6,
    "yearly": 12,
}
"""Length of a payment period; periods are calendar-aligned (quarters Jan–Mar, Apr–Jun, …)."""


def is_month_key(key: object) -> bool:
    return isinstance(key, str) and _MONTH_KEY.match(key) is not None


def _index(key: str) -> int:
    match = _MONTH_KEY.match(key)
    if match is None:
        raise ValueError(f"not a YYYY-MM month: {key!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _key(index: int) -> str:
    year, month0 = divmod(index, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(key: str) -> date:
    year, month0 = divmod(_index(key), 12)
    return date(year, month0 + 1, 1)


def shift_month(key: str, months: int) -> str:
    return _key(_index(key) + months)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; a day past the target month's end becomes its last day."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def period_bounds(key: str, frequency: PaymentFrequency) -> tuple[str, str]:
    """The calendar payment period holding month ``key``: (first month, last month)."""
    length = PERIOD_MONTHS[frequency]
    index = _index(key)
    year, month0 = divmod(index, 12)
    start = year * 12 + (month0 // length) * length
    return _key(start), _key(start + length - 1)
