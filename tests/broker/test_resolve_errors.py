"""Symbols that do not resolve are explained once, in the trader's words, against the
simulator over ib_async: never IB's raw error 200 as a second notice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ibterm.broker.session import BrokerSession
from ibterm.domain.connection import TradingMode
from ibterm.sim.server import SimServer
from tests.broker.test_session import _profile


@pytest.fixture
async def session(sim: SimServer) -> AsyncIterator[BrokerSession]:
    s = BrokerSession(_profile(sim.port, watchlist=["AAPL"]), "t", TradingMode.DEMO)
    assert await s.start()
    s.drain()
    yield s
    await s.close()


async def _explained(session: BrokerSession, text: str) -> str:
    inst, error = await session.resolve(text)
    assert inst is None
    await asyncio.sleep(0.2)  # anything IB said about it has arrived by now
    notices = [n.message for n in session.drain().notices]
    assert not any("IB 200" in m or "No security definition" in m for m in notices), notices
    return error


@pytest.mark.parametrize(("text", "expected"), [
    ("XYZQ", "No instrument XYZQ (stock, SMART, USD)"),
    ("SPY 20261218 602.5 C", "SPY has no 602.5 call for 18 Dec; nearest strikes 600, 605"),
    ("SPY 20261218 700 P", "SPY has no 700 put for 18 Dec; nearest strikes 660"),
    ("SPY 20261219 600 C",
     "SPY has no options expiring 19 Dec 2026; nearest expiries 18 Dec, 15 Jan 2027"),
    ("SPY 20270301 600 C",
     "SPY has no options expiring 1 Mar 2027; nearest expiries 19 Feb"),
    ("XYZQ 20261218 100 C", "No instrument XYZQ (stock, SMART, USD)"),
    ("ES 202709", "ES has no future for 202709; listed 202612, 202703"),
    ("GBP.JPY", "No instrument GBP.JPY (currency pair, IDEALPRO, JPY)"),
])
async def test_a_symbol_that_names_nothing_is_explained_once(
        session: BrokerSession, sim: SimServer, text: str, expected: str) -> None:
    assert await _explained(session, text) == expected


async def test_the_watchlist_says_it_once_too(session: BrokerSession) -> None:
    from ib_async import Contract

    item = await session.add_watch("SPY 20261218 602.5 C")
    assert item.instrument is None
    assert item.error == "SPY has no 602.5 call for 18 Dec; nearest strikes 600, 605"
    await asyncio.sleep(0.2)
    assert not any("IB 200" in n.message for n in session.drain().notices)
    # An error 200 for a request that is not a lookup (a quote for a contract that does
    # not exist) is nobody else's to explain: it is still a notice.
    session.ib.reqMktData(Contract(conId=999_999_999, exchange="SMART"))
    await asyncio.sleep(0.3)
    assert any("IB 200" in n.message for n in session.drain().notices)
