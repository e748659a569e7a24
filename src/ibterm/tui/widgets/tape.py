"""Time and sales: the newest print on top, its time, price, size and the side it took
(▲ at or above the ask, ▼ at or below the bid, · inside the spread), readable without
colour; the exchange where there is room."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from ibterm.domain.tape import Aggressor, Print
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour

_MARK = {Aggressor.BUY: "▲ buy", Aggressor.SELL: "▼ sell", Aggressor.MID: "· mid",
         Aggressor.UNKNOWN: "?"}
_COLOUR = {Aggressor.BUY: "trade-up", Aggressor.SELL: "trade-down",
           Aggressor.MID: "quote-stale", Aggressor.UNKNOWN: "quote-stale"}
# Time, price, size, side: the side in words from this width on, the exchange from this.
_WITH_WORDS, _WITH_EXCHANGE = 34, 42


def print_line(p: Print, decimals: int, width: int) -> str:
    """One print as the tape shows it at this width."""
    time, price, size = (f"{p.time.astimezone():%H:%M:%S}", fmt.price(p.price, decimals),
                         fmt.quantity(p.size))
    if width < _WITH_WORDS:  # the side by its mark alone
        return f"{time} {price:>9} {size:>5} {_MARK[p.side][0]}"
    text = f"{time} {price:>10} {size:>6} {_MARK[p.side]:<6}"
    if width >= _WITH_EXCHANGE and p.exchange:
        text += f" {p.exchange}"
    return text


class TapeView(Widget, can_focus=False):
    DEFAULT_CSS = """
    TapeView { height: 1fr; width: 100%; background: $surface; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.prints: tuple[Print, ...] = ()
        self.decimals = 2
        self.message = ""

    def show(self, prints: tuple[Print, ...], decimals: int, message: str = "") -> None:
        self.prints, self.decimals, self.message = prints, decimals, message
        self.refresh()

    def render(self) -> RenderResult:
        if not self.prints:
            return Text(self.message or "No prints yet", style="italic")
        width, height = self.size
        colours = {side: rich_colour(self.app.theme_variables.get(name, "default"))
                   for side, name in _COLOUR.items()}
        lines = [Text(print_line(p, self.decimals, width), style=colours[p.side])
                 for p in self.prints[:height]]
        return Text("\n", no_wrap=True, overflow="crop").join(lines)
