"""A profile's mode must fit the gateway's account: IB's paper accounts are DU… (and DF…
for a paper advisor), every other account is live. A paper profile logged into a live
account would send orders to real money without the LIVE confirmation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ibterm.broker.approval import Outcome
from ibterm.broker.checks import account_mode_problem, is_paper_account
from ibterm.domain.connection import TradingMode
from ibterm.sim.scenario import AccountDef, PositionDef
from ibterm.sim.server import SimServer
from tests.broker.test_pipeline import _limit, _setup
from tests.conftest import manual_scenario


@pytest.mark.parametrize(("account", "paper"), [
    ("DU1234567", True), ("DF1234567", True), ("du1234567", True),
    ("U7654321", False), ("F1234567", False), ("I1234567", False)])
def test_paper_accounts_are_du_and_df(account: str, paper: bool) -> None:
    assert is_paper_account(account) is paper


def test_the_mode_must_fit_every_account() -> None:
    assert account_mode_problem(TradingMode.PAPER, ["DU1", "DU2"]) == ""
    assert account_mode_problem(TradingMode.LIVE, ["U1"]) == ""
    assert account_mode_problem(TradingMode.DEMO, ["DU1"]) == ""
    assert "U2 is a live account" in account_mode_problem(TradingMode.PAPER, ["DU1", "U2"])
    assert "DU1 is a paper account" in account_mode_problem(TradingMode.LIVE, ["DU1"])
    assert "profile 'x' is demo" in account_mode_problem(TradingMode.DEMO, ["U1"], "x")


@pytest.fixture
async def live_sim() -> SimServer:
    """A gateway logged into a live account (U…), holding some AAPL."""
    account = AccountDef(id="U7654321",
                         positions=[PositionDef(symbol="AAPL", quantity=10, avg_cost=200)])
    server = SimServer(manual_scenario(accounts=[account]), seed=0)
    await server.start()
    yield server  # type: ignore[misc]
    await server.stop()


async def test_a_paper_profile_on_a_live_account_sends_nothing(live_sim: SimServer,
                                                               tmp_path: Path) -> None:
    sim = live_sim
    # Confirmations off: without the check, this order would go straight to real money.
    pipeline, trader, _ = await _setup(sim, tmp_path, confirm_orders=False)
    try:
        notices = [n.message for n in pipeline.drain().notices]
        assert any("account U7654321 is a live account" in n for n in notices), notices
        result = await pipeline.submit(_limit(pipeline, sim))
        assert result.outcome is Outcome.REJECTED
        [block] = [c for c in result.checks if c.check == "account-mode"]
        assert block.severity.value == "block"
        assert block.message == (
            "profile 'test' is paper but the gateway's account U7654321 is a live account: "
            "no orders are sent; connect to a paper login or use a live profile")
        assert result.message == block.message
        flatten = pipeline.flatten_intent()
        assert flatten is not None
        trader.overrides = {"quote"}
        assert (await pipeline.submit(flatten)).outcome is Outcome.REJECTED
        await asyncio.sleep(0.2)
        assert not sim.orders.orders and trader.shown == []
    finally:
        await pipeline.session.close()


async def test_a_live_profile_on_a_paper_account_is_refused_too(sim: SimServer,
                                                                tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, mode=TradingMode.LIVE)
    try:
        result = await pipeline.submit(_limit(pipeline, sim))
        assert result.outcome is Outcome.REJECTED
        assert "DU1234567 is a paper account" in result.message
        assert trader.shown == [] and not sim.orders.orders
    finally:
        await pipeline.session.close()

