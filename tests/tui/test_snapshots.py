"""Snapshots where layout matters: the main screen and the key help.

The world is pinned (date, seed, no market steps), the session's clock is frozen (ages read
0.0s) and so is the status bar's, so the screen is the same on every run. Update with
`pytest --snapshot-update` after a deliberate layout change, and look at the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from textual.pilot import Pilot

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.sim.runner import SimulatorThread
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.positions import PositionsTable
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.conftest import manual_scenario

NOON = dt.datetime(2026, 11, 27, 12, 0, 0)


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    sim = SimulatorThread(manual_scenario(), seed=0)
    sim.start()
    yield sim
    sim.stop()


def _app(port: int, theme: str = "ibterm-dark") -> IbtermApp:
    profile = Profile(port=port, client_id=41, theme=theme)
    session = BrokerSession(profile, "demo", TradingMode.DEMO, clock=lambda: 1000.0)
    return IbtermApp(session, wall_clock=lambda: NOON)


async def _settled(pilot: Pilot[None]) -> None:
    app = pilot.app
    watchlist = app.query_one(WatchlistTable)
    positions = app.query_one(PositionsTable)

    def ready() -> bool:
        if watchlist.row_count != 10 or len(watchlist.quotes) != 10 or positions.row_count != 4:
            return False
        return all(positions.get_cell_at((r, 6)).plain not in ("", "—") for r in range(4))

    for _ in range(200):
        if ready():
            break
        await pilot.pause(0.05)
    assert ready(), "the demo never filled its panes"
    await pilot.pause(0.5)


def test_main_screen(snap_compare: Callable[..., bool], sim_thread: SimulatorThread) -> None:
    assert snap_compare(_app(sim_thread.port), terminal_size=(120, 40), run_before=_settled)


@pytest.mark.parametrize("theme", ["ibterm-light", "ibterm-high-contrast", "ibterm-ansi"])
def test_main_screen_in_each_shipped_theme(snap_compare: Callable[..., bool],
                                           sim_thread: SimulatorThread, theme: str) -> None:
    assert snap_compare(_app(sim_thread.port, theme), terminal_size=(120, 40),
                        run_before=_settled)


def test_key_help(snap_compare: Callable[..., bool], sim_thread: SimulatorThread) -> None:
    async def open_help(pilot: Pilot[None]) -> None:
        await _settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(_app(sim_thread.port), terminal_size=(120, 40), run_before=open_help)


def test_main_screen_at_80x24(snap_compare: Callable[..., bool],
                              sim_thread: SimulatorThread) -> None:
    """An SSH terminal: frames reduced to title rules, lesser columns left out, every
    essential one and the whole status bar kept."""
    assert snap_compare(_app(sim_thread.port), terminal_size=(80, 24), run_before=_settled)
