"""Positions with P&L and greeks, grouped by underlying, and the account summary line
under them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ibterm.domain.account import AccountSummary, Position
from ibterm.domain.instrument import SecType
from ibterm.domain.position_groups import (
    DELAYED,
    PARTIAL,
    STALE,
    Grouping,
    TreeRow,
    group_key,
    tree,
)
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    Column("symbol", "Symbol", 22, "left", min_width=11),
    Column("qty", "Qty", 8, min_width=6),
    Column("avg", "Avg cost", 11, priority=2),
    Column("price", "Mkt price", 11, min_width=9),
    Column("value", "Mkt value", 12, priority=3),
    Column("unrl", "Unrl P&L", 11, min_width=9),
    Column("daily", "Daily P&L", 11, min_width=9),
    # The greeks' units are in their headers (domain/position_groups.py): delta in
    # shares, gamma in dollars of delta for a 1% move, theta and vega in dollars a day
    # and a volatility point. Their source (or what is wrong with it) is the last column.
    Column("delta", "Δ sh", 8, priority=4),
    Column("gamma", "Γ $/1%", 8, priority=6),
    Column("theta", "Θ $/day", 8, priority=5),
    Column("vega", "Vega $", 8, priority=6),
    Column("src", "Src", 5, "left", priority=4),
)
_FOLDED, _OPEN = "▸", "▾"
_HEADERS = ("underlying", "strategy", "total")


def _figure(value: float) -> str:
    """A greek: whole units from 100 on (and a stock's shares), one decimal under (a
    condor's delta of -0.9)."""
    whole = abs(value) >= 100 or value == round(value)
    text = f"{value:,.0f}" if whole else f"{value:,.1f}"
    return "0" if text in ("0.0", "-0.0") else text.replace("-", fmt.MINUS)


class PositionsTable(Grid):
    """Positions by underlying: an underlying of several positions under a header with
    their sums, its strategies (as the margin pairing finds them) over their legs, the
    legs left over as themselves; with options held, the account's sums last."""

    COLUMNS = COLUMNS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_fold", "Fold underlying", id="fold-underlying"),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._shown: list[str] = []
        self._rows: dict[str, TreeRow] = {}
        self._positions: list[Position] = []
        self._grouping = Grouping()
        self.folded: set[str] = set()  # underlyings shown as their header only

    @property
    def positions(self) -> list[Position]:
        return list(self._positions)

    def apply_positions(self, positions: list[Position]) -> None:
        self._positions = [p for p in positions if p.quantity != 0]
        self._redraw()

    def apply_grouping(self, grouping: Grouping) -> None:
        if grouping == self._grouping:
            return
        self._grouping = grouping
        self._redraw()

    def _redraw(self) -> None:
        rows = tree(self._positions, self._grouping, frozenset(self.folded))
        keys = [r.key for r in rows]
        for gone in [k for k in self._shown if k not in set(keys)]:
            self.remove_row(gone)
        for row in rows:
            self.add_row(row.key)
            self._render_row(row)
        self.reorder(keys)
        self._shown = keys
        self._rows = {r.key: r for r in rows}

    def row(self, index: int) -> TreeRow | None:
        return self._rows.get(self._shown[index]) if 0 <= index < len(self._shown) else None

    def selected_symbol(self) -> str | None:
        """The instrument under the cursor; a header's underlying."""
        row = self.row(self.cursor_row)
        if row is None or row.kind == "total":
            return None
        if row.position is not None:
            return row.position.instrument.display
        return row.underlying

    def action_toggle_fold(self) -> None:
        """Fold the underlying under the cursor to its header, or open it again."""
        row = self.row(self.cursor_row)
        if row is None or row.kind == "total":
            return
        header = group_key(row.underlying)
        if header not in self._rows:
            return  # a lone position: nothing to fold
        self.folded.symmetric_difference_update({row.underlying})
        self._redraw()
        self.move_cursor(self._shown.index(header))

    def _pnl(self, value: float | None) -> Text:
        style = ""
        if value:
            style = self.color("trade-up") if value > 0 else self.color("trade-down")
        return Text(fmt.signed_money(value), style=style)

    def _render_row(self, row: TreeRow) -> None:
        key, p = row.key, row.position
        label = "  " * row.depth + row.label
        if row.kind == "underlying":
            label = f"{_FOLDED if row.collapsed else _OPEN} {row.label}"
        header = row.kind in _HEADERS
        self.set_cell(key, "symbol", Text(label, style="bold" if header or p is None
                                          or row.depth == 0 else ""))
        self.set_cell(key, "qty", Text(fmt.quantity(row.quantity)
                                       if row.quantity is not None else ""))
        if p is not None:
            dec = fmt.tick_decimals(p.instrument.min_tick)
            self.set_cell(key, "avg", Text(fmt.price(p.avg_cost, dec)))
            self.set_cell(key, "price", Text(fmt.price(p.market_price, dec)))
            self.set_cell(key, "value", Text(fmt.money(p.market_value) if row.whole else ""))
        # A leg that holds part of a position: the P&L is the whole position's, on its
        # other row, so none here.
        unrl, daily = row.pnl
        self.set_cell(key, "unrl", self._pnl(unrl) if row.whole else Text(""))
        self.set_cell(key, "daily", self._pnl(daily) if row.whole else Text(""))
        g = row.greeks
        option = p is None or p.instrument.sec_type in (SecType.OPT, SecType.FOP)
        # Figures from old, delayed or missing inputs in the stale colour as well: on a
        # terminal too narrow for the source column, that still tells them apart.
        stale = self.color("quote-stale") if row.mark in (STALE, DELAYED, PARTIAL) else ""
        self.set_cell(key, "delta", Text(_figure(g.delta) if g else fmt.DASH, style=stale))
        for column in ("gamma", "theta", "vega"):
            # A stock or future has none: blank, not a column of zeros.
            value = getattr(g, column) if g and option else None
            self.set_cell(key, column, Text(_figure(value) if value is not None
                                            else (fmt.DASH if option else ""), style=stale))
        self.set_cell(key, "src", Text(row.mark, style=stale or "dim"))


class AccountLine(Static):
    """The account's figures, packed onto as many lines as the width needs: a figure is
    never cut, and the daily P&L comes before the lesser ones."""

    DEFAULT_CSS = """
    AccountLine { height: auto; padding: 0 1; background: $surface; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._summary: AccountSummary | None = None

    def on_resize(self) -> None:
        if self._summary is not None:
            self.show(self._summary)

    def items(self, s: AccountSummary) -> list[Text]:
        daily = s.daily_pnl
        colour = ""
        if daily:
            var = "trade-up" if daily > 0 else "trade-down"
            colour = rich_colour(self.app.theme_variables.get(var, "default"))
        cushion = s.cushion
        figures = [
            ("Net liq", fmt.money(s.net_liquidation), ""),
            ("Daily P&L", fmt.signed_money(daily), colour),
            ("Excess liq", fmt.money(s.excess_liquidity), ""),
            ("Cushion", f"{cushion * 100:.1f}%" if cushion is not None else fmt.DASH, ""),
            ("Init margin", fmt.money(s.init_margin), ""),
            ("Buying power", fmt.money(s.buying_power), ""),
        ]
        return [Text.assemble((f"{label} ", "dim"), (value, f"bold {style}".strip()))
                for label, value, style in figures]

    def show(self, s: AccountSummary) -> None:
        self._summary = s
        width = max(20, self.content_region.width or 200)
        lines: list[Text] = [Text()]
        for item in self.items(s):
            line = lines[-1]
            gap = 3 if line.cell_len else 0
            if line.cell_len and line.cell_len + gap + item.cell_len > width:
                lines.append(Text())
                line, gap = lines[-1], 0
            line.append(" " * gap)
            line.append_text(item)
        self.update(Text("\n").join(lines))
