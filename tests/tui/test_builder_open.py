"""The strategy builder opened on its own (open-builder) on the watchlist's row: the
templates first; on a row with no options it says so."""

from __future__ import annotations

from ibterm.sim.server import SimServer
from ibterm.tui.widgets.builder import StrategyBuilder, TemplateChooser
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until


async def test_open_builder_on_the_row_under_the_cursor(sim: SimServer) -> None:
    app = make_app(sim, 174, ["SPY", "ES"])
    async with app.run_test(size=(160, 45)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.items) == 2
                    and all(i.instrument for i in watchlist.items), timeout=10)
        watchlist.move_cursor(row=1)  # ES: a future, no stock options
        await pilot.press("B")
        await until(pilot, lambda: any("no stock or option" in n.message
                                       for n in app._notifications))
        assert not isinstance(app.screen, StrategyBuilder)
        watchlist.move_cursor(row=0)
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, TemplateChooser))
        await pilot.press("escape")
        builder = app.screen
        assert isinstance(builder, StrategyBuilder) and builder.underlying.symbol == "SPY"
        assert not builder.legs
