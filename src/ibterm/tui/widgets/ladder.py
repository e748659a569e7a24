"""The depth ladder's drawing: a price a row, the book's bid and ask sizes, the trader's
working orders at their prices, the touch and the last trade marked, the cursor row
reversed. It only draws what the depth screen gives it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from ibterm.domain.ladder import LadderRow
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour

# Column widths: my buys, bid size, price (with the last-trade mark), ask size, my sells.
_MINE, _SIZE, _PRICE = 7, 8, 11
HEADER = (f" {'Buy':>{_MINE}} {'Bid':>{_SIZE}} {'Price':>{_PRICE}}  "
          f"{'Ask':<{_SIZE}} {'Sell':<{_MINE}}")
WIDTH = len(HEADER) + 1
LAST_MARK = "◀"


class LadderView(Widget, can_focus=True):
    DEFAULT_CSS = """
    LadderView { height: 1fr; width: 100%; background: $surface; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows: tuple[LadderRow, ...] = ()
        self.cursor: int | None = None
        self.decimals = 2
        self.message = ""

    @property
    def row_count(self) -> int:
        """The price rows that fit under the header."""
        return max(1, self.size.height - 1)

    def show(self, rows: Sequence[LadderRow], cursor: int | None, decimals: int,
             message: str = "") -> None:
        self.rows, self.cursor, self.decimals, self.message = (tuple(rows), cursor, decimals,
                                                               message)
        self.refresh()

    def _colour(self, name: str) -> str:
        return rich_colour(self.app.theme_variables.get(name, "default"))

    def render(self) -> RenderResult:
        if not self.rows:
            return Text(self.message or "No quote yet", style="italic")
        bid, ask = self._colour("quote-bid"), self._colour("quote-ask")
        lines = [Text(HEADER, style="bold")]
        for row in self.rows:
            line = Text(" ")
            line.append(f"{fmt.quantity(row.buys) if row.buys else '':>{_MINE}}",
                        f"bold reverse {bid}" if row.buys else "")
            line.append(" ")
            line.append(f"{fmt.quantity(row.bid_size) if row.bid_size else '':>{_SIZE}}", bid)
            line.append(" ")
            touch = bool(row.bid_size or row.ask_size)
            line.append(f"{fmt.price(row.price, self.decimals):>{_PRICE}}",
                        "bold" if touch else "dim")
            line.append(LAST_MARK if row.last else " ", "bold")
            line.append(" ")
            line.append(f"{fmt.quantity(row.ask_size) if row.ask_size else '':<{_SIZE}}", ask)
            line.append(" ")
            line.append(f"{fmt.quantity(row.sells) if row.sells else '':<{_MINE}}",
                        f"bold reverse {ask}" if row.sells else "")
            if row.index == self.cursor:
                line.stylize("reverse" if not (row.buys or row.sells) else "underline")
                line = Text("›") + line[1:]
            lines.append(line)
        return Text("\n", no_wrap=True, overflow="crop").join(lines)
