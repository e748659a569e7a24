"""The option chain's broker part against the simulator: SPY's expiries and strikes, one
expiry's options with their conIds, quotes with greeks and open interest for the options
watched only (a line each, cancelled at the gateway and given back when they leave), a
refusal when the lines run out, and an option the watchlist quotes read from its one
request, open interest and all."""

from __future__ import annotations

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, Right
from ibterm.sim.server import SimServer
from tests.sim.clocked import until


async def _session(sim: SimServer, client_id: int, watchlist: list[str],
                   **profile: object) -> BrokerSession:
    settings: dict[str, object] = {"port": sim.port, "client_id": client_id,
                                   "watchlist": watchlist}
    settings.update(profile)
    session = BrokerSession(Profile(**settings), "t", TradingMode.DEMO)  # type: ignore[arg-type]
    assert await session.start()
    return session


def _quotes_served(sim: SimServer) -> int:
    return sum(len(c.quotes) for c in sim.connections)


async def _front(session: BrokerSession) -> tuple[Instrument, list[Instrument]]:
    spy = session.watchlist[0].instrument
    assert spy is not None
    chain, why = await session.options.chain(spy)
    assert chain is not None, why
    return spy, await session.options.options(spy, chain.expiries[0])


async def test_the_chain_lists_expiries_strikes_and_options_with_con_ids(sim: SimServer) -> None:
    session = await _session(sim, 301, ["SPY"])
    try:
        spy = session.watchlist[0].instrument
        assert spy is not None
        chain, why = await session.options.chain(spy)
        assert chain is not None and why == ""
        assert list(chain.expiries) == sorted(chain.expiries) and len(chain.expiries) > 2
        assert chain.strikes[0] == 540 and chain.strikes[-1] == 660 and 600 in chain.strikes
        options = await session.options.options(spy, chain.expiries[0])
        assert len(options) == 2 * len(chain.strikes)
        assert {o.right for o in options} == {Right.CALL, Right.PUT}
        assert all(o.con_id and o.expiry == chain.expiries[0] for o in options)
        assert all(session.instruments[o.con_id] == o for o in options)
        msft = await session.resolve("MSFT")
        assert msft[0] is not None
        none, why = await session.options.chain(msft[0])
        assert none is None and "no listed options" in why
    finally:
        await session.close()


async def test_only_the_options_watched_are_quoted_with_greeks(sim: SimServer) -> None:
    session = await _session(sim, 302, ["SPY"])
    try:
        _, options = await _front(session)
        base, lines = _quotes_served(sim), session.lines.used
        near = [o for o in options if 590 <= o.strike <= 610]
        session.options.watch(near)
        assert session.options.subscribed == len(near) == 10
        assert session.lines.used == lines + 10
        await until(lambda: all((q := session.options.quote(o.con_id)) is not None
                                and q.greeks is not None and q.open_interest is not None
                                for o in near))
        assert _quotes_served(sim) == base + 10
        assert session.options.take_changed() >= {o.con_id for o in near}
        for o in near:
            q = session.options.quote(o.con_id)
            assert q is not None and q.greeks is not None and q.greeks.delta is not None
            assert q.greeks.iv is not None and 0.05 < q.greeks.iv < 1.0
            assert (q.greeks.delta > 0) if o.right is Right.CALL else (q.greeks.delta < 0)
            assert q.quote.ask is not None
            assert o.right is not None
            assert q.open_interest == sim.market.open_interest(o.con_id)[o.right]
            assert not q.stale(session.clock(), session.profile.stale_after)
        # The window moves: the new options subscribed, the old ones cancelled.
        higher = [o for o in options if 605 <= o.strike <= 620]
        session.options.watch(higher)
        assert session.options.subscribed == 8 and session.lines.used == lines + 8
        assert session.options.quote(near[0].con_id) is None
        await until(lambda: _quotes_served(sim) == base + 8)
        session.options.stop()
        assert session.options.subscribed == 0 and session.lines.used == lines
        await until(lambda: _quotes_served(sim) == base)
    finally:
        await session.close()


async def test_an_option_past_the_lines_is_refused_and_the_watchlists_is_shared(
        sim: SimServer) -> None:
    session = await _session(sim, 303, ["SPY"], market_data_lines=4)
    try:
        _, options = await _front(session)
        near = [o for o in options if 595 <= o.strike <= 605]
        held = near[0]
        item = await session.add_watch(held.display)
        assert item.instrument is not None and not item.error
        await until(lambda: session.quote(held.con_id) is not None)
        used = session.lines.used
        session.options.watch(near)
        # The watchlist's option takes no second line; of the other five, lines for the
        # rest of the limit only.
        assert session.options.subscribed == 4 - used
        refused = [o for o in near if o.con_id in session.options.refused]
        assert len(refused) == len(near) - 1 - (4 - used)
        assert "market-data lines are in use" in session.options.refused[refused[0].con_id]
        await until(lambda: session.options.quote(held.con_id) is not None)
        # One request for the option, asked with its open interest whoever asked first.
        assert held.right is not None
        await until(lambda: (q := session.options.quote(held.con_id)) is not None
                    and q.open_interest == sim.market.open_interest(held.con_id)[held.right])
        session.options.stop()
        assert session.lines.used == used
        assert session.quote(held.con_id) is not None  # the watchlist's quote stays
    finally:
        await session.close()
