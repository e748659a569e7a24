"""Historical bars continuous with the live market.

A `BarSeries` holds one instrument's bars of one size, all hours or regular hours only.
It is made on first request, anchored where the market is then: its newest bar closes at
the live quote, and the past is generated backwards from there with the walk's own
volatility and the instrument's tick and spread (every bar opens where the one before it
closed). From then on each market step feeds the newest bar, and a new bar starts when
the clock passes into the next slot. Its random stream is seeded from the run's seed,
the instrument, the bar size and the hours, and is drawn bar by bar going back, so a
series extended by a later, longer request keeps every bar it had; two servers with the
same seed and clock give the same bars.

Each bar keeps the bid, ask, midpoint and trade prices, so every `whatToShow` reads the
same series.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ibterm.domain.ticks import decimals
from ibterm.sim.book import Book
from ibterm.sim.sessions import (
    Hours,
    Session,
    local,
    session_of,
    sessions_back,
)

DAY, WEEK, MONTH = -1, -2, -3  # calendar bar sizes, in place of a length in seconds


@dataclass(frozen=True, slots=True)
class BarSize:
    name: str
    seconds: int  # > 0: intraday, in seconds; DAY, WEEK or MONTH otherwise

    @property
    def intraday(self) -> bool:
        return self.seconds > 0


_SIZES = [("1 secs", 1), ("5 secs", 5), ("10 secs", 10), ("15 secs", 15), ("30 secs", 30),
          ("1 min", 60), ("2 mins", 120), ("3 mins", 180), ("5 mins", 300),
          ("10 mins", 600), ("15 mins", 900), ("20 mins", 1200), ("30 mins", 1800),
          ("1 hour", 3600), ("2 hours", 7200), ("3 hours", 10800), ("4 hours", 14400),
          ("8 hours", 28800), ("1 day", DAY), ("1W", WEEK), ("1M", MONTH)]
# IB's names, and the longer spellings ib_async documents for the last two.
BAR_SIZES = {name: BarSize(name, seconds) for name, seconds in _SIZES}
BAR_SIZES["1 week"] = BAR_SIZES["1W"]
BAR_SIZES["1 month"] = BAR_SIZES["1M"]
LEGAL_BAR_SIZES = ", ".join(name for name, _ in _SIZES)


@dataclass(frozen=True, slots=True)
class Slot:
    start: int  # epoch seconds
    end: int
    day: dt.date | None  # the trading date of a daily, weekly or monthly bar
    seconds: int  # of trading in it


def _intraday_back(size: int, h: Hours, t: int) -> Iterator[Slot]:
    # Bars are aligned to the clock from local midnight and cut at the session's ends, as
    # IB's are (the first regular-hours hour bar is 09:30-10:00).
    for s in sessions_back(h, t):
        cursor = min(t, s.end - 1)
        while cursor >= s.start:
            midnight = int(local(cursor).replace(hour=0, minute=0, second=0).timestamp())
            k = (cursor - midnight) // size
            start = max(midnight + k * size, s.start)
            end = min(midnight + (k + 1) * size, s.end)
            yield Slot(start, end, None, end - start)
            cursor = start - 1


def _period(size: int, day: dt.date) -> tuple[int, int] | tuple[int, int, int]:
    return day.isocalendar()[:2] if size == WEEK else (day.year, day.month)


def _last_weekday(size: int, day: dt.date) -> dt.date:
    if size == WEEK:
        return day + dt.timedelta(days=4 - day.weekday())
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    last = following - dt.timedelta(days=1)
    while last.weekday() >= 5:
        last -= dt.timedelta(days=1)
    return last


def _calendar_back(size: int, h: Hours, t: int) -> Iterator[Slot]:
    if size == DAY:
        for s in sessions_back(h, t):
            yield Slot(s.start, s.end, s.day, s.end - s.start)
        return
    group: list[Session] = []
    for s in sessions_back(h, t):
        if group and _period(size, s.day) != _period(size, group[0].day):
            yield _group_slot(size, h, group)
            group = []
        group.append(s)


def _group_slot(size: int, h: Hours, group: list[Session]) -> Slot:
    # A week or a month runs to its last session's close, also while it is forming.
    first = group[-1]
    last = session_of(h, _last_weekday(size, first.day))
    end = last.end if last is not None else group[0].end
    return Slot(first.start, end, first.day, sum(s.end - s.start for s in group))


def slots_back(size: BarSize, h: Hours, t: int) -> Iterator[Slot]:
    """The slot in force at `t` (or the last before it), then every earlier one."""
    if size.intraday:
        return _intraday_back(size.seconds, h, t)
    return _calendar_back(size.seconds, h, t)


def in_session(h: Hours, t: int) -> bool:
    s = next(sessions_back(h, t))
    return s.start <= t < s.end


@dataclass(slots=True)
class OHLC:
    open: float
    high: float
    low: float
    close: float

    def add(self, price: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price


@dataclass(slots=True)
class Bar:
    slot: Slot
    bid: OHLC
    ask: OHLC
    mid: OHLC
    trades: OHLC
    volume: float
    wap: float
    count: int


def _flat(price: float) -> OHLC:
    return OHLC(price, price, price, price)


@dataclass(frozen=True, slots=True)
class WalkShape:
    """What the past is generated with: the live walk's parameters."""

    tick: float
    spread_ticks: int
    sigma_ticks: float  # standard deviation of the bid, in ticks, over one trading second
    lot: float
    trades_per_second: float


class BarSeries:
    def __init__(self, size: BarSize, h: Hours, shape: WalkShape, seed: str, head: int,
                 now: int, book: Book):
        self.size = size
        self.hours = h
        self.shape = shape
        self.head = head  # nothing is generated before the instrument's first day
        self._rng = random.Random(seed)
        self._digits = decimals(shape.tick)  # what round_to_tick rounds to, found once
        self._older = slots_back(size, h, now)
        anchor = next(self._older)
        elapsed = min(anchor.seconds, max(1, now - anchor.start)) if anchor.end > now \
            else anchor.seconds
        tick = shape.tick
        bar, self._open_ticks = self._generate(anchor, round(book.bid / tick), elapsed)
        # The newest bar closes exactly where the live book is.
        bar.bid.add(book.bid)
        bar.ask.add(book.ask)
        bar.mid.add(book.mid)
        bar.trades.add(book.last)
        self.bars = [bar]
        self.exhausted = anchor.end <= head
        self._volume_seen = book.volume

    def _px(self, ticks: float) -> float:
        return round(ticks * self.shape.tick, self._digits)

    def _generate(self, slot: Slot, close_ticks: int, seconds: int) -> tuple[Bar, int]:
        """A bar that closes with the bid at `close_ticks`; and where its bid opened."""
        rng, shape = self._rng, self.shape
        sd = shape.sigma_ticks * math.sqrt(seconds)
        z, up, down = rng.gauss(0.0, 1.0), rng.random(), rng.random()
        open_side, close_side, activity = rng.random(), rng.random(), rng.random()
        o = max(1, close_ticks - round(z * sd))
        # The bar's excursions beyond its open and close: exponential, a quarter of its
        # standard deviation on average.
        hi = max(o, close_ticks) + round(-math.log(1.0 - up) * 0.25 * sd)
        lo = max(1, min(o, close_ticks) - round(-math.log(1.0 - down) * 0.25 * sd))
        s = shape.spread_ticks
        bid = OHLC(self._px(o), self._px(hi), self._px(lo), self._px(close_ticks))
        ask = OHLC(self._px(o + s), self._px(hi + s), self._px(lo + s),
                   self._px(close_ticks + s))
        mid = OHLC(*(round((b + a) / 2.0, 10)
                     for b, a in zip((bid.open, bid.high, bid.low, bid.close),
                                     (ask.open, ask.high, ask.low, ask.close), strict=True)))
        trades = OHLC(ask.open if open_side < 0.5 else bid.open, ask.high, bid.low,
                      ask.close if close_side < 0.5 else bid.close)
        # As many trades as the live walk prints in that time, give or take half; each
        # 5.5 lots on average, as the walk's 1-10 lot prints are.
        count = round(shape.trades_per_second * seconds * (0.5 + activity))
        volume = round(count * 5.5) * shape.lot
        wap = round((trades.high + trades.low + trades.close) / 3.0, 6)
        return Bar(slot, bid, ask, mid, trades, volume, wap, count), o

    def reach(self, start: int, limit: int) -> bool:
        """Generate older bars until the oldest starts at or before `start` (or the
        instrument's head); False if that would take more than `limit` bars in all."""
        older: list[Bar] = []
        oldest = self.bars[0].slot.start
        while oldest > start and not self.exhausted:
            if len(self.bars) + len(older) >= limit:
                self.bars[:0] = reversed(older)
                return False
            slot = next(self._older)
            if slot.end <= self.head:
                self.exhausted = True
                break
            bar, self._open_ticks = self._generate(slot, self._open_ticks, slot.seconds)
            older.append(bar)
            oldest = slot.start
        self.bars[:0] = reversed(older)
        return True

    def window(self, start: int, end: int) -> list[Bar]:
        """The bars that start in [start, end)."""
        return [b for b in self.bars if start <= b.slot.start < end]

    def update(self, now: int, book: Book) -> bool:
        """Feed one market step; True if the newest bar changed or a new one began."""
        seen, self._volume_seen = self._volume_seen, book.volume
        if not in_session(self.hours, now):
            return False
        last = self.bars[-1]
        traded = max(0.0, book.volume - seen)
        if now >= last.slot.end:
            slot = next(slots_back(self.size, self.hours, now))
            self.bars.append(Bar(slot, _flat(book.bid), _flat(book.ask), _flat(book.mid),
                                 _flat(book.last), traded, book.last, 1 if traded else 0))
            return True
        before = (last.bid.close, last.ask.close, last.trades.close, last.volume)
        last.bid.add(book.bid)
        last.ask.add(book.ask)
        last.mid.add(book.mid)
        if traded > 0:
            last.trades.add(book.last)
            last.wap = round((last.wap * last.volume + book.last * traded)
                             / (last.volume + traded), 6)
            last.volume += traded
            last.count += 1
        return before != (last.bid.close, last.ask.close, last.trades.close, last.volume)


def first_day(head: dt.date, h: Hours) -> int:
    """The start of the first session on or after `head`: an instrument's head timestamp."""
    day = head
    while (s := session_of(h, day)) is None:
        day += dt.timedelta(days=1)
    return s.start
