"""Orders: placing (what-ifs included), cancelling, the open and completed orders, the
executions, and each client's view of its orders' changes and fills."""

from __future__ import annotations

from ibterm.sim.combos import Combo, ComboError, make_combo
from ibterm.sim.contracts import match
from ibterm.sim.order_records import OrderRequest
from ibterm.sim.orders import Fill, OrderEvents, Rejection, SimOrder
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.wire.fields import int_at
from ibterm.sim.wire.orders import (
    CANCEL_ORDER,
    COMMISSION_REPORT,
    COMPLETED_ORDER,
    COMPLETED_ORDERS_END,
    EXEC_DETAILS,
    EXEC_DETAILS_END,
    NEXT_VALID_ID,
    OPEN_ORDER,
    OPEN_ORDER_END,
    ORDER_STATUS,
    PLACE_ORDER,
    REQ_ALL_OPEN_ORDERS,
    REQ_AUTO_OPEN_ORDERS,
    REQ_COMPLETED_ORDERS,
    REQ_EXECUTIONS,
    REQ_GLOBAL_CANCEL,
    REQ_IDS,
    REQ_OPEN_ORDERS,
    UnsupportedOrder,
    exec_filter_time,
)
from ibterm.sim.world import SimInstrument


class OrderDesk(Desk):
    @serves(REQ_IDS)
    def _req_ids(self, fields: list[str]) -> None:
        self.send(self.layout(NEXT_VALID_ID)(self.server.next_order_id))

    @serves(PLACE_ORDER)
    def _place_order(self, fields: list[str]) -> None:
        order_id = int_at(fields, 1)
        server = self.server
        server.next_order_id = max(server.next_order_id, order_id + 1)
        assert self.client_id is not None
        try:
            req = PLACE_ORDER.read(self.version, fields)
            rejection = server.next_order_rejection
            is_new = (self.client_id, order_id) not in server.orders.orders
            if rejection is not None and is_new and not req.what_if:
                server.next_order_rejection = None
                self.error(order_id, *rejection)
                return
            combo: Combo | None = None
            sim: SimInstrument | None
            if req.contract.sec_type == "BAG" and req.contract.exchange:
                combo = make_combo(server.world, req.contract, req.legs)
                sim = combo.legs[0].sim
            else:
                found = match(server.world, req.contract)
                sim = found[0] if len(found) == 1 else None
            default_account = next(iter(server.accounts))
            if req.what_if:
                self._what_if(req, sim, req.account or default_account, combo)
                return
            events = server.orders.place(req, self.client_id, sim, default_account, combo)
        except UnsupportedOrder as exc:
            self.error(order_id, 201, f"Order rejected - reason:{exc}")
            return
        except (Rejection, ComboError) as exc:
            self.error(order_id, exc.code, exc.message)
            return
        server.publish(events)

    def _what_if(self, req: OrderRequest, sim: SimInstrument | None, account: str,
                 combo: Combo | None) -> None:
        engine = self.server.orders
        engine.validate(req, sim, account, combo)
        assert sim is not None and self.client_id is not None
        margin = engine.margin_check(req, sim, account, combo=combo)
        order = SimOrder(req, self.client_id, 0, sim, account, status="PreSubmitted",
                         quantity=req.quantity, combo=combo)
        self.send(self.layout(OPEN_ORDER)(order.view(), order.contract, margin))

    @serves(CANCEL_ORDER)
    def _cancel_order(self, fields: list[str]) -> None:
        order_id = CANCEL_ORDER.read(self.version, fields)
        assert self.client_id is not None
        try:
            events = self.server.orders.cancel(self.client_id, order_id)
        except Rejection as exc:
            self.error(order_id, exc.code, exc.message)
            return
        self.server.publish(events)

    @serves(REQ_GLOBAL_CANCEL)
    def _req_global_cancel(self, fields: list[str]) -> None:
        # IB cancels every open order of the account, whichever client placed it.
        self.server.publish(self.server.orders.cancel_all(set(self.server.accounts)))

    def _sees(self, order: SimOrder) -> bool:
        """A client sees its own orders; client 0 (the master here) sees all of them."""
        return order.client_id == self.client_id or self.client_id == 0

    @serves(REQ_OPEN_ORDERS)
    def _req_open_orders(self, fields: list[str]) -> None:
        self._send_open_orders(all_clients=False)

    @serves(REQ_ALL_OPEN_ORDERS)
    def _req_all_open_orders(self, fields: list[str]) -> None:
        self._send_open_orders(all_clients=True)

    @serves(REQ_AUTO_OPEN_ORDERS)
    def _req_auto_open_orders(self, fields: list[str]) -> None:
        """Accepted and ignored: every client already hears of its own orders' changes."""

    def _send_open_orders(self, all_clients: bool) -> None:
        open_order, order_status = self.layout(OPEN_ORDER), self.layout(ORDER_STATUS)
        out = [open_order(o.view(), o.contract) + order_status(o.view(), o.avg_price,
                                                               o.last_fill)
               for o in self.server.orders.working() if all_clients or self._sees(o)]
        out.append(self.layout(OPEN_ORDER_END)())
        self.send(b"".join(out))

    @serves(REQ_COMPLETED_ORDERS)
    def _req_completed_orders(self, fields: list[str]) -> None:
        completed_order = self.layout(COMPLETED_ORDER)
        out = [completed_order(o.view(), o.contract, o.completed_time)
               for o in self.server.orders.orders.values() if o.done]
        out.append(self.layout(COMPLETED_ORDERS_END)())
        self.send(b"".join(out))

    @serves(REQ_EXECUTIONS)
    def _req_executions(self, fields: list[str]) -> None:
        f = REQ_EXECUTIONS.read(self.version, fields)
        try:
            since = exec_filter_time(f.time)
        except ValueError:
            self.error(f.req_id, 321, f"Error validating request: execution filter time "
                                      f"{f.time!r} is not yyyymmdd-hh:mm:ss")
            return
        out = []
        for fill in self.server.orders.fills:
            o, inst = fill.order, fill.contract
            sec_type = "BAG" if isinstance(inst, Combo) else inst.sec_type.value
            if f.client_id and o.client_id != f.client_id:
                continue
            filled_at = exec_filter_time(fill.time)
            if since is not None and filled_at is not None and filled_at < since:
                continue
            if (f.account and o.account != f.account) or (f.symbol and inst.symbol != f.symbol) \
                    or (f.sec_type and sec_type != f.sec_type) \
                    or (f.side and f.side != ("BUY" if fill.bought else "SELL")):
                continue
            out.append(self._fill_messages(f.req_id, fill))
        out.append(self.layout(EXEC_DETAILS_END)(f.req_id))
        self.send(b"".join(out))

    def _fill_messages(self, req_id: int, fill: Fill) -> bytes:
        side = "BOT" if fill.bought else "SLD"
        return self.layout(EXEC_DETAILS)(
            req_id, fill.order.view(), fill.contract, fill.exec_id, fill.time, side,
            fill.shares, fill.price, fill.cum_qty, fill.avg_price,
        ) + self.layout(COMMISSION_REPORT)(fill.exec_id, fill.commission, fill.realized)

    def push_order_events(self, events: OrderEvents) -> None:
        if self._closed or not self.ready:
            return
        mine = [o for o in events.changed if self._sees(o)]
        fills = [f for f in events.fills if self._sees(f.order)]
        if not mine and not fills:
            return
        open_order, order_status = self.layout(OPEN_ORDER), self.layout(ORDER_STATUS)
        out = [open_order(o.view(), o.contract) for o in mine]
        out += [self._fill_messages(-1, f) for f in fills]
        out += [order_status(o.view(), o.avg_price, o.last_fill) for o in mine]
        self.send(b"".join(out))
