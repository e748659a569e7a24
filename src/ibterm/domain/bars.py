"""Price bars for the chart: one bar, the intervals a chart offers, and a series of bars
with what is known of its freshness (loading, live, refused, stopped)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class BarSize(StrEnum):
    """The chart's intervals; the value is how the trader reads it (and the action id's
    tail: chart-1m … chart-1d)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1D"

    @property
    def seconds(self) -> int:
        return {BarSize.M1: 60, BarSize.M5: 300, BarSize.M15: 900, BarSize.H1: 3600,
                BarSize.D1: 86_400}[self]

    @property
    def intraday(self) -> bool:
        return self is not BarSize.D1


@dataclass(frozen=True, slots=True)
class Bar:
    start: dt.datetime  # when the bar opens (a day bar: midnight of its date)
    open: float
    high: float
    low: float
    close: float
    volume: float | None  # None where IB has none (midpoint bars: currencies)


class HistoryState(StrEnum):
    LOADING = "loading"
    LIVE = "live"  # the last bar is forming from the gateway's updates
    REFUSED = "refused"  # IB answered the request with an error: no bars
    STOPPED = "stopped"  # the bars stopped updating (link lost, IB ended the stream)


@dataclass(frozen=True, slots=True)
class BarSeries:
    con_id: int
    size: BarSize
    bars: tuple[Bar, ...] = ()
    state: HistoryState = HistoryState.LOADING
    detail: str = ""  # why refused or stopped, in IB's words with its code
    since: float = 0.0  # when the state began (the session's clock)

    @property
    def live(self) -> bool:
        return self.state is HistoryState.LIVE

    def quiet_since(self, now: dt.datetime) -> dt.datetime | None:
        """When the last bar began, if its interval is over and no new bar has begun
        (the session is closed, or nothing trades): a live stream with nothing to say.
        Naive times are the local clock's."""
        if not self.bars:
            return None
        start = self.bars[-1].start.astimezone()
        if now.astimezone() >= start + dt.timedelta(seconds=self.size.seconds):
            return start
        return None
