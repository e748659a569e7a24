"""Simulated accounts: cash, positions, and IB-style account values marked to the market.

Margin is the app's own local calculator (ibterm.risk.margin: Reg T strategies, legs
paired, futures at the futures table's rates) over the positions marked at the live mid,
so a client computing margin itself agrees with the simulated gateway unless a scenario
adds its house surcharge (orders.py). Currency pairs, which the calculator has no rules
for, keep a plain rule: 50% initial, 25% (long) or 30% (short) maintenance of their value.
Equity with loan value is net liquidation; buying power is four times available funds, as
IB reports it for a Reg T margin account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from ibterm.domain.instrument import SecType
from ibterm.domain.symbols import parse_symbol
from ibterm.sim.market import Market
from ibterm.sim.scenario import AccountDef
from ibterm.sim.world import SimInstrument, World

if TYPE_CHECKING:
    from ibterm.risk.margin import Rates
    from ibterm.risk.portfolio import Row

ACCOUNT_KEYS = (
    "NetLiquidation",
    "TotalCashValue",
    "EquityWithLoanValue",
    "BuyingPower",
    "AvailableFunds",
    "ExcessLiquidity",
    "InitMarginReq",
    "MaintMarginReq",
    "GrossPositionValue",
    "UnrealizedPnL",
    "RealizedPnL",
    "Cushion",
)


@dataclass(slots=True)
class SimPosition:
    con_id: int
    quantity: float
    avg_price: float  # per unit of price, multiplier excluded
    realized: float = 0.0


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    sim: SimInstrument
    quantity: float
    market_price: float
    market_value: float
    avg_cost: float  # IB convention: per share, or per contract including the multiplier
    unrealized: float
    realized: float
    daily: float


@dataclass(slots=True)
class SimAccount:
    id: str
    currency: str
    cash: float
    positions: dict[int, SimPosition] = field(default_factory=dict)
    realized: float = 0.0

    @classmethod
    def from_def(cls, d: AccountDef, world: World) -> SimAccount:
        account = cls(d.id, d.currency, d.cash)
        for pos in d.positions:
            sim = world.resolve(parse_symbol(pos.symbol, world.futures_roots.keys()))
            assert sim is not None, "build_world checked every position"
            con_id = sim.instrument.con_id
            account.positions[con_id] = SimPosition(con_id, pos.quantity, pos.avg_cost)
        return account

    def apply_fill(self, sim: SimInstrument, shares: float, price: float,
                   fee: float) -> float | None:
        """Book an execution (`shares` signed: + bought); return the realized P&L of the part
        that closed an existing position, or None if it only opened or added."""
        inst = sim.instrument
        mult = inst.multiplier
        pos = self.positions.get(inst.con_id)
        if pos is None:
            pos = self.positions[inst.con_id] = SimPosition(inst.con_id, 0.0, price)
        realized: float | None = None
        old = pos.quantity
        if old and (old > 0) != (shares > 0):
            closed = min(abs(shares), abs(old)) * (1 if old > 0 else -1)
            realized = (price - pos.avg_price) * closed * mult - fee
            pos.realized += realized
            self.realized += realized
        new = old + shares
        if new == 0:
            pos.avg_price = price
        elif old == 0 or (old > 0) != (new > 0):
            pos.avg_price = price  # opened, or flipped through zero
        elif (old > 0) == (shares > 0):
            pos.avg_price = (pos.avg_price * old + price * shares) / new
        pos.quantity = new
        if inst.sec_type in (SecType.FUT, SecType.FOP):
            # Futures move no cash on a trade; the closed part's P&L settles into cash.
            if realized is not None:
                self.cash += realized + fee
        else:
            self.cash -= shares * price * mult
        self.cash -= fee
        return realized

    def portfolio(self, world: World, market: Market) -> list[PortfolioRow]:
        # Closed positions stay as zero rows: that is how IB tells a client one is gone.
        rows = []
        for pos in self.positions.values():
            sim = world.instruments[pos.con_id]
            mult = sim.instrument.multiplier
            price = market.mark(pos.con_id)
            close = market.prior_close(pos.con_id)
            rows.append(
                PortfolioRow(
                    sim=sim,
                    quantity=pos.quantity,
                    market_price=price,
                    market_value=price * pos.quantity * mult,
                    avg_cost=pos.avg_price * mult,
                    unrealized=(price - pos.avg_price) * pos.quantity * mult,
                    realized=pos.realized,
                    daily=(price - close) * pos.quantity * mult,
                )
            )
        return rows

    def values(self, world: World, market: Market) -> dict[str, float]:
        rows = self.portfolio(world, market)
        securities = sum(r.market_value for r in rows if not _is_future(r.sim))
        futures_pnl = sum(r.unrealized for r in rows if _is_future(r.sim))
        net_liq = self.cash + securities + futures_pnl
        init, maint = self.margin(rows, world, market)
        available = net_liq - init
        excess = net_liq - maint
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "EquityWithLoanValue": net_liq,
            "BuyingPower": max(available, 0.0) * 4.0,
            "AvailableFunds": available,
            "ExcessLiquidity": excess,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "GrossPositionValue": sum(abs(r.market_value) for r in rows if not _is_future(r.sim)),
            "UnrealizedPnL": sum(r.unrealized for r in rows),
            "RealizedPnL": self.realized,
            "Cushion": excess / net_liq if net_liq else 0.0,
        }

    def margin(self, rows: list[PortfolioRow], world: World,
               market: Market) -> tuple[float, float]:
        """(initial, maintenance) of the open positions, by the local calculator."""
        # The risk calculator is imported on the first margin, not with the simulator:
        # its modules and rate tables are some 30 ms of the demo's start-up.
        from ibterm.risk.book import COVERED, NotCovered, instrument_row
        from ibterm.risk.margin import compute_margin

        risk_rows: list[Row] = []
        init = maint = 0.0
        for r in rows:
            if not r.quantity:
                continue
            inst = r.sim.instrument
            under = market.mark(r.sim.underlying) if r.sim.underlying and \
                inst.sec_type in (SecType.OPT, SecType.FOP) else None
            try:
                if inst.sec_type not in COVERED:
                    raise NotCovered(inst.sec_type.value)
                risk_rows.append(instrument_row(inst, r.quantity, r.market_price, under,
                                                len(risk_rows) + 2, self.id))
            except NotCovered:
                init += _cash_requirement(r, initial=True)
                maint += _cash_requirement(r, initial=False)
        if risk_rows:
            rates = {s: (f.initial_margin, f.maintenance_margin)
                     for s, f in world.futures_roots.items()}
            result = compute_margin(risk_rows, world.date, futures_margin=rates,
                                    rate=world.rate)
            init += result.initial
            maint += result.maintenance
        return init, maint

    def daily_pnl(self, world: World, market: Market) -> float:
        return sum(r.daily for r in self.portfolio(world, market))


def _is_future(sim: SimInstrument) -> bool:
    return sim.instrument.sec_type in (SecType.FUT, SecType.FOP)


def _cash_requirement(row: PortfolioRow, initial: bool) -> float:
    """Currency pairs (and anything else the calculator cannot take): a share of value,
    at the shipped table's stock rates."""
    r, value, long = _rates(), abs(row.market_value), row.quantity > 0
    if initial:
        return value * (r.long_stock_initial if long else r.short_stock_initial)
    return value * (r.long_stock_maint if long else r.short_stock_maint)


@cache
def _rates() -> Rates:
    from ibterm.risk.margin import Rates

    return Rates()
