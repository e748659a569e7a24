"""Liquidation estimate: the move at which excess liquidity reaches zero."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ibterm.risk.liquidation import LiquidationParams, _Mover, liquidation
from ibterm.risk.margin import compute_margin
from ibterm.risk.stress import positions
from tests.risk.test_margin import AS_OF, opt, stk

TOL = LiquidationParams().tolerance


def test_short_stock_up_move_solves_the_maintenance_rule() -> None:
    # 100 short at 100, maintenance 30%: excess = E - 100 x 100 x m - 3,000 (1 + m).
    report = liquidation([stk(2, -100, 100)], 6_000, AS_OF)
    [xyz] = report.by_underlying
    assert report.excess == pytest.approx(3_000)
    assert xyz.up == pytest.approx(3_000 / 13_000, abs=TOL)
    assert xyz.down is None  # a falling price only helps a short


def test_long_stock_down_move_and_the_correlated_view() -> None:
    rows = [stk(2, 100, 100), stk(3, 100, 50, symbol="ABC")]
    report = liquidation(rows, 6_000, AS_OF)
    by = {x.name: x for x in report.by_underlying}
    # Excess 2,250; XYZ alone: 2,250 + 10,000 m - 2,500 m = 0.
    assert by["XYZ"].down == pytest.approx(-2_250 / 7_500, abs=TOL)
    assert by["ABC"].down == pytest.approx(-2_250 / 3_750, abs=TOL)
    assert by["XYZ"].up is None and by["ABC"].up is None
    # Both together: 2,250 + 15,000 m - 3,750 m = 0.
    assert report.correlated is not None
    assert report.correlated.down == pytest.approx(-2_250 / 11_250, abs=TOL)


def test_a_naked_put_with_its_margin_recomputed_at_each_move() -> None:
    rows = [opt(2, "P", 95, -2, 2.0, 100)]
    equity = 5_000.0
    report = liquidation(rows, equity, AS_OF)
    [xyz] = report.by_underlying
    assert xyz.up is None and xyz.down is not None and -0.6 < xyz.down < 0
    # At the move found excess liquidity is gone; just short of it, it is not.
    vol = float(positions(rows, AS_OF, 0.04).vol[0])
    mover = _Mover([replace(r, iv=vol) for r in rows], AS_OF, 0.04)

    def excess(move: float) -> float:
        return equity + mover.pnl(move) - compute_margin(mover.moved(move), AS_OF).maintenance

    assert excess(xyz.down) <= 0 < excess(xyz.down + 2 * TOL)


def test_an_iron_condor_stays_one_strategy_after_a_large_fall() -> None:
    # From about -41% the short 180 call's naked requirement (10% of S plus its price) is
    # below the 10-point width: its vertical saves nothing alone, and was left out of the
    # condor (put spread 10,000 + naked call), so a 20,000 account was "liquidated" at
    # -41% though the condor can never lose more than its width.
    rows = [opt(2, "P", 160, 10, 0.5, 170, "SPY"), opt(3, "P", 170, -10, 1.5, 170, "SPY"),
            opt(4, "C", 180, -10, 1.5, 170, "SPY"), opt(5, "C", 190, 10, 0.5, 170, "SPY")]
    mover = _Mover(rows, AS_OF, 0.04)
    for move in (-0.41, -0.45, -0.5, -0.9):
        result = compute_margin(mover.moved(move), AS_OF)
        assert [s.name for s in result.strategies] == ["iron condor"]
        assert result.initial == pytest.approx(10_000)
        assert result.maintenance == pytest.approx(10_000)
    [spy] = liquidation(rows, 20_000, AS_OF).by_underlying
    assert spy.down is None and spy.up is None


def test_below_zero_already_and_out_of_range() -> None:
    report = liquidation([stk(2, -100, 100)], 1_000, AS_OF)
    assert report.excess < 0
    assert report.by_underlying[0].down == 0.0 and report.by_underlying[0].up == 0.0
    far = liquidation([stk(2, -100, 100)], 1e9, AS_OF)
    assert far.by_underlying[0].up is None


def test_the_search_grid() -> None:
    grid = LiquidationParams(max_down=0.5, max_up=3.0, first_step=0.1, growth=2.0,
                             tolerance=1e-4).grid(0.5)
    assert grid == pytest.approx([0.1, 0.2, 0.4, 0.5])


def test_the_json_form() -> None:
    params = LiquidationParams()
    report = liquidation([stk(2, -100, 100)], 6_000, AS_OF)
    [xyz] = report.by_underlying
    assert xyz.up is not None and report.correlated is not None
    assert report.as_dict(params) == {
        "equity": 6_000, "excess_liquidity": 3_000,
        "by_underlying": {"XYZ": {"down": None, "up": round(xyz.up, 6)}},
        "correlated": {"down": None, "up": round(report.correlated.up or 0, 6)},
        "searched": {"down": -params.max_down, "up": params.max_up}}
    assert report.as_dict(params)["by_underlying"]["XYZ"]["up"] == pytest.approx(
        3_000 / 13_000, abs=TOL)
    # No equity-like row, no correlated view: null.
    index = replace(stk(2, 10, 6_000, symbol="SPX"), index_class="broad_index")
    assert liquidation([index], 1e6, AS_OF).as_dict(params)["correlated"] is None
