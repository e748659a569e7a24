"""A live-data grid: fixed columns, keyed rows, per-row render caches.

Textual's DataTable re-renders every visible cell after any `update_cell` (its cell cache
is keyed by a global update count), which at a hundred quoting rows costs more than the
feed itself. Here each row is rendered to a Strip once per change, and a frame only
re-assembles cached strips, so the cost of a refresh is proportional to what changed.

Every segment of a row costs again downstream (Textual's line styling, its colour filter,
the compositor's cuts), so a row is drawn as few segments as its styles allow: cells and
padding of one style are one segment, and a row comes padded to the widget's width.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ibterm.tui.theme import rich_colour


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    justify: Literal["left", "right"] = "right"
    # Narrow terminals: columns with a higher priority leave first; 0 never leaves (the
    # symbol, prices, the data state, P&L). Ties leave from the right.
    priority: int = 0
    # A column may narrow to this before a valued column (priority <= 1) leaves.
    min_width: int | None = None
    # Takes the width left over (from `width`, its least, upwards): the blotter's note.
    grow: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    """A column as laid out for the grid's current width."""

    column: Column
    width: int
    pad: int  # spaces on each side


# Columns that are worth narrowing others (or the padding) for before they leave.
_SHRINK_FOR = 1
_TIGHT_FOR = 1


def fit_columns(columns: tuple[Column, ...], available: int) -> tuple[Placed, ...]:
    """The columns that fit in `available` cells, in their order, with their widths.

    Lesser columns leave first; before a valued one leaves, flexible columns narrow to
    their minimum, and before an essential one leaves, the padding tightens to one space.
    With only essential columns left and still too wide, the grid scrolls sideways."""
    drop_order = sorted((c for c in columns if c.priority > 0),
                        key=lambda c: (-c.priority, -columns.index(c)))
    for dropped in range(len(drop_order) + 1):
        gone = {id(c) for c in drop_order[:dropped]}
        shown = [c for c in columns if id(c) not in gone]
        nxt = drop_order[dropped].priority if dropped < len(drop_order) else 0
        # (narrow the flexible columns, padding): a whole symbol before roomy padding.
        tries = [(False, 1)]
        if nxt <= _TIGHT_FOR:
            tries.append((False, 0))
        if nxt <= _SHRINK_FOR:
            tries.append((True, 1))
        if nxt <= _TIGHT_FOR:
            tries.append((True, 0))
        for shrink, pad in tries:
            placed = _place(shown, available, shrink, pad)
            if placed is not None:
                return placed
    shown = [c for c in columns if c.priority == 0]
    return tuple(Placed(c, c.min_width or c.width, 0) for c in shown)


def _place(shown: list[Column], available: int, shrink: bool,
           pad: int) -> tuple[Placed, ...] | None:
    # pad 1: a space either side (the roomy look); pad 0: one space before each column.
    gap = 2 if pad else 1
    widths = [c.width for c in shown]
    total = sum(widths) + gap * len(shown)
    if total > available and shrink:
        for i, c in enumerate(shown):
            if c.min_width is not None and total > available:
                cut = min(widths[i] - c.min_width, total - available)
                widths[i] -= cut
                total -= cut
    if total > available:
        return None
    spare = available - total
    for i, c in enumerate(shown):
        if c.grow and spare:
            widths[i] += spare
            break
    return tuple(Placed(c, w, pad) for c, w in zip(shown, widths, strict=True))


# A cell's text and its style (a Rich style string or Style).
Cell = tuple[str, "str | Style"]
_BLANK: Cell = ("", "")


@lru_cache(maxsize=4096)
def _on(base: Style, spec: str | Style) -> Style:
    """A cell's style over the row's: parsed and combined once per pair, not per frame."""
    return base + (spec if isinstance(spec, Style) else Style.parse(spec))


def _fit(text: str, width: int, justify: str) -> str:
    length = cell_len(text)
    if length > width:
        # A cut is marked: "SPY 20261218 6…" must not read as another instrument.
        return set_cell_size(text, width - 1) + "…" if width > 1 else "…"
    if length == width:
        return text
    pad = " " * (width - length)
    return text + pad if justify == "left" else pad + text


class Grid(ScrollView, can_focus=True):
    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Row up", show=False, id="row-up"),
        Binding("down", "cursor_down", "Row down", show=False, id="row-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="page-down"),
        Binding("home", "first_row", "First row", show=False, id="first-row"),
        Binding("end", "last_row", "Last row", show=False, id="last-row"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "grid--header", "grid--cursor", "grid--cursor-blurred", "grid--odd",
    }
    DEFAULT_CSS = """
    Grid { background: $surface; }
    Grid > .grid--header { background: $panel; color: $text-muted; text-style: bold; }
    Grid > .grid--odd { background: $surface-lighten-1; }
    Grid > .grid--cursor-blurred { background: $panel-lighten-1; }
    Grid > .grid--cursor { background: $primary 45%; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, dict[str, Cell]] = {}
        # The last visible line of each row, as cropped for the screen: a frame that does
        # not touch a row reuses it, so unchanged rows cost a dict lookup.
        self._lines: dict[str, tuple[tuple[str, int, int], Strip]] = {}
        # Rows changed since their line was last drawn: their next change asks for no
        # repaint (a quote changes up to nine cells). An off-screen row waits here too: it
        # comes into view only by a scroll or a resize, and both repaint every line.
        self._pending: set[str] = set()
        # The widget's own style, looked up once a frame (it walks every ancestor).
        self._base: Style | None = None
        self._colours: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._cursor = 0
        self._layout: tuple[Placed, ...] = tuple(Placed(c, c.width, 1) for c in self.COLUMNS)
        self._total_width = self._width_of(self._layout)

    @staticmethod
    def _width_of(layout: tuple[Placed, ...]) -> int:
        return sum(p.width + (2 if p.pad else 1) for p in layout)

    @property
    def visible_columns(self) -> list[str]:
        """The keys of the columns shown at the grid's current width."""
        return [p.column.key for p in self._layout]

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.size.width
        if len(self._keys) + 1 > self.size.height:
            # Rows that overflow bring the vertical scrollbar: fit beside it, or the last
            # column would need sideways scrolling.
            width -= self.styles.scrollbar_size_vertical
        if width <= 0:
            return  # a collapsed pane: fitted when it opens
        layout = fit_columns(self.COLUMNS, width)
        if layout == self._layout:
            return
        self._layout = layout
        self._total_width = self._width_of(layout)
        self._lines.clear()
        self.virtual_size = Size(self._total_width, len(self._keys) + 1)
        self.refresh()

    # --- data ------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def row_keys(self) -> list[str]:
        return list(self._keys)

    def add_row(self, key: str) -> None:
        if key in self._index:
            return
        self._index[key] = len(self._keys)
        self._keys.append(key)
        self._cells[key] = {}
        self._resize()
        self.refresh()

    def remove_row(self, key: str) -> None:
        if key not in self._index:
            return
        self._keys.remove(key)
        self._index = {k: i for i, k in enumerate(self._keys)}
        del self._cells[key]
        self._lines.pop(key, None)
        self._pending.discard(key)
        self._cursor = max(0, min(self._cursor, len(self._keys) - 1))
        self._resize()
        self.refresh()

    def reorder(self, keys: list[str]) -> None:
        """Show the rows in this order (keys not given keep their place at the end)."""
        ordered = [k for k in keys if k in self._index]
        ordered += [k for k in self._keys if k not in set(ordered)]
        if ordered == self._keys:
            return
        current = self._keys[self._cursor] if self._keys else None
        self._keys = ordered
        self._index = {k: i for i, k in enumerate(ordered)}
        self._lines.clear()
        if current is not None:
            self._cursor = self._index[current]
        self.refresh()

    def set_cell(self, row: str, column: str, value: Text) -> None:
        """Change one cell; the row is re-rendered only if its text or style changed."""
        self.set_text(row, column, value.plain, value.style)

    def set_text(self, row: str, column: str, text: str, style: str | Style = "") -> None:
        """`set_cell` without building a Text: the path every quote takes."""
        cells = self._cells[row]
        if cells.get(column) == (text, style):
            return
        cells[column] = (text, style)
        self._lines.pop(row, None)
        if row not in self._pending:
            self._pending.add(row)
            self._refresh_row(self._index[row])

    def get_cell(self, row: str, column: str) -> Text:
        text, style = self._cells[row].get(column, _BLANK)
        return Text(text, style=style)

    def get_cell_at(self, coordinate: tuple[int, int]) -> Text:
        row, col = coordinate
        return self.get_cell(self._keys[row], self.COLUMNS[col].key)

    def color(self, name: str) -> str:
        """An app colour variable (trade-up, quote-stale, …) as a Rich colour string."""
        variables = self.app.theme_variables
        source, colours = self._colours
        if source is not variables:
            # A new theme is a new variables dict: the colours of the old one are gone.
            source, colours = self._colours = (variables, {})
        colour = colours.get(name)
        if colour is None:
            colour = colours[name] = rich_colour(variables.get(name, "default"))
        return colour

    # --- cursor ----------------------------------------------------------------------
    @property
    def cursor_row(self) -> int:
        return self._cursor

    def move_cursor(self, row: int) -> None:
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        old, self._cursor = self._cursor, row
        self._refresh_row(old)
        self._refresh_row(row)
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + max(1, self.size.height - 2))

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(int(self.scroll_y) + event.y - 1)

    def on_focus(self) -> None:
        self._refresh_row(self._cursor)

    def on_blur(self) -> None:
        self._refresh_row(self._cursor)

    # --- rendering -------------------------------------------------------------------
    def _resize(self) -> None:
        self.virtual_size = Size(self._total_width, len(self._keys) + 1)
        if self.is_mounted:
            self._fit()

    def _refresh_row(self, index: int) -> None:
        line = index - int(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()

    def _header(self) -> Strip:
        style = self.get_component_rich_style("grid--header")
        segments = []
        for p in self._layout:
            tail = " " if p.pad else ""
            segments.append(Segment(f" {_fit(p.column.label, p.width, p.column.justify)}"
                                    f"{tail}", style))
        return Strip(segments, self._total_width)

    def _row_line(self, key: str, variant: str, scroll_x: int, width: int,
                  fill: Style) -> Strip:
        """The row as shown: the cells from `scroll_x`, `width` cells, padded with `fill`."""
        base = fill if variant == "even" else self.get_component_rich_style(f"grid--{variant}")
        cells = self._cells[key]
        # (text, style) runs: a piece of the style of the run before it joins that run.
        # Styles are compared by identity: `_on` hands out one object per combination
        # (an unstyled cell takes the row's own), and two equal styles left apart only
        # cost a segment.
        texts: list[str] = []
        styles: list[Style] = []
        for placed in self._layout:
            col = placed.column
            text, spec = cells.get(col.key, _BLANK)
            style = _on(base, spec) if spec else base
            cell = _fit(text, placed.width, col.justify)
            if styles and styles[-1] is base:
                texts[-1] += " "
            else:
                texts.append(" ")
                styles.append(base)
            if style is styles[-1]:
                texts[-1] += cell
            else:
                texts.append(cell)
                styles.append(style)
            if placed.pad:
                if styles[-1] is base:
                    texts[-1] += " "
                else:
                    texts.append(" ")
                    styles.append(base)
        total = self._total_width
        if scroll_x == 0 and width >= total:
            if width > total:
                if styles and styles[-1] is fill:
                    texts[-1] += " " * (width - total)
                else:
                    texts.append(" " * (width - total))
                    styles.append(fill)
            return Strip([Segment(t, s) for t, s in zip(texts, styles, strict=True)], width)
        strip = Strip([Segment(t, s) for t, s in zip(texts, styles, strict=True)], total)
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_x)
        base = self._base if self._base is not None else self.rich_style
        if y == 0:
            fill = self.get_component_rich_style("grid--header")
            return self._header().crop_extend(scroll_x, scroll_x + width, fill)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, base)
        if index == self._cursor:
            variant = "cursor" if self.has_focus else "cursor-blurred"
        else:
            variant = "odd" if index % 2 else "even"
        key = self._keys[index]
        self._pending.discard(key)
        stamp = (variant, scroll_x, width)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        line = self._row_line(key, variant, scroll_x, width, base)
        self._lines[key] = (stamp, line)
        return line
