"""Positions by underlying (domain/position_groups.py) and their pairing and greeks
(risk/grouping.py), without a gateway: the tree's rows, what a part of a position shows,
a pairing that no longer fits, the marks of stale, delayed and missing inputs, and IB's
model greeks preferred while live, in the same units, with sums of both `mixed`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ibterm.domain.account import Position
from ibterm.domain.greeks import Greeks, OptionQuote
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.position_groups import (
    DELAYED,
    EXACT,
    IB,
    LOCAL,
    MIXED,
    PARTIAL,
    STALE,
    Exposure,
    Grouping,
    GroupingRequest,
    OptionInputs,
    PairedStrategy,
    UnitGreeks,
    exposure,
    input_state,
    live_model,
    model_exposure,
    tree,
)
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.grouping import PositionGrouper
from ibterm.risk.pricing import greeks

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


def _ib(delta: float, und: float | None = 600.0) -> Greeks:
    # As IB sends them: per share, vega a vol point, theta a calendar day.
    return Greeks(iv=0.16, delta=delta, gamma=0.02, vega=0.5, theta=-0.2, und_price=und)


def test_ibs_model_greeks_are_preferred_and_converted_as_the_local_ones() -> None:
    call, put = _option(3, 600, Right.CALL), _option(1, 580, Right.PUT)
    positions = (_position(call, 2, 12.0), _position(put, -1, 2.0))
    inputs = {3: OptionInputs(12.0, 601.0, "", _ib(0.5)),
              # IB left its gamma out: none of its figures are used, the pricer's are.
              1: OptionInputs(2.0, 601.0, "", Greeks(delta=-0.2, vega=0.3, theta=-0.1))}
    grouping = PositionGrouper().group(GroupingRequest(positions, inputs,
                                                       dt.date(2026, 11, 27), 0.04))
    ib, local = grouping.unit[3], grouping.unit[1]
    assert ib.source == IB and local.source == LOCAL
    # Gamma in dollars of delta for 1% at the underlying price IB computed it at.
    assert ib.greeks == Exposure(delta=50.0, gamma=pytest.approx(0.02 * 600**2 / 100 * 100),
                                 theta=pytest.approx(-20.0), vega=pytest.approx(50.0))
    assert model_exposure(_ib(0.5, None), 100, 590.0) == exposure(0.5, 0.02, -0.2, 0.5,
                                                                  590.0, 100)
    assert model_exposure(_ib(0.5, None), 100, None) is None  # no price for gamma in $
    rows = tree(positions, grouping)
    assert [(r.label, r.mark) for r in rows] == [
        ("SPY", MIXED), ("20261218 600 C", IB), ("20261218 580 P", LOCAL),
        ("Account", MIXED)]
    stock = tree((*positions[:1], _position(STOCK, 10, 600.0)), grouping)
    assert stock[0].mark == IB  # a stock's exact delta mixes with either


def test_ibs_greeks_are_handed_over_only_while_live() -> None:
    quote = Quote(3, MarketDataType.LIVE, 100.0, bid=11.9, ask=12.1)
    fresh = OptionQuote(quote, model=_ib(0.5), greeks_at=100.0)
    assert live_model(fresh, 101.0, 10.0) == _ib(0.5)
    assert live_model(OptionQuote(quote, greeks_at=100.0), 101.0, 10.0) is None  # none sent
    assert live_model(fresh, 111.0, 10.0) is None  # nothing new for stale_after
    assert live_model(OptionQuote(quote, model=_ib(0.5), greeks_at=90.0), 101, 10.0) is None
    delayed = Quote(3, MarketDataType.DELAYED, 100.0, bid=11.9, ask=12.1)
    assert live_model(OptionQuote(delayed, model=_ib(0.5), greeks_at=100.0), 101, 10) is None
    assert live_model(None, 101.0, 10.0) is None


def test_ibs_figures_and_the_pricers_agree_for_the_same_volatility() -> None:
    # IB's computation as the simulator makes it (the pricer at a volatility, theta a
    # day, vega a point) and the local one from the price that volatility gives: equal.
    call = _option(3, 600, Right.CALL)
    years, vol, rate = 21 / 365, 0.2, 0.04
    one = np.ones(1)
    g = greeks(one * 600, one * 600, one * years, one * vol, one * rate, one * 0, one)
    ib = Greeks(vol, float(g["delta"][0]), float(g["gamma"][0]), float(g["vega"][0]) / 100,
                float(g["theta"][0]) / 365, 600.0)
    price = bsm_price(600, 600, years, vol, rate, True)
    units = [PositionGrouper().group(GroupingRequest(
        (_position(call, 1, price),), {3: OptionInputs(price, 600.0, "", model)},
        dt.date(2026, 11, 27), rate)).unit[3] for model in (ib, None)]
    assert [u.source for u in units] == [IB, LOCAL]
    for name in ("delta", "gamma", "theta", "vega"):
        assert getattr(units[1].greeks, name) == pytest.approx(
            getattr(units[0].greeks, name), rel=1e-4), name
