"""Time and sales for the ladder: tick-by-tick trades (AllLast) with the side each took,
judged against tick-by-tick quotes (BidAsk) in the order they arrived, so a print is
compared with the quote in force when it printed, not with the one after it.

Both requests are one stream: another instrument or closing the ladder cancels both,
and one refused ends the other (a tape without its quotes would guess the sides).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from ib_async import IB, Contract, TickByTickAllLast, TickByTickBidAsk, Ticker

from ibterm.broker.convert import order_contract
from ibterm.broker.feed import InstrumentFeed
from ibterm.broker.lines import MarketDataLines
from ibterm.domain.depth import FeedState
from ibterm.domain.tape import Print, Tape, aggressor

# Prints kept, newest first: more than a screen, bounded whatever the market does.
TAPE_LENGTH = 500
# The quotes first: in a burst IB sends a quote change before the trade that follows it.
_TYPES = ("BidAsk", "AllLast")


def _price(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


class TapeFeed(InstrumentFeed):
    name = "tick-by-tick"
    beside = frozenset({10167, 10168})

    def __init__(self, ib: IB, lines: MarketDataLines, clock: Callable[[], float]) -> None:
        super().__init__(ib, lines, clock)
        self._contract: Contract | None = None
        self._ticker: Ticker | None = None
        self._req_ids: dict[int, str] = {}  # request id -> its tick type
        self._prints: deque[Print] = deque(maxlen=TAPE_LENGTH)
        self._bid: float | None = None  # the BidAsk quote in force
        self._ask: float | None = None
        self._state = FeedState.STOPPED
        self._detail = ""

    @property
    def state(self) -> FeedState:
        return self._state

    def take_changed(self) -> tuple[bool, Tape | None]:
        """(changed, the tape now) since the last call; None: no tape."""
        changed, self._changed = self._changed, False
        if self._want is None:
            return changed, None
        return changed, Tape(self._want.con_id, tuple(reversed(self._prints)), self._state,
                             self._detail)

    def _start(self) -> None:
        inst = self._want
        assert inst is not None
        self._bid = self._ask = None
        first = self._ib.client._reqIdSeq  # the ids the two requests take (as history.py)
        wanted = {first + i: kind for i, kind in enumerate(_TYPES)}
        if not self._take_lines(list(wanted), f"{inst.display} time & sales"):
            return
        self._set(FeedState.LOADING, "")
        self._contract = contract = order_contract(inst)
        self._req_ids = wanted
        for kind in _TYPES:
            self._ticker = self._ib.reqTickByTickData(contract, kind)

    def _end(self, cancel: bool, refused: int | None = None) -> None:
        req_ids, ticker, contract = self._req_ids, self._ticker, self._contract
        self._req_ids, self._ticker, self._contract = {}, None, None
        for req_id, kind in req_ids.items():
            self._release_line(req_id)
            if ticker is None or contract is None:
                continue
            if cancel and req_id != refused and self._ib.isConnected():
                self._ib.cancelTickByTickData(contract, kind)
            else:
                self._ib.wrapper.endTicker(ticker, kind)

    def _forget(self) -> None:
        self._prints.clear()
        self._state, self._detail = FeedState.STOPPED, ""

    def _set(self, state: FeedState, detail: str) -> None:
        self._state, self._detail = state, detail
        self._changed = True

    def _owns(self, req_id: int) -> bool:
        return req_id in self._req_ids

    def _has_data(self) -> bool:
        return bool(self._prints)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        ticker = self._ticker
        if ticker is None or ticker not in tickers or not ticker.tickByTicks:
            return
        for tick in ticker.tickByTicks:
            if isinstance(tick, TickByTickBidAsk):
                self._bid, self._ask = _price(tick.bidPrice), _price(tick.askPrice)
                if self._state is FeedState.LOADING:
                    self._set(FeedState.LIVE, "")
            elif isinstance(tick, TickByTickAllLast) and _price(tick.price) is not None:
                self._prints.append(Print(tick.time, tick.price, float(tick.size),
                                          aggressor(tick.price, self._bid, self._ask),
                                          tick.exchange))
                self._set(FeedState.LIVE, "")
