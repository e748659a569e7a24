"""P&L of one underlying's positions across a price scan, before and after an order: today
(each option at its own time to expiry) and at the first option expiry (options expiring
then at intrinsic value, later ones still with their time value).

P&L is measured from the positions' model value now, so today's curve passes through zero
at the current price. Every row of the underlying moves by the same fraction (a future
and its options, two contract months), as in the stress scan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ibterm.risk.portfolio import Row
from ibterm.risk.pricing import carry_of, scenario_values

POINTS = 41  # the scan's points: ±15% in 0.75% steps, the stress grid's moves among them


@dataclass(frozen=True, slots=True)
class Payoff:
    underlying: str
    spot: float
    prices: list[float]
    today_before: list[float]
    today_after: list[float]
    expiry: dt.date | None  # the first option expiry; None: no options, no expiry curves
    expiry_before: list[float]
    expiry_after: list[float]


def _moves(low: float, high: float, points: int) -> list[float]:
    """Evenly over the scan, the zero move among them."""
    return sorted({round(low + (high - low) * i / (points - 1), 9) for i in range(points)}
                  | {0.0})


def _pnl(rows: list[Row], as_of: dt.date, rate: float, moves: np.ndarray,
         elapsed: float) -> list[float]:
    """P&L at each move, `elapsed` years from now, against the rows' model value now."""
    pnl = np.zeros(moves.shape[0])
    for r in rows:
        if not r.is_option:  # stock and futures: the price itself moves
            pnl += r.quantity * r.multiplier * r.underlying_price * moves
    options = [r for r in rows if r.is_option]
    if options:
        spot = np.array([r.underlying_price for r in options])
        strike = np.array([r.strike for r in options])
        years = np.array([((r.expiry - as_of).days / 365.0) if r.expiry else 0.0
                          for r in options])
        vol = np.array([r.iv or 0.0 for r in options])
        carry = carry_of(np.full(len(options), rate), np.array([r.div_yield for r in options]),
                         np.array([r.sec_type == "FOP" for r in options]))
        call = np.array([r.right == "C" for r in options])
        units = np.array([r.quantity * r.multiplier for r in options])
        now = scenario_values(spot, strike, years, vol, rate, carry, call, [0.0], [0.0], units)
        then = scenario_values(spot, strike, np.maximum(years - elapsed, 0.0), vol, rate, carry,
                               call, moves, np.zeros(moves.shape[0]), units)
        pnl += (then - now).sum(axis=0)
    return [round(float(v), 2) for v in pnl]


def payoff(before: list[Row], after: list[Row], underlying: str, as_of: dt.date, rate: float,
           scan: tuple[float, float], points: int = POINTS) -> Payoff | None:
    """None when neither side holds anything in `underlying`. Options need their iv."""
    mine_before = [r for r in before if r.symbol == underlying]
    mine_after = [r for r in after if r.symbol == underlying]
    rows = mine_before + mine_after
    if not rows:
        return None
    spot = rows[-1].underlying_price
    moves = np.array(_moves(scan[0], scan[1], points))
    expiries = [r.expiry for r in rows if r.is_option and r.expiry is not None]
    first = min(expiries) if expiries else None
    prices = [spot * (1 + m) for m in moves.tolist()]
    today_before = _pnl(mine_before, as_of, rate, moves, 0.0)
    today_after = _pnl(mine_after, as_of, rate, moves, 0.0)
    if first is None:
        return Payoff(underlying, spot, prices, today_before, today_after, None, [], [])
    elapsed = max((first - as_of).days, 0) / 365.0
    return Payoff(underlying, spot, prices, today_before, today_after, first,
                  _pnl(mine_before, as_of, rate, moves, elapsed),
                  _pnl(mine_after, as_of, rate, moves, elapsed))
