"""Historical bars through ib_async's own reqHistoricalDataAsync: every bar size and
duration unit, the price types, regular hours, both date formats, an end time, the
newest bar at the live quote, the same bars on a second request and on a second server
with the same seed, keepUpToDate, IB's pacing, its errors, and head time stamps."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from ib_async import IB, BarData, Contract, Forex, RequestError, Stock

from ibterm.sim.server import SimServer
from tests.sim.clocked import (
    NEW_YORK,
    OPENING_HOUR,
    Clock,
    client,
    clocked,
    clocked_server,
    qualified,
    until,
)

__all__ = ["client", "clocked"]  # fixtures

TICK = 0.01


def _close_of(sim: SimServer, contract: Contract, what: str) -> float:
    book = sim.market.book(contract.conId)
    return {"TRADES": book.last, "MIDPOINT": book.mid, "BID": book.bid, "ASK": book.ask}[what]


def _well_formed(bars: list[BarData]) -> None:
    assert bars
    dates = [b.date for b in bars]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high


@pytest.mark.parametrize(("bar_size", "duration", "what", "rth", "fmt", "count"), [
    ("1 secs", "60 S", "TRADES", True, 1, 61),  # and the forming one
    ("5 secs", "1800 S", "MIDPOINT", False, 2, 361),
    ("30 secs", "3600 S", "BID", True, 1, 121),
    ("1 min", "1 D", "TRADES", True, 1, 91),  # 09:30 to the forming 11:00 bar
    ("15 mins", "2 D", "ASK", False, 1, 64 + 29),  # 04:00-20:00 Thursday, then Friday
    ("1 hour", "1 W", "TRADES", True, 1, 5 + 4 * 7 + 3),
    ("4 hours", "1 W", "MIDPOINT", False, 2, 2 + 4 * 4 + 2),
    ("1 day", "1 M", "TRADES", True, 1, 23),
    ("1 week", "1 Y", "MIDPOINT", True, 1, 52),
    ("1 month", "2 Y", "TRADES", True, 1, 24),
])
async def test_each_bar_size_and_duration_unit(
        clocked: SimServer, client: IB, bar_size: str, duration: str, what: str, rth: bool,
        fmt: int, count: int) -> None:
    aapl = await qualified(client)
    clocked.step(3)
    bars = await client.reqHistoricalDataAsync(aapl, "", duration, bar_size, what, rth, fmt)
    _well_formed(bars)
    assert len(bars) == count
    assert bars[-1].close == pytest.approx(_close_of(clocked, aapl, what), abs=TICK / 2)
    first = bars[0].date
    if bar_size.startswith(("1 day", "1 week", "1 month")):
        assert isinstance(first, dt.date) and not isinstance(first, dt.datetime)
    elif fmt == 1:
        assert isinstance(first, dt.datetime) and str(first.tzinfo) == "US/Eastern"
    else:
        assert isinstance(first, dt.datetime) and first.tzinfo == dt.UTC
    if what == "TRADES":
        assert all(b.volume > 0 and b.barCount > 0 and b.low <= b.average <= b.high
                   for b in bars[:-1])
    else:
        assert {b.volume for b in bars} == {-1}


async def test_regular_hours_are_09_30_to_16_00_and_all_hours_04_00_to_20_00(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    rth = await client.reqHistoricalDataAsync(aapl, "", "2 D", "30 mins", "TRADES", True)
    every = await client.reqHistoricalDataAsync(aapl, "", "2 D", "30 mins", "TRADES", False)
    assert min(b.date.time() for b in rth) == dt.time(9, 30)
    assert max(b.date.time() for b in rth) == dt.time(15, 30)
    assert min(b.date.time() for b in every) == dt.time(4, 0)
    assert max(b.date.time() for b in every) == dt.time(19, 30)
    assert {b.date.date() for b in every} == {dt.date(2026, 11, 26), dt.date(2026, 11, 27)}


async def test_bid_ask_bars_are_average_bid_max_ask_min_bid_average_ask(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    both = await client.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "BID_ASK", True)
    bids = await client.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "BID", True)
    asks = await client.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "ASK", True)
    for b, bid, ask in zip(both, bids, asks, strict=True):
        assert (b.high, b.low) == (ask.high, bid.low)
        assert b.open == pytest.approx((bid.open + bid.close) / 2)
        assert b.close == pytest.approx((ask.open + ask.close) / 2)


async def test_the_newest_bar_follows_the_live_market_and_the_past_stays(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    before = await client.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "TRADES", True)
    clocked.step(40)
    after = await client.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "TRADES", True)
    assert list(after[:-1]) == list(before[:-1])
    assert after[-1].close == clocked.market.book(aapl.conId).last
    assert after[-1].volume > before[-1].volume


async def test_bars_are_the_same_on_two_servers_with_one_seed(client: IB) -> None:
    async def bars(seed: int) -> list[BarData]:
        server = await clocked_server(seed)
        ib = IB()
        try:
            await ib.connectAsync("127.0.0.1", server.port, clientId=22, timeout=5)
            server.step(10)
            return await ib.reqHistoricalDataAsync(
                await qualified(ib), "", "5 D", "1 hour", "TRADES", False)
        finally:
            ib.disconnect()
            await server.stop()

    first, second, other = await bars(3), await bars(3), await bars(4)
    assert list(first) == list(second)  # a BarDataList equals only itself
    assert [b.close for b in first] != [b.close for b in other]


async def test_an_end_time_in_each_of_ibs_formats(clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    end = dt.datetime(2026, 11, 26, 12, 0, tzinfo=NEW_YORK)
    for given in (end, "20261126 12:00:00 US/Eastern", "20261126-17:00:00",
                  "20261126 12:00:00"):
        bars = await client.reqHistoricalDataAsync(aapl, given, "3600 S", "5 mins", "MIDPOINT",
                                                   True)
        assert [b.date.time() for b in bars][::11] == [dt.time(11, 0), dt.time(11, 55)]
    now = await client.reqHistoricalDataAsync(aapl, "", "2 D", "5 mins", "MIDPOINT", True)
    assert [b for b in now if b.date < end][-12:] == list(bars)


async def test_a_bar_size_duration_or_type_ib_does_not_know_is_its_error_321(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    errors: list[tuple[int, int, str]] = []
    client.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    for req_id, (bar, duration, what, end) in enumerate([
            ("1 sec", "60 S", "TRADES", ""), ("1 min", "1 X", "TRADES", ""),
            ("1 min", "1 D", "LAST", ""), ("1 min", "1 D", "TRADES", "yesterday")], 901):
        # ib_async takes 321 for a warning, so its call would wait: the raw request.
        client.client.reqHistoricalData(req_id, aapl, end, duration, bar, what, 1, 1, False, [])
    await until(lambda: len(errors) == 4)
    assert [(r, c) for r, c, _ in errors] == [(901, 321), (902, 321), (903, 321), (904, 321)]
    assert "Historical data bar size setting is invalid. Legal ones are: 1 secs, 5 secs" \
        in errors[0][2]
    assert "end date/time string [yesterday] is invalid" in errors[3][2]


async def test_ibs_limits_are_its_error_162(clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    [eur] = await client.qualifyContractsAsync(Forex("EURUSD"))
    client.RaiseRequestErrors = True
    cases = [
        (aapl, "3600 S", "1 secs", "TRADES", "Time length exceed max."),
        (eur, "1 D", "1 hour", "TRADES", "HMDS query returned no data: EUR.USD@IDEALPRO Trades"),
        (Stock("TSLA", "SMART", "USD"), "1 D", "1 hour", "TRADES",
         "No market data permissions for NASDAQ STK"),
    ]
    for contract, duration, bar, what, text in cases:
        with pytest.raises(RequestError) as raised:
            await client.reqHistoricalDataAsync(contract, "", duration, bar, what, True)
        assert raised.value.code == 162
        assert raised.value.message == f"Historical Market Data Service error message:{text}"


def _pacing_clock(sim: SimServer) -> list[float]:
    """The connection's pacing clock, set by the test: one number to move."""
    desk = sim.client(21)
    assert desk is not None
    now = [1000.0]
    desk.pacing_clock = lambda: now[0]
    return now


async def test_an_identical_small_bar_request_within_15_seconds_is_a_pacing_violation(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    now = _pacing_clock(clocked)
    client.RaiseRequestErrors = True
    assert await client.reqHistoricalDataAsync(aapl, "", "60 S", "5 secs", "TRADES", True)
    with pytest.raises(RequestError) as raised:
        await client.reqHistoricalDataAsync(aapl, "", "60 S", "5 secs", "TRADES", True)
    assert (raised.value.code, raised.value.message) == (
        162, "Historical Market Data Service error message:Historical data request pacing "
             "violation")
    # Another request is not identical; and the same one 15 s later is allowed again.
    assert await client.reqHistoricalDataAsync(aapl, "", "120 S", "5 secs", "TRADES", True)
    now[0] += 15
    assert await client.reqHistoricalDataAsync(aapl, "", "60 S", "5 secs", "TRADES", True)
    # Larger bars are not paced.
    for _ in range(3):
        assert await client.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "TRADES", True)


async def test_more_than_60_small_bar_requests_in_ten_minutes(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    now = _pacing_clock(clocked)
    errors: list[int] = []
    client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    for i in range(61):
        now[0] += 3  # never six in two seconds, never the same one twice
        await client.reqHistoricalDataAsync(aapl, "", f"{60 + i} S", "1 secs", "MIDPOINT", True)
    assert errors == [162]


async def test_keep_up_to_date_streams_the_forming_bar_until_cancelled(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    clock = clocked.market.clock
    assert isinstance(clock, Clock)
    bars = await client.reqHistoricalDataAsync(aapl, "", "1800 S", "1 min", "TRADES", True,
                                               keepUpToDate=True)
    count = len(bars)
    book = clocked.market.book(aapl.conId)
    while clocked.market.book(aapl.conId).volume == book.volume:
        clocked.step()
    await until(lambda: bars[-1].close == clocked.market.book(aapl.conId).last
                and bars[-1].volume > 0 and len(bars) == count)
    clock.advance(60)
    clocked.step()
    await until(lambda: len(bars) == count + 1)
    assert bars[-1].date == OPENING_HOUR.replace(minute=1)
    client.cancelHistoricalData(bars)
    await asyncio.sleep(0.05)
    clock.advance(60)
    clocked.step(5)
    await asyncio.sleep(0.1)
    assert len(bars) == count + 1


async def test_head_timestamp(clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    head = await client.reqHeadTimeStampAsync(aapl, "TRADES", True, 1)
    assert head == dt.datetime(2006, 11, 27, 14, 30)  # twenty years back, the open in UTC
    stamp = await client.reqHeadTimeStampAsync(aapl, "MIDPOINT", True, 2)
    assert stamp == head.replace(tzinfo=dt.UTC)
    [es] = await client.qualifyContractsAsync(Contract(symbol="ES", secType="FUT",
                                                       exchange="CME", currency="USD",
                                                       lastTradeDateOrContractMonth="202612"))
    future = await client.reqHeadTimeStampAsync(es, "TRADES", False, 1)
    assert future.date() == dt.date(2025, 12, 17)  # a year before its expiry, the evening
    bars = await client.reqHistoricalDataAsync(aapl, "", "30 Y", "1M", "TRADES", True)
    assert (bars[0].date.year, bars[0].date.month) == (2006, 11)
