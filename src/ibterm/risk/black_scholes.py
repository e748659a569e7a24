"""Scalar Black-Scholes-Merton pricing: the reference the vectorized code is tested against,
and what the simulator quotes options from."""

from __future__ import annotations

import math


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def bsm_price(
    spot: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    is_call: bool,
    div_yield: float = 0.0,
) -> float:
    """European option value; at or past expiry (or zero vol) it is the discounted intrinsic."""
    if years <= 0.0 or vol <= 0.0:
        forward = spot * math.exp((rate - div_yield) * max(years, 0.0))
        intrinsic = forward - strike if is_call else strike - forward
        return max(intrinsic, 0.0) * math.exp(-rate * max(years, 0.0))
    sqrt_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - div_yield + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_q = math.exp(-div_yield * years)
    disc_r = math.exp(-rate * years)
    if is_call:
        return spot * disc_q * _norm_cdf(d1) - strike * disc_r * _norm_cdf(d2)
    return strike * disc_r * _norm_cdf(-d2) - spot * disc_q * _norm_cdf(-d1)


def bsm_delta(
    spot: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    is_call: bool,
    div_yield: float = 0.0,
) -> float:
    if years <= 0.0 or vol <= 0.0:
        itm = spot > strike if is_call else spot < strike
        return (1.0 if is_call else -1.0) if itm else 0.0
    sqrt_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - div_yield + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    disc_q = math.exp(-div_yield * years)
    return disc_q * _norm_cdf(d1) if is_call else disc_q * (_norm_cdf(d1) - 1.0)
