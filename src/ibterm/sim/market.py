"""Seeded random-walk quotes on each instrument's tick grid.

Every walking instrument has its own random stream, seeded from the run's seed and its
conId, and draws the same numbers every step: the sequence of books an instrument goes
through depends only on (seed, scenario), never on who subscribed or when.
Back-month futures follow their front month at a fixed basis; options are priced from
their underlying with Black-Scholes, so the whole surface moves together.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
import zlib
from collections import deque
from collections.abc import Callable

from ibterm.domain.instrument import Right
from ibterm.domain.ticks import round_to_tick
from ibterm.risk.black_scholes import bsm_price
from ibterm.sim.bars import BarSeries, BarSize, WalkShape, first_day
from ibterm.sim.book import Book
from ibterm.sim.depth_book import MAX_ROWS, Row, depth_rows
from ibterm.sim.greeks import Computation, Side, computations
from ibterm.sim.sessions import TRADING_SECONDS_PER_YEAR, Hours, hours
from ibterm.sim.world import PriceModel, SimInstrument, World

# How often a step prints a trade.
TRADE_ODDS = 0.6
# Open interest (contracts) of an option at the money; it thins out away from the money
# as a bell of OPEN_INTEREST_WIDTH in log-moneyness, never below OPEN_INTEREST_FLOOR.
ATM_OPEN_INTEREST = 20_000
OPEN_INTEREST_WIDTH = 0.04
OPEN_INTEREST_FLOOR = 10


class Walk:
    """One instrument's own random walk."""

    def __init__(self, sim: SimInstrument, seed: int, step_seconds: float, history: int):
        inst = sim.instrument
        self.tick = inst.min_tick
        self.lot = sim.lot
        self.rng = random.Random(f"{seed}/{inst.con_id}")
        rng = self.rng
        self.sigma_ticks = (
            sim.start_price * sim.volatility * math.sqrt(step_seconds / TRADING_SECONDS_PER_YEAR)
        ) / self.tick
        self.base_spread = max(1, round(sim.start_price * 0.00005 / self.tick))
        self.spread = self.base_spread
        self.bid_ticks = max(1, round(sim.start_price / self.tick) - self.spread // 2)
        close = round_to_tick(sim.start_price * (1 + rng.gauss(0, 0.008)), self.tick)
        open_ = round_to_tick(close * (1 + rng.gauss(0, 0.004)), self.tick)
        price = self._px(self.bid_ticks)
        self.book = Book(
            bid=price,
            ask=self._px(self.bid_ticks + self.spread),
            last=price,
            bid_size=self.lot * rng.randint(1, 30),
            ask_size=self.lot * rng.randint(1, 30),
            last_size=self.lot * rng.randint(1, 5),
            volume=self.lot * rng.randint(2_000, 20_000),
            open=open_,
            high=max(open_, price, close),
            low=min(open_, price, close),
            close=close,
        )
        self.history: deque[Book] = deque([self.book], maxlen=history + 1)

    def _px(self, ticks: int) -> float:
        return round_to_tick(ticks * self.tick, self.tick)

    def step(self) -> None:
        rng = self.rng
        # Draw a fixed set of numbers every step so the stream never depends on branches.
        z = rng.gauss(0.0, 1.0)
        spread_draw = rng.random()
        bid_lots = rng.randint(1, 30)
        ask_lots = rng.randint(1, 30)
        trade_draw = rng.random()
        side_draw = rng.random()
        trade_lots = rng.randint(1, 10)

        self.bid_ticks = max(1, self.bid_ticks + round(z * self.sigma_ticks))
        if spread_draw < 0.15:
            self.spread = self.base_spread + (1 if spread_draw < 0.05 else 0)
        elif spread_draw > 0.9:
            self.spread = self.base_spread
        b = self.book
        bid = self._px(self.bid_ticks)
        ask = self._px(self.bid_ticks + self.spread)
        last, last_size, volume, high, low = b.last, b.last_size, b.volume, b.high, b.low
        if trade_draw < TRADE_ODDS:
            last = bid if side_draw < 0.5 else ask
            last_size = self.lot * trade_lots
            volume += last_size
            high, low = max(high, last), min(low, last)
        self.book = Book(bid, ask, last, self.lot * bid_lots, self.lot * ask_lots, last_size,
                         volume, b.open, high, low, b.close)
        self.history.append(self.book)

    def delayed(self) -> Book:
        return self.history[0]

    def shift(self, factor: float) -> None:
        """A real move (a gap), unlike a bad tick: the walk carries on from `factor` times
        its level, from the next step on. Draws nothing, so the stream is unchanged."""
        self.bid_ticks = max(1, round(self.bid_ticks * factor))


def _mix(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


class Market:
    def __init__(self, world: World, seed: int, step_seconds: float, delay_steps: int):
        self.world = world
        self.seed = seed
        self.steps = 0
        self.walks: dict[int, Walk] = {
            con_id: Walk(sim, seed, step_seconds, delay_steps)
            for con_id, sim in world.instruments.items()
            if sim.model is PriceModel.WALK
        }
        # Derived books are computed on demand, once per step: (step, delayed) -> Book.
        self._derived: dict[tuple[int, bool], tuple[int, Book]] = {}
        self._opening: dict[int, Book] = {}
        self._computed: dict[tuple[int, bool], tuple[int, dict[Side, Computation]]] = {}
        self._open_interest: dict[int, dict[Right, int]] = {}
        self.step_seconds = step_seconds
        # The simulated instant, in epoch seconds: the simulated date at the real time of
        # day, as in the handshake's time stamp. Tests may set their own clock.
        offset = (world.date - dt.datetime.now(dt.UTC).date()).days * 86400
        self.clock: Callable[[], float] = lambda: time.time() + offset
        self._series: dict[tuple[int, str, Hours], BarSeries] = {}
        self._listeners: list[Callable[[], bool]] = []

    def now(self) -> int:
        return int(self.clock())

    def step(self) -> None:
        for walk in self.walks.values():
            walk.step()
        self.steps += 1
        if self._series:
            now = self.now()
            for (con_id, _, _), series in self._series.items():
                series.update(now, self.book(con_id))
        self._listeners = [listener for listener in self._listeners if listener()]

    def listen(self, listener: Callable[[], bool]) -> None:
        """Call `listener` after every step (and after the bars have taken the step) until
        it returns False: how streams other than quotes follow the market."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def hours(self, con_id: int, rth: bool) -> Hours:
        return hours(self.world.instruments[con_id].instrument.sec_type, rth)

    def head_timestamp(self, con_id: int, rth: bool) -> int:
        """When an instrument's data begins: twenty years back for stocks and currencies,
        a year before expiry (at most a week before the simulated date) for the others."""
        sim = self.world.instruments[con_id]
        date = self.world.date
        if sim.instrument.expiry:
            expiry = dt.datetime.strptime(sim.instrument.expiry, "%Y%m%d").date()
            head = min(date - dt.timedelta(days=7), expiry - dt.timedelta(days=365))
        else:
            head = date.replace(year=date.year - 20, day=min(date.day, 28))
        return first_day(head, self.hours(con_id, rth))

    def depth(self, con_id: int, rows: int) -> tuple[list[Row], list[Row]]:
        """The level-2 book: bid and ask rows around the live quote (sim/depth_book.py)."""
        sim = self.world.instruments[con_id]
        return depth_rows(self.book(con_id), sim.instrument.min_tick, sim.lot,
                          min(rows, MAX_ROWS), f"{self.seed}/{con_id}", self.steps)

    def bar_series(self, con_id: int, size: BarSize, rth: bool) -> BarSeries:
        """The bars of one size of an instrument, made (anchored at the live book) on the
        first request and kept, so that later requests agree with it."""
        h = self.hours(con_id, rth)
        # Keyed by the hours, not by useRTH: where both are the same hours (currencies,
        # options) both requests read one series.
        key = (con_id, size.name, h)
        series = self._series.get(key)
        if series is None:
            sim = self.world.instruments[con_id]
            book = self.book(con_id)
            tick = sim.instrument.min_tick
            walk = self.walks.get(con_id)
            spread = walk.base_spread if walk else max(1, round((book.ask - book.bid) / tick))
            price = sim.start_price or book.mid
            shape = WalkShape(tick, spread,
                              price * sim.volatility / math.sqrt(TRADING_SECONDS_PER_YEAR) / tick,
                              sim.lot, TRADE_ODDS / self.step_seconds)
            series = BarSeries(size, h, shape,
                               f"{self.seed}/{con_id}/{size.name}/{h.opens}-{h.closes}",
                               self.head_timestamp(con_id, rth), self.now(), book)
            self._series[key] = series
        return series

    def book(self, con_id: int, delayed: bool = False) -> Book:
        walk = self.walks.get(con_id)
        if walk is not None:
            return walk.delayed() if delayed else walk.book
        key = (con_id, delayed)
        cached = self._derived.get(key)
        if cached is not None and cached[0] == self.steps:
            return cached[1]
        sim = self.world.instruments[con_id]
        book = self._derive(sim, delayed, cached[1] if cached else None)
        self._derived[key] = (self.steps, book)
        return book

    def option_computations(self, con_id: int, delayed: bool = False) -> dict[Side, Computation]:
        """An option's implied volatilities and greeks at this step (sim/greeks.py), made
        once per step however many subscriptions read them; {} for anything else."""
        sim = self.world.instruments[con_id]
        if sim.model is not PriceModel.OPTION:
            return {}
        key = (con_id, delayed)
        cached = self._computed.get(key)
        if cached is None or cached[0] != self.steps:
            cached = (self.steps, computations(sim, self.book(con_id, delayed),
                                               self.book(sim.underlying, delayed),
                                               self.world.rate))
            self._computed[key] = cached
        return cached[1]

    def open_interest(self, con_id: int) -> dict[Right, int]:
        """The open interest IB's generic tick 101 reports: an option's own, under its
        right; a stock's summed over its listed calls and over its puts; {} for anything
        else (no options). OPRA publishes it once a day, before the open: it is drawn
        from the seed, the option and the simulated date, and never moves with the
        market, however the session trades."""
        known = self._open_interest.get(con_id)
        if known is not None:
            return known
        sim = self.world.instruments[con_id]
        if sim.model is PriceModel.OPTION:
            assert sim.instrument.right is not None
            found = {sim.instrument.right: self._option_open_interest(sim)}
        else:
            found = {}
            for opt in self.world.instruments.values():
                if opt.model is PriceModel.OPTION and opt.underlying == con_id:
                    right = opt.instrument.right
                    assert right is not None
                    found[right] = found.get(right, 0) + self.open_interest(
                        opt.instrument.con_id)[right]
        self._open_interest[con_id] = found
        return found

    def _option_open_interest(self, sim: SimInstrument) -> int:
        # Where the chain was listed around (the underlying's start), not where it is now:
        # the positions were opened over the days before.
        spot = self.world.instruments[sim.underlying].start_price
        k = math.log(sim.instrument.strike / spot) / OPEN_INTEREST_WIDTH
        noise = _mix(self.seed, sim.instrument.con_id, self.world.date.isoformat(), "oi")
        scatter = 0.75 + (noise % 500) / 1000  # 0.75 to 1.25 times the bell
        return max(OPEN_INTEREST_FLOOR, round(ATM_OPEN_INTEREST * math.exp(-0.5 * k * k)
                                              * scatter))

    def shift(self, con_id: int, factor: float) -> None:
        """Gap a walking instrument (and all priced from it) by `factor` from the next
        step: for tests of what a real move looks like to a client."""
        self.walks[con_id].shift(factor)

    def mark(self, con_id: int) -> float:
        """The price positions are valued at: the live mid."""
        return self.book(con_id).mid

    def prior_close(self, con_id: int) -> float:
        return self.book(con_id).close

    def _derive(self, sim: SimInstrument, delayed: bool, previous: Book | None) -> Book:
        under = self.book(sim.underlying, delayed)
        tick = sim.instrument.min_tick
        if sim.model is PriceModel.BASIS:
            f = sim.basis

            def px(p: float) -> float:
                return round_to_tick(p * f, tick)

            return Book(px(under.bid), max(px(under.ask), px(under.bid) + tick), px(under.last),
                        under.bid_size, under.ask_size, under.last_size,
                        round(under.volume / 20), px(under.open), px(under.high),
                        px(under.low), px(under.close))
        return self._option_book(sim, under, previous)

    def _theo(self, sim: SimInstrument, spot: float, years: float | None = None) -> float:
        inst = sim.instrument
        return bsm_price(spot, inst.strike, sim.years if years is None else years,
                         sim.volatility, self.world.rate, inst.right is Right.CALL)

    def _option_book(self, sim: SimInstrument, under: Book, previous: Book | None) -> Book:
        tick = sim.instrument.min_tick
        theo = self._theo(sim, under.mid)
        half = max(tick, theo * 0.01)
        bid = max(0.0, round_to_tick(math.floor((theo - half) / tick) * tick, tick))
        ask = max(bid + tick, round_to_tick(math.ceil((theo + half) / tick) * tick, tick))
        h = _mix(self.seed, sim.instrument.con_id, self.steps)
        bid_size, ask_size, last_size = 1 + h % 40, 1 + (h >> 8) % 40, 1 + (h >> 16) % 10
        if bid <= 0.0:
            # Worth less than a tick: nobody bids. A zero price with a size would read as
            # a real bid of 0 (a "zero" quote); IB sends an empty side as size 0.
            bid_size = 0
        opening = self._opening.get(sim.instrument.con_id)
        if opening is None:
            # The close is the option's value at the underlying's close, a day earlier (one
            # more day to expiry); the open its value at the underlying's open. Both from
            # the same pricer as the quotes, so a quote is as far from its close as the
            # underlying's move makes it, never further.
            close = max(tick, round_to_tick(
                self._theo(sim, under.close, sim.years + 1.0 / 365.0), tick))
            open_ = max(tick, round_to_tick(self._theo(sim, under.open), tick))
            opening = Book(bid, ask, close, 0, 0, 0, 100 + h % 900, open_,
                           max(open_, close), min(open_, close), close)
            self._opening[sim.instrument.con_id] = opening
        base = previous or opening
        last = round_to_tick(theo, tick) if theo >= tick else tick
        volume = opening.volume + self.steps * 2
        return Book(bid, ask, last, bid_size, ask_size, last_size, volume, opening.open,
                    max(base.high, last), min(base.low, last), opening.close)
