"""An order or a what-if without an exchange is refused with TWS's error 321, on its order
id, before its contract is looked up (ib_async's own test_request_error_raised expects
321 for Stock("XXX")), and nothing is kept."""

from __future__ import annotations

import asyncio

from ib_async import IB, Contract, MarketOrder, Stock

from ibterm.sim.server import SimServer

TEXT = "Error validating request.-'bN' : cause - Missing order exchange"


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    return errors


async def test_an_order_without_exchange_gets_321_and_is_not_kept(sim: SimServer,
                                                                  ib: IB) -> None:
    errors = _errors(ib)
    # A contract as a position names it: conId, no exchange.
    trade = ib.placeOrder(Contract(conId=265598), MarketOrder("BUY", 1))
    await ib.reqCurrentTimeAsync()
    assert errors == [(trade.order.orderId, 321, TEXT)]
    assert not sim.orders.orders and not sim.orders.fills
    # ib_async 2.1.0 takes 321 for a warning: the trade is marked, not cancelled.
    assert trade.orderStatus.status == "ValidationError"


async def test_a_what_if_without_exchange_gets_321_even_for_an_unknown_contract(
        ib: IB) -> None:
    errors = _errors(ib)
    request = asyncio.ensure_future(ib.whatIfOrderAsync(Stock("XXX"), MarketOrder("BUY", 100)))
    await ib.reqCurrentTimeAsync()
    [(req_id, code, text)] = errors
    assert (code, text) == (321, TEXT) and req_id > 0
    # As against TWS, ib_async 2.1.0 keeps waiting on a warning: the caller's timeout ends
    # it (ib_insync, which takes 321 for an error, raises: tests/sim/test_ib_insync.py).
    assert not request.done()
    request.cancel()
