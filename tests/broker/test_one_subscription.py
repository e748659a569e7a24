"""One market-data subscription per contract, whoever asks for it, against the simulator
with the real client: the chain, the watchlist, the ticket and positions hold quotes in
the session's quote book, which asks IB once per contract, counts its line once, and
ends it when its last holder lets go; after a reconnect or IB's 1101 each is asked for
again once."""

from __future__ import annotations

from collections import Counter

from ibterm.broker.quotes import POSITION
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario
from tests.sim.clocked import until


async def _session(sim: SimServer, client_id: int, watchlist: list[str],
                   **settings: object) -> BrokerSession:
    profile = Profile(port=sim.port, client_id=client_id, watchlist=watchlist,
                      **settings)  # type: ignore[arg-type]
    session = BrokerSession(profile, "t", TradingMode.DEMO)
    assert await session.start()
    return session


def _requests(sim: SimServer, client_id: int) -> Counter[int]:
    """How many quote requests the gateway serves this client, by con_id."""
    conn = sim.client(client_id)
    assert conn is not None
    return Counter(q.con_id for q in conn.quotes.values())


async def _near(session: BrokerSession) -> list[Instrument]:
    spy = session.watchlist[0].instrument
    assert spy is not None
    chain, why = await session.options.chain(spy)
    assert chain is not None, why
    options = await session.options.options(spy, chain.expiries[1])
    return [o for o in options if 595 <= o.strike <= 605]


async def _streams(session: BrokerSession, sim: SimServer, con_id: int) -> None:
    before = session.quote(con_id)
    assert before is not None
    sim.step(3)
    await until(lambda: (q := session.quote(con_id)) is not None
                and q.updated_at > before.updated_at)


async def test_the_chain_leaving_keeps_a_quote_the_watchlist_asked_for_since(
        sim: SimServer) -> None:
    session = await _session(sim, 311, ["SPY"])
    try:
        near = await _near(session)
        option = near[2]
        session.options.watch(near)  # the chain first: it subscribes the option
        await until(lambda: session.options.quote(option.con_id) is not None)
        assert session.lines.used == 1 + len(near) == session.options.subscribed + 1
        # The watchlist asks for the same option: no second request, no second line.
        item = await session.add_watch(option.display)
        assert item.instrument == option and not item.error
        await until(lambda: session.quote(option.con_id) is not None)
        assert session.lines.used == 1 + len(near)
        assert _requests(sim, 311)[option.con_id] == 1
        assert session.options.subscribed == len(near) - 1  # no longer the chain's alone
        # The chain leaves: its options end, the watchlist's streams on, counted once.
        session.options.stop()
        await until(lambda: sum(_requests(sim, 311).values()) == 2)
        assert set(_requests(sim, 311)) == {session.watchlist[0].instrument.con_id,  # type: ignore[union-attr]
                                            option.con_id}
        assert session.lines.used == 2
        await _streams(session, sim, option.con_id)
        # Removed from the watchlist too: now it ends.
        session.unwatch(option.display)
        await until(lambda: sum(_requests(sim, 311).values()) == 1)
        assert session.lines.used == 1
    finally:
        await session.close()


async def test_the_tickets_quote_is_given_back_when_it_moves_on(sim: SimServer) -> None:
    session = await _session(sim, 312, ["AAPL"])
    try:
        aapl = session.watchlist[0].instrument
        msft, _ = await session.resolve("MSFT")
        ibm, _ = await session.resolve("IBM")
        assert aapl is not None and msft is not None and ibm is not None
        session.ticket_quotes([msft])
        await until(lambda: set(_requests(sim, 312)) == {aapl.con_id, msft.con_id})
        # Another symbol: MSFT's quote ends, its line back.
        session.ticket_quotes([ibm])
        await until(lambda: set(_requests(sim, 312)) == {aapl.con_id, ibm.con_id})
        assert session.lines.used == 2 and session.quote(msft.con_id) is None
        # The watchlist's own instrument: held by both, the ticket closing leaves it.
        session.ticket_quotes([aapl])
        await until(lambda: set(_requests(sim, 312)) == {aapl.con_id})
        session.ticket_quotes(())
        assert session.lines.used == 1 and _requests(sim, 312) == {aapl.con_id: 1}
        await _streams(session, sim, aapl.con_id)
        # A row the ticket once opened ends with the row once the ticket has moved on.
        await session.add_watch("MSFT")
        session.ticket_quotes([msft])
        session.ticket_quotes(())
        session.unwatch("MSFT")
        await until(lambda: set(_requests(sim, 312)) == {aapl.con_id})
        assert session.lines.used == 1
    finally:
        await session.close()


async def test_each_contract_is_asked_for_once_after_a_reconnect_and_a_1101(
        sim: SimServer) -> None:
    session = await _session(sim, 313, ["SPY"])
    try:
        near = await _near(session)
        shared = near[0]
        await session.add_watch(shared.display)
        session.ensure_quote(near[1], POSITION)
        session.ticket_quotes([near[1]])
        session.options.watch(near)
        held = {session.watchlist[0].instrument.con_id} | {o.con_id for o in near}  # type: ignore[union-attr]
        await until(lambda: _requests(sim, 313) == dict.fromkeys(held, 1))
        assert session.lines.used == len(held)

        sim.drop(313)
        await until(lambda: not session.connected)
        await until(lambda: session.connected and sim.client(313) is not None
                    and _requests(sim, 313) == dict.fromkeys(held, 1), timeout=15)
        assert session.lines.used == len(held)
        await until(lambda: all(session.options.quote(o.con_id) is not None for o in near))

        sim.connectivity(1101)  # data lost: every quote asked for again, once
        before = set(sim.client(313).quotes)  # type: ignore[union-attr]
        await until(lambda: not set(sim.client(313).quotes) & before  # type: ignore[union-attr]
                    and _requests(sim, 313) == dict.fromkeys(held, 1))
        assert session.lines.used == len(held) and not session.options.refused
        await _streams(session, sim, shared.con_id)
    finally:
        await session.close()


async def test_a_quote_ib_refuses_is_ended_and_the_chain_says_why() -> None:
    from ibterm.sim.scenario import InstrumentDef, OptionChain

    world = manual_scenario(instruments=[
        InstrumentDef(symbol="SPY", price=600.0, options=OptionChain(strike_step=5.0)),
        InstrumentDef(symbol="XYZ", price=100.0, live_data=False,
                      options=OptionChain(strike_step=5.0))])
    sim = SimServer(world, seed=0)
    await sim.start()
    session = await _session(sim, 314, ["SPY", "XYZ"], market_data="live")
    try:
        # The watchlist's row: IB's words as a notice, the request ended, its line back.
        await until(lambda: any("IB 354" in n.message for n in session.drain().notices))
        assert session.lines.used == 1
        xyz = session.watchlist[1].instrument
        assert xyz is not None
        chain, why = await session.options.chain(xyz)
        assert chain is not None, why
        options = (await session.options.options(xyz, chain.expiries[0]))[:4]
        session.options.watch(options)
        # The chain's: each shown refused with IB's words, said by no notice.
        await until(lambda: all("IB 354" in session.options.refused.get(o.con_id, "")
                                for o in options))
        assert session.lines.used == 1 and session.options.subscribed == 0
        assert all("354" not in n.message for n in session.drain().notices)
        session.options.stop()
        assert not session.options.refused and session.lines.used == 1
    finally:
        await session.close()
        await sim.stop()
