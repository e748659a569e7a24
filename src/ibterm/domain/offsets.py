"""Price offsets for brackets: '1.50' (price), '10t' (ticks), '1.5%' (percent of entry).

Only the magnitude counts; the side of the order decides the direction (a take profit is
above a buy's entry, its stop below), so '-0.75%' and '0.75%' mean the same stop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from ibterm.domain.orders import Side
from ibterm.domain.ticks import round_directed

_OFFSET = re.compile(r"^\s*[+-]?\s*(\d+(?:\.\d*)?|\.\d+)\s*(t|ticks?|%)?\s*$", re.IGNORECASE)


class OffsetUnit(StrEnum):
    PRICE = "price"
    TICKS = "ticks"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class Offset:
    amount: float
    unit: OffsetUnit

    def distance(self, entry: float, tick: float) -> float:
        if self.unit is OffsetUnit.TICKS:
            return self.amount * tick
        if self.unit is OffsetUnit.PERCENT:
            return entry * self.amount / 100.0
        return self.amount


def parse_offset(text: str) -> Offset:
    """Raise ValueError with a message a trader can act on."""
    m = _OFFSET.match(text)
    if not m:
        raise ValueError(f"{text.strip()!r} is not an offset: write 1.50, 10t or 1.5%")
    amount = float(m.group(1))
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError("an offset must be greater than zero")
    suffix = (m.group(2) or "").lower()
    unit = OffsetUnit.PERCENT if suffix == "%" else (
        OffsetUnit.TICKS if suffix.startswith("t") else OffsetUnit.PRICE)
    if unit is OffsetUnit.PERCENT and amount >= 100:
        raise ValueError("a percent offset must be under 100%")
    return Offset(amount, unit)


@dataclass(frozen=True, slots=True)
class BracketPrices:
    entry: float
    take_profit: float
    stop_loss: float
    reward: float  # currency, at the take profit
    risk: float  # currency, at the stop
    gap_loss: float  # currency, if the stop fills `gap` (a fraction of it) beyond its price

    @property
    def reward_risk(self) -> float | None:
        return self.reward / self.risk if self.risk > 0 else None


def bracket_prices(side: Side, entry: float, quantity: float, multiplier: float, tick: float,
                   take: Offset, stop: Offset, gap: float) -> BracketPrices:
    """Exit prices on the tick, never closer to the entry than asked (rounded outward)."""
    up = side is Side.BUY
    tp_raw = entry + take.distance(entry, tick) * (1 if up else -1)
    sl_raw = entry - stop.distance(entry, tick) * (1 if up else -1)
    take_profit = round_directed(tp_raw, tick, up=up)
    stop_loss = round_directed(sl_raw, tick, up=not up)
    size = quantity * multiplier
    risk = abs(entry - stop_loss) * size
    return BracketPrices(entry, take_profit, stop_loss, abs(take_profit - entry) * size, risk,
                         risk + stop_loss * gap * size)
