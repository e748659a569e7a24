"""Market depth: level-2 books around the live quote (sim/depth_book.py), sent as IB
sends them, row by row with insert, update and delete operations.

The two clients keep a book differently: ib_async by position in a dict, ib_insync in a
list that an insert shifts, an update past its end breaks and a delete shortens. So each
side is sent as rows inserted in position order, then updates of rows that exist, and
deletes of the last row only: both books then hold the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ibterm.domain.instrument import SecType
from ibterm.sim.depth_book import Row
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.requests.lookup import one_instrument
from ibterm.sim.wire.depth import (
    ASK_SIDE,
    BID_SIDE,
    CANCEL_MKT_DEPTH,
    DELETE,
    INSERT,
    MKT_DEPTH_EXCHANGES,
    REQ_MKT_DEPTH,
    REQ_MKT_DEPTH_EXCHANGES,
    UPDATE,
    UPDATE_MKT_DEPTH,
    UPDATE_MKT_DEPTH_L2,
    DepthExchange,
)

# IB's default limit of market depth requests open at once (error 309).
MAX_DEPTH_REQUESTS = 3


@dataclass(slots=True)
class DepthSubscription:
    con_id: int
    rows: int
    smart: bool
    market_maker: str
    sent: dict[int, list[Row]] = field(default_factory=lambda: {BID_SIDE: [], ASK_SIDE: []})


class DepthDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.depth: dict[int, DepthSubscription] = {}

    @serves(REQ_MKT_DEPTH)
    def _req_mkt_depth(self, fields: list[str]) -> None:
        req = REQ_MKT_DEPTH.read(self.version, fields)
        if len(self.depth) >= MAX_DEPTH_REQUESTS and req.req_id not in self.depth:
            self.error(req.req_id, 309, f"Max number ({MAX_DEPTH_REQUESTS}) of market depth "
                                        "requests has been reached")
            return
        sim = one_instrument(self, req.req_id, req.contract)
        if sim is None:
            return
        inst = sim.instrument
        sub = DepthSubscription(inst.con_id, max(1, req.rows), req.smart,
                                inst.primary_exchange or inst.exchange)
        self.depth[req.req_id] = sub
        self._send_depth(req.req_id, sub)
        if self.server.market_open:
            self.server.market.listen(self._push_depth)

    @serves(CANCEL_MKT_DEPTH)
    def _cancel_mkt_depth(self, fields: list[str]) -> None:
        self.depth.pop(CANCEL_MKT_DEPTH.read(self.version, fields), None)

    @serves(REQ_MKT_DEPTH_EXCHANGES)
    def _req_mkt_depth_exchanges(self, fields: list[str]) -> None:
        seen: dict[tuple[str, str], DepthExchange] = {}
        for sim in self.server.world.instruments.values():
            inst = sim.instrument
            if inst.sec_type in (SecType.OPT, SecType.FOP):
                continue
            exchange = inst.primary_exchange or inst.exchange
            # NASDAQ's book is by market maker (Deep2); the others' by price.
            kind = "Deep2" if exchange == "NASDAQ" else "Deep"
            seen.setdefault((exchange, inst.sec_type.value),
                            DepthExchange(exchange, inst.sec_type.value, "", kind))
        self.send(self.layout(MKT_DEPTH_EXCHANGES)(list(seen.values())))

    def _send_depth(self, req_id: int, sub: DepthSubscription) -> None:
        bids, asks = self.server.market.depth(sub.con_id, sub.rows)
        out: list[bytes] = []
        for side, rows in ((BID_SIDE, bids), (ASK_SIDE, asks)):
            old = sub.sent[side]
            for position in range(min(len(old), len(rows))):
                if old[position] != rows[position]:
                    out.append(self._row(req_id, sub, position, UPDATE, side, rows[position]))
            for position in range(len(old), len(rows)):
                out.append(self._row(req_id, sub, position, INSERT, side, rows[position]))
            for position in reversed(range(len(rows), len(old))):
                out.append(self._row(req_id, sub, position, DELETE, side, old[position]))
            sub.sent[side] = rows
        if out:
            self.send(b"".join(out))

    def _row(self, req_id: int, sub: DepthSubscription, position: int, operation: int,
             side: int, row: Row) -> bytes:
        price, size = row
        if sub.smart:
            return self.layout(UPDATE_MKT_DEPTH_L2)(req_id, position, sub.market_maker,
                                                    operation, side, price, size, True)
        return self.layout(UPDATE_MKT_DEPTH)(req_id, position, operation, side, price, size)

    def _push_depth(self) -> bool:
        if self._closed or not self.depth:
            return False
        for req_id, sub in self.depth.items():
            self._send_depth(req_id, sub)
        return True
