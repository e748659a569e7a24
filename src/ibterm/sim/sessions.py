"""Trading hours: when each kind of instrument trades, in all hours and in regular hours.

The live market walks whenever the scenario's session is open; these hours only decide
which past bars exist (historical data with or without `useRTH`) and whether a forming
bar takes the live quotes. Times are US/Eastern, the time zone the simulator's contract
details name; business days are Monday to Friday, without a holiday calendar (as for
expiries, docs/simulator.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ibterm.domain.instrument import SecType

# Seconds of trading in a year, 252 sessions of 6.5 hours: the walks' volatility unit.
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600

ZONE_NAME = "US/Eastern"
ZONE = ZoneInfo(ZONE_NAME)


@dataclass(frozen=True, slots=True)
class Hours:
    opens: dt.time
    closes: dt.time
    overnight: bool  # opens the evening before its trading date (futures, currencies)


def _t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


REGULAR = Hours(_t(9, 30), _t(16), False)
# IB's hours: stocks trade 04:00-20:00 outside the regular session; CME futures from
# 18:00 the evening before to 17:00; IDEALPRO currencies from 17:15 to 17:00, with no
# regular session of their own (their liquid hours are their trading hours).
STOCK_ALL = Hours(_t(4), _t(20), False)
FUTURES_ALL = Hours(_t(18), _t(17), True)
CURRENCY = Hours(_t(17, 15), _t(17), True)


def hours(sec_type: SecType, rth: bool) -> Hours:
    if sec_type is SecType.CASH:
        return CURRENCY
    if rth or sec_type in (SecType.OPT, SecType.FOP):
        return REGULAR
    return FUTURES_ALL if sec_type is SecType.FUT else STOCK_ALL


@dataclass(frozen=True, slots=True)
class Session:
    day: dt.date  # its trading date
    start: int  # epoch seconds
    end: int


def _epoch(day: dt.date, at: dt.time) -> int:
    return int(dt.datetime.combine(day, at, ZONE).timestamp())


def session_of(h: Hours, day: dt.date) -> Session | None:
    """The session whose trading date is `day`; None on a weekend."""
    if day.weekday() >= 5:
        return None
    first = day - dt.timedelta(days=1) if h.overnight else day
    return Session(day, _epoch(first, h.opens), _epoch(day, h.closes))


def sessions_back(h: Hours, t: int) -> Iterator[Session]:
    """The session in force at `t` or the last one before it, then every earlier one."""
    day = dt.datetime.fromtimestamp(t, ZONE).date() + dt.timedelta(days=1)
    while True:
        s = session_of(h, day)
        day -= dt.timedelta(days=1)
        if s is not None and s.start <= t:
            yield s


def local(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, ZONE)
