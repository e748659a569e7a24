"""Keeps ib_async's copy of a working order in step with the gateway's.

When the gateway reports an order ib_async already has a Trade for (an openOrder: the
order changed in TWS, or by a modify), ib_async copies only its quantity, prices, type
and orderRef onto the Trade's order. Its time in force, outside-RTH flag, account and
trail settings stay as they were first seen. A modify from this app starts from that
copy (working.spec_at_broker), so it would quietly re-send a TIF the trader had changed
in TWS: a GTC order made DAY again, gone at the close. So the fields a modify re-sends are
copied too, before ib_async's own handler runs."""

from __future__ import annotations

from typing import Any

from ib_async import IB, Contract, Order, OrderState

# What working.spec_at_broker reads besides what ib_async refreshes itself; the GTD and
# OPG fields so that such an order is seen as one, and refused a modify from here.
FOLLOWED = ("tif", "outsideRth", "goodTillDate", "goodAfterTime", "account",
            "trailingPercent", "trailStopPrice")
_UNKNOWN = "?"  # ib_async's decoder leaves a field it could not read as "?"


def follow_open_orders(ib: IB) -> None:
    """Copy FOLLOWED from each openOrder onto the Trade ib_async already holds. The
    decoder calls the wrapper's openOrder by name, so wrapping the bound method is
    enough; installed once per IB, before it connects."""
    wrapper = ib.wrapper
    original = wrapper.openOrder

    def open_order(order_id: int, contract: Contract, order: Order,
                   state: OrderState) -> Any:
        if not order.whatIf:
            trade = wrapper.trades.get(wrapper.orderKey(order.clientId, order.orderId,
                                                        order.permId))
            if trade is not None and trade.order is not order:
                for name in FOLLOWED:
                    value = getattr(order, name)
                    if value != _UNKNOWN:
                        setattr(trade.order, name, value)
        return original(order_id, contract, order, state)

    wrapper.openOrder = open_order  # type: ignore[method-assign,assignment]
