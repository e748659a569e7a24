"""Positions and account values, marked by the broker."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.domain.instrument import Instrument


@dataclass(frozen=True, slots=True)
class Position:
    account: str
    instrument: Instrument
    quantity: float
    avg_cost: float  # per unit, multiplier excluded (IB reports it per contract)
    market_price: float | None = None
    market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    daily_pnl: float | None = None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    account: str
    currency: str = "USD"
    net_liquidation: float | None = None
    total_cash: float | None = None
    buying_power: float | None = None
    available_funds: float | None = None
    excess_liquidity: float | None = None
    init_margin: float | None = None
    maint_margin: float | None = None
    gross_position_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    daily_pnl: float | None = None

    @property
    def cushion(self) -> float | None:
        """Excess liquidity as a fraction of net liquidation (IB's 'Cushion')."""
        if self.excess_liquidity is None or not self.net_liquidation:
            return None
        return self.excess_liquidity / self.net_liquidation
