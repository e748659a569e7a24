"""The watchlist: one row per instrument, cells updated in place as quotes arrive."""

from __future__ import annotations

from rich.text import Text

from ibterm.broker.session import WatchItem
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.tui import format as fmt
from ibterm.tui.widgets.table import PaneTable

COLUMNS = (
    ("symbol", "Symbol", 16),
    ("bid", "Bid", 11),
    ("ask", "Ask", 11),
    ("last", "Last", 11),
    ("chg", "Chg", 10),
    ("chg_pct", "Chg%", 8),
    ("volume", "Volume", 8),
    ("age", "Age", 6),
    ("data", "Data", 8),
)
_DATA_LABEL = {
    MarketDataType.LIVE: "live",
    MarketDataType.FROZEN: "FROZEN",
    MarketDataType.DELAYED: "DELAYED",
    MarketDataType.DELAYED_FROZEN: "DLY-FRZ",
}


class WatchlistTable(PaneTable):
    """Rows are keyed by the watchlist entry's text; cells change only when their text does."""

    def __init__(self, stale_after: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stale_after = stale_after
        self.items: list[WatchItem] = []
        self.quotes: dict[str, Quote] = {}  # row key -> latest quote
        self._row_of: dict[int, list[str]] = {}  # con_id -> row keys
        self._cells: dict[tuple[str, str], Text] = {}
        self._decimals: dict[str, int] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def set_items(self, items: list[WatchItem]) -> None:
        """Add new entries, drop removed ones, keep the rest (and the cursor) as they are."""
        wanted = [item.text for item in items]
        for old in [i.text for i in self.items if i.text not in wanted]:
            self.remove_row(old)
            self.quotes.pop(old, None)
            self._cells = {k: v for k, v in self._cells.items() if k[0] != old}
        existing = {i.text for i in self.items}
        self._row_of = {}
        for item in items:
            if item.text not in existing:
                self.add_row(*(Text("") for _ in COLUMNS), key=item.text)
            if item.instrument is not None:
                self._row_of.setdefault(item.instrument.con_id, []).append(item.text)
                self._decimals[item.text] = fmt.tick_decimals(item.instrument.min_tick)
            self._set(item.text, "symbol", self._symbol_text(item))
            if item.error:
                self._set(item.text, "data", Text("error", style=f"bold {self.color('trade-down')}"))
            elif item.instrument is None:
                self._set(item.text, "data", Text("…", style="dim"))
        self.items = list(items)

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
        stale = q.is_stale(now, self.stale_after)
        delayed = q.data_type in (MarketDataType.DELAYED, MarketDataType.DELAYED_FROZEN)
        dec = self._decimals.get(key, 2)
        base = ""
        if stale:
            base = self.color("quote-stale")
        elif delayed:
            base = self.color("quote-delayed")
        change = q.change
        trend = ""
        if not stale and change:
            trend = self.color("trade-up") if change > 0 else self.color("trade-down")
        self._set(key, "bid", Text(fmt.price(q.bid, dec), style=base))
        self._set(key, "ask", Text(fmt.price(q.ask, dec), style=base))
        self._set(key, "last", Text(fmt.price(q.last, dec), style=f"bold {base}".strip()))
        self._set(key, "chg", Text(fmt.signed(change, dec), style=trend or base))
        self._set(key, "chg_pct", Text(fmt.percent(q.change_pct), style=trend or base))
        self._set(key, "volume", Text(fmt.compact(q.volume), style=base))
        self._set(key, "age", Text(fmt.age(q.age(now)), style=base or "dim"))
        label = "STALE" if stale else _DATA_LABEL[q.data_type]
        style = f"bold {base}" if (stale or delayed or not q.data_type.is_live) else "dim"
        self._set(key, "data", Text(label, style=style))

    def _set(self, row: str, column: str, value: Text) -> None:
        previous = self._cells.get((row, column))
        if previous is not None and previous.plain == value.plain and previous.style == value.style:
            return
        self._cells[(row, column)] = value
        self.update_cell(row, column, value)

    def data_types(self) -> set[MarketDataType]:
        return {q.data_type for q in self.quotes.values()}
