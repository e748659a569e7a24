"""Futures roots and their contract months, derived from a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ibterm.domain.calendar import MONTH_CODES, add_months, crude_last_trade, third_friday


class LastTradeRule(StrEnum):
    THIRD_FRIDAY = "third_friday"  # CME equity index futures
    CRUDE = "crude"  # NYMEX CL: 3 business days before the 25th of the prior month


@dataclass(frozen=True, slots=True)
class FuturesRoot:
    symbol: str
    exchange: str
    currency: str
    multiplier: float
    min_tick: float
    months: str  # listed month codes, e.g. "HMUZ"
    last_trade: LastTradeRule
    name: str = ""
    initial_margin: float = 0.0  # overnight, per contract
    maintenance_margin: float = 0.0

    def last_trade_date(self, year: int, month: int) -> dt.date:
        if self.last_trade is LastTradeRule.CRUDE:
            return crude_last_trade(year, month)
        return third_friday(year, month)

    def contract_months(self, today: dt.date, count: int) -> list[tuple[str, dt.date]]:
        """The next `count` listed months still trading on `today`: (YYYYMM, last trade)."""
        found: list[tuple[str, dt.date]] = []
        year, month = today.year, today.month
        for step in range(0, 24 * 12):
            y, m = add_months(year, month, step)
            if MONTH_CODES[m - 1] not in self.months:
                continue
            last = self.last_trade_date(y, m)
            if last < today:
                continue
            found.append((f"{y:04d}{m:02d}", last))
            if len(found) == count:
                break
        return found

    def local_symbol(self, contract_month: str) -> str:
        """IB's local symbol, e.g. ESZ6 for ES December 2026."""
        year, month = int(contract_month[:4]), int(contract_month[4:6])
        return f"{self.symbol}{MONTH_CODES[month - 1]}{year % 10}"
