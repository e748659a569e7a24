"""Market data requests and ticks: reqMktData (1), cancelMktData (2), reqMarketDataType (59)
and the tickPrice, tickSize, tickOptionComputation, tickSnapshotEnd and marketDataType
answers."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.contracts import ContractQuery, LegQuery
from ibterm.sim.protocol import encode
from ibterm.sim.wire.contract_fields import contract_at
from ibterm.sim.wire.fields import int_field
from ibterm.sim.wire.layouts import Incoming, Layouts

# Market data types (reqMarketDataType, marketDataType).
LIVE, FROZEN, DELAYED, DELAYED_FROZEN = 1, 2, 3, 4

# Tick types.
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE = 0, 1, 2, 3, 4, 5
HIGH, LOW, VOLUME, CLOSE, OPEN = 6, 7, 8, 9, 14
# Open interest, a tickSize: the calls' and the puts' (an option's is its own right's).
CALL_OPEN_INTEREST, PUT_OPEN_INTEREST = 27, 28
# Delayed data uses its own tick type for each live one.
DELAYED_TICKS = {BID: 66, ASK: 67, LAST: 68, BID_SIZE: 69, ASK_SIZE: 70, LAST_SIZE: 71,
                 HIGH: 72, LOW: 73, VOLUME: 74, CLOSE: 75, OPEN: 76}
# Option computations: bid, ask, last and model (10-13) are 80-83 in delayed data.
DELAYED_COMPUTATION_OFFSET = 70
# tickOptionComputation's "not computed" values, which both clients read as None.
NO_IMPLIED_VOL, NO_UND_PRICE = -1.0, -1.0
# Generic ticks (reqMktData's genericTickList): 101, open interest (tick types 27 and 28).
GENERIC_OPEN_INTEREST = 101


@dataclass(frozen=True, slots=True)
class MktDataRequest:
    req_id: int
    contract: ContractQuery
    legs: tuple[LegQuery, ...]  # a combo's (BAG) legs
    snapshot: bool  # a snapshot or a regulatory snapshot: one answer, no stream
    generic_ticks: frozenset[int]  # the generic tick ids asked for (none: the default ticks)


def read_legs(fields: list[str], at: int, width: int) -> tuple[tuple[LegQuery, ...], int]:
    """A combo's legs from their count at `at`, each `width` fields from conId, ratio,
    action, exchange; and where the fields after them start."""
    count = int(fields[at] or 0)
    legs = tuple(LegQuery(int(fields[i] or 0), int(fields[i + 1] or 0), fields[i + 2],
                          fields[i + 3])
                 for i in range(at + 1, at + 1 + count * width, width))
    return legs, at + 1 + count * width


def _read_mkt_data(fields: list[str]) -> MktDataRequest:
    req_id = int(fields[2])
    contract = contract_at(fields, 3)
    at = 15
    legs: tuple[LegQuery, ...] = ()
    if contract.sec_type == "BAG":
        legs, at = read_legs(fields, at, 4)
    if fields[at] == "1":  # delta-neutral block: conId, delta, price follow
        at += 3
    # The generic tick list, comma-separated ids; what is not a number is passed over.
    generic = frozenset(int(t) for t in fields[at + 1].split(",") if t.strip().isdigit())
    snapshot = fields[at + 2] == "1" or fields[at + 3] == "1"
    return MktDataRequest(req_id, contract, legs, snapshot, generic)


REQ_MKT_DATA = Incoming(1, "reqMktData", {176: _read_mkt_data})
CANCEL_MKT_DATA = Incoming(2, "cancelMktData", {176: int_field(2)})
REQ_MARKET_DATA_TYPE = Incoming(59, "reqMarketDataType", {176: int_field(2)})


def tick_price(req_id: int, tick_type: int, price: float, size: float, attr: int = 0) -> bytes:
    return encode(1, 6, req_id, tick_type, price, size, attr)


def tick_size(req_id: int, tick_type: int, size: float) -> bytes:
    return encode(2, 6, req_id, tick_type, size)


def tick_option_computation(req_id: int, tick_type: int, implied_vol: float, delta: float,
                            price: float, gamma: float, vega: float, theta: float,
                            und_price: float) -> bytes:
    """Exactly 12 fields, no version: both clients unpack them by position with float(),
    so every number is sent (a "not computed" one as its sentinel, never empty). The
    attribute is 1, price based; the dividends' present value is 0 (no dividends)."""
    return encode(21, req_id, tick_type, 1, implied_vol, delta, price, 0.0, gamma, vega,
                  theta, und_price)


def tick_snapshot_end(req_id: int) -> bytes:
    return encode(57, 1, req_id)


def market_data_type(req_id: int, data_type: int) -> bytes:
    return encode(58, 1, req_id, data_type)


TICK_PRICE = Layouts("tickPrice", {176: tick_price})
TICK_SIZE = Layouts("tickSize", {176: tick_size})
TICK_OPTION_COMPUTATION = Layouts("tickOptionComputation", {176: tick_option_computation})
TICK_SNAPSHOT_END = Layouts("tickSnapshotEnd", {176: tick_snapshot_end})
MARKET_DATA_TYPE = Layouts("marketDataType", {176: market_data_type})
