"""The option chain: an underlying's expiries and strikes (reqSecDefOptParams), one
expiry's options resolved to instruments (contract details, for their conIds), and quotes
with greeks for the options on screen only.

IB limits the login's market-data lines, and a chain has hundreds of options: the screen
says which it shows (`watch`), and this part holds those quotes (as `CHAIN`) in the
session's quote book, which subscribes each once, whoever else holds it (the watchlist,
the ticket, positions), and lets go of the ones that left: a quote no one else holds is
cancelled and its line given back. With no line free an option is refused, said once,
and shown as such; so is one IB refuses. Every option is asked for with its open
interest (generic tick 101), whoever asked first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ib_async import IB, Contract, Ticker

from ibterm.broker.contracts import contract_to_instrument
from ibterm.broker.convert import greeks_of, quote_from_ticker
from ibterm.broker.instruments import InstrumentBook
from ibterm.broker.quotes import CHAIN, QuoteBook
from ibterm.domain.greeks import OptionChain, OptionQuote
from ibterm.domain.instrument import Instrument, Right, SecType


class OptionChains:
    def __init__(self, ib: IB, quotes: QuoteBook, instruments: InstrumentBook,
                 clock: Callable[[], float]) -> None:
        self._ib = ib
        self._quotes = quotes
        self._instruments = instruments
        self.clock = clock
        self._want: dict[int, Instrument] = {}  # con_id -> option the screen shows
        self.refused: dict[int, str] = {}  # con_id -> why it has no quote
        self._quote_at: dict[int, float] = {}
        self._greeks_at: dict[int, float] = {}
        self._computed: dict[int, tuple[object, ...]] = {}  # the computations last seen
        self._changed: set[int] = set()
        ib.pendingTickersEvent += self._on_tickers

    # --- the chain's shape ---------------------------------------------------------------
    async def chain(self, under: Instrument) -> tuple[OptionChain | None, str]:
        """The underlying's expiries and strikes, or (None, why). ConnectionError when the
        link goes meanwhile."""
        sec_type = "IND" if under.sec_type is SecType.IND else "STK"
        params = await self._ib.reqSecDefOptParamsAsync(under.symbol, "", sec_type,
                                                        under.con_id)
        # IB lists one entry per exchange and trading class: SMART's, else all together.
        smart = [p for p in params if p.exchange == "SMART"] or list(params)
        expiries = sorted({e for p in smart for e in p.expirations})
        strikes = sorted({s for p in smart for s in p.strikes})
        if not expiries or not strikes:
            return None, f"{under.display} has no listed options"
        mult = float(smart[0].multiplier or 100)
        return OptionChain(under, tuple(expiries), tuple(strikes), mult), ""

    async def options(self, under: Instrument, expiry: str) -> list[Instrument]:
        """Every option of one expiry (calls and puts), resolved through contract details,
        ordered by strike. Learned by the session's instruments too (the ticket and the
        pre-trade checks find them there)."""
        contract = Contract(secType="OPT", symbol=under.symbol, exchange="SMART",
                            currency=under.currency, lastTradeDateOrContractMonth=expiry)
        details = await self._ib.reqContractDetailsAsync(contract)
        found = [contract_to_instrument(d.contract, d) for d in details
                 if d.contract is not None]
        for inst in found:
            self._instruments.instruments[inst.con_id] = inst
        return sorted(found, key=lambda i: (i.strike, i.right or ""))

    # --- quotes for what is on screen ------------------------------------------------------
    def watch(self, options: Iterable[Instrument]) -> None:
        """Quote exactly these options: the new ones held (subscribed unless the session
        quotes them already), the others let go (ended unless another part holds them)."""
        want = {inst.con_id: inst for inst in options}
        for con_id in [c for c in self._want if c not in want]:
            self._forget(con_id)
        new = [inst for c, inst in want.items() if c not in self._want]
        self._want = want
        self.refused.update(self._quotes.hold_only(CHAIN, want.values()))
        now = self.clock()
        for inst in new:
            con_id = inst.con_id
            self._changed.add(con_id)
            ticker = self._quotes.ticker(con_id)
            if ticker is None:
                continue
            # Already quoted (by another holder): what it holds arrived when the book saw
            # it arrive; its greeks, as old as the chain can tell.
            self._computed[con_id] = computed = _computations(ticker)
            at = self._quotes.quote_at(con_id)
            if at is not None:
                self._quote_at[con_id] = at
            if any(c is not None for c in computed):
                self._greeks_at[con_id] = now
                self._quote_at.setdefault(con_id, now)

    def stop(self) -> None:
        """The chain closed: every quote let go (each line given back unless another
        part holds it)."""
        self.watch(())

    @property
    def subscribed(self) -> int:
        """The options quoted for the chain alone: the lines the chain takes (an option
        another part quotes too takes none of its)."""
        quotes = self._quotes
        return sum(1 for c in self._want
                   if quotes.subscribed(c) and quotes.holders(c) == {CHAIN})

    def quote(self, con_id: int) -> OptionQuote | None:
        at = self._quote_at.get(con_id)
        if at is None:
            return None
        ticker = self._quotes.last_ticker(con_id)
        if ticker is None:
            return None
        return OptionQuote(quote_from_ticker(con_id, ticker, at), greeks_of(ticker.modelGreeks),
                           greeks_of(ticker.bidGreeks), greeks_of(ticker.askGreeks),
                           self._greeks_at.get(con_id),
                           _open_interest(ticker, self._want.get(con_id)))

    def take_changed(self) -> set[int]:
        """The options whose quote or greeks changed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def _forget(self, con_id: int) -> None:
        self.refused.pop(con_id, None)
        self._quote_at.pop(con_id, None)
        self._greeks_at.pop(con_id, None)
        self._computed.pop(con_id, None)

    # --- the link ----------------------------------------------------------------------------
    def resumed(self) -> None:
        """The session subscribed its quotes anew (connected again, or IB's 1101): the
        chain's refusals are the book's now; what was shown stays, marked by its age,
        until its quotes arrive."""
        refused = self._quotes.refused
        self.refused = {c: why for c in self._want if (why := refused.get(c))}
        self._changed.update(self._want)

    def refused_by_ib(self, con_id: int) -> None:
        """IB refused a quote (the book has ended its request): shown refused, with IB's
        words, if the chain shows it."""
        why = self._quotes.refused.get(con_id)
        if con_id in self._want and why:
            self.refused[con_id] = why
            self._changed.add(con_id)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        want = self._want
        if not want:
            return
        now = self.clock()
        for ticker in tickers:
            contract = ticker.contract
            con_id = contract.conId if contract is not None else 0
            if con_id not in want:
                continue
            if ticker.ticks:
                # Only price and size ticks make the book fresh (as quotes.py judges it).
                self._quote_at[con_id] = now
                self._changed.add(con_id)
                if self.refused:  # refused for want of a line, and quoted since for another
                    self.refused.pop(con_id, None)
            computed = _computations(ticker)
            if computed != self._computed.get(con_id):
                self._computed[con_id] = computed
                self._greeks_at[con_id] = now
                self._quote_at.setdefault(con_id, now)
                self._changed.add(con_id)


def _open_interest(ticker: Ticker, inst: Instrument | None) -> float | None:
    # The request's contract is its conId alone: the right is the instrument's.
    if inst is None or inst.right is None:
        return None
    value = ticker.callOpenInterest if inst.right is Right.CALL else ticker.putOpenInterest
    return None if math.isnan(value) or value < 0 else value  # NaN: not sent (yet)


def _computations(ticker: Ticker) -> tuple[object, ...]:
    return (ticker.modelGreeks, ticker.bidGreeks, ticker.askGreeks)
