"""The session's quotes: one ib_async ticker per instrument, and the bad-tick book that
judges each quote once, as it arrives. Reading a quote never changes what the next one
is judged against.

Who holds each quote beside the watchlist (whose rows hold theirs) is counted by holder:
a quote ends, and its line is given back, only when its last holder lets go. A part
that never lets go (the ticket, the ladder, the builder) holds its quotes as `KEPT`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ib_async import IB, Ticker

from ibterm.broker.convert import greeks_of, order_contract, quote_from_ticker
from ibterm.config.settings import Profile
from ibterm.domain.greeks import OptionQuote
from ibterm.domain.instrument import Instrument
from ibterm.domain.quote import Quote, TickCheck

# Holders of a quote beside the watchlist.
KEPT = "kept"  # asked for by a part that never gives it back
POSITION = "position"  # an option position's, and its underlying's (the positions pane)
CHAIN = "chain"  # read by the option chain from the session's ticker, after the others let go


class QuoteBook:
    def __init__(self, ib: IB, profile: Profile, clock: Callable[[], float]) -> None:
        self._ib = ib
        self.profile = profile
        self.clock = clock
        self._tickers: dict[int, Ticker] = {}
        self._quote_at: dict[int, float] = {}  # con_id -> when its quote last changed
        self._changed: dict[int, float] = {}  # con_id -> when, since the last drain
        # con_id -> its bad-tick judge: each quote is classified once, as it arrives, and
        # kept across reconnects (the last good price is still the best reference).
        self._checks: dict[int, TickCheck] = {}
        # Quotes asked for beside the watchlist's: the ticket's, positions', underlyings',
        # each with who holds it.
        self.extra: dict[int, Instrument] = {}
        self._holders: dict[int, set[str]] = {}
        # con_id -> (IB's model computation last read, when it was first read): ib_async
        # makes a new one per tickOptionComputation, so a new object is a new arrival.
        # Judged when read (a redraw), not per tick; kept when a quote ends, as ib_async
        # keeps the ticker and its last computation, which must not pass for a new one.
        self._greeks_seen: dict[int, tuple[object, float]] = {}
        ib.pendingTickersEvent += self._on_tickers

    def hold(self, inst: Instrument, holder: str) -> None:
        self.extra[inst.con_id] = inst
        self._holders.setdefault(inst.con_id, set()).add(holder)

    def let_go(self, con_id: int, holder: str) -> None:
        """One holder is done with a quote; with none left it is no longer asked for."""
        holders = self._holders.get(con_id)
        if holders is not None:
            holders.discard(holder)
            if not holders:
                self.drop(con_id)

    def drop(self, con_id: int) -> None:
        """No longer asked for beside the watchlist (no line for it, or no one holds it)."""
        self.extra.pop(con_id, None)
        self._holders.pop(con_id, None)

    def held(self, con_id: int) -> bool:
        return bool(self._holders.get(con_id))

    def held_by(self, holder: str) -> list[int]:
        return [c for c, holders in self._holders.items() if holder in holders]

    def cancel(self, con_id: int) -> None:
        """The subscription ended at IB (the caller frees its line)."""
        ticker = self._tickers.pop(con_id, None)
        self._quote_at.pop(con_id, None)
        self._changed.pop(con_id, None)
        self._checks.pop(con_id, None)
        self.drop(con_id)
        if ticker is not None and self._ib.isConnected():
            self._ib.cancelMktData(ticker.contract)  # type: ignore[arg-type]

    def request(self, inst: Instrument) -> None:
        if inst.con_id in self._tickers:
            return
        if inst.con_id not in self._checks:
            self._checks[inst.con_id] = TickCheck(self.profile.tick_band(inst.sec_type),
                                                  self.profile.bad_tick_reanchor,
                                                  inst.min_tick)
        self._tickers[inst.con_id] = self._ib.reqMktData(order_contract(inst), "", False,
                                                         False)

    def request_all(self, watched: Iterable[Instrument]) -> None:
        """The watchlist's quotes, then every other one asked for."""
        for inst in watched:
            self.request(inst)
        for inst in self.extra.values():
            self.request(inst)

    def resubscribe(self, watched: Iterable[Instrument]) -> None:
        """After 1101 (data lost) every quote is asked for again: the watchlist's and
        those the ticket, positions and option underlyings asked for."""
        for con_id, ticker in list(self._tickers.items()):
            self._ib.cancelMktData(ticker.contract)  # type: ignore[arg-type]
            del self._tickers[con_id]
        self.request_all(watched)

    def clear(self) -> None:
        """The link went: ib_async's tickers went with it."""
        self._tickers.clear()
        self._quote_at.clear()

    def quote(self, con_id: int) -> Quote | None:
        """The instrument's quote now, flagged as it was judged when it arrived."""
        ticker = self._tickers.get(con_id)
        if ticker is None or con_id not in self._quote_at:
            return None
        return self._quote(con_id, ticker, self._quote_at[con_id])

    def quotes(self) -> dict[int, Quote]:
        return {c: q for c in self._tickers if (q := self.quote(c)) is not None}

    def option_quote(self, con_id: int) -> OptionQuote | None:
        """An option's quote with IB's model computation and when it last changed."""
        ticker = self._tickers.get(con_id)
        at = self._quote_at.get(con_id)
        if ticker is None or at is None:
            return None
        model = ticker.modelGreeks
        seen = self._greeks_seen.get(con_id)
        if seen is None or seen[0] is not model:
            seen = self._greeks_seen[con_id] = (model, self.clock())
        return OptionQuote(self._quote(con_id, ticker, at), model=greeks_of(model),
                           greeks_at=seen[1])

    def take_changed(self) -> list[Quote]:
        """The quotes that changed since the last call, each once."""
        changed, self._changed = self._changed, {}
        return [self._quote(con_id, ticker, at) for con_id, at in changed.items()
                if (ticker := self._tickers.get(con_id)) is not None]

    def _quote(self, con_id: int, ticker: Ticker, at: float) -> Quote:
        quote = quote_from_ticker(con_id, ticker, at)
        check = self._checks.get(con_id)
        return replace(quote, flag=check.flag) if check is not None and check.flag else quote

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        now = self.clock()
        changed = self._changed
        at = self._quote_at
        checks = self._checks
        for ticker in tickers:
            if not ticker.ticks:
                # ib_async shares one ticker per contract: a depth row, a tick-by-tick
                # print or greeks alone must not make a stuck quote look fresh.
                continue
            con_id = ticker.contract.conId  # type: ignore[union-attr]
            changed[con_id] = now
            at[con_id] = now
            # Judged here, once per arrival: a burst between two drains is judged quote by
            # quote, as the reference would have moved through it.
            check = checks.get(con_id)
            if check is not None:
                check.observe(ticker.bid, ticker.ask, ticker.last, ticker.close,
                              ticker.bidSize, ticker.askSize)
