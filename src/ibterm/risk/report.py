"""`ibterm risk`: the JSON contract of PRODUCT.md and a human report (Rich tables)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from ibterm.risk.liquidation import Liquidation, LiquidationReport, liquidation
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.settings import RiskSettings
from ibterm.risk.stress import positions_frame, stress


@dataclass(slots=True)
class Analysis:
    report: dict[str, Any]  # exactly the JSON contract
    correlated_worst_loss: float
    liquidation: LiquidationReport | None
    equity_given: bool


def analyse(rows: list[Row], as_of: dt.date, rate: float, settings: RiskSettings | None = None,
            *, accounts: bool = False, equity: float | None = None,
            with_liquidation: bool = True) -> Analysis:
    """`accounts`: report per-account totals (the file has an account column); `equity`:
    the account's equity for the liquidation estimate (default: what opening the book
    takes, initial margin + long option premium)."""
    s = settings or RiskSettings()

    def margin(subset: list[Row]):  # type: ignore[no-untyped-def]
        return compute_margin(subset, as_of, s.rates, s.futures_margin, span=s.span, rate=rate)

    m = margin(rows)
    result = stress(positions_frame(rows, as_of, rate), s.stress)
    report: dict[str, Any] = {
        "initial_margin": round(m.initial, 2),
        "maintenance_margin": round(m.maintenance, 2),
        "long_premium": round(m.long_premium, 2),
        "strategies": [x.as_dict() for x in m.strategies],
        "stress": {"worst_loss": result.worst_loss, "by_underlying": result.by_underlying,
                   "grid": result.grid},
    }
    if accounts:
        per: dict[str, Any] = {}
        for account in sorted({r.account for r in rows}):
            mine = [r for r in rows if r.account == account]
            am = margin(mine)
            per[account] = {"initial_margin": round(am.initial, 2),
                            "maintenance_margin": round(am.maintenance, 2),
                            "long_premium": round(am.long_premium, 2),
                            "worst_loss": stress(positions_frame(mine, as_of, rate), s.stress,
                                                 correlated_view=False).worst_loss}
        report["accounts"] = per
    liq = None
    if with_liquidation:
        base = equity if equity is not None else m.initial + m.long_premium
        liq = liquidation(rows, base, as_of, rate, rates=s.rates,
                          futures_margin=s.futures_margin, span=s.span,
                          stress_params=s.stress, params=s.liquidation)
    return Analysis(report, result.correlated_worst_loss, liq, equity is not None)


def _move(value: float | None, limit: float, sign: str) -> str:
    if value is None:
        return f"none to {sign}{limit:.0%}"
    return f"{value:+.2%}"


def print_report(analysis: Analysis, console: Console,
                 settings: RiskSettings | None = None) -> None:
    report = analysis.report
    s = settings or RiskSettings()
    table = Table(title="Strategies (Reg T; futures: SPAN-like)", title_justify="left")
    for column in ("Strategy", "Underlying", "Account", "Legs (line: qty)", "Initial",
                   "Maintenance"):
        table.add_column(column, justify="right" if column in ("Initial", "Maintenance")
                         else "left")
    for st in report["strategies"]:
        legs = ", ".join(f"{leg['line']}: {leg['quantity']:g}" for leg in st["legs"])
        table.add_row(st["name"], st["underlying"], st["account"] or "—", legs,
                      f"{st['initial']:,.2f}", f"{st['maintenance']:,.2f}")
    console.print(table)
    totals = Table(title="Totals", title_justify="left", show_header=False)
    totals.add_column()
    totals.add_column(justify="right")
    for label, key in (("Initial margin", "initial_margin"),
                       ("Maintenance margin", "maintenance_margin"),
                       ("Long option premium to pay", "long_premium")):
        totals.add_row(label, f"{report[key]:,.2f}")
    totals.add_row("Stress worst loss (sum over underlyings)",
                   f"{report['stress']['worst_loss']:,.2f}")
    totals.add_row("Correlated view (one common equity move)",
                   f"{analysis.correlated_worst_loss:,.2f}")
    console.print(totals)
    roots = sorted({st["underlying"] for st in report["strategies"]
                    if st["name"] in ("future", "SPAN scan")})
    if roots:
        fut = Table(title=f"Futures margins ({'intraday' if s.intraday else 'overnight'})",
                    title_justify="left")
        for column in ("Root", "Effective", "Initial", "Maintenance"):
            fut.add_column(column, justify="left" if column in ("Root", "Effective")
                           else "right")
        for root in roots:
            rates = s.futures_margin.get(root)
            effective = s.futures_tables.get(root)
            fut.add_row(root, effective.effective.isoformat() if effective else "—",
                        *((f"{x:,.2f}" for x in rates) if rates else
                          ("not in the table", "fallback scan")))
        console.print(fut)
    if "accounts" in report:
        acc = Table(title="Accounts", title_justify="left")
        for column in ("Account", "Initial", "Maintenance", "Long premium", "Worst loss"):
            acc.add_column(column, justify="left" if column == "Account" else "right")
        for name, a in report["accounts"].items():
            acc.add_row(name or "—", *(f"{a[k]:,.2f}" for k in (
                "initial_margin", "maintenance_margin", "long_premium", "worst_loss")))
        console.print(acc)
    liq = analysis.liquidation
    if liq is not None:
        source = "given" if analysis.equity_given else \
            "initial margin + long premium; --equity to give yours"
        t = Table(title="Liquidation estimate: the move at which excess liquidity reaches "
                        "zero", title_justify="left", min_width=76,
                  caption=f"equity {liq.equity:,.2f} ({source}); excess liquidity now "
                          f"{liq.excess:,.2f}", caption_justify="left")
        for column in ("Underlying", "Down", "Up"):
            t.add_column(column, justify="left" if column == "Underlying" else "right")
        rows: list[Liquidation] = list(liq.by_underlying)
        if liq.correlated is not None:
            rows.append(liq.correlated)
        for x in rows:
            label = "all equity-like together" if x.name == "correlated" else x.name
            t.add_row(label, _move(x.down, s.liquidation.max_down, "-"),
                      _move(x.up, s.liquidation.max_up, "+"))
        console.print(t)
    for underlying, loss in report["stress"]["by_underlying"].items():
        grid = [g for g in report["stress"]["grid"] if g["underlying"] == underlying]
        moves = sorted({g["price_move"] for g in grid})
        shifts = sorted({g["vol_shift"] for g in grid})
        t = Table(title=f"{underlying}: worst loss {loss:,.2f}", title_justify="left")
        t.add_column("vol \\ move")
        for mv in moves:
            t.add_column(f"{mv:+.1%}", justify="right")
        for v in shifts:
            cells = {g["price_move"]: g["pnl"] for g in grid if g["vol_shift"] == v}
            t.add_row(f"{v:+.0%}", *(f"{cells[mv]:,.0f}" for mv in moves))
        console.print(t)
