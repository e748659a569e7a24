"""The layout at the sizes an SSH user has: 120x40, 80x24 and 60x15.

What must hold at every size: the status bar keeps the mode, the connection, the trading
state and the kill key; the tables keep symbol, prices, the data state and P&L, and never
need sideways scrolling for them; the account line cuts no figure; every dialog fits.
"""

from __future__ import annotations

import pytest
from textual.widget import Widget

from ibterm.domain.connection import ConnectionState
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.executions import ExecutionsScreen
from ibterm.tui.widgets.grid import Column, fit_columns
from ibterm.tui.widgets.help import HelpScreen, binding_rows
from ibterm.tui.widgets.orders import OrdersTable
from ibterm.tui.widgets.positions import AccountLine, PositionsTable
from ibterm.tui.widgets.reconcile import ReconcileScreen
from ibterm.tui.widgets.status_bar import StatusBar
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

SIZES = [(120, 40), (80, 24), (60, 15)]
WATCHLIST = ["AAPL", "MSFT", "SPY 20261218 600 C", "ES", "EUR.USD"]


def _app(sim: SimServer) -> IbtermApp:
    return make_app(sim, 51, WATCHLIST)


def _status(app: IbtermApp) -> str:
    return str(app.query_one(StatusBar).render())


def _inside(widget: Widget, app: IbtermApp) -> bool:
    region, screen = widget.region, app.screen.region
    return region.width > 0 and region.height > 0 and screen.contains_region(region)


async def _ready(pilot, app: IbtermApp) -> None:  # type: ignore[no-untyped-def]
    watchlist = app.query_one(WatchlistTable)
    positions = app.query_one(PositionsTable)
    await until(pilot, lambda: app.session.status.state is ConnectionState.CONNECTED
                and len(watchlist.quotes) == len(WATCHLIST) and positions.row_count == 4,
                timeout=10)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_status_bar_keeps_mode_link_state_and_kill_key(sim: SimServer,
                                                                size: tuple[int, int]) -> None:
    app = _app(sim)
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, app)
        status = _status(app)
        for part in ("DEMO", "connected", "ACTIVE", "f12 kill"):
            assert part in status, (part, status)
        assert len(status) <= size[0]
        app.pipeline.kill()
        await until(pilot, lambda: "HALTED" in _status(app))
        status = _status(app)
        # A halt says how to end it, at any width.
        assert "f9 resume" in status and "f12 kill" in status and "DEMO" in status, status
        assert len(status) <= size[0]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_tables_keep_symbol_price_data_state_and_pnl(sim: SimServer,
                                                           size: tuple[int, int]) -> None:
    app = _app(sim)
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, app)
        for pane, table_type, essential in (
                ("w", WatchlistTable, {"symbol", "bid", "ask", "last", "data"}),
                ("p", PositionsTable, {"symbol", "qty", "price", "unrl", "daily"}),
                ("o", OrdersTable, {"symbol", "side", "qty", "price", "status"})):
            await pilot.press(pane)  # on a tiny terminal only the focused pane is open
            await pilot.pause(0.1)
            table = app.query_one(table_type)
            assert essential <= set(table.visible_columns), (table_type, table.visible_columns)
            # What is shown fits: no sideways scrolling to reach the P&L.
            assert table.virtual_size.width <= table.scrollable_content_region.width
            assert table.region.height >= 2, "the focused pane shows its header and a row"


async def test_the_wide_layout_keeps_every_column(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(160, 40)) as pilot:
        await _ready(pilot, app)
        assert app.query_one(WatchlistTable).visible_columns == [
            "symbol", "bid", "ask", "last", "chg", "chg_pct", "volume", "age", "data"]
        assert len(app.query_one(PositionsTable).visible_columns) == 12  # greeks included


def test_columns_leave_by_priority_and_cut_symbols_are_marked() -> None:
    columns = (Column("symbol", "Symbol", 18, "left", min_width=8), Column("last", "Last", 10),
               Column("volume", "Volume", 7, priority=4), Column("pct", "Chg%", 7, priority=1),
               Column("note", "Note", 5, "left", priority=3, grow=True))
    assert [p.column.key for p in fit_columns(columns, 200)] == [
        "symbol", "last", "volume", "pct", "note"]
    assert sum(p.width + 2 for p in fit_columns(columns, 200)) == 200  # the note grows
    # The least valued column leaves first; a valued one is kept by narrowing the symbol.
    narrow = fit_columns(columns, 40)
    assert [p.column.key for p in narrow] == ["symbol", "last", "pct"]
    assert sum(p.width + (2 if p.pad else 1) for p in narrow) <= 40
    assert [p.column.key for p in fit_columns(columns, 25)] == ["symbol", "last"]


async def test_the_account_line_wraps_and_cuts_no_figure(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        line = app.query_one(AccountLine)
        await until(pilot, lambda: "Init margin" in str(line.render()))
        text = str(line.render())
        for label in ("Net liq", "Daily P&L", "Excess liq", "Cushion", "Init margin",
                      "Buying power"):
            assert label in text
        assert all(len(row) <= line.content_region.width for row in text.splitlines())


async def test_a_pane_zooms_to_full_screen_and_back(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        await pilot.press("p", "z")
        await pilot.pause(0.1)
        pane = app.query_one("#positions-pane")
        assert app.screen.maximized is pane
        assert pane.region.height >= 18  # the screen less the status bar and footer
        # The safety information stays in view.
        assert _inside(app.query_one(StatusBar), app)
        assert not app.query_one("#watchlist-pane").region.height
        await pilot.press("z")
        await pilot.pause(0.1)
        assert app.screen.maximized is None
        assert app.query_one("#watchlist-pane").region.height


async def test_a_narrow_ticket_gives_the_preview_the_main_area(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        await pilot.press("b")
        preview = app.query_one("#preview")
        await until(pilot, lambda: preview.region.width > 0)
        assert preview.region.width >= 76
        assert not app.query_one("#left").region.width
        await pilot.press("ctrl+r")  # the panes instead, the ticket still open
        await pilot.pause(0.1)
        assert app.query_one("#left").region.width >= 76 and not preview.region.width
        assert app.ticket.has_class("open")
    app = _app(sim)
    async with app.run_test(size=(140, 40)) as pilot:
        await _ready(pilot, app)
        await pilot.press("b")
        preview = app.query_one("#preview")
        await until(pilot, lambda: preview.region.width > 0)
        # Wide: side by side, and the panes keep their essential columns.
        assert app.query_one("#left").region.width > 60
        assert {"symbol", "last", "data"} <= set(app.query_one(WatchlistTable).visible_columns)


@pytest.mark.parametrize("screen", ["help", "executions", "reconciliation"])
async def test_every_dialog_fits_a_small_terminal(sim: SimServer, screen: str) -> None:
    app = _app(sim)
    async with app.run_test(size=(60, 15)) as pilot:
        await _ready(pilot, app)
        await pilot.press({"help": "question_mark", "executions": "e",
                           "reconciliation": "r"}[screen])
        kind = {"help": HelpScreen, "executions": ExecutionsScreen,
                "reconciliation": ReconcileScreen}[screen]
        await until(pilot, lambda: isinstance(app.screen, kind))
        await pilot.pause(0.1)
        box = app.screen.children[0]
        assert box.region.width > 0 and app.screen.region.contains_region(box.region)


async def test_a_removed_watchlist_row_can_be_put_back(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        watchlist = app.query_one(WatchlistTable)
        await pilot.press("down", "x")
        await until(pilot, lambda: watchlist.row_count == len(WATCHLIST) - 1)
        assert "MSFT" not in watchlist.row_keys
        await pilot.press("u")
        await until(pilot, lambda: watchlist.row_count == len(WATCHLIST))
        assert watchlist.row_keys[1] == "MSFT"
        await until(pilot, lambda: "MSFT" in watchlist.quotes)


async def test_the_key_help_lists_each_key_once(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        rows = binding_rows(app, [app, app.watchlist, app.orders, app.ticket])
        for keys, action, _ in rows:
            listed = keys.split(", ")
            assert len(listed) == len(set(listed)), (action, keys)
        assert any(action == "watchlist-remove" for _, action, _ in rows)


async def test_the_status_bar_redraws_without_laying_the_screen_out_again(
        sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bar is one docked row of fixed height: asking for a layout on every clock tick
    # re-arranged the whole screen once a second for nothing.
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        bar = app.query_one(StatusBar)
        asked: list[bool] = []
        refresh = bar.refresh

        def recording(*regions, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(bool(kwargs.get("layout")))
            return refresh(*regions, **kwargs)

        monkeypatch.setattr(bar, "refresh", recording)
        bar.render_bar()
        assert asked and not any(asked)
