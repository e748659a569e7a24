"""Single fields read before (or without) a message's own layout: request ids."""

from __future__ import annotations

from collections.abc import Callable

# Where each request's id sits, as ib_async 2.1.0 and ib_insync 0.9.86 write it (their
# client.py; the two agree at 176 and 178). After the message id comes a version field,
# except in placeOrder (3), reqHistoricalData (20), reqScannerSubscription (22) and every
# message from 78 on: there the id is field 1. reqScannerSubscription's field 2 is its
# numberOfRows and reqHistoricalData's is the contract's conId, never the id.
_ID_AFTER_VERSION = frozenset({
    1, 2, 7, 9, 10, 11, 21, 23, 25, 50, 51, 52, 53, 54, 55, 56, 57, 62, 63, 67, 68, 69, 70,
    74, 75, 76, 77,
})
_ID_FIRST = frozenset({
    3, 20, 22, 78, 79, 81, 83, 84, 86, 87, 88, 89, 90, 92, 93, 94, 95, 96, 97, 98, 100, 101,
    102, 103, 104,
})
# The rest carry no request id (reqOpenOrders, reqAccountUpdates, reqPositions,
# reqScannerParameters, reqMktDepthExchanges, reqNewsProviders, …), or one an error must
# not name: an error on cancelOrder's order id makes the client drop a working order.


def int_at(fields: list[str], index: int) -> int:
    """The integer at `index`, or -1 when it is missing or not a number."""
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return -1


def request_id(msg_id: int, fields: list[str]) -> int:
    """The id an error about this request must name for the client's waiting call to end
    (an order's id for placeOrder); -1 for a message without one."""
    if msg_id in _ID_FIRST:
        return int_at(fields, 1)
    if msg_id in _ID_AFTER_VERSION:
        return int_at(fields, 2)
    return -1


def int_field(index: int) -> Callable[[list[str]], int]:
    """A reader for a message whose one field of interest is the integer at `index`."""

    def read(fields: list[str]) -> int:
        return int(fields[index])

    return read


def nothing(fields: list[str]) -> None:
    """The reader of a message that asks nothing beyond its id."""
