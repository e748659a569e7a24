"""Tick-by-tick data: reqTickByTickData (97), cancelTickByTickData (98) and the
tickByTick (99) answer, as ib_async 2.1.0 (at v178) and ib_insync 0.9.86 (at v176) write
and decode them, alike at both (client.py reqTickByTickData, decoder.py tickByTick): the
request names its type as a word, the answer as a number."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import encode
from ibterm.sim.wire.contract_fields import contract_at
from ibterm.sim.wire.fields import int_field
from ibterm.sim.wire.layouts import Incoming, Layouts

LAST, ALL_LAST, BID_ASK, MID_POINT = 1, 2, 3, 4
TICK_TYPES = {"Last": LAST, "AllLast": ALL_LAST, "BidAsk": BID_ASK, "MidPoint": MID_POINT}
# Attribute masks: a trade's bit 0 is pastLimit, bit 1 unreported; a quote's bit 0 is
# bidPastLow, bit 1 askPastHigh (the historical ticks' BidAsk mask is the other way round).
PAST_LIMIT, UNREPORTED = 1, 2
BID_PAST_LOW, ASK_PAST_HIGH = 1, 2


@dataclass(frozen=True, slots=True)
class TickByTickRequest:
    req_id: int
    contract: ContractQuery
    tick_type: str
    number_of_ticks: int
    ignore_size: bool


def _read_tick_by_tick(fields: list[str]) -> TickByTickRequest:
    return TickByTickRequest(int(fields[1]), contract_at(fields, 2), fields[14],
                             int(fields[15] or 0), fields[16] == "1")


REQ_TICK_BY_TICK = Incoming(97, "reqTickByTickData", {176: _read_tick_by_tick})
CANCEL_TICK_BY_TICK = Incoming(98, "cancelTickByTickData", {176: int_field(1)})


def tick_last(req_id: int, tick_type: int, time: int, price: float, size: float, mask: int,
              exchange: str, special_conditions: str) -> bytes:
    return encode(99, req_id, tick_type, time, price, size, mask, exchange,
                  special_conditions)


def tick_bid_ask(req_id: int, time: int, bid: float, ask: float, bid_size: float,
                 ask_size: float, mask: int) -> bytes:
    return encode(99, req_id, BID_ASK, time, bid, ask, bid_size, ask_size, mask)


def tick_mid_point(req_id: int, time: int, mid: float) -> bytes:
    return encode(99, req_id, MID_POINT, time, mid)


TICK_LAST = Layouts("tickByTickAllLast", {176: tick_last})
TICK_BID_ASK = Layouts("tickByTickBidAsk", {176: tick_bid_ask})
TICK_MID_POINT = Layouts("tickByTickMidPoint", {176: tick_mid_point})
