"""Pricing: reference values, put-call parity, the scalar reference, greeks, implied vol,
and the scenario grid cell by cell."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibterm.risk.black_scholes import bsm_delta, bsm_price
from ibterm.risk.pricing import (
    greeks_exprs,
    implied_vol,
    implied_vols,
    norm_cdf,
    scenario_values,
    values,
    with_price,
)

COLS = ("spot", "strike", "years", "vol", "rate", "carry_yield", "is_call", "black76")


def _price(frame: pl.DataFrame) -> pl.Series:
    return with_price(frame.lazy(), "spot", "vol", "p").collect()["p"]


@pytest.mark.parametrize(("row", "expected"), [
    ((42, 40, 0.5, 0.2, 0.10, 0.0, True, False), 4.7594),
    ((42, 40, 0.5, 0.2, 0.10, 0.0, False, False), 0.8086),
    ((100, 100, 1.0, 0.2, 0.05, 0.0, True, False), 10.4506),
    ((100, 100, 1.0, 0.2, 0.05, 0.0, False, False), 5.5735),
])
def test_reference_prices_and_implied_vol_round_trip(row: tuple[object, ...],
                                                     expected: float) -> None:
    frame = pl.DataFrame([row], schema=list(COLS), orient="row")
    price = _price(frame).item()
    assert price == pytest.approx(expected, abs=1e-4)
    implied = implied_vol(frame.with_columns(price=pl.lit(price)))
    assert implied.item() == pytest.approx(0.2, abs=1e-6)


def test_put_call_parity_and_the_scalar_reference() -> None:
    rows = [(s, 100.0, t, v, 0.03, 0.01, c, False)
            for s in (80.0, 100.0, 125.0) for t in (0.1, 1.0) for v in (0.15, 0.6)
            for c in (True, False)]
    frame = pl.DataFrame(rows, schema=list(COLS), orient="row")
    prices = _price(frame).to_list()
    for (s, k, t, v, r, q, call, _), p in zip(rows, prices, strict=True):
        assert p == pytest.approx(bsm_price(s, k, t, v, r, call, q), abs=1e-4)
    for i in range(0, len(rows), 2):
        s, k, t, _v, r, q, _c, _b = rows[i]
        assert prices[i] - prices[i + 1] == pytest.approx(
            s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-5)


def test_black76_is_black_scholes_on_the_future_with_carry_at_the_rate() -> None:
    f, k, t, v, r = 6000.0, 6100.0, 0.25, 0.18, 0.045
    frame = pl.DataFrame([(f, k, t, v, r, 0.0, True, True), (f, k, t, v, r, 0.0, False, True)],
                         schema=list(COLS), orient="row")
    call, put = _price(frame).to_list()
    d1 = (math.log(f / k) + v * v / 2 * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    n = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    assert call == pytest.approx(math.exp(-r * t) * (f * n(d1) - k * n(d2)), abs=1e-3)
    assert call - put == pytest.approx(math.exp(-r * t) * (f - k), abs=1e-6)


def test_norm_cdf_is_within_the_published_error() -> None:
    x = np.linspace(-8, 8, 20_001)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    assert np.max(np.abs(norm_cdf(x) - exact)) < 7.5e-8


def test_greeks_match_the_scalar_reference_and_finite_differences() -> None:
    rows = [(s, 100.0, t, v, 0.03, 0.01, c, False) for s in (70.0, 100.0, 140.0)
            for t in (0.05, 2.0) for v in (0.1, 0.9) for c in (True, False)]
    frame = pl.DataFrame(rows, schema=list(COLS), orient="row")
    greeks = frame.select(**greeks_exprs(*(pl.col(c) for c in COLS)))
    for (s, k, t, v, r, q, call, _), delta, gamma, vega, theta in zip(
            rows, *(greeks[g] for g in ("delta", "gamma", "vega", "theta")), strict=True):
        assert delta == pytest.approx(bsm_delta(s, k, t, v, r, call, q), abs=1e-5)
        h = 1e-3
        assert gamma == pytest.approx((bsm_delta(s + h, k, t, v, r, call, q)
                                       - bsm_delta(s - h, k, t, v, r, call, q)) / (2 * h),
                                      rel=1e-3, abs=1e-6)
        assert vega == pytest.approx((bsm_price(s, k, t, v + h, r, call, q)
                                      - bsm_price(s, k, t, v - h, r, call, q)) / (2 * h),
                                     rel=1e-3, abs=1e-4)
        assert theta == pytest.approx(-(bsm_price(s, k, t + h, v, r, call, q)
                                        - bsm_price(s, k, t - h, v, r, call, q)) / (2 * h),
                                      rel=1e-3, abs=1e-3)


def test_implied_vol_is_null_where_no_volatility_reproduces_the_price() -> None:
    frame = pl.DataFrame([(100.0, 100.0, 0.5, 0.3, 0.04, 0.0, True, False, 150.0),
                          (100.0, 80.0, 0.5, 0.3, 0.04, 0.0, True, False, 1.0)],
                         schema=[*COLS, "price"], orient="row")
    assert implied_vol(frame).to_list() == [None, None]  # above S; below intrinsic


_option = st.tuples(st.floats(20, 500), st.floats(0.6, 1.6), st.sampled_from([0.0, 0.02, 0.5, 2]),
                    st.floats(0.05, 1.5), st.floats(0.0, 0.06), st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(_option, min_size=1, max_size=12))
def test_every_grid_cell_is_the_scalar_price(options: list[tuple]) -> None:  # type: ignore[type-arg]
    spot = np.array([o[0] for o in options])
    strike = spot * np.array([o[1] for o in options])
    years = np.array([o[2] for o in options])
    vol = np.array([o[3] for o in options])
    q = np.array([o[4] for o in options])
    call = np.array([o[5] for o in options])
    cells = [(m, v) for m in (-0.15, -0.05, 0.0, 0.1) for v in (-0.15, 0.0, 0.3)]
    moves, shifts = [c[0] for c in cells], [c[1] for c in cells]
    weight = np.arange(1, len(options) + 1, dtype=float)
    for absolute in (False, True):
        grid = scenario_values(spot, strike, years, vol, 0.04, q, call, moves, shifts,
                               weight=weight, absolute_vol=absolute)
        for i in range(len(options)):
            for j, (m, v) in enumerate(cells):
                sigma = vol[i] + v if absolute else vol[i] * (1 + v)
                expected = bsm_price(spot[i] * (1 + m), strike[i], years[i], sigma, 0.04,
                                     bool(call[i]), q[i])
                tolerance = 2e-7 * (spot[i] * (1 + m) + strike[i]) * weight[i] + 1e-9
                assert grid[i, j] == pytest.approx(expected * weight[i], abs=tolerance)
    # Implied volatility reproduces the price (the volatility itself only where the
    # price depends on it enough to pin it down).
    prices = values(spot, strike, years, vol, 0.04, q, call)
    implied = implied_vols(spot, strike, years, 0.04, q, call, prices)
    found = ~np.isnan(implied)
    again = values(spot, strike, years, np.where(found, implied, 0.3), 0.04, q, call)
    assert np.allclose(again[found], prices[found], atol=1e-7 * spot[found])
    sensitive = found & (values(spot, strike, years, vol + 0.01, 0.04, q, call) - prices
                         > 1e-4 * spot)
    assert np.allclose(implied[sensitive], vol[sensitive], atol=1e-4)
