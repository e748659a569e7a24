"""The full screens (the option chain, the depth ladder, the strategy builder) alike: `?`
lists the screen's own keys by their ids, escape closes it, the main screen's keys stay
off it, and the chain under the builder counts as hidden (its lines freed), even with a
dialog over the builder, while a dialog over the chain alone leaves it in sight."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from ibterm.sim.server import SimServer
from ibterm.tui.actions import action_registry
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.builder import StrategyBuilder
from ibterm.tui.widgets.chain import ChainScreen
from ibterm.tui.widgets.depth_screen import DepthScreen
from ibterm.tui.widgets.full_screen import FullScreen
from ibterm.tui.widgets.help import HelpScreen
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until


@pytest.mark.parametrize(("cls", "scope", "prefix"), [
    (ChainScreen, "chain", "chain"), (DepthScreen, "ladder", "ladder"),
    (StrategyBuilder, "builder", "builder")])
def test_each_screen_keeps_its_own_close_and_keys_ids(cls: type[FullScreen], scope: str,
                                                      prefix: str) -> None:
    registry = action_registry()
    close, keys = registry[f"{prefix}-close"], registry[f"{prefix}-keys"]
    assert (close.scope, close.keys, close.description) == (scope, "escape", "Close")
    assert (keys.scope, keys.keys, keys.description) == (scope, "question_mark", "Keys")
    assert issubclass(cls, FullScreen)


async def _keys_then_close(pilot: Pilot[None], app: IbtermApp, prefix: str) -> None:
    screen = app.screen
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen))
    help_screen = app.screen
    assert isinstance(help_screen, HelpScreen)
    ids = {row[1] for row in help_screen.rows}
    assert {f"{prefix}-close", f"{prefix}-keys"} <= ids
    assert not any(i.startswith("order-") for i in ids)  # the main screen's keys stay off
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is screen)
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is not screen)


async def test_keys_and_escape_on_the_chain_the_builder_and_the_ladder(sim: SimServer) -> None:
    app = make_app(sim, 151, ["SPY"])
    async with app.run_test(size=(120, 30)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: bool(watchlist.items)
                    and len(watchlist.quotes) == len(watchlist.items), timeout=10)
        watchlist.move_cursor(row=0)
        main = app.screen
        await pilot.press("O")
        await until(pilot, lambda: isinstance(app.screen, ChainScreen))
        chain = app.screen
        assert isinstance(chain, ChainScreen)
        await until(pilot, lambda: chain.cursor_option() is not None, timeout=10)
        await pilot.press("b", "enter")
        await until(pilot, lambda: isinstance(app.screen, StrategyBuilder))
        assert chain.hidden  # under another full screen
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(3 * ChainScreen.REFRESH)
        # A dialog over the builder: the chain is still out of sight, its lines still free.
        assert chain.hidden and app.session.options.subscribed == 0
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, StrategyBuilder))
        await _keys_then_close(pilot, app, "builder")
        await until(pilot, lambda: app.screen is chain)
        assert not chain.hidden
        await until(pilot, lambda: app.session.options.subscribed > 0)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert not chain.hidden  # a dialog alone leaves the chain in sight
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is chain)
        await _keys_then_close(pilot, app, "chain")
        assert app.screen is main
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DepthScreen))
        await _keys_then_close(pilot, app, "ladder")
        assert app.screen is main
