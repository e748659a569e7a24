"""Market data: quotes for one instrument or combo per request, live, frozen or delayed by
IB's rules, with an option's computations (greeks), streamed on each market step as the
changes since what was sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from ibterm.domain.instrument import Right
from ibterm.sim.combos import Combo, ComboError, combo_book, combo_computations, make_combo
from ibterm.sim.contracts import match
from ibterm.sim.greeks import Computation, Side
from ibterm.sim.market import Book
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.wire.market_data import (
    ASK,
    ASK_SIZE,
    BID,
    BID_SIZE,
    CALL_OPEN_INTEREST,
    CANCEL_MKT_DATA,
    CLOSE,
    DELAYED,
    DELAYED_COMPUTATION_OFFSET,
    DELAYED_FROZEN,
    DELAYED_TICKS,
    FROZEN,
    GENERIC_OPEN_INTEREST,
    HIGH,
    LAST,
    LIVE,
    LOW,
    MARKET_DATA_TYPE,
    NO_IMPLIED_VOL,
    NO_UND_PRICE,
    OPEN,
    PUT_OPEN_INTEREST,
    REQ_MARKET_DATA_TYPE,
    REQ_MKT_DATA,
    TICK_OPTION_COMPUTATION,
    TICK_PRICE,
    TICK_SIZE,
    TICK_SNAPSHOT_END,
    VOLUME,
)
from ibterm.sim.world import SimInstrument

# Generic tick 101, open interest: IB answers with tickSize 27 (calls') and 28 (puts').
OPEN_INTEREST_TICK = {Right.CALL: CALL_OPEN_INTEREST, Right.PUT: PUT_OPEN_INTEREST}


@dataclass(slots=True)
class Subscription:
    con_id: int
    delayed: bool
    streaming: bool
    sent: dict[int, float] = field(default_factory=dict)
    combo: Combo | None = None  # a BAG's legs: its book is theirs (con_id is BAG_CON_ID)
    computed: dict[Side, Computation] = field(default_factory=dict)  # as last sent
    open_interest: bool = False  # generic tick 101 was asked for


class MarketDataDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.data_type = LIVE
        self.quotes: dict[int, Subscription] = {}

    @serves(REQ_MARKET_DATA_TYPE)
    def _req_market_data_type(self, fields: list[str]) -> None:
        data_type = REQ_MARKET_DATA_TYPE.read(self.version, fields)
        if data_type not in (LIVE, FROZEN, DELAYED, DELAYED_FROZEN):
            self.error(-1, 320, f"Error reading request: market data type {data_type}")
            return
        self.data_type = data_type

    def _effective_type(self, live_data: bool) -> int | None:
        """IB's rule: live data when subscribed (even if delayed was asked for); frozen when
        the market is closed and frozen was asked for; delayed only without a subscription."""
        requested = self.data_type
        if live_data:
            if not self.server.market_open and requested in (FROZEN, DELAYED_FROZEN):
                return FROZEN
            return LIVE
        if requested in (DELAYED, DELAYED_FROZEN):
            if not self.server.market_open and requested == DELAYED_FROZEN:
                return DELAYED_FROZEN
            return DELAYED
        return None

    @serves(REQ_MKT_DATA)
    def _req_mkt_data(self, fields: list[str]) -> None:
        req = REQ_MKT_DATA.read(self.version, fields)
        req_id = req.req_id
        sim: SimInstrument | Combo
        if req.contract.sec_type == "BAG":
            try:
                sim = make_combo(self.server.world, req.contract, req.legs)
            except ComboError as exc:
                self.error(req_id, exc.code, exc.message)
                return
        else:
            found = match(self.server.world, req.contract)
            if len(found) != 1:
                self.error(req_id, 200, "No security definition has been found for the request")
                return
            sim = found[0]
        if req.snapshot and req.generic_ticks:
            self.error(req_id, 321, "Error validating request.-'bO' : cause - Snapshot market "
                                    "data subscription is not applicable to generic ticks")
            return
        effective = self._effective_type(sim.live_data)
        if effective is None:
            self.error(req_id, 354, "Requested market data is not subscribed. Delayed "
                                    "market data is available.")
            return
        # A subscription holds one of the user's lines until it is cancelled; a snapshot
        # holds none, and a request on an id already subscribed replaces it in its line.
        if not (req.snapshot or req_id in self.quotes or self.server.market_data_line_free()):
            self.error(req_id, 101, "Max number of tickers has been reached.")
            return
        self.send(self.layout(MARKET_DATA_TYPE)(req_id, effective))
        delayed = effective in (DELAYED, DELAYED_FROZEN)
        if delayed:
            self.error(req_id, 10167, "Requested market data is not subscribed. "
                                      "Displaying delayed market data.")
        streaming = not req.snapshot and effective in (LIVE, DELAYED) and self.server.market_open
        if isinstance(sim, Combo):
            sub = Subscription(sim.con_id, delayed, streaming, combo=sim)
        else:
            sub = Subscription(sim.instrument.con_id, delayed, streaming,
                               open_interest=GENERIC_OPEN_INTEREST in req.generic_ticks)
        self.send(self._book_ticks(req_id, sub))
        if req.snapshot:
            self.send(self.layout(TICK_SNAPSHOT_END)(req_id))
        else:
            self.quotes[req_id] = sub

    @serves(CANCEL_MKT_DATA)
    def _cancel_mkt_data(self, fields: list[str]) -> None:
        self.quotes.pop(CANCEL_MKT_DATA.read(self.version, fields), None)

    def _book_ticks(self, req_id: int, sub: Subscription) -> bytes:
        market = self.server.market
        book = (combo_book(market, sub.combo, sub.delayed) if sub.combo
                else market.book(sub.con_id, sub.delayed))
        sent = sub.sent
        out: list[bytes] = []
        dmap = DELAYED_TICKS if sub.delayed else None
        tick_price, tick_size = self.layout(TICK_PRICE), self.layout(TICK_SIZE)

        def tt(tick_type: int) -> int:
            return dmap[tick_type] if dmap else tick_type

        for price_type, size_type, price, size in (
            (BID, BID_SIZE, book.bid, book.bid_size),
            (ASK, ASK_SIZE, book.ask, book.ask_size),
        ):
            if sent.get(price_type) != price:
                out.append(tick_price(req_id, tt(price_type), price, size))
                sent[price_type], sent[size_type] = price, size
            elif sent.get(size_type) != size:
                out.append(tick_size(req_id, tt(size_type), size))
                sent[size_type] = size
        if sent.get(LAST) != book.last or sent.get(VOLUME) != book.volume:
            out.append(tick_price(req_id, tt(LAST), book.last, book.last_size))
            sent[LAST] = book.last
        if sent.get(VOLUME) != book.volume:
            out.append(tick_size(req_id, tt(VOLUME), book.volume))
            sent[VOLUME] = book.volume
        for tick_type, price in ((HIGH, book.high), (LOW, book.low),
                                 (CLOSE, book.close), (OPEN, book.open)):
            if sent.get(tick_type) != price:
                out.append(tick_price(req_id, tt(tick_type), price, 0))
                sent[tick_type] = price
        if sub.open_interest:
            # Yesterday's figure, the same all day (a delayed quote has no tick of its own
            # for it): sent once.
            for right, contracts in market.open_interest(sub.con_id).items():
                tick_type = OPEN_INTEREST_TICK[right]
                if sent.get(tick_type) != contracts:
                    out.append(tick_size(req_id, tick_type, contracts))
                    sent[tick_type] = contracts
        out += self._computation_ticks(
            req_id, sub, combo_computations(market, sub.combo, sub.delayed) if sub.combo
            else market.option_computations(sub.con_id, sub.delayed))
        return b"".join(out)

    def _computation_ticks(self, req_id: int, sub: Subscription,
                           computed: dict[Side, Computation]) -> list[bytes]:
        """The option computations that changed since they were last sent."""
        out = []
        write = self.layout(TICK_OPTION_COMPUTATION)
        offset = DELAYED_COMPUTATION_OFFSET if sub.delayed else 0
        for side, c in computed.items():
            if sub.computed.get(side) == c:
                continue
            sub.computed[side] = c
            out.append(write(req_id, side + offset,
                             NO_IMPLIED_VOL if c.implied_vol is None else c.implied_vol,
                             c.delta, c.price, c.gamma, c.vega, c.theta,
                             NO_UND_PRICE if c.und_price is None else c.und_price))
        return out

    def push_quotes(self) -> None:
        if not self.quotes or self._closed:
            return
        chunks = [self._book_ticks(req_id, sub)
                  for req_id, sub in self.quotes.items() if sub.streaming]
        data = b"".join(chunks)
        if data:
            self.send(data)

    def push_bad_tick(self, con_id: int, book: Book, factor: float, crossed: bool) -> None:
        out = []
        tick_price = self.layout(TICK_PRICE)
        for req_id, sub in self.quotes.items():
            if sub.con_id != con_id or sub.delayed:
                continue
            if crossed:
                bid = round(book.ask + 10 * (book.ask - book.bid or 0.01), 6)
                out.append(tick_price(req_id, BID, bid, book.bid_size))
                sub.sent[BID] = bid
            else:
                wild = round(book.last * factor, 6)
                out.append(tick_price(req_id, LAST, wild, book.last_size))
                sub.sent[LAST] = wild
        if out:
            self.send(b"".join(out))

