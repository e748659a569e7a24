"""Order requests and answers, mirroring ib_async 2.1.0's client.placeOrder and
decoder.openOrder/completedOrder field for field: placeOrder (3), cancelOrder (4),
reqOpenOrders (5), reqExecutions (7), reqIds (8), reqAutoOpenOrders (15),
reqAllOpenOrders (16), reqGlobalCancel (58), reqCompletedOrders (99), and openOrder,
orderStatus, execDetails, commissionReport, completedOrder, nextValidId and their ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from ibterm.domain.instrument import Instrument
from ibterm.sim.combos import Combo
from ibterm.sim.contracts import ContractQuery, LegQuery
from ibterm.sim.order_records import MarginState, OrderRequest, OrderView
from ibterm.sim.protocol import Field, encode
from ibterm.sim.wire.contract_fields import combo_fields, contract11
from ibterm.sim.wire.fields import int_field, nothing
from ibterm.sim.wire.layouts import Incoming, Layouts

UNSET_DOUBLE = 1.7976931348623157e308


class UnsupportedOrder(ValueError):
    """A well-formed order using a feature the simulator does not implement."""


class _Reader:
    def __init__(self, fields: list[str]):
        self._fields = fields
        self._it: Iterator[str] = iter(fields)

    def str(self) -> str:
        try:
            return next(self._it)
        except StopIteration:
            raise ValueError("placeOrder message ends early") from None

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.str()

    def int(self) -> int:
        text = self.str()
        return int(text) if text else 0

    def float(self) -> float | None:
        text = self.str()
        if not text:
            return None
        value = float(text)
        return None if value >= UNSET_DOUBLE else value

    def bool(self) -> bool:
        return self.str() == "1"


def parse_place_order(fields: list[str], fa_profile: bool = False) -> OrderRequest:
    """placeOrder as ib_async writes it at 177 and later; `fa_profile`: as written below
    177 (ib_insync always), with the faProfile field after faPercentage."""
    r = _Reader(fields)
    r.skip(1)  # message id 3; no version field
    order_id = r.int()
    contract = ContractQuery.from_fields([r.str() for _ in range(12)])
    r.skip(2)  # secIdType, secId
    action = r.str().upper()
    quantity = r.float() or 0.0
    order_type = r.str().upper()
    limit, aux = r.float(), r.float()
    tif = r.str().upper() or "DAY"
    oca_group = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit = r.bool()
    parent_id = r.int()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.bool()
    r.skip(1)  # hidden
    legs: tuple[LegQuery, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    if contract.sec_type == "BAG":
        legs = tuple(_read_leg(r) for _ in range(r.int()))
        if any(r.str() for _ in range(r.int())):
            raise UnsupportedOrder("combo orders with per-leg prices are not supported by "
                                   "the simulator")
        params = tuple((r.str(), r.str()) for _ in range(r.int()))
    r.skip(7)  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPct
    r.skip(fa_profile)
    r.skip(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
    oca_type = r.int()
    r.skip(17)  # rule80A … volatilityType (see client.placeOrder)
    dn_type = r.str()
    r.skip(1)  # deltaNeutralAuxPrice
    if dn_type:
        raise UnsupportedOrder("delta-neutral orders are not supported by the simulator")
    r.skip(2)  # continuousUpdate, referencePriceType
    trail_stop_price = r.float()
    trailing_percent = r.float()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.float()
    if increment is not None and increment > 0:
        raise UnsupportedOrder("scale orders are not supported by the simulator")
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.str():
        raise UnsupportedOrder("hedge orders are not supported by the simulator")
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():
        raise UnsupportedOrder("delta-neutral contracts are not supported by the simulator")
    if r.str():
        raise UnsupportedOrder("algo orders are not supported by the simulator")
    r.skip(1)  # algoId
    what_if = r.bool()
    return OrderRequest(
        order_id=order_id, contract=contract, action=action, quantity=quantity,
        order_type=order_type, limit=limit, aux=aux, tif=tif, oca_group=oca_group,
        account=account, order_ref=order_ref, transmit=transmit, parent_id=parent_id,
        outside_rth=outside_rth, oca_type=oca_type, trail_stop_price=trail_stop_price,
        trailing_percent=trailing_percent, what_if=what_if, legs=legs, combo_params=params,
    )


def _read_leg(r: _Reader) -> LegQuery:
    leg = LegQuery(r.int(), r.int(), r.str(), r.str())
    r.skip(4)  # openClose, shortSaleSlot, designatedLocation, exemptCode
    return leg


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    req_id: int
    client_id: int  # 0: every client's
    account: str
    time: str  # as sent: read it with exec_filter_time
    symbol: str
    sec_type: str
    side: str


def _read_executions(fields: list[str]) -> ExecutionFilter:
    return ExecutionFilter(req_id=int(fields[2]), client_id=int(fields[3] or 0),
                           account=fields[4], time=fields[5], symbol=fields[6].upper(),
                           sec_type=fields[7].upper(), side=fields[9].upper())


def exec_filter_time(text: str) -> dt.datetime | None:
    """An execution filter's time: `yyyymmdd-hh:mm:ss` (UTC) or `yyyymmdd hh:mm:ss`
    (the simulator's zone is UTC), optionally followed by ` UTC`; None when empty."""
    text = text.strip().removesuffix(" UTC").removesuffix(" GMT")
    if not text:
        return None
    return dt.datetime.strptime(text.replace("-", " ", 1), "%Y%m%d %H:%M:%S").replace(
        tzinfo=dt.UTC)


def parse_place_order_v176(fields: list[str]) -> OrderRequest:
    return parse_place_order(fields, fa_profile=True)


PLACE_ORDER = Incoming(3, "placeOrder", {176: parse_place_order_v176, 177: parse_place_order})
CANCEL_ORDER = Incoming(4, "cancelOrder", {176: int_field(2)})
REQ_OPEN_ORDERS = Incoming(5, "reqOpenOrders", {176: nothing})
REQ_EXECUTIONS = Incoming(7, "reqExecutions", {176: _read_executions})
REQ_IDS = Incoming(8, "reqIds", {176: nothing})
REQ_AUTO_OPEN_ORDERS = Incoming(15, "reqAutoOpenOrders", {176: nothing})
REQ_ALL_OPEN_ORDERS = Incoming(16, "reqAllOpenOrders", {176: nothing})
REQ_GLOBAL_CANCEL = Incoming(58, "reqGlobalCancel", {176: nothing})
REQ_COMPLETED_ORDERS = Incoming(99, "reqCompletedOrders", {176: nothing})


def _num(value: float | None) -> Field:
    return "" if value is None else value


def _order_combo(o: OrderView, inst: Instrument | Combo) -> tuple[Field, ...]:
    """A combo's description and legs, no per-leg prices, and the routing parameters the
    order was placed with."""
    params: list[Field] = [len(o.combo_params)]
    for tag, value in o.combo_params:
        params += [tag, value]
    return (*combo_fields(inst), 0, *params)


def open_order(o: OrderView, inst: Instrument | Combo, margin: MarginState | None = None,
               fa_profile: tuple[Field, ...] = ()) -> bytes:
    """openOrder from 177 on; below it (`fa_profile` = one empty field) faProfile follows
    faPercentage."""
    m = margin
    margin_fields: tuple[Field, ...] = (
        (m.init_before, m.maint_before, m.ewl_before,
         m.init_after - m.init_before, m.maint_after - m.maint_before,
         m.ewl_after - m.ewl_before, m.init_after, m.maint_after, m.ewl_after,
         m.commission, m.commission, m.commission, "USD", "")
        if m is not None else ("",) * 13 + ("",)
    )
    return encode(
        5, o.order_id, *contract11(inst),
        o.action, o.quantity, o.order_type, _num(o.limit), _num(o.aux), o.tif, o.oca_group,
        o.account, "", 0, o.order_ref, o.client_id, o.perm_id, o.outside_rth, False, "",
        "", "", "", "", "",  # discretionaryAmt, goodAfterTime, skipped, faGroup/Method/Pct
        *fa_profile,
        "", "", "", "", "", 0, "", "", 0, "", "", "", "", "",  # modelCode … stockRangeUpper
        0, 0, False, False, "", o.oca_type, False, False, "", o.parent_id, 0, "", 0,
        "", "",  # deltaNeutralOrderType, deltaNeutralAuxPrice
        False, 0, _num(o.trail_stop_price), _num(o.trailing_percent), "", "",
        *_order_combo(o, inst),  # comboLegsDescrip, legs, order combo legs, smart params
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        False, "", "", False, False,  # optOutSmartRouting … notHeld, no delta-neutral
        "",  # algoStrategy
        False, o.what_if, o.status, *margin_fields, False, False,
        0,  # conditions
        "", "", _num(o.trail_stop_price), "", "", "", "", 0, "", "", "", "", False, False,
        "", False,  # … discretionaryUpToLimitPrice, usePriceMgmtAlgo
        "", "", False,  # duration, postToAts, autoCancelParent
        "", "", False, "", "",  # minTradeQty … midOffsetAtHalf
    )


def order_status(o: OrderView, avg_price: float, last_fill: float) -> bytes:
    return encode(3, o.order_id, o.status, o.filled, max(o.quantity - o.filled, 0.0),
                  avg_price, o.perm_id, o.parent_id, last_fill, o.client_id, "", "")


def exec_details(req_id: int, o: OrderView, inst: Instrument | Combo, exec_id: int | str,
                 time: str,
                 side: str, shares: float, price: float, cum_qty: float,
                 avg_price: float, pending_price_revision: tuple[Field, ...] = (False,)
                 ) -> bytes:
    """execDetails from 178 on, ending with pendingPriceRevision; below 178 it ends
    before it (ib_insync unpacks exactly 31 fields)."""
    return encode(11, req_id, o.order_id, *contract11(inst), exec_id, time,
                  o.account, inst.exchange if inst.exchange != "SMART" else "ISLAND", side,
                  shares, price, o.perm_id, o.client_id, 0, cum_qty, avg_price, o.order_ref,
                  "", "", "", 1, *pending_price_revision)


def commission_report(exec_id: str, commission: float, realized: float | None) -> bytes:
    return encode(59, 1, exec_id, commission, "USD",
                  UNSET_DOUBLE if realized is None else realized, "", "")


def completed_order(o: OrderView, inst: Instrument | Combo, completed_time: str,
                    fa_profile: tuple[Field, ...] = ()) -> bytes:
    """completedOrder from 177 on; below it faProfile follows faPercentage."""
    return encode(
        101, *contract11(inst),
        o.action, o.quantity, o.order_type, _num(o.limit), _num(o.aux), o.tif, o.oca_group,
        o.account, "", 0, o.order_ref, o.perm_id, o.outside_rth, False, "", "", "", "", "",
        *fa_profile,
        "", "", "", "", "", "", "", "",  # modelCode … exemptCode
        "", "", "", "", "", 0, False, False, "", o.oca_type, 0, "", 0, "", "",
        False, 0, _num(o.trail_stop_price), _num(o.trailing_percent),
        *_order_combo(o, inst),  # comboLegsDescrip, legs, order combo legs, smart params
        "", "", "", "",  # scale fields; hedgeType
        "", "", False, False,  # clearingAccount, clearingIntent, notHeld, no delta-neutral
        "",  # algoStrategy
        False, o.status, False, False,
        0,  # conditions
        _num(o.trail_stop_price), "", "", False, False, "", o.filled, 0, False, "", False,
        False, 0, completed_time, o.status,
        "", "", False, "", "",
    )


def next_valid_id(order_id: int) -> bytes:
    return encode(9, 1, order_id)


def open_order_end() -> bytes:
    return encode(53, 1)


def exec_details_end(req_id: int) -> bytes:
    return encode(55, 1, req_id)


def completed_orders_end() -> bytes:
    return encode(102)


def open_order_v176(o: OrderView, inst: Instrument | Combo, margin: MarginState | None = None
                    ) -> bytes:
    return open_order(o, inst, margin, fa_profile=("",))


def exec_details_v176(req_id: int, o: OrderView, inst: Instrument | Combo, exec_id: int | str,
                      time: str, side: str, shares: float, price: float, cum_qty: float,
                      avg_price: float) -> bytes:
    return exec_details(req_id, o, inst, exec_id, time, side, shares, price, cum_qty,
                        avg_price, pending_price_revision=())


def completed_order_v176(o: OrderView, inst: Instrument | Combo, completed_time: str
                         ) -> bytes:
    return completed_order(o, inst, completed_time, fa_profile=("",))


OPEN_ORDER = Layouts("openOrder", {176: open_order_v176, 177: open_order})
ORDER_STATUS = Layouts("orderStatus", {176: order_status})
EXEC_DETAILS = Layouts("execDetails", {176: exec_details_v176, 178: exec_details})
COMMISSION_REPORT = Layouts("commissionReport", {176: commission_report})
COMPLETED_ORDER = Layouts("completedOrder", {176: completed_order_v176,
                                             177: completed_order})
NEXT_VALID_ID = Layouts("nextValidId", {176: next_valid_id})
OPEN_ORDER_END = Layouts("openOrderEnd", {176: open_order_end})
EXEC_DETAILS_END = Layouts("execDetailsEnd", {176: exec_details_end})
COMPLETED_ORDERS_END = Layouts("completedOrdersEnd", {176: completed_orders_end})
