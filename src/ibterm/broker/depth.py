"""The ladder's market depth: one reqMktDepth at a time, turned into a domain book, said
honestly when IB refuses it (309 too many books, 354 no subscription, 10092 no depth for
that exchange) or the link drops.

The book shares ib_async's ticker with the instrument's quote (one per contract): only
depth changes (`domTicks`) mark it changed, and it is converted when the screen asks, at
the screen's rate, not per update.
"""

from __future__ import annotations

from collections.abc import Callable

from ib_async import IB, Contract, Ticker

from ibterm.broker.convert import order_contract
from ibterm.broker.feed import InstrumentFeed
from ibterm.broker.lines import MarketDataLines
from ibterm.domain.depth import DepthBook, DepthLevel, FeedState

# Rows a side: IB sends up to 10 for most books (SMART depth can send more).
DEPTH_ROWS = 10


class DepthFeed(InstrumentFeed):
    name = "depth"
    # IB's "depth reset" (ib_async has emptied the rows; IB sends them again) and its
    # farms' news: said beside a book.
    beside = frozenset({317, 2152})

    def __init__(self, ib: IB, lines: MarketDataLines, clock: Callable[[], float]) -> None:
        super().__init__(ib, lines, clock)
        self._contract: Contract | None = None
        self._smart = False
        self._ticker: Ticker | None = None
        self._req_id: int | None = None
        self._book: DepthBook | None = None
        self._dirty = False  # rows changed since the last take

    @property
    def state(self) -> FeedState:
        return self._book.state if self._book is not None else FeedState.STOPPED

    def take_changed(self) -> tuple[bool, DepthBook | None]:
        """(changed, the book now) since the last call; None: no book."""
        ticker, book = self._ticker, self._book
        if self._dirty and ticker is not None and book is not None:
            self._dirty = False
            self._book = DepthBook(
                book.con_id,
                tuple(DepthLevel(lv.price, float(lv.size), lv.marketMaker)
                      for lv in ticker.domBids),
                tuple(DepthLevel(lv.price, float(lv.size), lv.marketMaker)
                      for lv in ticker.domAsks),
                FeedState.LIVE, "", self.clock())
            self._changed = True
        changed, self._changed = self._changed, False
        return changed, self._book

    def _start(self) -> None:
        inst = self._want
        assert inst is not None
        req_id = self._ib.client._reqIdSeq  # the id reqMktDepth takes next (as history.py)
        if not self._take_lines([req_id], f"{inst.display} depth"):
            return
        self._set(FeedState.LOADING, "")
        contract = order_contract(inst)
        # SMART routing has its own depth: the book summed over the exchanges.
        self._smart = contract.exchange == "SMART"
        self._contract, self._req_id = contract, req_id
        self._ticker = self._ib.reqMktDepth(contract, DEPTH_ROWS, isSmartDepth=self._smart)

    def _end(self, cancel: bool, refused: int | None = None) -> None:
        req_id, ticker, contract = self._req_id, self._ticker, self._contract
        self._req_id = self._ticker = self._contract = None
        self._dirty = False
        if req_id is None:
            return
        self._release_line(req_id)
        if ticker is None or contract is None:
            return
        if cancel and req_id != refused and self._ib.isConnected():
            self._ib.cancelMktDepth(contract, self._smart)
            return
        self._ib.wrapper.endTicker(ticker, "mktDepth")
        for rows in (ticker.domBids, ticker.domAsks, ticker.domBidsDict, ticker.domAsksDict):
            rows.clear()

    def _forget(self) -> None:
        self._book = None

    def _set(self, state: FeedState, detail: str) -> None:
        book, inst = self._book, self._want
        con_id = inst.con_id if inst is not None else (book.con_id if book else 0)
        if book is None or book.con_id != con_id:
            book = DepthBook(con_id)
        self._book = DepthBook(con_id, book.bids, book.asks, state, detail, book.updated_at)
        self._changed = True

    def _owns(self, req_id: int) -> bool:
        return self._req_id is not None and req_id == self._req_id

    def _has_data(self) -> bool:
        return self._book is not None and bool(self._book.bids or self._book.asks)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        ticker = self._ticker
        if ticker is not None and ticker in tickers and ticker.domTicks:
            self._dirty = True
