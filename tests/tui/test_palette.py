"""The command palette runs the app's actions: a symbol typed there is added to the
watchlist, or opens the ticket."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until


async def _choose(pilot: Pilot[None], app: IbtermApp, query: str, command: str) -> None:
    """Type `query` in the palette and run the hit whose text is `command`."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    options = palette.query_one(CommandList)

    def found() -> int | None:
        # A hit's prompt is its text, then its help on a line of its own.
        return next((i for i in range(options.option_count)
                     if str(options.get_option_at_index(i).prompt).split("\n")[0] == command),
                    None)

    await until(pilot, lambda: found() is not None)
    options.highlighted = found()
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette))


async def test_a_symbol_from_the_palette_joins_the_watchlist(sim: SimServer) -> None:
    app = make_app(sim, 81, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: watchlist.row_count == 1)
        await _choose(pilot, app, "MSFT", "Add MSFT to the watchlist")
        await until(pilot, lambda: watchlist.row_count == 2)
        assert [item.text for item in app.session.watchlist] == ["AAPL", "MSFT"]


async def test_the_palette_opens_the_ticket_for_a_watched_symbol(sim: SimServer) -> None:
    app = make_app(sim, 82, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.session.watchlist[0].instrument is not None)
        await _choose(pilot, app, "sell aapl", "Sell AAPL: open the ticket")
        ticket = app.query_one(OrderTicket)
        await until(pilot, lambda: ticket.has_class("open") and ticket.instrument is not None
                    and ticket.instrument.symbol == "AAPL")
