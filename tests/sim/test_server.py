"""The simulator against the real ib_async client, over a loopback socket."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from ib_async import IB, Contract, Forex, Future, Option, Stock

from ibterm.sim.protocol import FrameDecoder, encode
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario


async def _wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_connect_is_prompt_and_syncs_without_timeouts(sim: SimServer,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    client = IB()
    started = time.monotonic()
    await client.connectAsync("127.0.0.1", sim.port, clientId=5, timeout=5,
                              raiseSyncErrors=True)
    try:
        assert time.monotonic() - started < 2.0
        assert client.managedAccounts() == ["DU1234567"]
        assert client.client.serverVersion() == 178
        assert "timed out" not in caplog.text
    finally:
        client.disconnect()


async def test_positions_and_account_values_match_the_scenario(ib: IB, sim: SimServer) -> None:
    positions = {p.contract.symbol: p for p in ib.positions()}
    assert set(positions) == {"AAPL", "MSFT", "SPY", "ES"}
    assert positions["AAPL"].position == 300 and positions["AAPL"].avgCost == pytest.approx(212.35)
    assert positions["SPY"].position == -50
    # IB reports a future's average cost per contract, multiplier included.
    assert positions["ES"].avgCost == pytest.approx(5985.25 * 50)
    values = {v.tag: float(v.value) for v in ib.accountValues() if v.tag in (
        "NetLiquidation", "TotalCashValue", "InitMarginReq", "MaintMarginReq", "BuyingPower",
        "AvailableFunds", "ExcessLiquidity", "GrossPositionValue", "UnrealizedPnL",
        "RealizedPnL")}
    assert len(values) == 10
    assert values["TotalCashValue"] == 1_000_000
    expected = sim.account_values("DU1234567")
    for tag, value in values.items():
        assert value == pytest.approx(expected[tag], abs=0.01)
    portfolio = {p.contract.symbol: p for p in ib.portfolio()}
    aapl = portfolio["AAPL"]
    assert aapl.marketValue == pytest.approx(aapl.marketPrice * 300)
    assert aapl.unrealizedPNL == pytest.approx((aapl.marketPrice - 212.35) * 300)


async def test_account_values_follow_the_market(ib: IB, sim: SimServer) -> None:
    before = {v.tag: v.value for v in ib.accountValues()}["NetLiquidation"]
    sim.step(40)
    sim.push_account_updates()
    await _wait_for(lambda: {v.tag: v.value for v in ib.accountValues()}["NetLiquidation"]
                    != before)


async def test_qualify_every_instrument_class(ib: IB) -> None:
    stock, fx, fut, opt, unknown = await ib.qualifyContractsAsync(
        Stock("AAPL", "SMART", "USD"),
        Forex("EURUSD"),
        Future("ES", "202612", "CME"),
        Option("SPY", "20261218", 600, "C", "SMART"),
        Stock("NOPE", "SMART", "USD"),
    )
    assert stock.conId == 265598 and stock.primaryExchange == "NASDAQ"
    assert fx.conId == 12087792 and fx.exchange == "IDEALPRO"
    assert fut.localSymbol == "ESZ6" and fut.multiplier == "50"
    assert fut.lastTradeDateOrContractMonth == "20261218"
    assert opt.multiplier == "100" and opt.localSymbol == "SPY   261218C00600000"
    assert unknown is None
    [details] = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
    assert details.minTick == 0.01
    [es] = await ib.reqContractDetailsAsync(fut)
    assert es.minTick == 0.25 and es.contractMonth == "202612"
    [cl_front, _] = await ib.reqContractDetailsAsync(Future("CL", exchange="NYMEX"))
    # CL January trades until 3 business days before 25 December.
    assert cl_front.contractMonth == "202701"
    assert cl_front.contract.lastTradeDateOrContractMonth == "20261222"


async def test_con_ids_are_stable_across_runs() -> None:
    a, b = SimServer(manual_scenario()), SimServer(manual_scenario(), seed=7)
    assert a.world.instruments.keys() == b.world.instruments.keys()


async def test_unknown_contract_gives_error_200(ib: IB) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    assert await ib.reqContractDetailsAsync(Stock("NOPE", "SMART", "USD")) == []
    assert 200 in errors


async def test_option_chain_parameters(ib: IB) -> None:
    [chain] = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", 756733)
    assert chain.multiplier == "100" and chain.exchange == "SMART"
    assert "20261218" in chain.expirations and len(chain.expirations) >= 4
    assert 600.0 in chain.strikes and min(chain.strikes) >= 540


async def test_quotes_stream_and_move(ib: IB, sim: SimServer) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktData(aapl)
    await _wait_for(lambda: ticker.bid == ticker.bid and ticker.ask > ticker.bid)
    assert ticker.bidSize > 0 and ticker.askSize > 0 and ticker.volume > 0
    assert ticker.close > 0 and ticker.high >= ticker.low > 0
    assert ticker.marketDataType == 1
    seen = {(ticker.bid, ticker.ask, ticker.last)}
    for _ in range(10):
        sim.step(4)
        await asyncio.sleep(0.03)
        seen.add((ticker.bid, ticker.ask, ticker.last))
    assert len(seen) > 3
    # The last step's book is exactly what the client shows.
    book = sim.market.book(aapl.conId)
    await _wait_for(lambda: (ticker.bid, ticker.ask) == (book.bid, book.ask))
    ib.cancelMktData(aapl)


async def test_delayed_data_uses_delayed_tick_types(sim: SimServer) -> None:
    received: list[int] = []
    client = IB()
    await client.connectAsync("127.0.0.1", sim.port, clientId=12, timeout=5)
    try:
        original = client.wrapper.priceSizeTick

        def spy(req_id: int, tick_type: int, price: float, size: float) -> None:
            received.append(tick_type)
            original(req_id, tick_type, price, size)

        client.wrapper.priceSizeTick = spy  # type: ignore[method-assign]
        client.reqMarketDataType(3)
        [tsla] = await client.qualifyContractsAsync(Stock("TSLA", "SMART", "USD"))
        ticker = client.reqMktData(tsla)
        await _wait_for(lambda: ticker.bid > 0)
        assert ticker.marketDataType == 3
        assert set(received) <= {66, 67, 68, 72, 73, 75, 76} and {66, 67} <= set(received)
        # A subscribed instrument is live even when delayed data was asked for, as at IB.
        [aapl] = await client.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        live = client.reqMktData(aapl)
        await _wait_for(lambda: live.bid > 0)
        assert live.marketDataType == 1
    finally:
        client.disconnect()


async def test_live_request_without_subscription_gives_error_354(ib: IB) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    [tsla] = await ib.qualifyContractsAsync(Stock("TSLA", "SMART", "USD"))
    ticker = ib.reqMktData(tsla)
    await _wait_for(lambda: 354 in errors)
    assert ticker.bid != ticker.bid  # NaN: nothing was sent


async def test_snapshot_ends_with_tick_snapshot_end(ib: IB) -> None:
    [msft] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
    [ticker] = await asyncio.wait_for(ib.reqTickersAsync(msft), 3)
    assert ticker.bid > 0 and ticker.ask > ticker.bid and ticker.last > 0


async def test_option_quotes_follow_their_underlying(ib: IB, sim: SimServer) -> None:
    [call] = await ib.qualifyContractsAsync(Option("SPY", "20261218", 600, "C", "SMART"))
    ticker = ib.reqMktData(call)
    await _wait_for(lambda: ticker.ask > ticker.bid > 0)
    assert 1.0 < ticker.bid < 40.0  # three weeks, at the money, 16% vol


async def test_account_summary_and_pnl(ib: IB, sim: SimServer) -> None:
    summary = await asyncio.wait_for(ib.accountSummaryAsync(), 3)
    tags = {v.tag for v in summary}
    assert {"NetLiquidation", "ExcessLiquidity", "BuyingPower", "MaintMarginReq"} <= tags
    pnl = ib.reqPnL("DU1234567")
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    single = ib.reqPnLSingle("DU1234567", "", aapl.conId)
    await _wait_for(lambda: pnl.unrealizedPnL == pnl.unrealizedPnL and single.position == 300)
    assert single.value == pytest.approx(sim.market.mark(aapl.conId) * 300, abs=0.01)


async def test_two_clients_at_once_and_duplicate_client_id(sim: SimServer, ib: IB) -> None:
    other = IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=12, timeout=5)
    try:
        assert {c.client_id for c in sim.connections} == {11, 12}
        [a] = await other.qualifyContractsAsync(Stock("IBM", "SMART", "USD"))
        [b] = await ib.qualifyContractsAsync(Stock("IBM", "SMART", "USD"))
        assert a.conId == b.conId
        dup = IB()
        errors: list[int] = []
        dup.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
        with pytest.raises((TimeoutError, ConnectionError)):
            await dup.connectAsync("127.0.0.1", sim.port, clientId=12, timeout=1)
        assert 326 in errors
        assert other.isConnected()
    finally:
        other.disconnect()


async def test_unsupported_requests_get_an_error_not_silence(ib: IB) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    # Historical data is served now; fundamental data still is not.
    report = await asyncio.wait_for(ib.reqFundamentalDataAsync(aapl, "ReportSnapshot"), 3)
    assert not report
    assert any(code == 505 and "fundamental data" in msg for code, msg in errors)


async def _raw_connect(port: int, version: bytes = b"v157..178") -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", len(version)) + version)
    await writer.drain()
    return reader, writer


async def test_unsupported_client_versions_get_an_error_and_a_closed_socket(
        sim: SimServer) -> None:
    reader, writer = await _raw_connect(sim.port, b"v100..150")
    data = await asyncio.wait_for(reader.read(), 3)  # read to EOF: the server closed
    [fields] = FrameDecoder().feed(data)
    assert fields[0] == "4" and fields[3] == "503"
    writer.close()


async def test_garbage_closes_that_connection_and_others_keep_streaming(
        sim: SimServer, ib: IB) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktData(aapl)
    await _wait_for(lambda: ticker.bid > 0)
    reader, writer = await _raw_connect(sim.port)
    await reader.read(100)
    writer.write(encode(71, 2, 99, "") + struct.pack(">I", 0xFFFFFFF0) + b"garbage")
    await writer.drain()
    await asyncio.wait_for(reader.read(), 3)  # returns at EOF: the server closed it
    assert {c.client_id for c in sim.connections} == {11}
    volume = ticker.volume
    sim.step(20)
    await _wait_for(lambda: ticker.volume != volume)
    assert ib.isConnected()
    writer.close()


async def test_same_seed_same_stream() -> None:
    def run(seed: int) -> list[tuple[float, float, float]]:
        server = SimServer(manual_scenario(), seed=seed)
        out = []
        for _ in range(50):
            server.market.step()
            book = server.market.book(265598)
            out.append((book.bid, book.ask, book.last))
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


async def test_a_contract_given_by_con_id_alone_streams(ib: IB) -> None:
    ticker = ib.reqMktData(Contract(conId=272093, exchange="SMART"))
    await _wait_for(lambda: ticker.ask > 0)


async def test_account_updates_multi_for_all_accounts_keep_updating() -> None:
    from ibterm.sim.scenario import AccountDef

    server = SimServer(manual_scenario(accounts=[AccountDef(id="DU1000001"),
                                                 AccountDef(id="DU1000002", cash=5.0)]))
    await server.start()
    client = IB()
    try:
        await client.connectAsync("127.0.0.1", server.port, clientId=3, timeout=5)
        await asyncio.wait_for(client.reqAccountUpdatesMultiAsync("All"), 3)
        cash = {(v.account, v.tag): v.value for v in client.accountValues()
                if v.tag == "TotalCashValue"}
        assert cash == {("DU1000001", "TotalCashValue"): "1000000.00",
                        ("DU1000002", "TotalCashValue"): "5.00"}
        conn = server.client(3)
        assert conn is not None
        # ib_async subscribes each account at connect; the "All" request holds both.
        groups = sorted([a for a, _ in sub] for sub in conn.multi_subs.values())
        assert groups == [["DU1000001"], ["DU1000001", "DU1000002"], ["DU1000002"]]
    finally:
        client.disconnect()
        await server.stop()
