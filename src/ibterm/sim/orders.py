"""The simulator's order engine: validation, brackets, OCA groups, triggers and fills.

Rules (docs/simulator.md has the full table):
- An order with transmit=False is held, unseen, until an order of its chain (same
  parent, or its parent) arrives with transmit=True; then the chain is released.
- Children of a bracket wait (PreSubmitted) until their parent is completely filled.
  Siblings of one parent reduce one another like OCA type 2; cancelling a parent cancels
  its children.
- OCA groups (per account): type 1 cancels the others on a fill; 2 reduces them by the
  filled quantity, with block (fills in a group are processed one at a time); 3 reduces
  without block (every member may fill on the same market step, so it can overfill).
- Fills come from the live book: marketable orders at the touch, up to the displayed size
  (what one step's orders take is gone for the rest of that step); resting limits also fill
  at their limit when the last trade goes through them. Stops trigger on the last price
  and then behave as market (STP) or limit (STP LMT) orders. TRAIL follows the best last
  price by an amount (auxPrice) or a percentage.
- Combos (BAG, MKT or LMT at a net debit or credit) fill whole when their natural price
  (sim/combos.py) reaches the limit, as many units as every leg's displayed size allows:
  each leg at its touch, its own execution and commission, then the combo's execution.
- IOC orders are cancelled after their first chance to fill. DAY and GTC orders both stay
  working: the simulated session never ends. outsideRth is accepted and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain
from ibterm.domain.ticks import on_tick, round_to_tick
from ibterm.sim.accounts import SimAccount, SimPosition
from ibterm.sim.combos import Combo, ComboLeg, combo_book
from ibterm.sim.commissions import commission
from ibterm.sim.market import Book, Market
from ibterm.sim.order_records import MarginState, OrderRequest, OrderView
from ibterm.sim.world import SimInstrument, World

ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT", "TRAIL"})
COMBO_ORDER_TYPES = frozenset({"MKT", "LMT"})
TIFS = frozenset({"DAY", "GTC", "IOC"})
DONE = frozenset({"Filled", "Cancelled", "Inactive", "ApiCancelled"})


class Rejection(Exception):
    """An order the gateway refuses: IB's code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class SimOrder:
    req: OrderRequest
    client_id: int
    perm_id: int
    sim: SimInstrument  # what it trades; a combo's first leg (the symbol /orders names)
    account: str
    status: str = "PendingSubmit"
    filled: float = 0.0
    avg_price: float = 0.0
    last_fill: float = 0.0
    quantity: float = 0.0  # can shrink (OCA reduce)
    held: bool = False  # transmit=False, waiting for its chain
    triggered: bool = False  # stop orders: the stop has been hit
    trail_stop: float | None = None
    extreme: float | None = None  # best last price seen, for TRAIL
    seen_volume: float = -1.0  # market volume when it last filled on a trade-through
    completed_time: str = ""
    combo: Combo | None = None  # a BAG order: it fills all of these legs at once
    leg_avg: dict[int, float] = field(default_factory=dict)  # a combo leg's average price

    @property
    def contract(self) -> Instrument | Combo:
        """What its messages name: the instrument, or the combo."""
        return self.combo or self.sim.instrument

    @property
    def key(self) -> tuple[int, int]:
        return (self.client_id, self.req.order_id)

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def buy(self) -> bool:
        return self.req.action == "BUY"

    @property
    def done(self) -> bool:
        return self.status in DONE

    def view(self) -> OrderView:
        r = self.req
        return OrderView(
            order_id=r.order_id, client_id=self.client_id, perm_id=self.perm_id,
            parent_id=r.parent_id, account=self.account, action=r.action,
            quantity=self.quantity, order_type=r.order_type, limit=r.limit, aux=r.aux,
            tif=r.tif, oca_group=r.oca_group, oca_type=r.oca_type, order_ref=r.order_ref,
            outside_rth=r.outside_rth,
            trail_stop_price=self.trail_stop if r.order_type == "TRAIL" else None,
            trailing_percent=r.trailing_percent, what_if=r.what_if, status=self.status,
            filled=self.filled, combo_params=r.combo_params,
        )


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. A combo's fill is one per leg (`leg` set, in the leg's shares and
    price) and then the combo's own, in combo units at the net price, as IB reports them."""

    order: SimOrder
    exec_id: str
    time: str
    shares: float
    price: float
    commission: float
    realized: float | None
    leg: ComboLeg | None = None

    @property
    def contract(self) -> Instrument | Combo:
        return self.leg.sim.instrument if self.leg else self.order.contract

    @property
    def bought(self) -> bool:
        """A combo's sold leg is sold when the combo is bought."""
        return self.order.buy == (self.leg.buy if self.leg else True)

    @property
    def cum_qty(self) -> float:
        return self.order.filled * (self.leg.ratio if self.leg else 1)

    @property
    def avg_price(self) -> float:
        if self.leg:
            return self.order.leg_avg[self.leg.sim.instrument.con_id]
        return self.order.avg_price

    @property
    def position_con_id(self) -> int | None:
        """The instrument whose position it moved; None for a combo's own execution."""
        if self.order.combo is None:
            return self.order.sim.instrument.con_id
        return self.leg.sim.instrument.con_id if self.leg else None


@dataclass(slots=True)
class OrderEvents:
    """What changed, for the server to tell the clients."""

    changed: list[SimOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    def touch(self, order: SimOrder) -> None:
        if order not in self.changed:
            self.changed.append(order)


class OrderEngine:
    def __init__(self, world: World, market: Market, accounts: dict[str, SimAccount],
                 surcharge: float = 0.0, clock: Callable[[], dt.datetime] | None = None):
        self.world = world
        self.market = market
        self.accounts = accounts
        self.surcharge = surcharge
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self.fills: list[Fill] = []
        self._next_perm = 1_000_000_001
        self._exec_seq = 0
        self._taken: dict[tuple[int, bool], float] = {}  # (con_id, buy) -> size used this step
        self._taken_step = -1

    # --- placing ---------------------------------------------------------------------
    def validate(self, req: OrderRequest, sim: SimInstrument | None, account: str,
                 combo: Combo | None = None) -> None:
        _require_exchange(req)
        if sim is None:
            raise Rejection(200, "No security definition has been found for the request")
        if account not in self.accounts:
            raise Rejection(201, f"Order rejected - reason:Unknown account {account!r}")
        if req.action not in ("BUY", "SELL"):
            raise Rejection(201, f"Order rejected - reason:Invalid action {req.action!r}")
        if req.order_type not in (ORDER_TYPES if combo is None else COMBO_ORDER_TYPES):
            kind = "" if combo is None else "for combination orders "
            raise Rejection(201, f"Order rejected - reason:Order type {req.order_type} is "
                                 f"not supported {kind}by the simulator")
        if req.tif not in TIFS:
            raise Rejection(201, f"Order rejected - reason:Time in force {req.tif} is not "
                                 "supported by the simulator")
        if combo is not None:
            _validate_combo(req, combo)
            return
        inst = sim.instrument
        if not req.quantity > 0 or not math.isfinite(req.quantity):
            raise Rejection(201, "Order rejected - reason:The order quantity must be positive")
        steps = req.quantity / inst.size_increment
        if abs(steps - round(steps)) > 1e-9:
            raise Rejection(201, f"Order rejected - reason:The order quantity must be a multiple "
                                 f"of {plain(inst.size_increment)}")
        prices = {"LMT": [req.limit], "STP": [req.aux], "STP LMT": [req.limit, req.aux]}
        for price in prices.get(req.order_type, []):
            if price is None or not math.isfinite(price) or price <= 0:
                raise Rejection(201, f"Order rejected - reason:A {req.order_type} order needs "
                                     "a positive price")
            if not on_tick(price, inst.min_tick):
                raise Rejection(110, "The price does not conform to the minimum price "
                                     "variation for this contract.")
        if req.order_type == "TRAIL" and not (req.aux or req.trailing_percent):
            raise Rejection(201, "Order rejected - reason:A TRAIL order needs a trailing "
                                 "amount or percent")

    def _fills_at_mark(self, req: OrderRequest, sim: SimInstrument,
                       combo: Combo | None) -> list[tuple[SimInstrument, float, float, float]]:
        """(instrument, signed quantity, price, commission) of the order filled whole at
        the marks: one per leg for a combo."""
        side = 1 if req.action == "BUY" else -1
        legs = ([(leg.sim, side * leg.sign * leg.ratio) for leg in combo.legs] if combo
                else [(sim, side)])
        out = []
        for leg_sim, per_unit in legs:
            price = self.market.mark(leg_sim.instrument.con_id)
            qty = per_unit * req.quantity
            out.append((leg_sim, qty, price, commission(leg_sim.instrument, qty, price)))
        return out

    def margin_check(self, req: OrderRequest, sim: SimInstrument, account: str,
                     reserved: float = 0.0, combo: Combo | None = None) -> MarginState:
        """Margin before and after the order as if filled at the current mark: the account's
        margin (the local calculator, accounts.py) times 1 + the house surcharge. A combo
        is the change of all its legs at once, so the calculator pairs them."""
        acct = self.accounts[account]
        before = acct.values(self.world, self.market)
        trial = _copy_account(acct)
        fee = 0.0
        for leg_sim, qty, price, leg_fee in self._fills_at_mark(req, sim, combo):
            trial.apply_fill(leg_sim, qty, price, leg_fee)
            fee += leg_fee
        fee = round(fee, 2)
        after = trial.values(self.world, self.market)
        factor = 1.0 + self.surcharge
        return MarginState(
            init_before=round(before["InitMarginReq"] * factor, 2),
            maint_before=round(before["MaintMarginReq"] * factor, 2),
            ewl_before=round(before["EquityWithLoanValue"], 2),
            init_after=round(after["InitMarginReq"] * factor + reserved, 2),
            maint_after=round(after["MaintMarginReq"] * factor, 2),
            ewl_after=round(after["EquityWithLoanValue"], 2),
            commission=fee,
        )

    def place(self, req: OrderRequest, client_id: int, sim: SimInstrument | None,
              default_account: str, combo: Combo | None = None) -> OrderEvents:
        """Place or modify; raise Rejection with IB's code when the gateway would refuse.
        A combo's `sim` is its first leg."""
        account = req.account or default_account
        existing = self.orders.get((client_id, req.order_id))
        if existing is not None:
            _require_exchange(req)
            return self._modify(existing, req, sim, combo)
        self.validate(req, sim, account, combo)
        assert sim is not None
        if req.parent_id:
            parent = self.orders.get((client_id, req.parent_id))
            if parent is None or parent.done:
                raise Rejection(201, f"Order rejected - reason:Parent order {req.parent_id} "
                                     "is not working")
        if not req.what_if and self._opens_more(req, sim, account, combo):
            margin = self.margin_check(req, sim, account, combo=combo)
            if margin.init_after > margin.ewl_after:
                raise Rejection(201, "Order rejected - reason:Your order is not accepted "
                                     "because your Equity with Loan Value of "
                                     f"[{margin.ewl_after:,.2f} USD] is insufficient to cover "
                                     "the Initial Margin requirement of "
                                     f"[{margin.init_after:,.2f} USD]")
        order = SimOrder(req, client_id, self._next_perm, sim, account, quantity=req.quantity,
                         combo=combo)
        self._next_perm += 1
        events = OrderEvents()
        if req.what_if:
            return events  # the server answers what-ifs itself; nothing is kept
        self.orders[order.key] = order
        order.held = not req.transmit
        if order.held:
            return events  # invisible until its chain is transmitted
        for member in self._chain(order):
            if member.held or member is order:
                member.held = False
                self._activate(member, events)
        self._match_all(events, only=[o for o in self._chain(order) if not o.done])
        return events

    def _opens_more(self, req: OrderRequest, sim: SimInstrument, account: str,
                    combo: Combo | None = None) -> bool:
        """Whether the order makes any position it touches larger (a combo: any leg's)."""
        positions = self.accounts[account].positions
        for leg_sim, signed, _, _ in self._fills_at_mark(req, sim, combo):
            pos = positions.get(leg_sim.instrument.con_id)
            qty = pos.quantity if pos else 0.0
            if abs(qty + signed) > abs(qty):
                return True
        return False

    def book(self, order: SimOrder) -> Book:
        """The book an order meets: its instrument's, or its combo's from the legs'."""
        if order.combo is not None:
            return combo_book(self.market, order.combo)
        return self.market.book(order.sim.instrument.con_id)

    def _chain(self, order: SimOrder) -> list[SimOrder]:
        root_id = order.req.parent_id or order.req.order_id
        return sorted(
            (o for o in self.orders.values()
             if o.client_id == order.client_id
             and (o.req.order_id == root_id or o.req.parent_id == root_id)),
            key=lambda o: (o.req.parent_id != 0, o.req.order_id),
        )

    def _activate(self, order: SimOrder, events: OrderEvents) -> None:
        r = order.req
        waiting_parent = False
        if r.parent_id:
            parent = self.orders.get((order.client_id, r.parent_id))
            waiting_parent = parent is not None and parent.status != "Filled"
        if r.order_type == "TRAIL":
            self._init_trail(order)
        # Trades before it arrived are not trades through it.
        order.seen_volume = self.book(order).volume
        stop_like = r.order_type in ("STP", "STP LMT", "TRAIL")
        order.status = "PreSubmitted" if (waiting_parent or stop_like) else "Submitted"
        events.touch(order)

    def _init_trail(self, order: SimOrder) -> None:
        last = self.market.book(order.sim.instrument.con_id).last
        order.extreme = last
        order.trail_stop = order.req.trail_stop_price or self._trail_from(order, last)

    def _trail_from(self, order: SimOrder, extreme: float) -> float:
        r = order.req
        tick = order.sim.instrument.min_tick
        offset = extreme * r.trailing_percent / 100 if r.trailing_percent else (r.aux or 0.0)
        stop = extreme + offset if order.buy else extreme - offset
        return round_to_tick(stop, tick)

    def _modify(self, order: SimOrder, req: OrderRequest, sim: SimInstrument | None,
                combo: Combo | None = None) -> OrderEvents:
        if order.status == "Filled":
            raise Rejection(104, "Can't modify a filled order.")
        if order.done:
            raise Rejection(201, f"Order rejected - reason:Order {req.order_id} is "
                                 f"{order.status} and cannot be modified")
        same = (combo.key() == order.combo.key() if combo and order.combo
                else combo is None and order.combo is None and sim is not None
                and sim.instrument.con_id == order.sim.instrument.con_id)
        if not same:
            raise Rejection(201, "Order rejected - reason:The contract of an order cannot "
                                 "be modified")
        if req.action != order.req.action:
            raise Rejection(201, "Order rejected - reason:The side of an order cannot be "
                                 "modified")
        self.validate(req, sim, order.account, combo)
        if req.quantity < order.filled:
            raise Rejection(201, "Order rejected - reason:The new quantity is below the "
                                 "filled quantity")
        order.req = replace(req, parent_id=order.req.parent_id)
        order.quantity = req.quantity
        events = OrderEvents()
        if order.held and req.transmit:
            for member in self._chain(order):
                if member.held:
                    member.held = False
                    self._activate(member, events)
        elif not order.held:
            if req.order_type == "TRAIL":
                self._init_trail(order)
            events.touch(order)
        self._match_all(events, only=[order])
        return events

    def edit(self, order_ref: str, **changes: object) -> OrderEvents:
        """A working order changed outside the API, as in TWS's own order window (its
        time in force, outside RTH): `changes` are OrderRequest fields. Its owner hears
        of it by openOrder, as from TWS."""
        order = next((o for o in self.orders.values()
                      if o.req.order_ref == order_ref and not o.done), None)
        if order is None:
            raise KeyError(f"no working order {order_ref!r}")
        order.req = replace(order.req, **changes)  # type: ignore[arg-type]
        events = OrderEvents()
        events.touch(order)
        return events

    # --- cancelling ------------------------------------------------------------------
    def cancel(self, client_id: int, order_id: int) -> OrderEvents:
        order = self.orders.get((client_id, order_id))
        if order is None:
            raise Rejection(10147, f"OrderId {order_id} that needs to be cancelled is not "
                                   "found.")
        if order.done:
            raise Rejection(161, "Cancel attempted when order is not in a cancellable state. "
                                 f"Order permId ={order.perm_id}")
        events = OrderEvents()
        self._cancel(order, events)
        return events

    def cancel_all(self, accounts: set[str] | None = None) -> OrderEvents:
        events = OrderEvents()
        for order in list(self.orders.values()):
            if not order.done and (accounts is None or order.account in accounts):
                self._cancel(order, events)
        return events

    def _cancel(self, order: SimOrder, events: OrderEvents, status: str = "Cancelled") -> None:
        if order.done:
            return
        order.status = status
        order.completed_time = self._now()
        events.touch(order)
        for child in self.orders.values():
            if child.client_id == order.client_id and child.req.parent_id == order.req.order_id:
                self._cancel(child, events)

    # --- matching --------------------------------------------------------------------
    def on_step(self) -> OrderEvents:
        events = OrderEvents()
        self._match_all(events)
        return events

    def working(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if not o.done and not o.held]

    def _match_all(self, events: OrderEvents, only: list[SimOrder] | None = None) -> None:
        if self._taken_step != self.market.steps:
            self._taken.clear()
            self._taken_step = self.market.steps
        candidates = only if only is not None else sorted(self.working(), key=lambda o: o.perm_id)
        pending_no_block: list[tuple[SimOrder, float, float]] = []
        for order in candidates:
            if order.done or order.held or not self._active(order):
                continue
            book = self.book(order)
            self._update_stop(order, book)
            fill = self._fillable(order, book)
            if fill is None:
                if order.req.tif == "IOC":
                    self._cancel(order, events)
                continue
            shares, price = fill
            if order.req.oca_group and order.req.oca_type == 3:
                pending_no_block.append((order, shares, price))
                continue
            self._execute(order, shares, price, events)
            if order.req.tif == "IOC" and not order.done:
                self._cancel(order, events)
        # Without block, every member marketable on this step executes before any of them
        # reduces the others: that is how a type 3 group overfills.
        executed = []
        for order, shares, price in pending_no_block:
            if not order.done:
                self._execute(order, shares, price, events, apply_oca=False)
                executed.append((order, shares))
        for order, shares in executed:
            self._apply_oca(order, shares, events)

    def _active(self, order: SimOrder) -> bool:
        if order.req.parent_id:
            parent = self.orders.get((order.client_id, order.req.parent_id))
            return parent is not None and parent.status == "Filled"
        return True

    def _update_stop(self, order: SimOrder, book: Book) -> None:
        r = order.req
        if r.order_type == "TRAIL" and not order.triggered:
            assert order.extreme is not None
            better = book.last > order.extreme if not order.buy else book.last < order.extreme
            if better:
                order.extreme = book.last
                new_stop = self._trail_from(order, book.last)
                assert order.trail_stop is not None
                if (new_stop > order.trail_stop) != order.buy:
                    order.trail_stop = new_stop
        if order.triggered or r.order_type not in ("STP", "STP LMT", "TRAIL"):
            return
        stop = order.trail_stop if r.order_type == "TRAIL" else r.aux
        assert stop is not None
        if (order.buy and book.last >= stop) or (not order.buy and book.last <= stop):
            order.triggered = True
            if order.status == "PreSubmitted":
                order.status = "Submitted"

    def _fillable(self, order: SimOrder, book: Book) -> tuple[float, float] | None:
        r = order.req
        kind = r.order_type
        if kind in ("STP", "STP LMT", "TRAIL") and not order.triggered:
            return None
        limit = r.limit if kind in ("LMT", "STP LMT") else None
        if order.combo is not None:
            return self._combo_fillable(order, order.combo, book, limit)
        touch, size = (book.ask, book.ask_size) if order.buy else (book.bid, book.bid_size)
        key = (order.sim.instrument.con_id, order.buy)
        available = size - self._taken.get(key, 0.0)
        marketable = limit is None or (touch <= limit if order.buy else touch >= limit)
        if marketable and available > 0:
            shares = min(order.remaining, available)
            self._taken[key] = self._taken.get(key, 0.0) + shares
            return shares, touch
        traded = book.volume > order.seen_volume
        if limit is not None and traded and (book.last < limit if order.buy
                                             else book.last > limit):
            # A new trade went through the resting limit: it fills there, once per trade.
            order.seen_volume = book.volume
            shares = min(order.remaining, max(book.last_size, order.sim.lot))
            return shares, limit
        return None

    def _combo_fillable(self, order: SimOrder, combo: Combo, book: Book,
                        limit: float | None) -> tuple[float, float] | None:
        """A combo fills whole at its natural price when that reaches its limit, as many
        units as every leg's displayed size allows; what it takes of each leg is gone for
        the other orders of the step. It does not fill on trades through its limit: a
        combo has no trades of its own."""
        touch = book.ask if order.buy else book.bid
        if limit is not None and (touch > limit + 1e-9 if order.buy else touch < limit - 1e-9):
            return None
        units = order.remaining
        for leg in combo.legs:
            leg_buy = order.buy == leg.buy
            b = self.market.book(leg.sim.instrument.con_id)
            size = b.ask_size if leg_buy else b.bid_size
            left = size - self._taken.get((leg.sim.instrument.con_id, leg_buy), 0.0)
            units = min(units, left // leg.ratio)
        if units <= 0:
            return None
        for leg in combo.legs:
            key = (leg.sim.instrument.con_id, order.buy == leg.buy)
            self._taken[key] = self._taken.get(key, 0.0) + units * leg.ratio
        return units, touch

    def _execute(self, order: SimOrder, shares: float, price: float, events: OrderEvents,
                 apply_oca: bool = True) -> None:
        if shares <= 0 or order.done:
            return
        if order.combo is not None:
            self._execute_combo(order, order.combo, shares, price, events)
        else:
            self._execute_single(order, shares, price, events)
        if order.remaining <= 1e-9:
            order.status = "Filled"
            order.completed_time = self._now()
            self._release_children(order, events)
        else:
            order.status = "Submitted"
        events.touch(order)
        if apply_oca:
            self._apply_oca(order, shares, events)

    def _execute_combo(self, order: SimOrder, combo: Combo, units: float, price: float,
                       events: OrderEvents) -> None:
        """Every leg at its touch (which together make the natural `price`), each its own
        execution with its own commission; then the combo's execution, commission-free."""
        total = order.filled + units
        for leg in combo.legs:
            leg_buy = order.buy == leg.buy
            con_id = leg.sim.instrument.con_id
            b = self.market.book(con_id)
            leg_price = b.ask if leg_buy else b.bid
            shares = units * leg.ratio
            fee = commission(leg.sim.instrument, shares, leg_price)
            realized = self.accounts[order.account].apply_fill(
                leg.sim, shares if leg_buy else -shares, leg_price, fee)
            done = order.filled * leg.ratio
            order.leg_avg[con_id] = ((order.leg_avg.get(con_id, 0.0) * done + leg_price * shares)
                                     / (done + shares))
            self._record(Fill(order, self._exec_id(), self._now(), shares, leg_price, fee,
                              realized, leg), events)
        order.avg_price = (order.avg_price * order.filled + price * units) / total
        order.filled = total
        order.last_fill = price
        self._record(Fill(order, self._exec_id(), self._now(), units, price, 0.0, None), events)

    def _exec_id(self) -> str:
        self._exec_seq += 1
        return f"0000e0d5.{self._exec_seq:08d}.01.01"

    def _record(self, fill: Fill, events: OrderEvents) -> None:
        self.fills.append(fill)
        events.fills.append(fill)

    def _execute_single(self, order: SimOrder, shares: float, price: float,
                        events: OrderEvents) -> None:
        inst = order.sim.instrument
        fee = commission(inst, shares, price)
        signed = shares if order.buy else -shares
        realized = self.accounts[order.account].apply_fill(order.sim, signed, price, fee)
        total = order.filled + shares
        order.avg_price = (order.avg_price * order.filled + price * shares) / total
        order.filled += shares
        order.last_fill = price
        self._record(Fill(order, self._exec_id(), self._now(), shares, price, fee, realized),
                     events)

    def _release_children(self, parent: SimOrder, events: OrderEvents) -> None:
        for child in self.orders.values():
            if (child.client_id == parent.client_id and child.req.parent_id == parent.req.order_id
                    and not child.done and not child.held):
                if child.req.order_type in ("LMT", "MKT"):
                    child.status = "Submitted"
                events.touch(child)

    def _apply_oca(self, order: SimOrder, shares: float, events: OrderEvents) -> None:
        group = order.req.oca_group
        siblings: list[tuple[SimOrder, int]] = []
        if group:
            siblings += [(o, order.req.oca_type) for o in self.orders.values()
                         if o is not order and o.req.oca_group == group
                         and o.account == order.account and not o.done]
        if order.req.parent_id:
            # Bracket children protect one position: a fill in one reduces the others.
            siblings += [(o, 2) for o in self.orders.values()
                         if o is not order and o.client_id == order.client_id
                         and o.req.parent_id == order.req.parent_id and not o.done
                         and not any(o is s for s, _ in siblings)]
        for other, oca_type in siblings:
            if oca_type == 1:
                self._cancel(other, events)
                continue
            other.quantity = max(other.quantity - shares, other.filled)
            if other.remaining <= 1e-9:
                self._cancel(other, events)
            else:
                events.touch(other)

    def _now(self) -> str:
        return self.clock().strftime("%Y%m%d %H:%M:%S UTC")


def _validate_combo(req: OrderRequest, combo: Combo) -> None:
    """A combo is bought or sold whole, in whole units, at market or at a net limit, which
    may be a credit (negative) as at IB."""
    if not req.quantity > 0 or not math.isfinite(req.quantity) \
            or abs(req.quantity - round(req.quantity)) > 1e-9:
        raise Rejection(201, "Order rejected - reason:A combination order's quantity must "
                             "be a positive whole number")
    if req.order_type == "LMT":
        if req.limit is None or not math.isfinite(req.limit):
            raise Rejection(201, "Order rejected - reason:A LMT order needs a price")
        if not on_tick(abs(req.limit), combo.min_tick):
            raise Rejection(110, "The price does not conform to the minimum price "
                                 "variation for this contract.")


def _require_exchange(req: OrderRequest) -> None:
    """TWS validates an order's destination before looking its contract up: an order (or a
    what-if) with no exchange is refused with 321 whatever its contract, e.g. one built
    from a position, which names no exchange. IB's text, as TWS logs it in third-party
    code quoting it (see docs/simulator.md#refusals)."""
    if not req.contract.exchange:
        raise Rejection(321, "Error validating request.-'bN' : cause - Missing order exchange")


def _copy_account(acct: SimAccount) -> SimAccount:
    copy = SimAccount(acct.id, acct.currency, acct.cash, realized=acct.realized)
    copy.positions = {k: SimPosition(p.con_id, p.quantity, p.avg_price, p.realized)
                      for k, p in acct.positions.items()}
    return copy
