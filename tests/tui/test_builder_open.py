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


async def test_the_ticket_hands_its_option_to_the_builder(sim: SimServer) -> None:
    # F2 in the ticket: its option, sold or bought as the ticket says, is the first leg,
    # its quantity the combination's; nothing was sent.
    app = make_app(sim, 175, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.session.status.state.value == "connected", timeout=10)
        app.action_ticket("SELL", "SPY 20261218 600 C")
        await until(pilot, lambda: app.ticket.instrument is not None, timeout=10)
        app.ticket.query_one("#t-qty").value = "3"
        app.ticket.query_one("#t-qty").focus()
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, StrategyBuilder), timeout=10)
        builder = app.screen
        assert isinstance(builder, StrategyBuilder)
        assert builder.underlying.symbol == "SPY" and builder.quantity == 3
        [leg] = builder.legs
        assert leg.action.value == "SELL" and leg.instrument.display == "SPY 20261218 600 C"
        assert not app.ticket.has_class("open") and not app.pipeline.working_orders()


async def test_the_ticket_on_a_stock_says_the_builder_starts_from_an_option(
        sim: SimServer) -> None:
    app = make_app(sim, 176, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.session.status.state.value == "connected", timeout=10)
        app.action_ticket("BUY", "SPY")
        await until(pilot, lambda: app.ticket.instrument is not None, timeout=10)
        app.ticket.query_one("#t-qty").focus()
        await pilot.press("f2")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, StrategyBuilder)
        assert "starts from an option" in str(app.ticket.query_one("#t-checks").render())
