"""Positions with P&L, and the account summary line under them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ibterm.domain.account import AccountSummary, Position
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    Column("symbol", "Symbol", 18, "left", min_width=11),
    Column("qty", "Qty", 8, min_width=6),
    Column("avg", "Avg cost", 11, priority=2),
    Column("price", "Mkt price", 11, min_width=9),
    Column("value", "Mkt value", 12, priority=3),
    Column("unrl", "Unrl P&L", 11, min_width=9),
    Column("daily", "Daily P&L", 11, min_width=9),
)


def position_key(p: Position) -> str:
    return f"{p.account}:{p.instrument.con_id}"


class PositionsTable(Grid):
    COLUMNS = COLUMNS

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._shown: list[str] = []

    def apply_positions(self, positions: list[Position]) -> None:
        live = [p for p in positions if p.quantity != 0]
        keys = [position_key(p) for p in live]
        for gone in [k for k in self._shown if k not in keys]:
            self.remove_row(gone)
        for key, pos in zip(keys, live, strict=True):
            self.add_row(key)
            self._render_row(key, pos)
        self._shown = keys

    def selected_symbol(self) -> str | None:
        if not self._shown:
            return None
        return self.get_cell(self._shown[self.cursor_row], "symbol").plain

    def _pnl(self, value: float | None) -> Text:
        style = ""
        if value:
            style = self.color("trade-up") if value > 0 else self.color("trade-down")
        return Text(fmt.signed_money(value), style=style)

    def _render_row(self, key: str, p: Position) -> None:
        dec = fmt.tick_decimals(p.instrument.min_tick)
        self.set_cell(key, "symbol", Text(p.instrument.display, style="bold"))
        self.set_cell(key, "qty", Text(fmt.quantity(p.quantity)))
        self.set_cell(key, "avg", Text(fmt.price(p.avg_cost, dec)))
        self.set_cell(key, "price", Text(fmt.price(p.market_price, dec)))
        self.set_cell(key, "value", Text(fmt.money(p.market_value)))
        self.set_cell(key, "unrl", self._pnl(p.unrealized_pnl))
        self.set_cell(key, "daily", self._pnl(p.daily_pnl))



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
