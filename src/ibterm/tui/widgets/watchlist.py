"""The watchlist: one row per instrument, cells updated in place as quotes arrive."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ibterm.domain.quote import MarketDataType, Quote
from ibterm.domain.watchlist import WatchItem
from ibterm.tui import format as fmt
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    Column("symbol", "Symbol", 18, "left", min_width=11),
    Column("bid", "Bid", 10),
    Column("ask", "Ask", 10),
    Column("last", "Last", 10),
    Column("chg", "Chg", 9, priority=3),
    Column("chg_pct", "Chg%", 7, priority=1),
    Column("volume", "Volume", 7, priority=4),
    Column("age", "Age", 5, priority=2),
    Column("data", "Data", 7, "left"),
)
_DATA_LABEL = {
    MarketDataType.LIVE: "live",
    MarketDataType.FROZEN: "FROZEN",
    MarketDataType.DELAYED: "DELAYED",
    MarketDataType.DELAYED_FROZEN: "DLY-FRZ",
}


class WatchlistTable(Grid):
    """Rows are keyed by the watchlist entry's text; cells change only when their text does."""

    COLUMNS = COLUMNS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "edit('add')", "Add", id="watchlist-add"),
        Binding("x,delete", "edit('remove')", "Remove", id="watchlist-remove"),
        Binding("u", "edit('undo')", "Undo remove", show=False, id="watchlist-undo"),
        Binding("shift+up", "edit('up')", "Move up", show=False, id="watchlist-move-up"),
        Binding("shift+down", "edit('down')", "Move down", show=False, id="watchlist-move-down"),
    ]

    class EditRequested(Message):
        def __init__(self, kind: str, text: str) -> None:
            super().__init__()
            self.kind = kind  # add, remove, undo, up, down
            self.text = text  # the entry under the cursor

    def action_edit(self, kind: str) -> None:
        text = self.items[self.cursor_row].text if self.items else ""
        self.post_message(self.EditRequested(kind, text))

    def __init__(self, stale_after: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stale_after = stale_after
        # With the link down every quote shown is its last: stale, whatever its age.
        self.link_up = True
        self.items: list[WatchItem] = []
        self.quotes: dict[str, Quote] = {}  # row key -> latest quote
        self._row_of: dict[int, list[str]] = {}  # con_id -> row keys
        self._decimals: dict[str, int] = {}

    def set_items(self, items: list[WatchItem]) -> None:
        """Add new entries, drop removed ones, keep the rest (and the cursor) as they are."""
        wanted = [item.text for item in items]
        for old in [i.text for i in self.items if i.text not in wanted]:
            self.remove_row(old)
            self.quotes.pop(old, None)
        existing = {i.text for i in self.items}
        self._row_of = {}
        for item in items:
            if item.text not in existing:
                self.add_row(item.text)
            if item.instrument is not None:
                self._row_of.setdefault(item.instrument.con_id, []).append(item.text)
                self._decimals[item.text] = fmt.tick_decimals(item.instrument.min_tick)
            self.set_cell(item.text, "symbol", self._symbol_text(item))
            if item.error:
                error_style = f"bold {self.color('trade-down')}"
                self.set_cell(item.text, "data", Text("error", style=error_style))
            elif item.instrument is None:
                self.set_cell(item.text, "data", Text("…", style="dim"))
        self.items = list(items)
        self.reorder(wanted)

    def _symbol_text(self, item: WatchItem) -> Text:
        name = item.instrument.display if item.instrument else item.text
        return Text(name, style="bold" if not item.error else "strike")

    def apply_quotes(self, quotes: list[Quote], now: float) -> None:
        for quote in quotes:
            for key in self._row_of.get(quote.con_id, ()):
                self.quotes[key] = quote
                self._render_row(key, quote, now)

    def refresh_ages(self, now: float) -> None:
        """Age and staleness move with the clock, not with ticks."""
        for key, quote in self.quotes.items():
            self._render_row(key, quote, now)

    def _render_row(self, key: str, q: Quote, now: float) -> None:
        stale = not self.link_up or q.is_stale(now, self.stale_after)
        delayed = q.data_type in (MarketDataType.DELAYED, MarketDataType.DELAYED_FROZEN)
        dec = self._decimals.get(key, 2)
        base = ""
        if stale:
            base = self.color("quote-stale")
        elif delayed:
            base = self.color("quote-delayed")
        if q.flag:
            base = self.color("trade-down")  # a flagged quote shows in the loss colour
        change = q.change
        trend = ""
        if not stale and change:
            trend = self.color("trade-up") if change > 0 else self.color("trade-down")
        put = self.set_text
        put(key, "bid", fmt.price(q.bid, dec), base)
        put(key, "ask", fmt.price(q.ask, dec), base)
        put(key, "last", fmt.price(q.last, dec), f"bold {base}" if base else "bold")
        put(key, "chg", fmt.signed(change, dec), trend or base)
        put(key, "chg_pct", fmt.percent(q.change_pct), trend or base)
        put(key, "volume", fmt.compact(q.volume), base)
        put(key, "age", fmt.age(q.age(now)), base or "dim")
        label = "STALE" if stale else _DATA_LABEL[q.data_type]
        if q.flag:
            label = q.flag.upper()  # BAD, CROSSED, ZERO: before anything else
        flagged = bool(q.flag) or stale or delayed or not q.data_type.is_live
        put(key, "data", label, f"bold {base}" if flagged else "dim")

    def data_types(self) -> set[MarketDataType]:
        return {q.data_type for q in self.quotes.values()}
