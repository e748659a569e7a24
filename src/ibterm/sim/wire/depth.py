"""Market depth: reqMktDepth (10), cancelMktDepth (11), reqMktDepthExchanges (82); the
updateMktDepth (12), updateMktDepthL2 (13) and mktDepthExchanges (80) answers, as
ib_async 2.1.0 (at v178) and ib_insync 0.9.86 (at v176) write and decode them, alike at
both (client.py reqMktDepth, decoder.py 12, 13, 80)."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import Field, encode
from ibterm.sim.wire.contract_fields import contract_at
from ibterm.sim.wire.fields import int_field, nothing
from ibterm.sim.wire.layouts import Incoming, Layouts

# Row operations and sides, as both clients read them.
INSERT, UPDATE, DELETE = 0, 1, 2
ASK_SIDE, BID_SIDE = 0, 1
# IB's UNSET_INTEGER: an aggregation group that is not set.
UNSET_INTEGER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class DepthRequest:
    req_id: int
    contract: ContractQuery
    rows: int
    smart: bool


def _read_mkt_depth(fields: list[str]) -> DepthRequest:
    return DepthRequest(int(fields[2]), contract_at(fields, 3), int(fields[15] or 0),
                        fields[16] == "1")


REQ_MKT_DEPTH = Incoming(10, "reqMktDepth", {176: _read_mkt_depth})
CANCEL_MKT_DEPTH = Incoming(11, "cancelMktDepth", {176: int_field(2)})
REQ_MKT_DEPTH_EXCHANGES = Incoming(82, "reqMktDepthExchanges", {176: nothing})


def update_mkt_depth(req_id: int, position: int, operation: int, side: int, price: float,
                     size: float) -> bytes:
    return encode(12, 1, req_id, position, operation, side, price, size)


def update_mkt_depth_l2(req_id: int, position: int, market_maker: str, operation: int,
                        side: int, price: float, size: float, smart: bool) -> bytes:
    return encode(13, 1, req_id, position, market_maker, operation, side, price, size, smart)


@dataclass(frozen=True, slots=True)
class DepthExchange:
    exchange: str
    sec_type: str
    listing_exchange: str
    service_data_type: str  # "Deep" (a book by price) or "Deep2" (by market maker)
    agg_group: int = UNSET_INTEGER


def mkt_depth_exchanges(exchanges: list[DepthExchange]) -> bytes:
    flat: list[Field] = [value for e in exchanges
                         for value in (e.exchange, e.sec_type, e.listing_exchange,
                                       e.service_data_type, e.agg_group)]
    return encode(80, len(exchanges), *flat)


UPDATE_MKT_DEPTH = Layouts("updateMktDepth", {176: update_mkt_depth})
UPDATE_MKT_DEPTH_L2 = Layouts("updateMktDepthL2", {176: update_mkt_depth_l2})
MKT_DEPTH_EXCHANGES = Layouts("mktDepthExchanges", {176: mkt_depth_exchanges})
