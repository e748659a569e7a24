"""The chart pane in the running app against the simulator: it follows the cursor, its
interval keys, the forming bar, the levels drawn across, the honest title when IB refuses
or the link drops, its place at small sizes, and the lines in the status bar."""

from __future__ import annotations

import pytest
from ib_async import BarDataList
from textual.pilot import Pilot

from ibterm.broker.session import BrokerSession
from ibterm.config import yamlfile
from ibterm.config.keymaps import check_keymap
from ibterm.config.settings import Profile
from ibterm.domain.bars import BarSize, HistoryState
from ibterm.domain.connection import TradingMode
from ibterm.domain.levels import LevelKind
from ibterm.sim.server import SimServer
from ibterm.tui.actions import action_registry
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.chart import ChartView
from ibterm.tui.widgets.fields import Cycler
from ibterm.tui.widgets.status_bar import StatusBar
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.broker.test_history import Clock, down_until_the_pacing_all_but_ends
from tests.tui.support import make_app, until

WATCH = ["ES", "AAPL", "TSLA"]


def _title(app: IbtermApp) -> str:
    return str(app.query_one("#chart-pane").border_title)


def _view(app: IbtermApp) -> ChartView:
    return app.query_one(ChartView)


def _streams(app: IbtermApp) -> int:
    return sum(isinstance(s, BarDataList)
               for s in app.session.ib.wrapper.reqId2Subscriber.values())


async def _ready(pilot: Pilot[None], app: IbtermApp) -> None:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: len(watchlist.quotes) == len(WATCH), timeout=10)


async def _live(pilot: Pilot[None], app: IbtermApp, symbol: str) -> None:
    await until(pilot, lambda: f"Chart {symbol}" in _title(app) and "● live" in _title(app)
                and _view(app).series is not None)


async def test_v_opens_live_bars_that_follow_the_market_and_closes_them(
        sim: SimServer) -> None:
    app = make_app(sim, 91, WATCH)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        assert not _view(app).region.width  # closed until asked for
        await pilot.press("v")
        await _live(pilot, app, "ES 202612")
        view = _view(app)
        assert view.region.width > 40
        assert "Chart ES 202612 5m · ● live" in _title(app)
        drawn = str(view.render())
        assert "┤" in drawn and "◀" in drawn  # the price axis and the last price
        series = view.series
        assert series is not None
        sim.step(40)
        await until(pilot, lambda: (s := _view(app).series) is not None
                    and s.bars[-1] != series.bars[-1])
        await pilot.press("v")
        assert not _view(app).region.width or not app.screen.has_class("-chart-open")
        await pilot.pause(0.2)
        assert _streams(app) == 0


async def test_interval_keys_switch_the_bars_with_one_subscription(sim: SimServer) -> None:
    app = make_app(sim, 92, WATCH)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        for key, size in zip("12345", BarSize, strict=True):
            await pilot.press(key)  # opens the chart too
            await until(pilot, lambda z=size: (s := _view(app).series) is not None
                        and s.size is z and s.live)
            assert f" {size.value} · ● live" in _title(app)
            assert _streams(app) == 1


async def test_the_chart_follows_the_cursor_once_it_rests(sim: SimServer) -> None:
    app = make_app(sim, 93, WATCH)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await pilot.press("v")
        await _live(pilot, app, "ES 202612")
        await pilot.press("down")
        await _live(pilot, app, "AAPL")
        series = _view(app).series
        assert series is not None and series.con_id == 265598
        # The position's average cost is drawn across (AAPL: 300 shares in the demo).
        assert any(lv.kind is LevelKind.COST and lv.label == "avg 300"
                   for lv in _view(app).levels)


async def test_a_refused_history_says_so_and_draws_no_bars(sim: SimServer) -> None:
    app = make_app(sim, 94, WATCH)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        app.watchlist.move_cursor(row=2)
        await pilot.press("5")
        await until(pilot, lambda: "Chart TSLA 1D · ✖ refused" in _title(app))
        view = _view(app)
        assert view.series is not None and view.series.state is HistoryState.REFUSED
        assert not view.series.bars
        said = str(view.render())
        assert "IB refused the history" in said and "IB 162" in said
        assert "(5 asks again)" in said


async def test_working_orders_and_the_tickets_bracket_are_drawn_across(
        sim: SimServer) -> None:
    app = make_app(sim, 95, ["AAPL"], confirm_orders=False)
    async with app.run_test(size=(160, 44)) as pilot:
        await _ready_one(pilot, app)
        await pilot.press("v")
        await _live(pilot, app, "AAPL")
        await pilot.press("b")
        ticket = app.query_one(OrderTicket)
        await until(pilot, lambda: ticket.instrument is not None)
        entry = round(sim.market.book(265598).bid - 1.0, 2)
        limit = ticket.query_one("#t-limit")
        limit.value = f"{entry:.2f}"  # type: ignore[attr-defined]
        ticket.query_one("#t-mode", Cycler).set_value("bracket")
        await until(pilot, lambda: {lv.kind for lv in _view(app).levels}
                    >= {LevelKind.ENTRY, LevelKind.TAKE_PROFIT, LevelKind.STOP_LOSS})
        levels = {lv.kind: lv.price for lv in _view(app).levels}
        assert levels[LevelKind.STOP_LOSS] < entry < levels[LevelKind.TAKE_PROFIT]
        await pilot.press("f4")  # paper, confirmations off: sent
        await until(pilot, lambda: any(lv.kind is LevelKind.BUY and lv.price == entry
                                       for lv in _view(app).levels), timeout=8)
        # The exits work at the gateway now: drawn as the orders they are.
        sells = sorted(lv.price for lv in _view(app).levels if lv.kind is LevelKind.SELL)
        assert sells == [levels[LevelKind.STOP_LOSS], levels[LevelKind.TAKE_PROFIT]]


async def _ready_one(pilot: Pilot[None], app: IbtermApp) -> None:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: len(watchlist.quotes) == 1, timeout=10)


async def test_a_dropped_link_marks_the_bars_not_live(sim: SimServer) -> None:
    clock = Clock()
    session = BrokerSession(Profile(port=sim.port, client_id=96, watchlist=WATCH), "demo",
                            TradingMode.DEMO, clock=clock)
    app = IbtermApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        asked = clock()
        await pilot.press("v")
        await _live(pilot, app, "ES 202612")
        down_until_the_pacing_all_but_ends(session, clock, asked)
        sim.drop(96)
        await until(pilot, lambda: "✖ not live: connection lost" in _title(app))
        view = _view(app)
        assert view.series is not None and view.series.bars and not view.series.live
        # Back inside IB's pacing window for the chart's request: the title says it waits.
        await until(pilot, lambda: "loading (waiting " in _title(app)
                    and "s for IB's pacing)" in _title(app))
        await until(pilot, lambda: "● live" in _title(app))


@pytest.mark.parametrize("size", [(80, 24), (60, 15)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_chart_fits_small_terminals_and_zooms(sim: SimServer,
                                                        size: tuple[int, int]) -> None:
    app = make_app(sim, 97, WATCH)
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, app)
        await pilot.press("v")
        await _live(pilot, app, "ES 202612")
        pane, screen = app.query_one("#chart-pane"), app.screen.region
        assert screen.contains_region(pane.region) and pane.region.height >= 1
        watchlist = app.query_one(WatchlistTable)
        assert watchlist.region.height >= 2 and screen.contains_region(watchlist.region)
        await pilot.press("tab", "tab", "tab")
        assert app.focused is _view(app)
        await pilot.press("z")
        assert app.screen.maximized is pane
        assert _view(app).region.height >= size[1] - 4
        await pilot.press("v")  # closing a zoomed chart gives the panes back
        assert app.screen.maximized is None and app.focused is watchlist


async def test_the_status_bar_counts_the_lines_in_use(sim: SimServer) -> None:
    app = make_app(sim, 98, ["AAPL", "MSFT", "IBM"], market_data_lines=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "lines 2/2" in str(app.query_one(StatusBar).render()))
        # The refused row says why, naming the limit.
        await until(pilot, lambda: any("all 2 market-data lines are in use" in str(n.message)
                                       for n in app._notifications))


async def test_the_chart_keys_are_remappable(sim: SimServer) -> None:
    keymap, problems = check_keymap(
        yamlfile.parse("name: t\nbindings:\n  chart-1h: h\n  toggle-chart: g\n", "k.yaml"),
        "k.yaml", action_registry())
    assert not problems and keymap is not None
    app = make_app(sim, 99, WATCH)
    app.keymap = keymap
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await pilot.press("v")
        assert not app.chart_open
        await pilot.press("g")
        assert app.chart_open
        await pilot.press("h")
        await until(pilot, lambda: " 1h · ● live" in _title(app))
