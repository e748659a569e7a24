"""The account as the session sees it: positions, the account's values, the day's P&L
(whole and per position), and what changed since the UI last looked."""

from __future__ import annotations

import asyncio

from ib_async import IB, PnL, PnLSingle

from ibterm.broker.contracts import contract_to_instrument
from ibterm.broker.convert import finite, position_of
from ibterm.broker.instruments import InstrumentBook
from ibterm.domain.account import AccountSummary, Position
from ibterm.domain.quote import clean_price

_ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "total_cash",
    "BuyingPower": "buying_power",
    "AvailableFunds": "available_funds",
    "ExcessLiquidity": "excess_liquidity",
    "InitMarginReq": "init_margin",
    "MaintMarginReq": "maint_margin",
    "GrossPositionValue": "gross_position_value",
    "UnrealizedPnL": "unrealized_pnl",
    "RealizedPnL": "realized_pnl",
}


class Portfolio:
    def __init__(self, ib: IB, instruments: InstrumentBook) -> None:
        self._ib = ib
        self._instruments = instruments
        self._resolving: set[int] = set()
        self._pnl: PnL | None = None
        self._pnl_single: dict[int, PnLSingle] = {}
        self.positions_dirty = False
        self.account_dirty = False
        ib.updatePortfolioEvent += self._on_portfolio
        ib.accountValueEvent += self._on_account_value
        ib.pnlEvent += self._on_pnl
        ib.pnlSingleEvent += self._on_pnl_single

    def subscribe(self, account: str) -> None:
        """Connected: the day's P&L asked for, and everything shown again."""
        self._pnl = self._ib.reqPnL(account)
        self.sync_pnl_single(account)
        self.positions_dirty = self.account_dirty = True

    def clear(self) -> None:
        """The link went: ib_async's P&L subscriptions went with it."""
        self._pnl = None
        self._pnl_single.clear()

    def sync_pnl_single(self, account: str) -> None:
        """A P&L subscription, and the instrument, for every position that has none yet."""
        if not account:
            return
        for item in self._ib.portfolio(account):
            con_id = item.contract.conId
            if con_id not in self._pnl_single:
                self._pnl_single[con_id] = self._ib.reqPnLSingle(account, "", con_id)
            if con_id not in self._instruments.instruments and con_id not in self._resolving:
                self._resolving.add(con_id)
                asyncio.get_running_loop().create_task(self._resolve(con_id))

    async def _resolve(self, con_id: int) -> None:
        try:
            learned = await self._instruments.resolve_con_id(con_id)
        finally:
            self._resolving.discard(con_id)
        if learned:
            self.positions_dirty = True

    def positions(self, account: str) -> list[Position]:
        if not account:
            return []
        known = self._instruments.instruments
        return [position_of(item, known.get(item.contract.conId)
                            or contract_to_instrument(item.contract),
                            self._pnl_single.get(item.contract.conId))
                for item in self._ib.portfolio(account)]

    def market_price(self, account: str, con_id: int) -> float | None:
        """The broker's mark of a position in the instrument, if the account holds one."""
        if account:
            for item in self._ib.portfolio(account):
                if item.contract.conId == con_id:
                    return clean_price(item.marketPrice)
        return None

    def position_map(self, account: str) -> dict[int, float]:
        return ({p.contract.conId: p.position for p in self._ib.positions(account)} if account
                else {})

    def daily_pnl(self) -> float | None:
        return finite(self._pnl.dailyPnL) if self._pnl is not None else None

    def summary(self, account: str) -> AccountSummary:
        values: dict[str, float] = {}
        currency = "USD"
        for v in self._ib.accountValues(account):
            attr = _ACCOUNT_TAGS.get(v.tag)
            if attr is None:
                continue
            try:
                values[attr] = float(v.value)
            except ValueError:
                continue
            if v.currency and v.currency != "BASE":
                currency = v.currency
        return AccountSummary(account=account, currency=currency, daily_pnl=self.daily_pnl(),
                              **values)

    def _on_portfolio(self, _item: object) -> None:
        self.positions_dirty = True

    def _on_account_value(self, _value: object) -> None:
        self.account_dirty = True

    def _on_pnl(self, _pnl: object) -> None:
        self.account_dirty = True

    def _on_pnl_single(self, _pnl: object) -> None:
        self.positions_dirty = True
