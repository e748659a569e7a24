"""Simulated accounts: cash, positions, and IB-style account values marked to the market.

Margin here is a plain Reg T model until the local risk calculator takes over (issue 4):
long stock 50% initial / 25% maintenance, short stock 50% / 30%, long options paid in
full (no requirement), short options the naked rule (20% of the underlying less the
out-of-the-money amount, at least 10% of the underlying for calls or of the strike for
puts, plus the premium), futures at the futures table's
per-contract rates. Equity with loan value is net liquidation; buying power is four times
available funds, as IB reports it for a Reg T margin account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ibterm.domain.instrument import Right, SecType
from ibterm.sim.market import Market
from ibterm.sim.scenario import AccountDef
from ibterm.sim.world import SimInstrument, World

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
        from ibterm.domain.symbols import parse_symbol

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
        init = sum(_requirement(r, world, market, initial=True) for r in rows)
        maint = sum(_requirement(r, world, market, initial=False) for r in rows)
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

    def daily_pnl(self, world: World, market: Market) -> float:
        return sum(r.daily for r in self.portfolio(world, market))


def _is_future(sim: SimInstrument) -> bool:
    return sim.instrument.sec_type in (SecType.FUT, SecType.FOP)


def _requirement(row: PortfolioRow, world: World, market: Market, initial: bool) -> float:
    inst = row.sim.instrument
    qty = row.quantity
    if inst.sec_type is SecType.FUT:
        root = world.futures_roots.get(inst.symbol)
        if root is None:
            return 0.0
        rate = root.initial_margin if initial else root.maintenance_margin
        return abs(qty) * rate
    if inst.sec_type in (SecType.STK, SecType.CASH):
        value = abs(row.market_value)
        if qty > 0:
            return value * (0.50 if initial else 0.25)
        return value * (0.50 if initial else 0.30)
    if inst.sec_type is SecType.OPT:
        if qty > 0:
            return 0.0
        spot = market.mark(row.sim.underlying)
        if inst.right is Right.CALL:
            otm = max(inst.strike - spot, 0.0)
            floor = 0.10 * spot
        else:
            otm = max(spot - inst.strike, 0.0)
            floor = 0.10 * inst.strike
        per_share = row.market_price + max(0.20 * spot - otm, floor)
        return per_share * inst.multiplier * abs(qty)
    return 0.0
