"""Every part that asks for a quote gives it back: the chain's underlying, the ladder's
instrument, the builder's underlying and legs, and an option position's underlying are
held while the part is open (a watchlist row removed meanwhile does not end them) and
end, their market-data line free, when it goes. A quote kept forever by a part long gone
is a line the trader cannot use, and a market-data subscription IB counts."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.strategy import Template
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.builder import StrategyBuilder, TemplateChooser
from ibterm.tui.widgets.chain import ChainScreen
from ibterm.tui.widgets.depth_screen import DepthScreen
from ibterm.tui.widgets.positions import PositionsTable
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until
from tests.tui.test_position_groups import condor_sim  # noqa: F401 (a fixture)


def _served(sim: SimServer, con_id: int) -> bool:
    """The simulator streams this contract's quote to some client."""
    return any(con_id in {q.con_id for q in c.quotes.values()} for c in sim.connections)


async def _spy(pilot: Pilot[None], app: IbtermApp) -> Instrument:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: bool(watchlist.items) and len(watchlist.quotes) == 1,
                timeout=10)
    watchlist.move_cursor(row=0)
    inst = app.session.watchlist[0].instrument
    assert inst is not None
    return inst


async def _unwatched_then_closed(pilot: Pilot[None], app: IbtermApp, sim: SimServer,
                                 con_ids: list[int], screen: type) -> None:
    """With the part open the watchlist's row goes: the quotes stay; escape: they end."""
    app.session.unwatch("SPY")
    await pilot.pause(0.2)
    assert all(app.session.lines.holds(c) for c in con_ids)
    assert all(_served(sim, c) for c in con_ids)
    while isinstance(app.screen, screen | TemplateChooser):
        await pilot.press("escape")
        await pilot.pause()
    await until(pilot, lambda: not any(app.session.lines.holds(c) for c in con_ids))
    await until(pilot, lambda: not any(_served(sim, c) for c in con_ids))


@pytest.mark.parametrize(("key", "screen", "client_id"),
                         [("O", ChainScreen, 181), ("d", DepthScreen, 182)],
                         ids=["the chain's underlying", "the ladder's instrument"])
async def test_a_full_screen_gives_its_quote_back(sim: SimServer, key: str, screen: type,
                                                  client_id: int) -> None:
    app = make_app(sim, client_id, ["SPY"])
    async with app.run_test(size=(120, 30)) as pilot:
        spy = await _spy(pilot, app)
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, screen))
        await _unwatched_then_closed(pilot, app, sim, [spy.con_id], screen)


async def test_the_builder_gives_its_underlying_and_legs_back(sim: SimServer) -> None:
    app = make_app(sim, 183, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        spy = await _spy(pilot, app)
        await until(pilot, lambda: app.session.mark(spy.con_id) is not None, timeout=10)
        screen = StrategyBuilder(spy, [])
        app.push_screen(screen)
        await until(pilot, lambda: isinstance(app.screen, TemplateChooser))
        app.screen.query_one(OptionList).highlighted = list(Template).index(
            Template.IRON_CONDOR)
        await pilot.press("enter")
        await until(pilot, lambda: len(screen.legs) == 4 and screen.market is not None,
                    timeout=10)
        legs = [leg.instrument.con_id for leg in screen.legs]
        # A leg changed gives the old one's quote back at once.
        first = legs[0]
        screen.set_legs(screen.legs[1:])
        await until(pilot, lambda: not app.session.lines.holds(first))
        await _unwatched_then_closed(pilot, app, sim, [spy.con_id, *legs[1:]],
                                     StrategyBuilder)


async def test_a_closed_option_position_gives_its_underlyings_quote_back(
        condor_sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    app = make_app(condor_sim, 184, ["AAPL"])
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(PositionsTable)

        def spy() -> Instrument | None:
            option = next((p.instrument for p in table.positions
                           if p.instrument.sec_type is SecType.OPT), None)
            return app.session.underlying_of(option) if option else None

        await until(pilot, lambda: (under := spy()) is not None
                    and app.session.lines.holds(under.con_id), timeout=10)
        under = spy()
        assert under is not None
        options = [p for p in table.positions if p.instrument.sec_type is SecType.OPT]
        # One leg closed: the others still need SPY.
        left = [p for p in table.positions if p is not options[0]]
        monkeypatch.setattr(PositionsTable, "positions", property(lambda _: left))
        app._grouping_request()
        assert app.session.lines.holds(under.con_id)
        # Every option closed: SPY's quote ends (no watchlist row, no part holds it).
        left = [p for p in left if p.instrument.sec_type is not SecType.OPT]
        app._grouping_request()
        await until(pilot, lambda: not app.session.lines.holds(under.con_id))
        await until(pilot, lambda: not _served(condor_sim, under.con_id))
