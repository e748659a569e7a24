"""`ibterm risk`: the JSON contract of PRODUCT.md and a human report (Rich tables)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from ibterm.risk.liquidation import Liquidation, LiquidationReport, liquidation
from ibterm.risk.margin import compute_margin, margin_and_stress
from ibterm.risk.portfolio import Row
from ibterm.risk.settings import RiskSettings
from ibterm.risk.stress import positions, stress


@dataclass(slots=True)
class Analysis:
    report: dict[str, Any]  # exactly the JSON contract
    correlated_worst_loss: float
    liquidation: LiquidationReport | None
    equity_given: bool
    # CSV line -> the instrument in words (`SPY 20261218 600 C`): the JSON names legs by
    # line only, the human report shows what is on the line too.
    instruments: dict[int, str] = field(default_factory=dict)


def _number(value: float) -> str:
    """A strike or quantity without a float's noise: 600, 172.5, -10, 1234567."""
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def instrument(row: Row) -> str:
    """The row's instrument as a trader reads it: `AAPL`, `ES 20261218`,
    `SPY 20261218 600 C`."""
    parts = [row.symbol]
    if row.expiry is not None and row.sec_type != "STK":
        parts.append(f"{row.expiry:%Y%m%d}")
    if row.is_option:
        parts += [_number(row.strike), row.right]
    return " ".join(parts)


def analyse(rows: list[Row], as_of: dt.date, rate: float, settings: RiskSettings | None = None,
            *, accounts: bool = False, equity: float | None = None,
            with_liquidation: bool = True) -> Analysis:
    """`accounts`: report per-account totals (the file has an account column); `equity`:
    the account's equity, for the liquidation estimate, which is computed exactly when it
    is given and then reported under `liquidation` in the JSON too.

    No equity, no estimate: the equity of the book alone (initial margin + long premium)
    put excess liquidity at the long premium, and the estimate at a move of a couple of
    percent whatever the account (#10). `with_liquidation` is kept for callers and no
    longer consulted: the estimate follows `equity`."""
    del with_liquidation  # see the docstring: the caller's --json no longer decides it
    s = settings or RiskSettings()

    def margin(subset: list[Row]):  # type: ignore[no-untyped-def]
        return compute_margin(subset, as_of, s.rates, s.futures_margin, span=s.span, rate=rate)

    # The stress runs while a second core pairs half of a large book (parallel.py).
    m, result = margin_and_stress(rows, as_of, s.rates, s.futures_margin, span=s.span,
                                  rate=rate, stress_params=s.stress)
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
                            "worst_loss": stress(positions(mine, as_of, rate), s.stress,
                                                 correlated_view=False).worst_loss}
        report["accounts"] = per
    liq = None
    if equity is not None:
        liq = liquidation(rows, equity, as_of, rate, rates=s.rates,
                          futures_margin=s.futures_margin, span=s.span,
                          stress_params=s.stress, params=s.liquidation)
        # After every key of the contract (accounts included): a new key, only when asked.
        report["liquidation"] = liq.as_dict(s.liquidation)
    return Analysis(report, result.correlated_worst_loss, liq, equity is not None,
                    {r.line: instrument(r) for r in rows})


def _move(value: float | None, limit: float, sign: str) -> str:
    if value is None:
        return f"none to {sign}{limit:.0%}"
    return f"{value:+.2%}"


def print_report(analysis: Analysis, console: Console,
                 settings: RiskSettings | None = None) -> None:
    report = analysis.report
    s = settings or RiskSettings()
    console.print(strategies_table(report, analysis.instruments, console.width))
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
    if liq is None:
        # Left out rather than guessed: see analyse().
        console.print("Liquidation estimate: give --equity DOLLARS (the account's equity) to "
                      "see how far each underlying can move before excess liquidity is gone.",
                      style="dim")
    else:
        t = Table(title="Liquidation estimate: the move at which excess liquidity reaches "
                        "zero", title_justify="left", min_width=min(76, console.width),
                  caption=f"equity {liq.equity:,.2f} (given); excess liquidity now "
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
        title = f"{underlying}: worst loss {loss:,.2f}"
        for block in stress_tables(title, grid, console.width):
            console.print(block)


def strategies_table(report: dict[str, Any], instruments: dict[int, str],
                     width: int) -> Table:
    """The strategies with their legs, one a line (`3: SPY 20270115 170 P ×-10`), fitted
    to `width`: the strategy's name wraps first, then the legs; figures fold, they are
    never cut short ("1,0…")."""  # noqa: RUF002 (the glyph the report prints)
    # No underlying column: every leg names its instrument, the underlying first, and the
    # room goes to the legs. The account column only when the file has one: otherwise it
    # is a column of dashes.
    with_account = "accounts" in report
    names = [st["name"] for st in report["strategies"]]

    def build(name_width: int | None) -> Table:
        table = Table(title="Strategies (Reg T; futures: SPAN-like)", title_justify="left")
        table.add_column("Strategy", max_width=name_width)
        if with_account:
            table.add_column("Account")
        table.add_column("Line: leg × qty", overflow="fold")
        for column in ("Initial", "Maintenance"):
            table.add_column(column, justify="right", overflow="fold")
        for st in report["strategies"]:
            legs = "\n".join(_leg(leg, instruments) for leg in st["legs"])
            table.add_row(st["name"], *((st["account"] or "—",) if with_account else ()),
                          legs, f"{st['initial']:,.2f}", f"{st['maintenance']:,.2f}")
        return table

    table = build(None)
    excess = _MEASURE.measure(table).maximum - width
    if excess <= 0:
        return table
    # Rich would narrow the widest column, the legs, first: narrow the names instead,
    # down to their longest word, and leave the rest to Rich.
    natural = max([len("Strategy"), *(len(n) for n in names)])
    shortest = max([len("Strategy"), *(len(w) for n in names for w in n.split())])
    return build(max(shortest, natural - excess))


def _leg(leg: dict[str, Any], instruments: dict[int, str]) -> str:
    name = instruments.get(leg["line"])
    quantity = _number(leg["quantity"])
    return f"{leg['line']}: {name} ×{quantity}" if name else f"{leg['line']}: {quantity}"


def _percent(value: float) -> str:
    """A move or shift with as few decimals as show it exactly (-15%, -1.4%, +0.25%):
    a rounded heading would name a scenario that was not computed."""
    for places in (0, 1, 2):
        if abs(round(value * 100, places) - value * 100) < 1e-9:
            return f"{value:+.{places}%}"
    return f"{value:+.2%}"


def compact(value: float) -> str:
    """Whole dollars in at most about 6 characters: 292, -7.9K, 12.3M, -1.2B. The
    rounding is shown by the suffix; nothing is cut off."""
    if abs(round(value)) < 1_000:
        return f"{round(value) + 0:,.0f}"  # + 0: no "-0"
    for limit, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B")):
        scaled = value / limit
        # 999,960 would be "1000.0K": the next unit reads better.
        if abs(round(scaled, 1)) < 1_000 or suffix == "B":
            return f"{scaled:,.1f}{suffix}"
    raise AssertionError("unreachable")


def _whole(value: float) -> str:
    return f"{round(value) + 0:,.0f}"


def _chunks(items: list[float], size: int) -> list[list[float]]:
    """`items` in as few blocks of at most `size` as it takes, as even as they go."""
    count = -(-len(items) // size)
    base, extra = divmod(len(items), count)
    out, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _grid_table(title: str, grid: list[dict[str, Any]], moves: list[float],
                cell: Callable[[float], str]) -> Table:
    shifts = sorted({g["vol_shift"] for g in grid})
    t = Table(title=title, title_justify="left")
    t.add_column("vol \\ move", no_wrap=True)
    for mv in moves:
        # fold, not the default ellipsis: a figure too wide wraps, it is never "-7,…".
        t.add_column(_percent(mv), justify="right", overflow="fold")
    for v in shifts:
        cells = {g["price_move"]: g["pnl"] for g in grid if g["vol_shift"] == v}
        t.add_row(_percent(v), *(cell(cells[mv]) for mv in moves))
    return t


def _fits(table: Table, width: int) -> bool:
    """Whether the table's natural width (every cell on one line) is within `width`.
    Measured on a console wider than any table: on the real one Rich reports the width
    it would squeeze the table into, which always "fits"."""
    return _MEASURE.measure(table).maximum <= width


_MEASURE = Console(width=10_000)


def stress_tables(title: str, grid: list[dict[str, Any]], width: int) -> Iterator[Table]:
    """One underlying's stress grid as tables that fit `width` columns (the console's:
    the terminal's, COLUMNS, or 80 when piped), so no cell is cut short. In order of
    preference: whole dollars in one table; compact figures (-7.9K) in one table; whole
    dollars in the fewest blocks of price moves, each with the volatility column."""
    moves = sorted({g["price_move"] for g in grid})
    whole = _grid_table(title, grid, moves, _whole)
    if _fits(whole, width):
        yield whole
        return
    short = _grid_table(title, grid, moves, compact)
    if _fits(short, width):
        yield short
        return
    for size in range(len(moves) - 1, 0, -1):
        blocks = _chunks(moves, size)
        tables = [_grid_table(title if i == 0 else f"{title} (continued)", grid, block, _whole)
                  for i, block in enumerate(blocks)]
        if all(_fits(t, width) for t in tables) or size == 1:
            # At one move a block and still too narrow, Rich folds the figures.
            yield from tables
            return
