"""The order side of the session's one ib_async connection: what the pipeline and the
reconciliation send to the gateway and hear back. The session owns it, so every
ib_async subscription is made here or in the session."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from ib_async import IB, Contract, ExecutionFilter, Fill, Order, Position, Trade

PositionKey = tuple[str, int]  # (account, conId)
# A position as the reconciliation compares it: its size and the symbol to name it by.
PositionSeen = tuple[float, str]
StatusHandler = Callable[[Trade], None]
FillHandler = Callable[[Trade, Fill], None]
CommissionHandler = Callable[[Trade, Fill, object], None]
PositionHandler = Callable[[PositionKey, PositionSeen], None]


def _seen(pos: Position) -> tuple[PositionKey, PositionSeen]:
    return ((pos.account, pos.contract.conId),
            (pos.position, pos.contract.localSymbol or pos.contract.symbol))


class OrderGateway:
    def __init__(self, ib: IB) -> None:
        self._ib = ib

    # --- sending ---------------------------------------------------------------------
    def next_order_id(self) -> int:
        return self._ib.client.getReqId()

    def place(self, contract: Contract, order: Order) -> Trade:
        return self._ib.placeOrder(contract, order)

    def cancel(self, order: Order) -> None:
        self._ib.cancelOrder(order)

    def global_cancel(self) -> None:
        """IB's global cancel: every open order of this login, whichever client placed it."""
        self._ib.reqGlobalCancel()

    # --- hearing back ----------------------------------------------------------------
    @staticmethod
    def follow(trade: Trade, on_status: StatusHandler, on_fill: FillHandler) -> None:
        trade.statusEvent += on_status
        trade.fillEvent += on_fill

    @staticmethod
    def unfollow(trade: Trade, on_status: StatusHandler, on_fill: FillHandler) -> None:
        trade.statusEvent -= on_status
        trade.fillEvent -= on_fill

    def on_commission(self, handler: CommissionHandler) -> None:
        self._ib.commissionReportEvent += handler

    def on_position(self, handler: PositionHandler) -> None:
        self._ib.positionEvent += lambda pos: handler(*_seen(pos))

    # --- what the gateway holds now --------------------------------------------------
    def open_trades(self) -> list[Trade]:
        """The open orders ib_async knows of on this connection."""
        return self._ib.openTrades()

    def positions(self) -> dict[PositionKey, PositionSeen]:
        return dict(_seen(p) for p in self._ib.positions())

    async def all_open_orders(self, timeout: float) -> list[Trade]:
        return await asyncio.wait_for(self._ib.reqAllOpenOrdersAsync(), timeout)

    async def executions(self, since: dt.datetime | None, timeout: float) -> list[Fill]:
        flt = (ExecutionFilter(time=f"{since.astimezone(dt.UTC):%Y%m%d-%H:%M:%S}") if since
               else None)
        return await asyncio.wait_for(self._ib.reqExecutionsAsync(flt), timeout)

    async def completed_orders(self, timeout: float) -> list[Trade]:
        return await asyncio.wait_for(self._ib.reqCompletedOrdersAsync(False), timeout)
