"""Keymaps and macros in the running app, and themes."""

from __future__ import annotations

import math
from pathlib import Path

from ibterm.broker.session import BrokerSession
from ibterm.config import yamlfile
from ibterm.config.keymaps import Keymap, check_keymap
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.sim.server import SimServer
from ibterm.tui.actions import action_registry
from ibterm.tui.app import IbtermApp
from ibterm.tui.theme import load_themes
from ibterm.tui.widgets.confirm import ConfirmOrder
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import until


def _keymap(text: str) -> Keymap:
    keymap, problems = check_keymap(yamlfile.parse(text, "k.yaml"), "k.yaml", action_registry())
    assert not problems and keymap is not None
    return keymap


def _app(sim: SimServer, keymap: Keymap | None = None, **profile: object) -> IbtermApp:
    settings: dict[str, object] = {"port": sim.port, "client_id": 81, "watchlist": ["AAPL"]}
    settings.update(profile)
    session = BrokerSession(Profile(**settings), "demo", TradingMode.DEMO)  # type: ignore[arg-type]
    return IbtermApp(session, keymap=keymap)


async def test_remapping_an_id_changes_what_a_key_does(sim: SimServer) -> None:
    app = _app(sim, _keymap("name: t\nbindings:\n  focus-positions: y\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        assert app.focused is not None and app.focused.id == "watchlist"
        await pilot.press("y")
        assert app.focused.id == "positions"


async def test_a_macro_key_places_a_bracket_with_the_right_prices(sim: SimServer) -> None:
    keymap = _keymap("""\
name: t
macros:
  - key: f2
    action: bracket
    args: {side: BUY, qty: 10, entry: "bid - 5 ticks", take_profit: "+1%", stop_loss: "-20t"}
""")
    app = _app(sim, keymap)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == 1)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        await pilot.press("y")
        await until(pilot, lambda: len(sim.orders.orders) == 3
                    and not any(o.held for o in sim.orders.orders.values()))
        entry, take, stop = sorted(sim.orders.orders.values(), key=lambda o: o.perm_id)
        bid = sim.market.book(265598).bid
        assert entry.req.limit == round(bid - 0.05, 2) and entry.req.action == "BUY"
        assert take.req.limit == math.ceil(round(entry.req.limit * 1.01, 6) * 100) / 100
        assert stop.req.aux == round(entry.req.limit - 0.20, 2)
        assert take.req.action == stop.req.action == "SELL"


async def test_macro_never_prices_from_a_delayed_quote(sim: SimServer) -> None:
    keymap = _keymap("name: t\nmacros:\n  - {key: f2, action: buy-limit, "
                     "args: {qty: 1, price: ask}}\n")
    app = _app(sim, keymap, watchlist=["TSLA"])
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == 1)
        await pilot.press("f2")
        await pilot.pause(0.3)
        assert not sim.orders.orders
        assert any("delayed" in n.message for n in app._notifications)


async def test_a_broken_user_theme_falls_back_with_one_notification(sim: SimServer,
                                                                    tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "mine.yaml").write_text("name: mine\nprimary: '#12345'\n")
    loaded = load_themes(themes)
    assert [p.line for p in loaded.failures] == [2]
    session = BrokerSession(Profile(port=sim.port, client_id=82, watchlist=["AAPL"],
                                    theme="mine"), "demo", TradingMode.DEMO)
    app = IbtermApp(session, themes=loaded)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert app.theme == "ibterm-dark"
        messages = [n.message for n in app._notifications]
        assert sum("mine.yaml:2" in m for m in messages) == 1
        assert any("theme 'mine' is not available" in m for m in messages)


async def test_help_follows_the_live_keymap(sim: SimServer) -> None:
    from ibterm.tui.widgets.help import HelpScreen

    app = _app(sim, _keymap("name: t\nbindings:\n  focus-positions: y\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {row[1]: row[0] for row in app.screen.rows}
        assert keys["focus-positions"] == "y"


async def test_watchlist_edits_are_saved_keeping_comments(sim: SimServer, tmp_path: Path) -> None:
    from ibterm.config.settings import load_config
    from ibterm.tui.widgets.confirm import AskText

    config = tmp_path / "config.yaml"
    config.write_text(f"""\
# my workstation
default_profile: demo
profiles:
  demo:
    port: {sim.port}   # the simulator
    client_id: 83
    # what I watch
    watchlist: [AAPL, MSFT]  # keep it short
""")
    session = BrokerSession(load_config(config).profiles["demo"], "demo", TradingMode.PAPER)
    app = IbtermApp(session, config_file=config)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == 2)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press(*"es", "enter")
        await until(pilot, lambda: "ES" in config.read_text())
        await until(pilot, lambda: app.focused is watchlist)
        await pilot.press("home", "x")  # AAPL is gone
        await until(pilot, lambda: "AAPL" not in config.read_text())
        # The file is written before the table has its rows: on a busy machine `end`
        # could land on MSFT while ES is still resolving.
        await until(pilot, lambda: watchlist.row_keys == ["MSFT", "ES"])
        await pilot.press("end", "shift+up")  # ES before MSFT
        await until(pilot, lambda: load_config(config).profiles["demo"].watchlist
                    == ["ES", "MSFT"])
        await until(pilot, lambda: watchlist.row_keys == ["ES", "MSFT"])
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press(*"SPY 2026", "enter")  # not a symbol: said, nothing changes
        await pilot.pause(0.3)
        assert load_config(config).profiles["demo"].watchlist == ["ES", "MSFT"]
    text = config.read_text()
    assert "# my workstation" in text and "# the simulator" in text and "# what I watch" in text


async def test_palette_adds_a_symbol_to_the_watchlist(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == 1)
        await pilot.press("ctrl+p")
        await pilot.press(*"tsla")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: watchlist.row_keys == ["AAPL", "TSLA"])
