"""Positions with P&L, and the account summary line under them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ibterm.domain.account import AccountSummary, Position
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    Column("symbol", "Symbol", 18, "left"),
    Column("qty", "Qty", 8),
    Column("avg", "Avg cost", 11),
    Column("price", "Mkt price", 11),
    Column("value", "Mkt value", 12),
    Column("unrl", "Unrl P&L", 11),
    Column("daily", "Daily P&L", 11),
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
    DEFAULT_CSS = """
    AccountLine { height: 1; padding: 0 1; background: $surface; }
    """

    def show(self, s: AccountSummary) -> None:
        text = Text()

        def item(label: str, value: str, style: str = "") -> None:
            text.append(f"{label} ", style="dim")
            text.append(value, style=f"bold {style}".strip())
            text.append("   ")

        item("Net liq", fmt.money(s.net_liquidation))
        item("Excess liq", fmt.money(s.excess_liquidity))
        item("Buying power", fmt.money(s.buying_power))
        cushion = s.cushion
        item("Cushion", f"{cushion * 100:.1f}%" if cushion is not None else fmt.DASH)
        daily = s.daily_pnl
        colour = ""
        if daily:
            var = "trade-up" if daily > 0 else "trade-down"
            colour = rich_colour(self.app.theme_variables.get(var, "default"))
        item("Daily P&L", fmt.signed_money(daily), colour)
        item("Init margin", fmt.money(s.init_margin))
        self.update(text)
