"""The live grid's drawing: what changed reaches the screen, once a batch, in few segments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from ibterm.tui.widgets.grid import Column, Grid


class Table(Grid):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("name", "Name", 6, "left"), Column("bid", "Bid", 7), Column("ask", "Ask", 7))

    def __init__(self) -> None:
        super().__init__(id="table")
        self.repaints: list[tuple[Region, ...]] = []

    def refresh(self, *regions: Region, **kwargs: bool) -> Table:
        self.repaints.append(regions)
        return super().refresh(*regions, **kwargs)


class GridApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Table()

    def on_mount(self) -> None:
        table = self.query_one(Table)
        for i in range(self.rows):
            table.add_row(f"r{i}")
            table.set_text(f"r{i}", "name", f"N{i}")


def _line(table: Table, key: str) -> str:
    """The row's line as the screen shows it now."""
    y = table.row_keys.index(key) - int(table.scroll_y) + 1
    return table.render_lines(Region(0, y, table.size.width, 1))[0].text


async def _drawn(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


@asynccontextmanager
async def _shown(rows: int, size: tuple[int, int]) -> AsyncIterator[tuple[Pilot[None], Table]]:
    """A table of `rows` named rows, drawn, its repaints so far forgotten."""
    app = GridApp(rows)
    async with app.run_test(size=size) as pilot:
        table = app.query_one(Table)
        await _drawn(pilot)
        table.repaints.clear()
        yield pilot, table


async def test_a_row_asks_one_repaint_for_all_the_cells_changed_in_a_batch() -> None:
    async with _shown(3, (40, 10)) as (pilot, table):
        table.set_text("r1", "bid", "10.00")
        table.set_text("r1", "ask", "10.02")
        table.set_text("r1", "bid", "10.01")
        assert table.repaints == [(Region(0, 2, 40, 1),)]
        await _drawn(pilot)
        assert _line(table, "r1").split() == ["N1", "10.01", "10.02"]
        # Drawn: the next change asks again; an unchanged value asks nothing.
        table.set_text("r1", "ask", "10.03")
        table.set_text("r1", "ask", "10.03")
        assert len(table.repaints) == 2
        await _drawn(pilot)
        assert _line(table, "r1").split() == ["N1", "10.01", "10.03"]


async def test_an_off_screen_row_shows_its_last_values_when_it_comes_into_view() -> None:
    async with _shown(30, (40, 8)) as (pilot, table):
        table.set_text("r25", "bid", "1.00")
        table.set_text("r25", "bid", "2.00")
        assert table.repaints == []  # nothing on screen changed
        table.move_cursor(25)
        await _drawn(pilot)
        assert _line(table, "r25").split()[:2] == ["N25", "2.00"]
        table.set_text("r25", "bid", "3.00")
        await _drawn(pilot)
        assert _line(table, "r25").split()[:2] == ["N25", "3.00"]


async def test_cells_in_the_rows_own_style_are_drawn_as_one_segment() -> None:
    async with _shown(2, (40, 6)) as (pilot, table):
        table.add_row("plain")  # the third row: an even one, off the cursor
        table.set_text("plain", "name", "ABC")
        table.set_text("plain", "bid", "1.50")
        await _drawn(pilot)
        strip = table.render_lines(Region(0, 3, 40, 1))[0]
        assert strip.text == " ABC    " + "    1.50 " + " " * 9 + " " * 14
        assert len(list(strip)) == 1
        table.set_text("plain", "bid", "1.50", "bold")
        await _drawn(pilot)
        strip = table.render_lines(Region(0, 3, 40, 1))[0]
        assert [s.text.strip() for s in strip] == ["ABC", "1.50", ""]
        assert strip.text == " ABC    " + "    1.50 " + " " * 9 + " " * 14


async def test_colours_follow_a_change_of_theme() -> None:
    async with _shown(1, (40, 6)) as (pilot, table):
        table.app.theme = "textual-dark"
        await _drawn(pilot)
        dark = table.color("primary")
        table.app.theme = "textual-light"
        await _drawn(pilot)
        assert table.color("primary") != dark
