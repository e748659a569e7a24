"""`ibterm risk`: the JSON contract of PRODUCT.md and a human report (Rich tables)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

from ibterm.domain.futures import FuturesRoot
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import positions_frame, stress


def analyse(rows: list[Row], as_of: dt.date, rate: float,
            futures: dict[str, FuturesRoot]) -> dict[str, Any]:
    fut_margin = {s: (r.initial_margin, r.maintenance_margin) for s, r in futures.items()}
    margin = compute_margin(rows, as_of, futures_margin=fut_margin)
    result = stress(positions_frame(rows, as_of, rate))
    report: dict[str, Any] = {
        "initial_margin": round(margin.initial, 2),
        "maintenance_margin": round(margin.maintenance, 2),
        "long_premium": round(margin.long_premium, 2),
        "strategies": [s.as_dict() for s in margin.strategies],
        "stress": {"worst_loss": result.worst_loss, "by_underlying": result.by_underlying,
                   "grid": result.grid},
    }
    if any(r.account for r in rows):
        accounts: dict[str, Any] = {}
        for account in sorted({r.account for r in rows}):
            mine = [r for r in rows if r.account == account]
            m = compute_margin(mine, as_of, futures_margin=fut_margin)
            s = stress(positions_frame(mine, as_of, rate))
            accounts[account] = {"initial_margin": round(m.initial, 2),
                                 "maintenance_margin": round(m.maintenance, 2),
                                 "long_premium": round(m.long_premium, 2),
                                 "worst_loss": s.worst_loss}
        report["accounts"] = accounts
    report["_correlated_worst_loss"] = result.correlated_worst_loss
    return report


def print_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title="Strategies (Reg T)", title_justify="left")
    for column in ("Strategy", "Underlying", "Account", "Legs (line: qty)", "Initial",
                   "Maintenance"):
        table.add_column(column, justify="right" if column in ("Initial", "Maintenance")
                         else "left")
    for s in report["strategies"]:
        legs = ", ".join(f"{leg['line']}: {leg['quantity']:g}" for leg in s["legs"])
        table.add_row(s["name"], s["underlying"], s["account"] or "—", legs,
                      f"{s['initial']:,.2f}", f"{s['maintenance']:,.2f}")
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
                   f"{report['_correlated_worst_loss']:,.2f}")
    console.print(totals)
    for underlying, loss in report["stress"]["by_underlying"].items():
        grid = [g for g in report["stress"]["grid"] if g["underlying"] == underlying]
        moves = sorted({g["price_move"] for g in grid})
        shifts = sorted({g["vol_shift"] for g in grid})
        t = Table(title=f"{underlying}: worst loss {loss:,.2f}", title_justify="left")
        t.add_column("vol \\ move")
        for m in moves:
            t.add_column(f"{m:+.1%}", justify="right")
        for v in shifts:
            cells = {g["price_move"]: g["pnl"] for g in grid if g["vol_shift"] == v}
            t.add_row(f"{v:+.0%}", *(f"{cells[m]:,.0f}" for m in moves))
        console.print(t)
