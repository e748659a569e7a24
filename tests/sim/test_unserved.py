"""Requests the simulator does not serve end the client's waiting call: each is refused
on its own request id (read where the real client writes it), a request waited for by a
name gets an empty answer, and a cancel gets nothing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import ib_async
import pytest
from ib_async import IB, ScannerSubscription, Stock

from ibterm.sim.wire.fields import request_id

AAPL = Stock("AAPL", "SMART", "USD")


def _frames(call) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The frames ib_async's own Client writes for `call(client)` at server version 178."""
    client = ib_async.client.Client(ib_async.Wrapper(SimpleNamespace()))
    sent: list[list[str]] = []
    client.isConnected = lambda: True  # type: ignore[method-assign]
    client.sendMsg = lambda msg: sent.append(msg.split("\0")[:-1])  # type: ignore[method-assign]
    client._serverVersion = 178
    call(client)
    return sent


@pytest.mark.parametrize(("call", "expected"), [
    (lambda c: c.reqHistoricalData(5, AAPL, "", "1 D", "1 min", "TRADES", True, 1, False, []),
     5),
    (lambda c: c.reqScannerSubscription(
        11, ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR",
                                scanCode="TOP_PERC_GAIN"), [], []), 11),
    (lambda c: c.reqMktData(7, AAPL, "", False, False, []), 7),
    (lambda c: c.reqRealTimeBars(8, AAPL, 5, "TRADES", False, []), 8),
    (lambda c: c.reqTickByTickData(9, AAPL, "BidAsk", 0, False), 9),
    (lambda c: c.reqHeadTimeStamp(10, AAPL, "TRADES", True, 1), 10),
    (lambda c: c.placeOrder(14, AAPL, ib_async.LimitOrder("BUY", 100, 150.0)), 14),
    (lambda c: c.reqContractDetails(16, AAPL), 16),
    (lambda c: c.reqAccountUpdates(True, "DU1234567"), -1),
    (lambda c: c.reqMktDepthExchanges(), -1),
    (lambda c: c.cancelOrder(14), -1),  # an error on it would drop the working order
])
def test_request_ids_are_read_where_the_client_writes_them(call, expected: int) -> None:  # type: ignore[no-untyped-def]
    [fields] = _frames(call)
    assert request_id(int(fields[0]), fields) == expected


def _errors(ib: IB) -> list[tuple[int, int]]:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    return errors


async def test_an_unserved_request_ends_with_its_error_on_its_own_id(ib: IB) -> None:
    errors = _errors(ib)
    [aapl] = await ib.qualifyContractsAsync(AAPL)
    assert not await asyncio.wait_for(ib.reqMatchingSymbolsAsync("AA"), 3)
    data = await asyncio.wait_for(ib.reqFundamentalDataAsync(aapl, "ReportSnapshot"), 3)
    assert not data
    ids = [req_id for req_id, code in errors if code == 505]
    assert len(ids) == 2 and -1 not in ids


async def test_market_depth_exchanges_are_answered_not_a_hang(ib: IB) -> None:
    # Waited for by name, so no error could end it: a list (empty while depth is not
    # served) comes back.
    assert isinstance(await asyncio.wait_for(ib.reqMktDepthExchangesAsync(), 3), list)


async def test_cancelling_an_unserved_request_is_silent(ib: IB) -> None:
    errors = _errors(ib)
    ib.client.cancelFundamentalData(41)
    ib.client.cancelCalculateImpliedVolatility(42)
    ib.client.cancelWshMetaData(43)
    await ib.reqCurrentTimeAsync()  # answered after the cancels: they were read
    assert errors == []
