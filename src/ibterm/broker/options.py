"""The option chain: an underlying's expiries and strikes (reqSecDefOptParams), one
expiry's options resolved to instruments (contract details, for their conIds), and quotes
with greeks for the options on screen only.

IB limits the login's market-data lines, and a chain has hundreds of options: the screen
says which it shows (`watch`), and this part subscribes to those, cancels the ones that
left, and gives their lines back. Each subscription holds a line of its own (keyed apart
from the quotes', as depth's are); with none free the option is refused, said once, and
shown as such. An option the session already quotes (the watchlist's, the ticket's) is
read from ib_async's shared ticker, never subscribed twice: ib_async keeps one request per
contract, and cancelling ours would end the watchlist's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ib_async import IB, Contract, Ticker

from ibterm.broker.contracts import contract_to_instrument
from ibterm.broker.convert import greeks_of, order_contract, quote_from_ticker
from ibterm.broker.feed import line_key
from ibterm.broker.instruments import InstrumentBook
from ibterm.broker.lines import MarketDataLines
from ibterm.domain.greeks import OptionChain, OptionQuote
from ibterm.domain.instrument import Instrument, Right, SecType

log = logging.getLogger("ibterm.broker")

# IB's "data restored, subscriptions lost": every option on screen is asked for again.
_RESTORED_DATA_LOST = 1101
# Said beside a quote, not instead of it (delayed data is displayed; farms' news).
_BESIDE = frozenset({10167, 10090})
# IB's generic tick for open interest: an option's arrives as its right's (27 or 28). A
# quote the chain borrows (the watchlist's) was asked for without it, and shows none.
OPEN_INTEREST_TICKS = "101"


@dataclass(slots=True)
class _Line:
    """One option's subscription: its request and ticker."""

    inst: Instrument
    contract: Contract
    req_id: int
    ticker: Ticker


class OptionChains:
    def __init__(self, ib: IB, lines: MarketDataLines, instruments: InstrumentBook,
                 clock: Callable[[], float]) -> None:
        self._ib = ib
        self._lines = lines
        self._instruments = instruments
        self.clock = clock
        self._want: dict[int, Instrument] = {}  # con_id -> option the screen shows
        self._subs: dict[int, _Line] = {}  # con_id -> our own subscription
        self._borrowed: dict[int, Ticker] = {}  # con_id -> a ticker the session holds
        self.refused: dict[int, str] = {}  # con_id -> why it has no quote
        self._quote_at: dict[int, float] = {}
        self._greeks_at: dict[int, float] = {}
        self._computed: dict[int, tuple[object, ...]] = {}  # the computations last seen
        self._changed: set[int] = set()
        ib.pendingTickersEvent += self._on_tickers
        ib.connectedEvent += self._resume
        ib.disconnectedEvent += self._link_lost

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
        """Quote exactly these options: new ones subscribed (a line each), the others
        cancelled and their lines given back."""
        want = {inst.con_id: inst for inst in options}
        for con_id in [c for c in self._want if c not in want]:
            self._drop(con_id)
        self._want = want
        if self._ib.isConnected():
            for inst in want.values():
                self._subscribe(inst)

    def stop(self) -> None:
        """The chain closed: every subscription cancelled, every line given back."""
        self.watch(())

    @property
    def subscribed(self) -> int:
        """The options this part holds a line for (borrowed quotes hold none of ours)."""
        return len(self._subs)

    def quote(self, con_id: int) -> OptionQuote | None:
        sub = self._subs.get(con_id)
        ticker = sub.ticker if sub is not None else self._borrowed.get(con_id)
        at = self._quote_at.get(con_id)
        if ticker is None or at is None:
            return None
        return OptionQuote(quote_from_ticker(con_id, ticker, at), greeks_of(ticker.modelGreeks),
                           greeks_of(ticker.bidGreeks), greeks_of(ticker.askGreeks),
                           self._greeks_at.get(con_id),
                           _open_interest(ticker, self._want.get(con_id)))

    def take_changed(self) -> set[int]:
        """The options whose quote or greeks changed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def _subscribe(self, inst: Instrument) -> None:
        con_id = inst.con_id
        if con_id in self._subs or con_id in self._borrowed or con_id in self.refused:
            return
        contract = order_contract(inst)
        shared = self._ib.ticker(contract)
        if shared is not None and shared in self._ib.wrapper.ticker2ReqId["mktData"]:
            self._borrowed[con_id] = shared
            # Whatever it holds now arrived before: as old as the chain can tell.
            now = self.clock()
            self._quote_at[con_id] = self._greeks_at[con_id] = now
            self._computed[con_id] = _computations(shared)
            self._changed.add(con_id)
            return
        req_id = self._ib.client._reqIdSeq  # the id reqMktData takes next (as depth.py)
        if not self._lines.take(line_key(req_id)):
            self.refused[con_id] = self._lines.refusal(inst.display)
            self._changed.add(con_id)
            return
        ticker = self._ib.reqMktData(contract, OPEN_INTEREST_TICKS, False, False)
        self._subs[con_id] = _Line(inst, contract, req_id, ticker)

    def _drop(self, con_id: int, cancel: bool = True) -> None:
        self._borrowed.pop(con_id, None)
        self.refused.pop(con_id, None)
        self._quote_at.pop(con_id, None)
        self._greeks_at.pop(con_id, None)
        self._computed.pop(con_id, None)
        sub = self._subs.pop(con_id, None)
        if sub is None:
            return
        self._lines.release(line_key(sub.req_id))
        if cancel and self._ib.isConnected():
            self._ib.cancelMktData(sub.contract)
        else:
            self._ib.wrapper.endTicker(sub.ticker, "mktData")

    # --- the link ----------------------------------------------------------------------------
    def _link_lost(self) -> None:
        # ib_async's requests went with the link; what was shown stays, marked by its age.
        for con_id in list(self._subs):
            sub = self._subs.pop(con_id)
            self._lines.release(line_key(sub.req_id))
            self._ib.wrapper.endTicker(sub.ticker, "mktData")
        self._borrowed.clear()

    def _resume(self) -> None:
        self._link_lost()
        self.refused.clear()
        self.watch(list(self._want.values()))

    def claims_error(self, req_id: int, code: int, message: str) -> bool:
        """IB's error for one of the chain's quotes: that option refused, its line back.
        1101 asks for every one again, and is left unclaimed for the session."""
        if code == _RESTORED_DATA_LOST:
            self._resume()
            return False
        con_id = next((c for c, s in self._subs.items() if s.req_id == req_id), None)
        if con_id is None:
            return False
        log.info("chain quote %d: IB %d: %s", req_id, code, message)
        if code in _BESIDE or 2100 <= code < 2200:
            return True
        sub = self._subs.pop(con_id)
        self._lines.release(line_key(req_id))
        self._ib.wrapper.endTicker(sub.ticker, "mktData")
        self.refused[con_id] = f"IB {code}: {message}"
        self._changed.add(con_id)
        return True

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        if not self._subs and not self._borrowed:
            return
        now = self.clock()
        for ticker in tickers:
            contract = ticker.contract
            con_id = contract.conId if contract is not None else 0
            if con_id not in self._subs and con_id not in self._borrowed:
                continue
            if ticker.ticks:
                # Only price and size ticks make the book fresh (as quotes.py judges it).
                self._quote_at[con_id] = now
                self._changed.add(con_id)
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
