"""What the ladder's two streams (the depth book, time & sales) share: one instrument at a
time, asked for again after a reconnect or IB's 1101, stopped with the link, refused
with IB's words, and a market-data line for each request, as IB counts them."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

from ib_async import IB, Ticker

from ibterm.broker.lines import MarketDataLines
from ibterm.domain.depth import FeedState
from ibterm.domain.instrument import Instrument

log = logging.getLogger("ibterm.broker")

# IB's "data restored, subscriptions lost": the stream is asked for again.
_RESTORED_DATA_LOST = 1101


def line_key(req_id: int) -> int:
    """The market-data line a depth or tick-by-tick request holds, keyed apart from the
    quotes' (which hold theirs by con_id, always positive)."""
    return -req_id


class InstrumentFeed(ABC):
    """One subscription (of one or more requests) for one instrument at a time."""

    name = "feed"
    # Codes IB sends beside a stream's data, not instead of it.
    beside: frozenset[int] = frozenset()

    def __init__(self, ib: IB, lines: MarketDataLines, clock: Callable[[], float]) -> None:
        self._ib = ib
        self._lines = lines
        self.clock = clock
        self._want: Instrument | None = None
        self._changed = False
        ib.pendingTickersEvent += self._on_tickers
        ib.connectedEvent += self.resume
        ib.disconnectedEvent += self.link_lost

    # --- what the screen asks ----------------------------------------------------------
    def show(self, inst: Instrument) -> None:
        """This instrument's stream: the one before is cancelled."""
        if self._want == inst and self.state in (FeedState.LOADING, FeedState.LIVE):
            return
        self.stop()
        self._want = inst
        self._start_if_connected()

    def stop(self) -> None:
        """Nothing to stream: the subscription is cancelled and its lines given back."""
        self._want = None
        self._end(cancel=True)
        self._forget()
        self._changed = True

    def resume(self) -> None:
        """Connected again (or IB lost the data, 1101): asked for again."""
        if self._want is not None:
            self._end(cancel=False)
            self._start_if_connected()

    def link_lost(self) -> None:
        """ib_async's subscriptions went with the link: what came stays, marked stopped."""
        self._end(cancel=False)
        if self._want is not None:
            self._set(FeedState.STOPPED, "connection lost")

    def claims_error(self, req_id: int, code: int, message: str) -> bool:
        """IB's error for one of the stream's requests: its state. 1101 asks again, and is
        left unclaimed: the session acts on it too."""
        if code == _RESTORED_DATA_LOST:
            self.resume()
            return False
        if not self._owns(req_id):
            return False
        log.info("%s %d: IB %d: %s", self.name, req_id, code, message)
        if code in self.beside or 2100 <= code < 2200:
            return True
        self._end(cancel=True, refused=req_id)
        self._set(FeedState.STOPPED if self._has_data() else FeedState.REFUSED,
                  f"IB {code}: {message}")
        return True

    # --- lines -------------------------------------------------------------------------
    def _take_lines(self, req_ids: list[int], what: str) -> bool:
        """A line for each request, or none and the stream refused, saying why."""
        taken = [r for r in req_ids if self._lines.take(line_key(r))]
        if len(taken) == len(req_ids):
            return True
        for req_id in taken:
            self._release_line(req_id)
        self._set(FeedState.REFUSED, self._lines.refusal(what))
        return False

    def _release_line(self, req_id: int) -> None:
        # A cancelled book or tape stops counting at IB at once.
        self._lines.release(line_key(req_id))

    def _start_if_connected(self) -> None:
        if self._ib.isConnected():
            self._start()
        else:
            self._set(FeedState.STOPPED, "not connected")

    # --- what each stream does -----------------------------------------------------------
    @property
    @abstractmethod
    def state(self) -> FeedState: ...

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _end(self, cancel: bool, refused: int | None = None) -> None:
        """Ends the requests: cancelled at IB (but the refused one, which IB has ended),
        or only forgotten by ib_async when the link is gone."""

    @abstractmethod
    def _forget(self) -> None: ...

    @abstractmethod
    def _set(self, state: FeedState, detail: str) -> None: ...

    @abstractmethod
    def _owns(self, req_id: int) -> bool: ...

    @abstractmethod
    def _has_data(self) -> bool: ...

    @abstractmethod
    def _on_tickers(self, tickers: set[Ticker]) -> None: ...
