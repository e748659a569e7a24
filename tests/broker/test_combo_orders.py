"""Combination (BAG) orders through the one pipeline, against the simulator through
ib_async: a SPY call vertical bought at a net debit fills both legs; a credit spread at a
negative price; the checks stop a combination with a delayed leg, over a leg's size, over
value and off the legs' mid; cancel, modify, the kill switch and flatten cover it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal, read_events
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.combo import combo_instrument, combo_market, legs_for
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument
from ibterm.domain.orders import (
    ComboLeg,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TradingState,
    new_intent_id,
)
from ibterm.domain.ticks import round_to_tick
from ibterm.sim.scenario import DEFAULT_INSTRUMENTS, AccountDef, PositionDef
from ibterm.sim.server import SimServer
from tests.broker.test_pipeline import FakeTime, Trader, _until
from tests.conftest import manual_scenario

EXPIRY = "20261218"
ACCOUNT = "DU1234567"


async def _pipeline(sim: SimServer, tmp_path: Path,
                    **profile: Any) -> tuple[OrderPipeline, Trader]:
    settings: dict[str, Any] = {"port": sim.port, "client_id": 61, "watchlist": ["SPY"],
                                "connect_timeout": 5}
    session = BrokerSession(Profile(**(settings | profile)), "test", TradingMode.PAPER)
    assert await session.start()
    trader, fake = Trader(), FakeTime()
    journal = Journal(tmp_path / "journal.sqlite3", "test")
    return OrderPipeline(session, journal, trader, clock=fake.clock, sleep=fake.sleep), trader


async def _calls(pipeline: OrderPipeline, *strikes: int) -> list[Instrument]:
    """The calls resolved through the session, their quotes asked for and arrived."""
    session = pipeline.session
    found = []
    for strike in strikes:
        inst, error = await session.resolve(f"SPY {EXPIRY} {strike} C")
        assert inst is not None, error
        session.ensure_quote(inst)
        found.append(inst)
    await _until(lambda: all((q := session.quote(i.con_id)) is not None and q.bid and q.ask
                             for i in found))
    return found


def _vertical(pipeline: OrderPipeline, low: Instrument, high: Instrument, qty: float = 1,
              offset: float = 0.0, credit: bool = False, at: str = "mid") -> OrderIntent:
    """Buy the lower call and sell the higher (or the reverse, for a credit), limit at the
    legs' `at` (mid, bid: resting, ask: the natural price) plus `offset`."""
    buy, sell = (high, low) if credit else (low, high)
    legs = (ComboLeg(buy, Side.BUY), ComboLeg(sell, Side.SELL))
    market = combo_market(legs, pipeline.session.quotes())
    assert market is not None
    limit = round_to_tick(getattr(market, at) + offset, 0.01)
    spec = OrderSpec(combo_instrument(legs), Side.BUY, qty, OrderType.LMT, limit=limit,
                     combo=legs)
    return OrderIntent((spec,))


@pytest.fixture
async def world(sim: SimServer, tmp_path: Path) -> AsyncIterator[tuple[OrderPipeline, Trader]]:
    pipeline, trader = await _pipeline(sim, tmp_path)
    yield pipeline, trader
    await pipeline.session.close()


def _checks(result: Any) -> dict[str, str]:
    return {c.check: c.severity.value for c in result.checks}


@pytest.mark.parametrize(("strikes", "changes", "check"), [
    ((590, 600), {"qty": 60}, "size"),
    # About 50 x 100 x 40 = 200,000: over the options' 100,000.
    ((550, 600), {"qty": 40}, "value"),
    ((590, 600), {"offset": 3.0}, "deviation"),
])
async def test_a_combination_over_a_limit_needs_its_override(
        world: Any, sim: SimServer, strikes: tuple[int, int], changes: dict[str, Any],
        check: str) -> None:
    pipeline, trader = world
    low, high = await _calls(pipeline, *strikes)
    intent = _vertical(pipeline, low, high, **changes)
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.REJECTED and _checks(result)[check] == "breach", \
        result.checks
    assert "needs an override" in result.message and not sim.orders.orders
    [(shown, _)] = trader.shown  # the trader saw it, every leg with it
    assert shown.legs[0].combo == intent.legs[0].combo


async def test_a_leg_over_its_size_names_the_leg(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    low, high = await _calls(pipeline, 590, 600)
    # 30 ratio spreads: 30 of the 590s, 60 of the 600s (the options' limit is 50).
    legs = (ComboLeg(low, Side.BUY), ComboLeg(high, Side.SELL, ratio=2))
    spec = OrderSpec(combo_instrument(legs), Side.BUY, 30, OrderType.MKT, combo=legs)
    trader.overrides = {"value"}
    result = await pipeline.submit(OrderIntent((spec,)))
    [size] = [c for c in result.checks if c.check == "size"]
    assert size.message.startswith(f"leg 2 (SPY {EXPIRY} 600 C): size 60 is over the limit")
    assert result.outcome is Outcome.REJECTED and not sim.orders.orders


async def test_a_delayed_leg_blocks_the_combination(tmp_path: Path) -> None:
    # SPY, and so its options, with delayed data only.
    spy = [i if i.symbol != "SPY" else i.model_copy(update={"live_data": False})
           for i in DEFAULT_INSTRUMENTS]
    sim = SimServer(manual_scenario(instruments=spy), seed=0)
    await sim.start()
    pipeline, trader = await _pipeline(sim, tmp_path)
    try:
        sim.step(25)  # delayed quotes start moving too
        low, high = await _calls(pipeline, 590, 600)
        result = await pipeline.submit(_vertical(pipeline, low, high))
        quotes = [c for c in result.checks if c.check == "quote"]
        assert [c.severity.value for c in quotes] == ["block", "block"]
        assert quotes[0].message.startswith(f"leg 1 (SPY {EXPIRY} 590 C): the quote is delayed")
        assert result.outcome is Outcome.REJECTED and trader.shown == []
        assert not sim.orders.orders
    finally:
        await pipeline.session.close()
        await sim.stop()


@pytest.fixture
async def spread_held() -> AsyncIterator[SimServer]:
    """Long 2 SPY 590 calls, short 2 SPY 600 calls: a vertical held, to flatten."""
    account = AccountDef(id=ACCOUNT, positions=[
        PositionDef(symbol=f"SPY {EXPIRY} 590 C", quantity=2, avg_cost=20.0),
        PositionDef(symbol=f"SPY {EXPIRY} 600 C", quantity=-2, avg_cost=14.0)])
    server = SimServer(manual_scenario(accounts=[account]), seed=0)
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize("quoted", [True, False])
async def test_flatten_closes_option_positions(spread_held: SimServer, tmp_path: Path,
                                               quoted: bool) -> None:
    sim = spread_held
    pipeline, trader = await _pipeline(sim, tmp_path)
    try:
        session = pipeline.session
        await _until(lambda: len(session.positions()) == 2
                     and all(p.instrument.sec_type.value == "OPT" and p.market_price
                             for p in session.positions()))
        if quoted:
            await _calls(pipeline, 590, 600)
        intent = pipeline.flatten_intent()
        assert intent is not None and intent.kind is IntentKind.FLATTEN
        # Flatten asks for the quotes of what it closes: by the time the trader has read
        # the dialog they are in, and each leg is priced from the touch as it is sent (a
        # limit ten ticks through an option's mark would not cross its spread).
        await _until(lambda: all(session.quote(leg.instrument.con_id) is not None
                                 for leg in intent.legs))
        by_strike = {leg.instrument.strike: (leg.side, leg.quantity) for leg in intent.legs}
        assert by_strike == {590: (Side.SELL, 2), 600: (Side.BUY, 2)}
        result = await pipeline.submit(intent)
        assert result.outcome is Outcome.QUEUED, result.message
        await _until(lambda: all(p.quantity == 0
                                 for p in sim.accounts[ACCOUNT].positions.values()), timeout=8)
        submitted = [e for e in read_events(pipeline.journal.path) if e.kind == "submitted"]
        assert {e.data["priced_from"] for e in submitted} == {"bid", "ask"}
    finally:
        await pipeline.session.close()


def _sim_order(sim: SimServer, ref: str) -> Any:
    return next((o for o in sim.orders.orders.values() if o.req.order_ref == ref), None)


async def _placed(pipeline: OrderPipeline, sim: SimServer, intent: OrderIntent) -> Any:
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.QUEUED, (result.message, result.checks)
    ref = intent.order_ref(0)
    await _until(lambda: _sim_order(sim, ref) is not None and ref in pipeline.trades
                 and pipeline.trades[ref].orderStatus.status not in ("", "PendingSubmit"))
    return _sim_order(sim, ref)


@pytest.mark.parametrize("credit", [False, True])
async def test_a_vertical_at_the_legs_natural_price_fills_both_legs(
        world: Any, sim: SimServer, credit: bool) -> None:
    pipeline, trader = world
    low, high = await _calls(pipeline, 590, 600)
    # Marketable: the natural price, a debit for the vertical bought, a credit sold.
    intent = _vertical(pipeline, low, high, qty=2, credit=credit, at="ask")
    spec = intent.legs[0]
    assert spec.limit is not None and (spec.limit < 0) is credit
    order = await _placed(pipeline, sim, intent)
    assert order.req.limit == spec.limit and order.req.contract.sec_type == "BAG"
    ref = intent.order_ref(0)
    await _until(lambda: pipeline.trades[ref].orderStatus.status == "Filled")
    positions = sim.accounts[ACCOUNT].positions
    long_leg, short_leg = (high, low) if credit else (low, high)
    await _until(lambda: long_leg.con_id in positions and short_leg.con_id in positions)
    assert (positions[long_leg.con_id].quantity, positions[short_leg.con_id].quantity) == (2, -2)
    events = read_events(pipeline.journal.path)
    [submitted] = [e for e in events if e.kind == "submitted"]
    assert submitted.symbol == "SPY combo"
    assert [(leg["con_id"], leg["action"], leg["quantity"]) for leg in submitted.data["legs"]] \
        == [(long_leg.con_id, "BUY", 2), (short_leg.con_id, "SELL", 2)]
    await _until(lambda: {e.data.get("leg") for e in read_events(pipeline.journal.path)
                          if e.kind == "fill"} >= {long_leg.display, short_leg.display, "combo"})
    update = pipeline.drain()
    last = [u for u in update.orders if u.order_ref == ref][-1]
    assert (last.status, last.filled, last.combo) == ("Filled", 2, spec.combo)
    assert {f.instrument.con_id for f in update.fills} >= {long_leg.con_id, short_leg.con_id}
    # The executions list names each leg's fill by its contract and the combination's
    # own by the order, not by the underlying alone.
    assert {f.display for f in update.fills} == {long_leg.display, short_leg.display,
                                                  "SPY combo"}


async def test_a_credit_sold_at_a_positive_price_fills_its_legs_reversed(
        world: Any, sim: SimServer) -> None:
    pipeline, _ = world
    low, high = await _calls(pipeline, 590, 600)
    # The credit spread (sell the 590s, buy the 600s) as traders send it: the BAG's legs
    # the debit way round, SOLD at its bid, a positive credit.
    wanted = (ComboLeg(low, Side.SELL), ComboLeg(high, Side.BUY))
    legs = legs_for(wanted, Side.SELL)
    market = combo_market(legs, pipeline.session.quotes())
    assert market is not None and market.bid > 0
    spec = OrderSpec(combo_instrument(legs), Side.SELL, 2, OrderType.LMT, limit=market.bid,
                     combo=legs, strategy="bear call")
    assert spec.describe().startswith("SELL 2 SPY bear call (SELL 1 SPY 20261218 590 C + BUY 1")
    intent = OrderIntent((spec,))
    order = await _placed(pipeline, sim, intent)
    assert order.req.action == "SELL" and order.req.limit == market.bid
    ref = intent.order_ref(0)
    await _until(lambda: pipeline.trades[ref].orderStatus.status == "Filled")
    assert pipeline.trades[ref].filled() == 2
    positions = sim.accounts[ACCOUNT].positions
    await _until(lambda: low.con_id in positions and high.con_id in positions)
    assert (positions[low.con_id].quantity, positions[high.con_id].quantity) == (-2, 2)
    [submitted] = [e for e in read_events(pipeline.journal.path) if e.kind == "submitted"]
    assert [(leg["con_id"], leg["action"]) for leg in submitted.data["legs"]] == [
        (low.con_id, "SELL"), (high.con_id, "BUY")]  # what the order does with each


async def test_a_working_combination_is_modified_cancelled_and_killed(
        world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    low, high = await _calls(pipeline, 590, 600)
    # Resting under the legs' bid (a deviation the trader overrides), working.
    first = _vertical(pipeline, low, high, at="bid", offset=-0.05)
    resting = first.legs[0].limit
    assert resting is not None
    trader.overrides = {"deviation"}
    order = await _placed(pipeline, sim, first)
    ref = first.order_ref(0)
    assert pipeline.trades[ref].orderStatus.status == "Submitted"
    order_id = order.req.order_id
    # Modify: a new limit, same order id; the legs cannot change.
    lower = round(resting - 0.10, 2)
    result = await pipeline.modify(ref, replace(first.legs[0], limit=lower))
    assert result.outcome is Outcome.QUEUED, result.message
    await _until(lambda: order.req.limit == lower)
    assert order.req.order_id == order_id and len(sim.orders.orders) == 1
    swapped = replace(first.legs[0], combo=first.legs[0].combo[::-1])
    assert "keeps a combination's legs" in (await pipeline.modify(ref, swapped)).message
    modified = [e for e in read_events(pipeline.journal.path) if e.kind == "modify"]
    assert [len(e.data["legs"]) for e in modified] == [2]
    # Cancel it.
    assert pipeline.cancel(ref)
    await _until(lambda: order.done and pipeline.trades[ref].orderStatus.status == "Cancelled")
    # Another one, cancelled with every order on one of its legs.
    second = replace(first, id=new_intent_id())
    again = await _placed(pipeline, sim, second)
    assert pipeline.cancel_instrument(high.con_id) == 1
    await _until(lambda: again.done)
    # And a third, which the kill switch cancels.
    third = replace(first, id=new_intent_id())
    last = await _placed(pipeline, sim, third)
    pipeline.kill()
    await _until(lambda: last.done)
    assert pipeline.state is TradingState.HALTED
    assert pipeline.trades[third.order_ref(0)].orderStatus.status == "Cancelled"


async def test_a_combination_filled_while_away_counts_its_combinations(
        world: Any, sim: SimServer) -> None:
    import dataclasses

    pipeline, trader = world
    low, high = await _calls(pipeline, 590, 600)
    intent = _vertical(pipeline, low, high, qty=2, at="bid")
    order = await _placed(pipeline, sim, intent)
    ref = intent.order_ref(0)
    sim.drop(61)
    await _until(lambda: not pipeline.session.connected, 3)
    # While away the market comes to it: two combinations, four option executions.
    order.req = dataclasses.replace(order.req, limit=round(order.req.limit + 2.0, 2))
    sim.publish(sim.orders.on_step())
    assert order.status == "Filled"
    await _until(lambda: pipeline.session.connected, 10)
    await _until(lambda: pipeline._reconcile_task is not None
                 and pipeline._reconcile_task.done())
    settled = [u for u in pipeline.drain().orders if u.order_ref == ref][-1]
    assert (settled.status, settled.filled) == ("Filled", 2)


async def test_a_combination_from_a_previous_run_is_tracked_again(sim: SimServer,
                                                                  tmp_path: Path) -> None:
    pipeline, trader = await _pipeline(sim, tmp_path)
    low, high = await _calls(pipeline, 590, 600)
    intent = _vertical(pipeline, low, high, at="bid")
    order = await _placed(pipeline, sim, intent)
    await pipeline.session.close()
    # A new app on the same journal: the combination still works at the gateway.
    again, _ = await _pipeline(sim, tmp_path)
    try:
        assert not await again.reconcile()
        ref = intent.order_ref(0)
        assert ref in again.trades
        [adopted] = [u for u in again.working_orders() if u.order_ref == ref]
        assert [(leg.instrument.con_id, leg.action, leg.ratio) for leg in adopted.combo] == [
            (low.con_id, Side.BUY, 1), (high.con_id, Side.SELL, 1)]
        assert again.cancel(ref)
        await _until(lambda: order.done)
    finally:
        await again.session.close()
