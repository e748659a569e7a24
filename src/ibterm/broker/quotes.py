"""The session's quotes: one market-data subscription per instrument, whoever asks for
it, and the bad-tick book that judges each quote once, as it arrives. Reading a quote
never changes what the next one is judged against.

Every quote subscription is made and ended here. ib_async keeps one ticker and one
request per contract (a second `reqMktData` on it replaces the first, and `cancelMktData`
ends it for everyone), so the parts that want a quote (the watchlist's rows, the
ticket, positions and their underlyings, the option chain, the full screens) hold it by
name: it is asked for once, with the first holder, taking one market-data line, and
cancelled, its line given back, when its last holder lets go. An option is always asked for with its
open interest (generic tick 101: the chain shows it, and IB charges nothing more for
it), so whoever subscribed an option first, the chain reads the same figures.

Quotes are held while the link is down, and subscribed once each when it is back (or
after IB's 1101): the watchlist's first, then the others', the chain's last."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ib_async import IB, Ticker

from ibterm.broker.convert import greeks_of, order_contract, quote_from_ticker
from ibterm.broker.lines import MarketDataLines
from ibterm.config.settings import Profile
from ibterm.domain.greeks import OptionQuote
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.quote import Quote, TickCheck

# Who holds a quote.
WATCHLIST = "watchlist"  # a watchlist row (any row on the instrument)
TICKET = "ticket"  # the order ticket's instrument or legs, until it changes or closes
POSITION = "position"  # an option position's, and its underlying's (the positions pane)
CHAIN = "chain"  # an option on the chain's screen
KEPT = "kept"  # asked for by a part that never gives it back (a macro's, flatten's)
# A screen's own quotes (the chain's underlying, the ladder's instrument, the builder's
# underlying and legs), held under the screen's name and given back when it goes:
# `part_holder(CHAIN_SCREEN, screen)`. One name per screen, so two of a kind open at
# once each give back only their own.
CHAIN_SCREEN = "chain-screen"
LADDER = "ladder"
BUILDER = "builder"
UNDERLYING = "underlying"  # an option position's underlying, per position


def part_holder(kind: str, owner: object) -> str:
    """The holder name of one part: its kind and which one (a screen, a position)."""
    return f"{kind}:{owner if isinstance(owner, int) else id(owner)}"

# IB's generic tick for open interest: an option's arrives as its right's (27 or 28).
OPEN_INTEREST_TICKS = "101"
_OPTIONS = (SecType.OPT, SecType.FOP)
# Codes IB sends beside a quote, not instead of it (delayed data is displayed; farms').
_BESIDE = frozenset({10167, 10090})


class QuoteBook:
    def __init__(self, ib: IB, profile: Profile, lines: MarketDataLines,
                 clock: Callable[[], float]) -> None:
        self._ib = ib
        self.profile = profile
        self.lines = lines
        self.clock = clock
        # Subscriptions are made only while live: connected, once the watchlist is resolved.
        self.live = False
        self._held: dict[int, Instrument] = {}  # con_id -> the instrument someone holds
        self._holders: dict[int, set[str]] = {}
        self._tickers: dict[int, Ticker] = {}  # con_id -> its subscription, if it has one
        # con_id -> its ticker when the link went: its last figures, shown (as stale)
        # until the quote is subscribed again or let go, never taken for a live one.
        self._lost: dict[int, Ticker] = {}
        # con_id -> why a held quote has no subscription (no line free, IB refused it);
        # IB's refusals stand until the link or the data is restored.
        self.refused: dict[int, str] = {}
        self._refused_by_ib: set[int] = set()
        self._quote_at: dict[int, float] = {}  # con_id -> when its quote last changed
        self._changed: dict[int, float] = {}  # con_id -> when, since the last drain
        # con_id -> its bad-tick judge: each quote is classified once, as it arrives, and
        # kept across reconnects (the last good price is still the best reference).
        self._checks: dict[int, TickCheck] = {}
        # con_id -> (IB's model computation last read, when it was first read): ib_async
        # makes a new one per tickOptionComputation, so a new object is a new arrival.
        # Judged when read (a redraw), not per tick; kept when a quote ends, as ib_async
        # keeps the ticker and its last computation, which must not pass for a new one.
        self._greeks_seen: dict[int, tuple[object, float]] = {}
        ib.pendingTickersEvent += self._on_tickers

    # --- holders ---------------------------------------------------------------------
    def hold(self, inst: Instrument, holder: str) -> str:
        """`holder` holds the instrument's quote: subscribed unless it is already (or the
        link is down: then on connecting). "" or why it has no quote; a quote refused
        for want of a line is tried again, one IB refused is not."""
        con_id = inst.con_id
        self._held.setdefault(con_id, inst)
        self._holders.setdefault(con_id, set()).add(holder)
        if not self.live:
            return ""
        if con_id in self._tickers or con_id in self._refused_by_ib:
            return self.refused.get(con_id, "")
        return self._subscribe(self._held[con_id])

    def hold_only(self, holder: str, instruments: Iterable[Instrument]) -> dict[int, str]:
        """`holder` holds exactly these quotes now: the others let go, the new ones held.
        The new ones refused, each with why."""
        want = {inst.con_id: inst for inst in instruments}
        for con_id in self.held_by(holder):
            if con_id not in want:
                self.let_go(con_id, holder)
        refused: dict[int, str] = {}
        for con_id, inst in want.items():
            if holder not in self._holders.get(con_id, ()):
                if why := self.hold(inst, holder):
                    refused[con_id] = why
        return refused

    def let_go(self, con_id: int, holder: str) -> bool:
        """One holder is done with a quote; with none left it ends, its line given back.
        True if it ended."""
        holders = self._holders.get(con_id)
        if holders is None or holder not in holders:
            return False
        holders.discard(holder)
        if holders:
            return False
        self._end(con_id)
        return True

    def held(self, con_id: int) -> bool:
        return bool(self._holders.get(con_id))

    def holders(self, con_id: int) -> frozenset[str]:
        return frozenset(self._holders.get(con_id, ()))

    def held_by(self, holder: str) -> list[int]:
        return [c for c, holders in self._holders.items() if holder in holders]

    def subscribed(self, con_id: int) -> bool:
        return con_id in self._tickers

    def ticker(self, con_id: int) -> Ticker | None:
        return self._tickers.get(con_id)

    def last_ticker(self, con_id: int) -> Ticker | None:
        """Its subscription's ticker, or, while the link is down, the one it had: what
        a screen shows, marked by the link's state and its age."""
        return self._tickers.get(con_id) or self._lost.get(con_id)

    def quote_at(self, con_id: int) -> float | None:
        return self._quote_at.get(con_id)

    # --- subscriptions -----------------------------------------------------------------
    def _subscribe(self, inst: Instrument) -> str:
        con_id = inst.con_id
        if not self.lines.take(con_id):
            why = self.refused[con_id] = self.lines.refusal(inst.display)
            return why
        self.refused.pop(con_id, None)
        if con_id not in self._checks:
            self._checks[con_id] = TickCheck(self.profile.tick_band(inst.sec_type),
                                             self.profile.bad_tick_reanchor, inst.min_tick)
        generic = OPEN_INTEREST_TICKS if inst.sec_type in _OPTIONS else ""
        self._tickers[con_id] = self._ib.reqMktData(order_contract(inst), generic, False,
                                                    False)
        self._lost.pop(con_id, None)
        return ""

    def _end(self, con_id: int) -> None:
        """No one holds it: cancelled at IB, its line given back."""
        self._held.pop(con_id, None)
        self._holders.pop(con_id, None)
        self._lost.pop(con_id, None)
        self.refused.pop(con_id, None)
        self._refused_by_ib.discard(con_id)
        self._quote_at.pop(con_id, None)
        self._changed.pop(con_id, None)
        self._checks.pop(con_id, None)
        ticker = self._tickers.pop(con_id, None)
        if ticker is None:
            return
        self.lines.release(con_id)
        if self._ib.isConnected():
            self._ib.cancelMktData(ticker.contract)  # type: ignore[arg-type]
        else:
            self._ib.wrapper.endTicker(ticker, "mktData")

    def start(self, first: Iterable[Instrument]) -> dict[int, str]:
        """Connected (again): every quote held is subscribed once, `first`'s (the
        watchlist's) first, the chain's alone last, each only with a line free. The
        refused, each with why."""
        self.live = True
        self.refused.clear()
        self._refused_by_ib.clear()
        firsts = [i.con_id for i in first if i.con_id in self._held]
        chain_only = {c for c, h in self._holders.items() if h == {CHAIN}}
        order = dict.fromkeys(firsts + [c for c in self._held if c not in chain_only]
                              + list(chain_only))
        for con_id in order:
            if con_id not in self._tickers and self.held(con_id):
                self._subscribe(self._held[con_id])
        return dict(self.refused)

    def resubscribe(self, first: Iterable[Instrument]) -> dict[int, str]:
        """After 1101 (data lost) every quote held is asked for again, once."""
        for con_id, ticker in self._tickers.items():
            self.lines.release(con_id)
            if self._ib.isConnected():
                self._ib.cancelMktData(ticker.contract)  # type: ignore[arg-type]
        self._tickers.clear()
        return self.start(first)

    def clear(self) -> None:
        """The link went: ib_async's tickers went with it (the holders stay, the lines
        are the session's to count anew)."""
        self.live = False
        self._lost.update(self._tickers)
        self._tickers.clear()
        self._quote_at.clear()

    def claims_error(self, req_id: int, code: int, message: str) -> int | None:
        """IB's error for a quote's request: the con_id it ended (refused, its line
        given back, held still: asked again when the link or the data is restored), or
        None (not a quote's, or said beside the quote)."""
        if code in _BESIDE or 2100 <= code < 2200:
            return None
        wrapper = self._ib.wrapper
        ticker = wrapper.reqId2Ticker.get(req_id)
        contract = ticker.contract if ticker is not None else None
        con_id = contract.conId if contract is not None else 0
        if (ticker is None or self._tickers.get(con_id) is not ticker
                or wrapper.ticker2ReqId["mktData"].get(ticker) != req_id):
            return None
        wrapper.endTicker(ticker, "mktData")
        del self._tickers[con_id]
        self.lines.release(con_id)
        self.refused[con_id] = f"IB {code}: {message}"
        self._refused_by_ib.add(con_id)
        return con_id

    # --- reading ---------------------------------------------------------------------
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
