"""Exchange calendar arithmetic for expiries (weekends only; no holiday calendar yet)."""

from __future__ import annotations

import datetime as dt

MONTH_CODES = "FGHJKMNQUVXZ"


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + dt.timedelta(days=offset + 14)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5


def business_days_before(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day -= dt.timedelta(days=1)
        if is_business_day(day):
            n -= 1
    return day


def crude_last_trade(year: int, month: int) -> dt.date:
    """NYMEX CL: trading ends 3 business days before the 25th of the prior month
    (4 if the 25th is not a business day)."""
    prior = dt.date(year, month, 1) - dt.timedelta(days=1)
    the_25th = prior.replace(day=25)
    n = 3 if is_business_day(the_25th) else 4
    return business_days_before(the_25th, n)


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def parse_yyyymmdd(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def fridays_after(day: dt.date, count: int) -> list[dt.date]:
    """The next `count` Fridays on or after `day`."""
    first = day + dt.timedelta(days=(4 - day.weekday()) % 7)
    return [first + dt.timedelta(weeks=i) for i in range(count)]
