"""Vectorized option pricing: Black-Scholes-Merton (equity and index options, with dividend
yield) and Black-76 (futures options), greeks, implied volatility, and the scenario grid
the stress revalues a book over.

One numpy kernel does the arithmetic (`values`, `scenario_values`); the polars functions
(`with_price`, `greeks_exprs`, `implied_vol`) run it over a frame's columns, so there is one
formula, not one per caller. The normal CDF is Abramowitz & Stegun 26.2.17 (absolute error
under 7.5e-8): numpy has no erf, and the polynomial is a few in-place array operations. The
scalar reference in black_scholes.py uses math.erfc and the tests hold the two together.

Arguments are arrays of one length (scalars broadcast): `carry` is the dividend yield for
Black-Scholes-Merton; for Black-76 pass carry = rate (`carry_of`), which is the same formula
with the future's price as spot. An option at or past expiry, or with no volatility, is
worth its discounted forward intrinsic value, as in black_scholes.bsm_price.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import polars as pl

_P = 0.2316419
_B = (0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Rows per block of the scenario grid: a block's temporaries (rows x scenarios doubles)
# stay in the CPU cache, which more than halves the time of one pass over a large book.
_BLOCK_ROWS = 1024
VOL_FLOOR = 1e-12  # an absolute vol shift can push sigma to zero or below

Array = np.ndarray


def norm_cdf(x: Array) -> Array:
    """N(x), Abramowitz & Stegun 26.2.17."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    _norm_cdf_into(x, np.exp(-0.5 * x * x), out)
    return out


def norm_pdf(x: Array) -> Array:
    out: Array = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return out


# 26.2.17 as a polynomial in u = 1 / (1/p + |x|) (= p t), with 1/sqrt(2 pi) folded in.
_U = tuple(b * _INV_SQRT_2PI / _P ** (i + 1) for i, b in enumerate(_B))


def _norm_cdf_into(x: Array, gauss: Array, out: Array, u: Array | None = None) -> None:
    """out = N(x), given gauss = exp(-x^2 / 2). In place, since temporaries are most of
    the cost at this size; u is scratch space like x; out must not be x or gauss."""
    u = np.abs(x, out=u)
    u += 1.0 / _P
    np.divide(1.0, u, out=u)  # (np.reciprocal is slower)
    np.multiply(u, _U[4], out=out)
    for c in (_U[3], _U[2], _U[1], _U[0]):
        out += c
        out *= u
    out *= gauss  # Q = 1 - N(|x|), at most 1/2
    # N(x) = 1/2 + sign(x) (1/2 - Q): no comparison, no masked copy.
    np.subtract(0.5, out, out=u)
    np.copysign(u, x, out=u)
    np.add(u, 0.5, out=out)


_local = threading.local()


def workspace(name: str, rows: int, cols: int) -> Array:
    """A (rows, cols) scratch array, kept per thread and reused from call to call: a
    fresh one of a few hundred kilobytes or more is, often, a round trip to the operating
    system whose page faults cost more than the arithmetic done in it. Its contents are
    whatever the last user left."""
    pool: dict[str, Array] = _local.__dict__.setdefault("arrays", {})
    flat = pool.get(name)
    if flat is None or flat.size < rows * cols:
        flat = pool[name] = np.empty(max(rows * cols, 1))
    return flat[:rows * cols].reshape(rows, cols)


def carry_of(rate: Array, div_yield: Array, black76: Array) -> Array:
    """The carry q of each row: its dividend yield, or the rate for Black-76."""
    return np.where(black76, rate, div_yield)


def _f(a: object, n: int) -> Array:
    return np.broadcast_to(np.asarray(a, dtype=float), (n,))


def scenario_values(spot: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike,
                    rate: ArrayLike, carry: ArrayLike, is_call: ArrayLike,
                    moves: Sequence[float] | Array, shifts: Sequence[float] | Array,
                    weight: ArrayLike | None = None, absolute_vol: bool = False,
                    out: Array | None = None) -> Array:
    """values[i, j]: row i's option value (times weight[i]) with its spot moved by
    moves[j] (spot x (1 + move)) and its volatility shifted by shifts[j] (sigma x
    (1 + shift), or sigma + shift when absolute_vol). Written into `out` when given."""
    spot = np.asarray(spot, dtype=float)
    n = spot.shape[0]
    strike, years, vol = _f(strike, n), _f(years, n), _f(vol, n)
    rate, carry, weight = _f(rate, n), _f(carry, n), _f(1.0 if weight is None else weight, n)
    phi = np.where(_f(is_call, n) > 0, 1.0, -1.0)
    move_factor = 1.0 + np.asarray(moves, dtype=float)
    shift = np.asarray(shifts, dtype=float)
    if move_factor.shape != shift.shape:
        raise ValueError("moves and shifts are per scenario: give one of each per column")
    if out is None:
        out = np.empty((n, move_factor.shape[0]))
    t = np.maximum(years, 0.0)
    live = (t > 0) & (vol > 0)
    disc_r = np.exp(-rate * t)
    if not live.all():
        # Discounted forward intrinsic: max(phi (S' e^(-qT) - K e^(-rT)), 0).
        dead = ~live
        fwd = (phi * spot * np.exp(-carry * t))[dead, None] * move_factor[None, :] \
            - (phi * strike * disc_r)[dead, None]
        out[dead] = np.maximum(fwd, 0.0) * weight[dead, None]
        if live.any():
            out[live] = scenario_values(spot[live], strike[live], years[live], vol[live],
                                        rate[live], carry[live], phi[live] > 0, moves, shifts,
                                        weight[live], absolute_vol)
        return out
    sqrt_t = np.sqrt(t)
    # phi d1 = (ln(S/K) + ln(1 + move) + (r - q) T) / (phi sigma' sqrt T)
    #          + phi sigma' sqrt T / 2, and phi d2 the same less phi sigma' sqrt T:
    # phi is folded into the volatility term, which saves two passes over the grid.
    base = np.log(spot / strike) + (rate - carry) * t
    log_move = np.log(move_factor)
    phi_sig_t = phi * vol * sqrt_t
    # w * phi * S * e^(-qT) and w * phi * K * e^(-rT): the price's two coefficients.
    s_coef = weight * phi * spot * np.exp(-carry * t)
    k_coef = weight * phi * strike * disc_r
    # n(d2) = n(d1) x S' e^(-qT) / (K e^(-rT)): one exp for both CDFs.
    fwd_ratio = spot * np.exp(-carry * t) / (strike * disc_r)
    rows = min(n, _BLOCK_ROWS)
    half_b, x_b, d2_b, n1_b, u_b = (workspace(f"block{i}", rows, shift.shape[0])
                                    for i in range(5))
    one_plus_shift = 1.0 + shift
    for i in range(0, n, _BLOCK_ROWS):
        sl = slice(i, min(i + _BLOCK_ROWS, n))
        m = sl.stop - sl.start
        half, x, d2, n1, u = half_b[:m], x_b[:m], d2_b[:m], n1_b[:m], u_b[:m]
        if absolute_vol:
            np.add(vol[sl, None], shift[None, :], out=half)
            np.maximum(half, VOL_FLOOR, out=half)
            half *= (phi * sqrt_t)[sl, None]
        else:
            np.multiply(phi_sig_t[sl, None], one_plus_shift[None, :], out=half)
        np.add(base[sl, None], log_move[None, :], out=x)
        x /= half
        half *= 0.5
        np.subtract(x, half, out=d2)
        x += half  # phi d1
        gauss = np.multiply(x, x, out=half)
        gauss *= -0.5
        np.exp(gauss, out=gauss)
        _norm_cdf_into(x, gauss, n1, u)
        gauss *= fwd_ratio[sl, None]
        gauss *= move_factor
        _norm_cdf_into(d2, gauss, x, u)  # x now holds N(phi d2)
        n1 *= s_coef[sl, None]
        n1 *= move_factor
        x *= k_coef[sl, None]
        np.subtract(n1, x, out=out[sl])
    return out


def values(spot: Array, strike: Array, years: Array, vol: Array, rate: Array,
           carry: Array, is_call: Array) -> Array:
    """Each row's option value at its own spot and volatility."""
    return scenario_values(spot, strike, years, vol, rate, carry, is_call, [0.0], [0.0])[:, 0]


def greeks(spot: Array, strike: Array, years: Array, vol: Array, rate: Array, carry: Array,
           is_call: Array) -> dict[str, Array]:
    """delta, gamma, vega (per 1.00 of vol) and theta (per year), per row."""
    spot = np.asarray(spot, dtype=float)
    n = spot.shape[0]
    strike, vol, rate, carry = _f(strike, n), _f(vol, n), _f(rate, n), _f(carry, n)
    call = _f(is_call, n) > 0
    t = np.maximum(_f(years, n), 1e-9)
    sqrt_t = np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate - carry + vol * vol / 2.0) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    df_q, df_r = np.exp(-carry * t), np.exp(-rate * t)
    pdf = norm_pdf(d1)
    n1, n2 = norm_cdf(d1), norm_cdf(d2)
    delta = np.where(call, df_q * n1, df_q * (n1 - 1.0))
    common = -spot * df_q * pdf * vol / (2.0 * sqrt_t)
    theta = np.where(call, common - rate * strike * df_r * n2 + carry * spot * df_q * n1,
                     common + rate * strike * df_r * (1.0 - n2) - carry * spot * df_q * (1.0 - n1))
    return {"delta": delta, "gamma": df_q * pdf / (spot * vol * sqrt_t),
            "vega": spot * df_q * pdf * sqrt_t, "theta": theta}


def implied_vols(spot: Array, strike: Array, years: Array, rate: Array, carry: Array,
                 is_call: Array, price: Array, iterations: int = 60) -> Array:
    """Bisection on sigma in [0.0001, 5.0], every row at once; NaN where no volatility
    reproduces the price (the result lands within 0.001 of either end)."""
    price = np.asarray(price, dtype=float)
    n = price.shape[0]
    lo, hi = np.full(n, 1e-4), np.full(n, 5.0)
    args = (np.asarray(spot, dtype=float), _f(strike, n), _f(years, n))
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        too_high = values(*args, mid, rate, carry, is_call) > price
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    result = (lo + hi) / 2.0
    return np.where((result > 1e-3) & (result < 4.99), result, np.nan)


# polars front ends ------------------------------------------------------------------------
# polars is imported in each, not with the module: the numpy kernel above is what the
# simulator, the stress and the app's previews use, and loading polars costs some 70 ms.

_COLS = ("spot", "strike", "years", "vol", "rate", "carry_yield", "is_call", "black76")


def _arrays(batch: pl.Series) -> list[Array]:
    return [batch.struct.field(c).to_numpy() for c in _COLS]


def _carry(rate: Array, carry_yield: Array, black76: Array) -> Array:
    return carry_of(rate, carry_yield, black76)


def _struct(*exprs: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.struct(*(e.cast(pl.Boolean if c in ("is_call", "black76") else pl.Float64)
                       .alias(c) for e, c in zip(exprs, _COLS, strict=True)))


def with_price(frame: pl.LazyFrame, spot: str, vol: str, out: str) -> pl.LazyFrame:
    """Add column `out`: the option value at columns `spot` and `vol` (strike, years,
    rate, carry_yield, is_call, black76 from the frame)."""
    import polars as pl

    def price(batch: pl.Series) -> pl.Series:
        s, k, t, v, r, cy, call, b76 = _arrays(batch)
        return pl.Series(values(s, k, t, v, r, _carry(r, cy, b76), call))

    expr = _struct(pl.col(spot), pl.col("strike"), pl.col("years"), pl.col(vol),
                   pl.col("rate"), pl.col("carry_yield"), pl.col("is_call"), pl.col("black76"))
    return frame.with_columns(expr.map_batches(price, return_dtype=pl.Float64).alias(out))


def greeks_exprs(spot: pl.Expr, strike: pl.Expr, years: pl.Expr, vol: pl.Expr, rate: pl.Expr,
                 carry_yield: pl.Expr, is_call: pl.Expr, black76: pl.Expr) -> dict[str, pl.Expr]:
    """delta, gamma, vega (per 1.00 of vol) and theta (per year) as expressions."""
    import polars as pl

    packed = _struct(spot, strike, years, vol, rate, carry_yield, is_call, black76)

    def one(name: str) -> pl.Expr:
        def run(batch: pl.Series) -> pl.Series:
            s, k, t, v, r, cy, call, b76 = _arrays(batch)
            return pl.Series(greeks(s, k, t, v, r, _carry(r, cy, b76), call)[name])

        return packed.map_batches(run, return_dtype=pl.Float64)

    return {name: one(name) for name in ("delta", "gamma", "vega", "theta")}


def implied_vol(frame: pl.DataFrame, iterations: int = 60) -> pl.Series:
    """Implied volatility of every row (columns: spot, strike, years, rate, carry_yield,
    is_call, black76, price); null where the price is not attainable."""
    import polars as pl

    if frame.height == 0:
        return pl.Series([], dtype=pl.Float64)
    col = {c: frame[c].to_numpy() for c in ("spot", "strike", "years", "rate", "carry_yield",
                                            "is_call", "black76", "price")}
    result = implied_vols(col["spot"], col["strike"], col["years"], col["rate"],
                          _carry(col["rate"], col["carry_yield"], col["black76"]),
                          col["is_call"], col["price"], iterations)
    return pl.Series(result).fill_nan(None)
