"""The chart's bars: one historical-data request with keepUpToDate at a time, turned
into domain bars, and said honestly when IB refuses it or the updates stop.

One subscription at a time: a new instrument or interval cancels the one before, and so
does closing the chart. The requests keep to IB's historical-data pacing (no identical
request within 15 s, at most five for one contract in 2 s, at most 60 in ten minutes) by
waiting, and say so; a refusal all the same (error 162 from pacing shared with other
clients, 354 or 10090 without permissions) is the series' state, shown in the pane, never
a chart of old bars that looks live.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable

from ib_async import IB, BarData, BarDataList

from ibterm.broker.convert import order_contract
from ibterm.domain.bars import Bar, BarSeries, BarSize, HistoryState
from ibterm.domain.instrument import Instrument, SecType

log = logging.getLogger("ibterm.broker")

# What each interval asks IB for: how far back, and IB's bar size. Each stays under the
# 2,000 bars IB returns to one request, around the clock too (futures, currencies).
_REQUESTS: dict[BarSize, tuple[str, str]] = {
    BarSize.M1: ("1 D", "1 min"),
    BarSize.M5: ("1 W", "5 mins"),
    BarSize.M15: ("10 D", "15 mins"),
    BarSize.H1: ("1 M", "1 hour"),
    BarSize.D1: ("1 Y", "1 day"),
}
# Futures and currencies trade around the clock: their chart shows every hour. Stocks
# and options show the regular session, as their volume is there.
_ALL_HOURS = frozenset({SecType.FUT, SecType.FOP, SecType.CASH})
REQUEST_TIMEOUT = 30.0

# IB's historical-data pacing (docs: "Historical Data Limitations").
_IDENTICAL_WITHIN = 15.0
_SAME_CONTRACT_WITHIN, _SAME_CONTRACT_MAX = 2.0, 5
_WINDOW, _WINDOW_MAX = 600.0, 60

# Codes IB sends beside a request's answer (a farm's state, delayed data), not as its end.
_WARNINGS = frozenset({10167, 10168})

_Key = tuple[int, BarSize]


class HistoryPacer:
    """When the next request may go without breaking IB's pacing rules."""

    def __init__(self) -> None:
        self._sent: deque[tuple[float, _Key]] = deque()

    def wait(self, key: _Key, now: float) -> float:
        """Seconds until `key` may be asked for (0: now)."""
        sent = self._sent
        while sent and sent[0][0] <= now - _WINDOW:
            sent.popleft()
        waits = [0.0]
        waits += [at + _IDENTICAL_WITHIN - now for at, k in sent if k == key]
        same = [at for at, k in sent if k[0] == key[0] and at > now - _SAME_CONTRACT_WITHIN]
        if len(same) >= _SAME_CONTRACT_MAX:
            waits.append(same[-_SAME_CONTRACT_MAX] + _SAME_CONTRACT_WITHIN - now)
        if len(sent) >= _WINDOW_MAX:
            waits.append(sent[-_WINDOW_MAX][0] + _WINDOW - now)
        return max(waits)

    def sent(self, key: _Key, now: float) -> None:
        self._sent.append((now, key))


def bar_of(data: BarData) -> Bar:
    start = data.date
    if not isinstance(start, dt.datetime):  # a day bar: its date
        start = dt.datetime(start.year, start.month, start.day)
    # IB sends -1 where a bar has no volume (midpoint bars).
    volume = float(data.volume) if data.volume is not None and data.volume >= 0 else None
    return Bar(start, data.open, data.high, data.low, data.close, volume)


class BarHistory:
    def __init__(self, ib: IB, clock: Callable[[], float]) -> None:
        self._ib = ib
        self.clock = clock
        self._pacer = HistoryPacer()
        self._want: tuple[Instrument, BarSize] | None = None
        self._req_id: int | None = None  # the request in flight or streaming
        self._refusal = ""  # IB's error for it
        self._bars: BarDataList | None = None  # ib_async's list, while streaming
        self._converted: list[Bar] = []
        self._series: BarSeries | None = None
        self._changed = False
        # Requests given up (superseded, cancelled): IB's answers to them, including the
        # 162 "query cancelled" that a cancel brings, are nobody's news.
        self._retired: deque[int] = deque(maxlen=32)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- what the session asks -------------------------------------------------------
    def show(self, inst: Instrument, size: BarSize, connected: bool) -> None:
        """Chart this instrument at this interval: the subscription before is cancelled."""
        if self._want == (inst, size) and self._series is not None and (
                self._series.state in (HistoryState.LOADING, HistoryState.LIVE)):
            return
        self.stop()
        self._want = (inst, size)
        if connected:
            self._set(BarSeries(inst.con_id, size, (), HistoryState.LOADING, "", self.clock()))
            self._start()
        else:
            self._set(BarSeries(inst.con_id, size, (), HistoryState.STOPPED, "not connected",
                                self.clock()))

    def stop(self) -> None:
        """No chart: the subscription is cancelled."""
        self._want = None
        self._end_stream(cancel=True)
        self._series = None
        self._changed = True

    def close(self) -> None:
        """The session ends: no chart, and no request left waiting for its turn."""
        self.stop()
        for task in self._tasks:
            task.cancel()

    def resume(self) -> None:
        """Connected again (or IB lost the data, 1101): the chart's request again."""
        if self._want is not None:
            self._end_stream(cancel=False)
            self._start()

    def link_lost(self) -> None:
        """ib_async's subscriptions went with the link: the bars stop, and say so."""
        self._end_stream(cancel=False)
        if self._series is not None:
            self._set(BarSeries(self._series.con_id, self._series.size, self._series.bars,
                                HistoryState.STOPPED, "connection lost", self.clock()))

    def take_changed(self) -> tuple[bool, BarSeries | None]:
        """(changed, the series now) since the last call; None: no chart."""
        bars = self._bars
        if bars is not None and self._series is not None and self._sync(bars):
            self._series = BarSeries(self._series.con_id, self._series.size,
                                     tuple(self._converted), self._series.state,
                                     self._series.detail, self._series.since)
            self._changed = True
        changed, self._changed = self._changed, False
        return changed, self._series

    def claims_error(self, req_id: int, code: int, message: str) -> bool:
        """IB's error for the chart's request: its state (refused, or stopped once it
        streamed); errors for requests given up are dropped."""
        if req_id in self._retired:
            log.info("history %d (given up): IB %d: %s", req_id, code, message)
            return True
        if req_id != self._req_id:
            return False
        log.info("history %d: IB %d: %s", req_id, code, message)
        if code in _WARNINGS or 2100 <= code < 2200:
            return True  # said beside an answer, not instead of one
        self._refusal = f"IB {code}: {message}"
        series = self._series
        if self._bars is not None and series is not None:
            # It had streamed: IB ended it. Its bars stay, marked as no longer live.
            self._end_stream(cancel=False)
            self._set(BarSeries(series.con_id, series.size, series.bars,
                                HistoryState.STOPPED, self._refusal, self.clock()))
        return True

    # --- the request -----------------------------------------------------------------
    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._request())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self) -> None:
        want = self._want
        if want is None:
            return
        inst, size = want
        key = (inst.con_id, size)
        wait = self._pacer.wait(key, self.clock())
        if wait > 0:
            self._set(BarSeries(inst.con_id, size, (), HistoryState.LOADING,
                                f"waiting {wait:.0f}s for IB's pacing", self.clock()))
            await asyncio.sleep(wait)
            if self._want != want:
                return
        self._set(BarSeries(inst.con_id, size, (), HistoryState.LOADING, "", self.clock()))
        self._pacer.sent(key, self.clock())
        duration, setting = _REQUESTS[size]
        what = "MIDPOINT" if inst.sec_type is SecType.CASH else "TRADES"
        # The id the request takes next (ib_async 2.1.0 is pinned), as in what_if: nothing
        # runs between reading it and the call taking it.
        req_id = self._ib.client._reqIdSeq
        self._req_id, self._refusal = req_id, ""
        try:
            bars = await self._ib.reqHistoricalDataAsync(
                order_contract(inst), "", duration, setting, what,
                useRTH=inst.sec_type not in _ALL_HOURS, formatDate=2, keepUpToDate=True,
                timeout=REQUEST_TIMEOUT)
        except ConnectionError:
            self._retire(req_id)
            self._set(BarSeries(inst.con_id, size, (), HistoryState.STOPPED, "not connected",
                                self.clock()))
            return
        if self._want != want or self._req_id != req_id:
            # Superseded while IB answered: this one is cancelled, the newer one stands.
            self._cancel(bars)
            return
        if self._refusal or not bars:
            self._cancel(bars)
            detail = self._refusal or f"no bars from IB within {REQUEST_TIMEOUT:g}s"
            self._set(BarSeries(inst.con_id, size, (), HistoryState.REFUSED, detail,
                                self.clock()))
            return
        self._bars = bars
        self._converted = []
        self._sync(bars)
        self._set(BarSeries(inst.con_id, size, tuple(self._converted), HistoryState.LIVE, "",
                            self.clock()))

    def _sync(self, bars: BarDataList) -> bool:
        """Bring the converted bars up to ib_async's list: the forming bar, and any new
        one. True if anything changed."""
        converted = self._converted
        changed = False
        for i in range(max(0, len(converted) - 1), len(bars)):
            bar = bar_of(bars[i])
            if i < len(converted):
                if converted[i] != bar:
                    converted[i] = bar
                    changed = True
            else:
                converted.append(bar)
                changed = True
        return changed

    def _end_stream(self, cancel: bool) -> None:
        bars, self._bars = self._bars, None
        if self._req_id is not None:
            self._retire(self._req_id)
        self._req_id = None
        if bars is not None and cancel:
            self._cancel(bars)

    def _cancel(self, bars: BarDataList) -> None:
        self._retire(bars.reqId)
        if self._ib.isConnected():
            self._ib.cancelHistoricalData(bars)
        else:
            self._ib.wrapper.endSubscription(bars)

    def _retire(self, req_id: int) -> None:
        if req_id not in self._retired:
            self._retired.append(req_id)

    def _set(self, series: BarSeries) -> None:
        self._series = series
        self._changed = True
