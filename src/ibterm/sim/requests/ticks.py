"""Tick-by-tick data from the live market: each trade a step prints (Last, AllLast), each
change of the quote (BidAsk) and of its midpoint (MidPoint), stamped with the simulated
time."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ibterm.sim.book import Book
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.requests.lookup import one_instrument
from ibterm.sim.wire.ticks import (
    ALL_LAST,
    ASK_PAST_HIGH,
    BID_ASK,
    BID_PAST_LOW,
    CANCEL_TICK_BY_TICK,
    LAST,
    MID_POINT,
    REQ_TICK_BY_TICK,
    TICK_BID_ASK,
    TICK_LAST,
    TICK_MID_POINT,
    TICK_TYPES,
)

# Where a stock's prints come from in AllLast (Last shows its primary exchange's).
VENUES = ("NASDAQ", "ARCA", "NYSE", "BATS", "IEX", "EDGX", "DARK")


@dataclass(slots=True)
class TickSubscription:
    con_id: int
    tick_type: int
    ignore_size: bool
    exchange: str
    sent: tuple[float, ...] = ()


class TickDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.tick_by_tick: dict[int, TickSubscription] = {}

    @serves(REQ_TICK_BY_TICK)
    def _req_tick_by_tick(self, fields: list[str]) -> None:
        req = REQ_TICK_BY_TICK.read(self.version, fields)
        tick_type = TICK_TYPES.get(req.tick_type)
        if tick_type is None:
            self.error(req.req_id, 321, "Error validating request.-'bS' : cause - "
                                        f"Invalid tick type: {req.tick_type}")
            return
        sim = one_instrument(self, req.req_id, req.contract)
        if sim is None:
            return
        inst = sim.instrument
        book = self.server.market.book(inst.con_id)
        sub = TickSubscription(inst.con_id, tick_type, req.ignore_size,
                               inst.primary_exchange or inst.exchange)
        # A trade stream starts with the next print; a quote stream with the quote now.
        sub.sent = (book.volume,) if tick_type in (LAST, ALL_LAST) else ()
        self.tick_by_tick[req.req_id] = sub
        self._send_ticks(req.req_id, sub, book)
        if self.server.market_open:
            self.server.market.listen(self._push_ticks)

    @serves(CANCEL_TICK_BY_TICK)
    def _cancel_tick_by_tick(self, fields: list[str]) -> None:
        req_id = CANCEL_TICK_BY_TICK.read(self.version, fields)
        if self.tick_by_tick.pop(req_id, None) is None:
            self.error(req_id, 300, f"Can't find EId with tickerId:{req_id}")

    def _send_ticks(self, req_id: int, sub: TickSubscription, book: Book) -> None:
        now = self.server.market.now()
        if sub.tick_type in (LAST, ALL_LAST):
            if sub.sent == (book.volume,):
                return
            sub.sent = (book.volume,)
            exchange = sub.exchange
            if sub.tick_type == ALL_LAST and exchange in VENUES:
                exchange = VENUES[zlib.crc32(f"{sub.con_id}/{book.volume}".encode())
                                  % len(VENUES)]
            self.send(self.layout(TICK_LAST)(req_id, sub.tick_type, now, book.last,
                                             book.last_size, 0, exchange, ""))
        elif sub.tick_type == BID_ASK:
            quote = (book.bid, book.ask) if sub.ignore_size else \
                (book.bid, book.ask, book.bid_size, book.ask_size)
            if sub.sent == quote:
                return
            sub.sent = quote
            mask = (BID_PAST_LOW if book.bid < book.low else 0) | \
                (ASK_PAST_HIGH if book.ask > book.high else 0)
            self.send(self.layout(TICK_BID_ASK)(req_id, now, book.bid, book.ask,
                                                book.bid_size, book.ask_size, mask))
        elif sub.sent != (book.mid,):
            assert sub.tick_type == MID_POINT
            sub.sent = (book.mid,)
            self.send(self.layout(TICK_MID_POINT)(req_id, now, book.mid))

    def _push_ticks(self) -> bool:
        if self._closed or not self.tick_by_tick:
            return False
        market = self.server.market
        for req_id, sub in self.tick_by_tick.items():
            self._send_ticks(req_id, sub, market.book(sub.con_id))
        return True
