"""A working order as it stands at the gateway, as the domain's OrderSpec: what a modify
starts from, so that a change of price never quietly changes anything else (a GTC order
re-sent as DAY, outside RTH dropped, another account).

`convert.spec_of_order` reads what every tracked order needs (instrument, side, type,
prices, account, a combination's legs); this adds what only a modify needs and refuses
what the domain cannot hold, rather than re-send it as something it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from ib_async import Contract, Order

from ibterm.broker.convert import spec_of_order
from ibterm.domain.instrument import Instrument
from ibterm.domain.orders import OrderSpec, OrderType, TimeInForce


class NotModifiable(ValueError):
    """Why a working order cannot be modified from here (said to the trader as is)."""


def _set(value: float | Decimal | None) -> float | None:
    """A price field IB may leave unset (the largest double), as the domain keeps it."""
    if value is None:
        return None
    number = float(value)
    return number if abs(number) < 1e300 and number == number else None


def spec_at_broker(contract: Contract, order: Order,
                   known: Mapping[int, Instrument] | None = None,
                   tracked: OrderSpec | None = None) -> OrderSpec:
    """The order's spec with every field a modify re-sends: time in force, outside RTH,
    account, type, limit, stop, trailing amount or percent, and `quantity` the order's
    TOTAL quantity (IB's totalQuantity, filled part included: what a modify sends back,
    so a partly filled order keeps its size unless the trader changes it).

    `tracked` is what this app knows of the order (sent or adopted): its resolved
    instrument and a combination's legs are kept, since the gateway's BAG names only
    conIds. Parent and OCA links are not in an OrderSpec: a modify keeps them because it
    re-sends the same IB order with only these fields changed.

    NotModifiable when the order holds what the domain cannot (a GTD or OPG time in
    force, an order type ibterm does not model): re-sent from here it would change."""
    tif_text = order.tif or TimeInForce.DAY.value  # IB's empty TIF is DAY
    try:
        tif = TimeInForce(tif_text)
    except ValueError:
        raise NotModifiable(f"its time in force {tif_text} is not one ibterm holds: "
                            "modify it in TWS") from None
    try:
        base = spec_of_order(contract, order, known)
    except ValueError:
        raise NotModifiable(f"its order type {order.orderType} or side {order.action} is "
                            "not one ibterm holds: modify it in TWS") from None
    trail_amount = trail_percent = stop = None
    if base.order_type is OrderType.TRAIL:
        trail_percent = _set(order.trailingPercent)
        trail_amount = _set(order.auxPrice) if trail_percent is None else None
        stop = _set(order.trailStopPrice)
    else:
        stop = base.stop
    spec = replace(base, quantity=float(order.totalQuantity), stop=stop,
                   trail_amount=trail_amount, trail_percent=trail_percent, tif=tif,
                   outside_rth=bool(order.outsideRth), account=order.account or "")
    con_id = spec.instrument.con_id
    if tracked is not None and tracked.instrument.con_id == con_id:
        return replace(spec, instrument=tracked.instrument, combo=tracked.combo,
                       strategy=tracked.strategy)
    if not spec.combo and known and con_id in known:
        # Resolved in this run: its tick and size increment, which the checks judge by.
        return replace(spec, instrument=known[con_id])
    return spec
