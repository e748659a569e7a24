"""The chart's bars through ib_async against the simulator: one keepUpToDate subscription
at a time, cancelled at the gateway when the chart moves on; a refusal is the series'
state; IB's historical-data pacing is kept by waiting."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

from ib_async import BarData, BarDataList

from ibterm.broker.history import HistoryPacer, bar_of
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.bars import BarSeries, BarSize, HistoryState
from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.sim.server import SimServer


async def _until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.02)


class Clock:
    """The session's monotonic clock, which a test may move on: time passing (a link down
    for a while) without the test sitting through it."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


async def _session(sim: SimServer, client_id: int,
                   clock: Callable[[], float] = time.monotonic) -> BrokerSession:
    session = BrokerSession(Profile(port=sim.port, client_id=client_id,
                                    watchlist=["ES", "AAPL", "TSLA"]), "t", TradingMode.DEMO,
                            clock=clock)
    assert await session.start()
    return session


def down_until_the_pacing_all_but_ends(session: BrokerSession, clock: Clock, asked: float,
                                       left: float = 2.0) -> None:
    """Once the session is connected again, its clock reads as though the link had been
    down until `left` seconds before IB's 15 s for an identical request (the chart's, asked
    at `asked`) are up: the chart asks again after those seconds, not after the whole 15
    (which a link that drops just after the chart opened would cost, and the test with
    it)."""
    def on_status(status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            session.status_listeners.remove(on_status)
            clock.ahead += asked + 15.0 - left - clock()

    session.status_listeners.append(on_status)


def _streams(session: BrokerSession) -> list[BarDataList]:
    """ib_async's live bar lists: what the gateway is still streaming to us."""
    return [s for s in session.ib.wrapper.reqId2Subscriber.values()
            if isinstance(s, BarDataList)]


def _series(session: BrokerSession) -> BarSeries | None:
    return session.chart()[1]


async def test_the_bars_arrive_and_the_forming_bar_follows_the_market(sim: SimServer) -> None:
    session = await _session(sim, 61)
    try:
        es = session.watchlist[0].instrument
        assert es is not None
        session.show_chart(es, BarSize.M5)
        await _until(lambda: (s := _series(session)) is not None and s.live)
        series = _series(session)
        assert series is not None and series.size is BarSize.M5 and len(series.bars) > 100
        assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
                   for b in series.bars)
        assert series.bars[-1].start.tzinfo is not None  # epoch times: UTC, not a guess
        before = series.bars[-1]
        sim.step(40)
        await _until(lambda: (s := _series(session)) is not None and s.bars[-1] != before)
    finally:
        await session.close()


async def test_a_new_interval_or_instrument_cancels_the_subscription_before(
        sim: SimServer) -> None:
    session = await _session(sim, 62)
    try:
        es, aapl = (item.instrument for item in session.watchlist[:2])
        assert es is not None and aapl is not None
        conn = sim.client(62)
        assert conn is not None
        for inst, size in ((es, BarSize.M5), (es, BarSize.M1), (aapl, BarSize.H1)):
            session.show_chart(inst, size)
            await _until(lambda i=inst, z=size: (s := _series(session)) is not None
                         and s.live and s.con_id == i.con_id and s.size is z)
            assert len(_streams(session)) == 1
            await _until(lambda: len(conn.history_streams) == 1)
        session.close_chart()
        assert _series(session) is None and not _streams(session)
        await _until(lambda: not conn.history_streams)  # the gateway stopped too
    finally:
        await session.close()


async def test_a_refused_history_is_the_series_state_not_a_notice(sim: SimServer) -> None:
    session = await _session(sim, 63)
    try:
        tsla = session.watchlist[2].instrument
        assert tsla is not None
        session.drain()
        session.show_chart(tsla, BarSize.D1)  # the demo login has no NASDAQ permissions
        await _until(lambda: (s := _series(session)) is not None
                     and s.state is HistoryState.REFUSED)
        series = _series(session)
        assert series is not None and not series.bars
        assert series.detail.startswith("IB 162") and "permissions" in series.detail
        assert not session.drain().notices and not _streams(session)
    finally:
        await session.close()


async def test_a_lost_link_stops_the_bars_and_a_reconnect_resumes_them(
        sim: SimServer) -> None:
    clock = Clock()
    session = await _session(sim, 64, clock)
    try:
        es = session.watchlist[0].instrument
        assert es is not None
        asked = clock()
        session.show_chart(es, BarSize.M15)
        await _until(lambda: (s := _series(session)) is not None and s.live)
        down_until_the_pacing_all_but_ends(session, clock, asked)
        sim.drop(64)
        await _until(lambda: (s := _series(session)) is not None
                     and s.state is HistoryState.STOPPED)
        series = _series(session)
        assert series is not None and series.bars and series.detail == "connection lost"
        # Reconnected inside IB's pacing window: the request again waits out the rest of
        # it, says so, and then streams by itself.
        await _until(lambda: (s := _series(session)) is not None
                     and s.detail.endswith("s for IB's pacing"))
        await _until(lambda: (s := _series(session)) is not None and s.live)
    finally:
        await session.close()


def test_the_pacer_keeps_to_ibs_historical_data_rules() -> None:
    pacer = HistoryPacer()
    a, b = (1, BarSize.M5), (1, BarSize.M1)
    assert pacer.wait(a, 0.0) == 0
    pacer.sent(a, 0.0)
    assert pacer.wait(a, 5.0) == 10.0  # identical within 15 s
    assert pacer.wait(b, 5.0) == 0
    for i, size in enumerate((BarSize.M1, BarSize.M15, BarSize.H1, BarSize.D1)):
        pacer.sent((1, size), 0.1 * (i + 1))
    # Five for one contract within 2 s: the sixth waits for the first to age out.
    assert pacer.wait((1, BarSize.M5), 1.0) > 0
    assert abs(pacer.wait((2, BarSize.M5), 1.0)) < 1e-9
    many = HistoryPacer()
    for i in range(60):
        many.sent((100 + i, BarSize.M5), 10.0 * i)
    # Sixty in ten minutes: the next waits until the first is ten minutes old.
    assert many.wait((999, BarSize.M5), 595.0) == 5.0
    assert many.wait((999, BarSize.M5), 610.0) == 0


def test_bars_convert_with_day_bars_at_midnight_and_no_volume_kept_as_none() -> None:
    day = bar_of(BarData(date=dt.date(2026, 11, 27), open=1, high=2, low=0.5, close=1.5,
                         volume=-1))
    assert day.start == dt.datetime(2026, 11, 27) and day.volume is None
    minute = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert bar_of(BarData(date=minute, open=1, high=1, low=1, close=1,
                          volume=300)).volume == 300.0


async def test_asking_again_within_15_seconds_waits_for_ibs_pacing_and_says_so(
        sim: SimServer) -> None:
    session = await _session(sim, 65)
    try:
        es = session.watchlist[0].instrument
        assert es is not None
        for size in (BarSize.M5, BarSize.M1):
            session.show_chart(es, size)
            await _until(lambda z=size: (s := _series(session)) is not None and s.live
                         and s.size is z)
        session.show_chart(es, BarSize.M5)  # the same request as 0.1 s ago: IB says 162
        await _until(lambda: (s := _series(session)) is not None
                     and s.detail.startswith("waiting ") and s.detail.endswith(
                         "s for IB's pacing"))
        series = _series(session)
        assert series is not None and series.state is HistoryState.LOADING
        assert not _streams(session)  # nothing asked meanwhile, nothing streaming
    finally:
        await session.close()
