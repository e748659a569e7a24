"""Positions by underlying (domain/position_groups.py) and their pairing and greeks
(risk/grouping.py), without a gateway: the tree's rows, what a part of a position shows,
a pairing that no longer fits, and the marks of stale, delayed and missing inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from ibterm.domain.account import Position
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.position_groups import (
    DELAYED,
    EXACT,
    LOCAL,
    PARTIAL,
    STALE,
    Exposure,
    Grouping,
    GroupingRequest,
    OptionInputs,
    PairedStrategy,
    UnitGreeks,
    input_state,
    tree,
)
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.risk.grouping import PositionGrouper

STOCK = Instrument(756733, "SPY", SecType.STK, "SMART", "USD")


def _option(con_id: int, strike: float, right: Right) -> Instrument:
    return Instrument(con_id, "SPY", SecType.OPT, "SMART", "USD", multiplier=100,
                      expiry="20261218", strike=strike, right=right)


def _position(inst: Instrument, qty: float, price: float) -> Position:
    return Position("DU1", inst, qty, price, price, unrealized_pnl=1.0, daily_pnl=2.0)


def _unit(delta: float) -> UnitGreeks:
    return UnitGreeks(Exposure(delta, 1.0, -2.0, 3.0), LOCAL)


SHORT_PUT, LONG_PUT = _option(1, 580, Right.PUT), _option(2, 570, Right.PUT)


def test_a_part_of_a_position_in_a_strategy_shows_its_share_and_no_pnl() -> None:
    # Two short puts, one of them in a spread: the spread's leg holds -1 of -2, and the
    # other -1 stands alone; only the whole position's row carries P&L and value.
    positions = [_position(SHORT_PUT, -2, 2.0), _position(LONG_PUT, 1, 1.0)]
    spread = PairedStrategy("bull put spread", "20261218", ((1, -1.0), (2, 1.0)))
    grouping = Grouping({"SPY": (spread,)}, {1: _unit(-20.0), 2: _unit(10.0)})
    rows = tree(positions, grouping)
    assert [(r.kind, r.label, r.quantity, r.whole) for r in rows] == [
        ("underlying", "SPY", None, True),
        ("strategy", "bull put spread 20261218", None, False),
        ("leg", "├ 20261218 580 P", -1.0, False),
        ("leg", "└ 20261218 570 P", 1.0, True),
        ("position", "20261218 580 P", -1.0, False),
        ("total", "Account", None, True)]
    strategy, leftover = rows[1], rows[4]
    assert strategy.greeks == Exposure(30.0, 0.0, 0.0, 0.0)  # -1 x -20 + 1 x 10
    assert strategy.pnl == (None, None) and leftover.pnl == (None, None)
    assert rows[0].greeks == rows[5].greeks == Exposure(50.0, -1.0, 2.0, -3.0)
    assert rows[0].pnl == (2.0, 4.0)


def test_a_pairing_the_positions_no_longer_hold_is_left_out() -> None:
    # The spread was paired at -1 / +1; the long put has since been sold.
    positions = [_position(SHORT_PUT, -1, 2.0), _position(STOCK, 10, 600.0)]
    spread = PairedStrategy("bull put spread", "20261218", ((1, -1.0), (2, 1.0)))
    rows = tree(positions, Grouping({"SPY": (spread,)}, {1: _unit(-20.0)}))
    assert [r.kind for r in rows] == ["underlying", "position", "position", "total"]


def test_a_lone_position_is_its_own_row_and_a_folded_group_its_header() -> None:
    aapl = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")
    positions = [_position(aapl, 10, 230.0), _position(STOCK, 5, 600.0),
                 _position(SHORT_PUT, -1, 2.0)]
    rows = tree(positions, Grouping(unit={1: _unit(-20.0)}))
    assert [r.label for r in rows] == ["AAPL", "SPY", "SPY", "20261218 580 P", "Account"]
    assert rows[0].greeks == Exposure(10.0) and rows[0].mark == EXACT
    folded = tree(positions, Grouping(unit={1: _unit(-20.0)}), frozenset({"SPY"}))
    assert [r.label for r in folded] == ["AAPL", "SPY", "Account"]
    assert folded[1].collapsed and folded[1].greeks == Exposure(25.0, -1.0, 2.0, -3.0)


def test_an_unpriced_option_makes_its_sums_partial() -> None:
    positions = [_position(STOCK, 5, 600.0), _position(SHORT_PUT, -1, 2.0)]
    rows = tree(positions, Grouping())
    assert rows[2].greeks is None and rows[2].mark == PARTIAL
    assert rows[0].mark == PARTIAL and rows[0].greeks == Exposure(5.0)


def test_inputs_are_stale_when_old_missing_flagged_or_frozen_and_delayed_marked() -> None:
    live = Quote(1, MarketDataType.LIVE, 100.0, bid=1.0, ask=1.1)
    assert input_state([live, live], 101.0, 10.0) == ""
    assert input_state([live, None], 101.0, 10.0) == STALE
    assert input_state([live], 200.0, 10.0) == STALE
    assert input_state([Quote(1, MarketDataType.LIVE, 100.0, flag="bad")], 101, 10) == STALE
    assert input_state([Quote(1, MarketDataType.FROZEN, 100.0)], 101, 10) == STALE
    assert input_state([live, Quote(1, MarketDataType.DELAYED, 100.0)], 101, 10) == DELAYED


def test_the_pairing_finds_the_condor_and_prices_it_locally() -> None:
    legs = [(_option(1, 570, Right.PUT), 1, 1.0), (_option(2, 580, Right.PUT), -1, 2.0),
            (_option(3, 620, Right.CALL), -1, 2.0), (_option(4, 630, Right.CALL), 1, 1.0)]
    positions = tuple(_position(i, q, p) for i, q, p in legs)
    inputs = {i.con_id: OptionInputs(p, 600.0, DELAYED if i.con_id == 4 else "")
              for i, _, p in legs}
    grouper = PositionGrouper()
    grouping = grouper.group(GroupingRequest(positions, inputs, dt.date(2026, 11, 27), 0.04))
    [condor] = grouping.strategies["SPY"]
    assert (condor.name, condor.expiry) == ("iron condor", "20261218")
    assert sorted(condor.legs) == [(1, 1.0), (2, -1.0), (3, -1.0), (4, 1.0)]
    total = sum((grouping.unit[i.con_id].greeks.times(q) for i, q, _ in legs), Exposure())
    assert abs(total.delta) < 5 and total.theta > 0 > total.vega
    assert grouping.unit[4].inputs == DELAYED
    rows = tree(positions, grouping)
    assert rows[1].label == "iron condor 20261218" and rows[1].mark == DELAYED
    # The pairing is kept while the positions stay: new prices reprice, never re-pair.
    moved = {c: OptionInputs(i.price, 640.0, "") for c, i in inputs.items()}
    again = grouper.group(GroupingRequest(positions, moved, dt.date(2026, 11, 27), 0.04))
    assert again.strategies["SPY"] is grouping.strategies["SPY"]
    assert again.unit[3].greeks.delta > grouping.unit[3].greeks.delta  # the call, in the money


def test_a_call_delta_is_shares_of_the_multiplier() -> None:
    call = _option(3, 600, Right.CALL)
    grouping = PositionGrouper().group(GroupingRequest(
        (_position(call, 2, 12.0),), {3: OptionInputs(12.0, 600.0)},
        dt.date(2026, 11, 27), 0.04))
    unit = grouping.unit[3]
    assert unit.source == LOCAL
    assert unit.greeks.delta == pytest.approx(53, abs=5)  # about half of 100 shares
