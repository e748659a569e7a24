"""Protective actions never wait for the journal; new orders never go out without it.

The journal here is the real one, made unwritable the two ways a trading day can: SQLite
reports the disk full (its page limit set to the file's size, which raises the same
SQLITE_FULL a full filesystem does), or its connection is gone. Everything else is the
real pipeline over ib_async to the simulator.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal
from ibterm.broker.pipeline import OrderPipeline
from ibterm.domain.orders import TradingState
from ibterm.sim.server import SimServer
from tests.broker.test_pipeline import Trader, _limit, _setup, _until


def fill_up(journal: Journal) -> None:
    """The journal's disk is full: SQLite may not grow the file by one more page, and the
    free room left in its last pages is used up, so any row at all fails."""
    db = journal._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 1}")
    for size in (4000, 400, 40, 0):
        try:
            for _ in range(10_000):
                journal.record("padding", data="x" * size)
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
    with pytest.raises(sqlite3.OperationalError):
        journal.record("status")


def make_room(journal: Journal) -> None:
    journal._db.execute("PRAGMA max_page_count = 1073741823")


def break_journal(journal: Journal, how: str) -> None:
    if how == "full":
        fill_up(journal)
    else:
        journal.close()


def _notices(pipeline: OrderPipeline) -> list[str]:
    return [n.message for n in pipeline.drain().notices]


@pytest.fixture
async def world(sim: SimServer, tmp_path: Path) -> AsyncIterator[tuple[OrderPipeline, Trader]]:
    pipeline, trader, _ = await _setup(sim, tmp_path)
    yield pipeline, trader
    await pipeline.session.close()


async def _working(pipeline: OrderPipeline, sim: SimServer, count: int = 1,
                   **changes: Any) -> list[str]:
    refs = []
    for i in range(count):
        intent = _limit(pipeline, sim, offset=-2.0 - i * 0.01, **changes)
        assert (await pipeline.submit(intent)).outcome is Outcome.QUEUED
        refs.append(intent.order_ref(0))
    await _until(lambda: all(r in pipeline.trades
                             and pipeline.trades[r].orderStatus.status == "Submitted"
                             for r in refs))
    return refs


def _at_gateway(sim: SimServer, ref: str) -> str:
    [order] = [o for o in sim.orders.orders.values() if o.req.order_ref == ref]
    return order.status


@pytest.mark.parametrize("how", ["full", "closed"])
async def test_a_cancel_reaches_the_gateway_when_the_journal_cannot_be_written(
        world: Any, sim: SimServer, how: str, caplog: pytest.LogCaptureFixture) -> None:
    pipeline, trader = world
    [ref] = await _working(pipeline, sim)
    pipeline.drain()
    break_journal(pipeline.journal, how)
    with caplog.at_level(logging.ERROR, logger="ibterm.orders"):
        assert pipeline.cancel(ref)
    await _until(lambda: _at_gateway(sim, ref) == "Cancelled")
    notices = _notices(pipeline)
    assert any("cancel of" in n and "was sent" in n and str(pipeline.journal.path) in n
               for n in notices), notices
    assert pipeline.state is TradingState.HALTED
    # The row the journal could not take is in the log, with what it would have said.
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert any("NOT written" in r.getMessage() and "cancel {'intent_id'" in r.getMessage()
               and ref in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("how", ["full", "closed"])
async def test_the_kill_switch_reaches_the_gateway_when_the_journal_cannot_be_written(
        world: Any, sim: SimServer, how: str) -> None:
    pipeline, trader = world
    refs = await _working(pipeline, sim, count=3)
    pipeline.drain()
    break_journal(pipeline.journal, how)
    pipeline.kill()
    await _until(lambda: all(_at_gateway(sim, r) == "Cancelled" for r in refs))
    assert pipeline.state is TradingState.HALTED
    notices = _notices(pipeline)
    assert any("global cancel was sent" in n for n in notices), notices


async def test_a_new_order_fails_closed_and_trading_halts_until_the_journal_works(
        world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    fill_up(pipeline.journal)
    result = await pipeline.submit(_limit(pipeline, sim))
    assert result.outcome is Outcome.REJECTED
    assert "journal" in result.message and str(pipeline.journal.path) in result.message
    assert trader.shown == []  # refused before anything was asked, let alone sent
    assert pipeline.state is TradingState.HALTED
    notices = _notices(pipeline)
    assert any("Trading HALTED: journal cannot be written" in n for n in notices), notices
    assert any("cannot be written" in n and "no new orders" in n for n in notices)
    pipeline.resume()  # refused: the journal still cannot be written
    assert pipeline.state is TradingState.HALTED
    assert any("Not resumed" in n for n in _notices(pipeline))
    make_room(pipeline.journal)
    pipeline.resume()
    assert pipeline.state is TradingState.ACTIVE
    [ref] = await _working(pipeline, sim)
    assert pipeline.journal.order_states()[ref][0] == "Submitted"
    assert len(sim.orders.orders) == 1  # the refused one never went out, later either


async def test_queued_orders_are_withdrawn_when_their_submission_cannot_be_journaled(
        sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, confirm_orders=False, order_rate=5,
                                       flood_intents=10_000, real_time=True)
    try:
        intents = [_limit(pipeline, sim, qty=1, offset=-2.0 - i * 0.01) for i in range(10)]
        for intent in intents:
            assert (await pipeline.submit(intent)).outcome is Outcome.QUEUED
        await _until(lambda: len(sim.orders.orders) >= 2)
        pipeline.journal.close()
        sent = len(sim.orders.orders)
        await _until(lambda: not pipeline.queue)
        assert len(sim.orders.orders) in (sent, sent + 1)  # at most the one in flight
        update = pipeline.drain()
        not_sent = {o.order_ref for o in update.orders if o.status == "NotSent"}
        at_gateway = {o.req.order_ref for o in sim.orders.orders.values()}
        assert not_sent | at_gateway == {i.order_ref(0) for i in intents}
        assert not not_sent & at_gateway
        assert pipeline.state is TradingState.HALTED
    finally:
        await pipeline.session.close()


async def test_flatten_goes_out_when_the_journal_cannot_be_written(world: Any,
                                                                   sim: SimServer) -> None:
    pipeline, trader = world
    fill_up(pipeline.journal)
    intent = pipeline.flatten_intent()
    assert intent is not None
    trader.overrides = {"quote"}  # MSFT and SPY have no subscribed quote here
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.QUEUED, result.message
    await _until(lambda: all(p.quantity == 0
                             for p in sim.accounts["DU1234567"].positions.values()), timeout=8)
    assert pipeline.state is TradingState.HALTED  # and nothing new is sent meanwhile


async def test_cancel_all_reaches_the_gateway_when_the_journal_cannot_be_written(
        world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    refs = await _working(pipeline, sim, count=2)
    pipeline.drain()
    fill_up(pipeline.journal)
    assert pipeline.cancel_all()
    await _until(lambda: all(_at_gateway(sim, r) == "Cancelled" for r in refs))
    notices = _notices(pipeline)
    assert any("global cancel (cancel all) was sent" in n for n in notices), notices
    # The journal's outage HALTs new orders; the cancel itself changed no state.
    assert pipeline.state is TradingState.HALTED
