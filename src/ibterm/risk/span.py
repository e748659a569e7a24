"""Futures and futures options: a SPAN-like scan per root, instead of Reg T.

Per underlying root and account, every FUT and FOP row together (docs/risk.md,
"Futures"): the price scan range is the root's maintenance margin per contract (from
the futures table, overnight or intraday as asked) as a fraction of the future's price;
the positions are revalued at 0, ±1/3, ±2/3 and ±3/3 of the range with the volatility up
and down (relative `vol_scan`), and at two extreme moves of `extreme_multiple` ranges of
which `extreme_fraction` of the loss counts. Then, in SPAN's terms:

    risk = max(largest scan loss + calendar spread charge, short option minimum)
    maintenance = max(risk - net option value, 0),  initial = maintenance x (the root's
    initial / maintenance)

where the net option value is the long options' value minus the short ones' — which is
the Reg T side's convention too: a short option's price is in the margin, a long
option's cost is not (it is in `long_premium`). A long future offsets a short call, a
short future a short put, options offset each other, all through the scan. Parameters:
the `span` section of the risk tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ibterm.risk import tables
from ibterm.risk.pricing import implied_vols, scenario_values
from ibterm.risk.strategy import Strategy

if TYPE_CHECKING:
    from ibterm.risk.portfolio import Row


def _default(name: str):  # type: ignore[no-untyped-def]
    return field(default_factory=lambda: getattr(tables.shipped().span, name))


@dataclass(frozen=True, slots=True)
class SpanParams:
    scan_steps: int = _default("scan_steps")
    vol_scan: float = _default("vol_scan")
    extreme_multiple: float = _default("extreme_multiple")
    extreme_fraction: float = _default("extreme_fraction")
    short_option_minimum: float = _default("short_option_minimum")
    spread_charge: float = _default("spread_charge")
    fallback_scan: float = _default("fallback_scan")
    fallback_initial_ratio: float = _default("fallback_initial_ratio")
    fallback_vol: float = _default("fallback_vol")

    @classmethod
    def from_table(cls, m: tables.SpanModel) -> SpanParams:
        return cls(**m.model_dump())


def scan_range(rows: list[Row], margin: tuple[float, float] | None,
               params: SpanParams) -> tuple[float, float, float]:
    """(range as a fraction of the price, maintenance per contract, initial/maintenance):
    from the root's margins, or the fallbacks for a root missing from the table."""
    price = float(np.median([r.underlying_price for r in rows]))
    mult = rows[0].multiplier
    if margin is not None and margin[1] > 0:
        initial, maint = margin
        return maint / (mult * price), maint, initial / maint
    return params.fallback_scan, params.fallback_scan * price * mult, \
        params.fallback_initial_ratio


def span_strategies(symbol: str, account: str, rows: list[Row], as_of: dt.date, rate: float,
                    margin: tuple[float, float] | None,
                    params: SpanParams | None = None) -> list[Strategy]:
    params = params or SpanParams()
    frac, maint_per, ratio = scan_range(rows, margin, params)
    n = params.scan_steps
    moves = [frac * i / n for i in range(-n, n + 1)]
    cols_m = [m for m in moves for _ in (0, 1)] + [0.0]
    cols_v = [v for _ in moves for v in (params.vol_scan, -params.vol_scan)] + [0.0]
    extreme = [params.extreme_multiple * frac * s for s in (-1.0, 1.0)]
    cols_m += extreme
    cols_v += [0.0, 0.0]
    base = 2 * len(moves)  # the unshocked column
    weights = np.ones(len(cols_m))
    weights[-2:] = params.extreme_fraction
    pnl = np.zeros(len(cols_m))
    futures = [r for r in rows if r.sec_type == "FUT"]
    options = [r for r in rows if r.sec_type == "FOP"]
    for r in futures:
        pnl += r.quantity * r.multiplier * r.price * np.asarray(cols_m)
    net_option_value = 0.0
    if options:
        spot = np.array([r.underlying_price for r in options])
        strike = np.array([r.strike for r in options])
        years = np.array([max((r.expiry - as_of).days, 0) / 365.0 if r.expiry else 0.0
                          for r in options])
        price = np.array([r.price for r in options])
        call = np.array([r.right == "C" for r in options])
        w = np.array([r.quantity * r.multiplier for r in options])
        vol = np.array([np.nan if r.iv is None else r.iv for r in options])
        need = np.isnan(vol)
        if need.any():
            rates = np.full(int(need.sum()), rate)
            implied = implied_vols(spot[need], strike[need], years[need], rates, rates,
                                   call[need], price[need])
            # A mark no volatility reproduces (stale, or off the model): the fallback.
            vol[need] = np.where(np.isnan(implied), params.fallback_vol, implied)
        values = scenario_values(spot, strike, years, vol, rate, rate, call, cols_m, cols_v,
                                 weight=w).sum(axis=0)
        pnl += values - values[base]
        net_option_value = float(np.sum(w * price))
    loss = float(np.max(-(pnl - pnl[base]) * weights))
    scan = max(loss, 0.0)
    spreads = _calendar_spreads(futures)
    short_options = sum(-r.quantity for r in options if r.quantity < 0)
    risk = max(scan + spreads * params.spread_charge * maint_per,
               short_options * params.short_option_minimum * maint_per)
    maint = max(risk - net_option_value, 0.0)
    legs = [(r.line, r.quantity) for r in rows]
    name = "future" if len(rows) == 1 and futures else "SPAN scan"
    return [Strategy(name, symbol, account, legs, maint * ratio, maint)]


def _calendar_spreads(futures: list[Row]) -> float:
    """Contracts long in one month and short in another (each such pair one spread)."""
    net: dict[dt.date | None, float] = {}
    for r in futures:
        net[r.expiry] = net.get(r.expiry, 0.0) + r.quantity
    longs = sum(q for q in net.values() if q > 0)
    shorts = -sum(q for q in net.values() if q < 0)
    return min(longs, shorts)
