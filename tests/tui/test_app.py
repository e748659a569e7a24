"""The app driven with Textual's Pilot, over the real broker session and simulator."""

from __future__ import annotations

import asyncio

from ibterm.domain.connection import ConnectionState
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.help import HelpScreen
from ibterm.tui.widgets.positions import AccountLine, PositionsTable
from ibterm.tui.widgets.status_bar import StatusBar
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

WATCHLIST = ["AAPL", "MSFT", "TSLA", "SPY", "ES", "EUR.USD"]


def _app(sim: SimServer, **profile: object) -> IbtermApp:
    return make_app(sim, 31, WATCHLIST, **profile)



def _cell(table: WatchlistTable, row: str, column: str) -> str:
    try:
        return table.get_cell(row, column).plain
    except KeyError:
        return ""


def _status(app: IbtermApp) -> str:
    return str(app.query_one(StatusBar).render())


async def test_demo_shows_quotes_positions_and_status(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: watchlist.row_count == len(WATCHLIST)
                     and _cell(watchlist, "AAPL", "bid") not in ("", "—"))
        book = sim.market.book(265598)
        assert _cell(watchlist, "AAPL", "bid") == f"{book.bid:,.2f}"
        assert _cell(watchlist, "ES", "symbol") == "ES 202612"
        assert _cell(watchlist, "AAPL", "data") == "live"
        await until(pilot, lambda: _cell(watchlist, "TSLA", "data") == "DELAYED")
        positions = app.query_one(PositionsTable)
        await until(pilot, lambda: positions.row_count == 4)
        rows = {positions.get_cell_at((r, 0)).plain for r in range(4)}
        assert rows == {"AAPL", "MSFT", "SPY", "ES 202612"}
        await until(pilot, lambda: "Net liq" in str(app.query_one(AccountLine).render()))
        status = _status(app)
        assert "DEMO" in status and "connected" in status and "DU1234567" in status
        assert "data: live+delayed" in status


async def test_cells_update_in_place_and_the_cursor_stays(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: _cell(watchlist, "AAPL", "bid") not in ("", "—"))
        await pilot.press("down", "down")
        assert watchlist.cursor_row == 2
        seen = {_cell(watchlist, "AAPL", "last")}
        for _ in range(10):
            sim.step(5)
            await pilot.pause(0.25)
            seen.add(_cell(watchlist, "AAPL", "last"))
        assert len(seen) > 2
        assert watchlist.cursor_row == 2 and watchlist.row_count == len(WATCHLIST)


async def test_quotes_without_updates_turn_stale(sim: SimServer) -> None:
    app = _app(sim, stale_after=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: _cell(watchlist, "MSFT", "data") == "live")
        await until(pilot, lambda: _cell(watchlist, "MSFT", "data") == "STALE", timeout=4)
        sim.step(2)
        await until(pilot, lambda: _cell(watchlist, "MSFT", "data") == "live")


async def test_focus_moves_between_panes_with_keys(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.focused is not None and app.focused.id == "watchlist"
        await pilot.press("tab")
        assert app.focused.id == "positions"
        await pilot.press("tab")
        assert app.focused.id == "orders"
        await pilot.press("tab")
        assert app.focused.id == "watchlist"
        await pilot.press("shift+tab")
        assert app.focused.id == "orders"
        await pilot.press("w")
        assert app.focused.id == "watchlist"
        await pilot.press("p")
        assert app.focused.id == "positions"


async def test_help_lists_bindings_by_id(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[1] for row in app.screen.rows}
        assert {"quit", "show-help", "focus-next-pane", "focus-watchlist", "row-down"} <= ids
        keys = {row[1]: row[0] for row in app.screen.rows}
        assert keys["focus-watchlist"] == "w" and keys["quit"] == "q"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_quit_closes_the_session(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.session.status.state is ConnectionState.CONNECTED)
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.session.status.state is ConnectionState.DISCONNECTED
    await asyncio.sleep(0.1)
    assert all(c.client_id != 31 for c in sim.connections)


async def test_a_lost_gateway_shows_in_the_status_bar(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "● connected" in _status(app))
        await sim.stop()
        await until(pilot, lambda: "reconnecting" in _status(app) or "lost" in _status(app),
                     timeout=2)



async def test_the_footer_forgets_its_old_keys(sim: SimServer) -> None:
    # Every change of the active bindings recomposes the footer; Textual 8.2 kept every
    # earlier set of keys alive through their data binding (ibterm's Footer drops them).
    import gc

    from textual.widgets._footer import FooterKey

    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(12):
            await pilot.press("tab")
            await pilot.pause(0.05)
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        await pilot.press("escape")
        await pilot.pause(0.1)
        gc.collect()
        stale = [o for o in gc.get_objects() if isinstance(o, FooterKey) and not o.is_attached]
        assert not stale
