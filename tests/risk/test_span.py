"""Futures and futures options: the SPAN-like scan per root."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.span import SpanParams
from ibterm.risk.tables import futures_rates

AS_OF = dt.date(2026, 11, 27)
DEC, MAR = dt.date(2026, 12, 18), dt.date(2027, 3, 19)
ES = (24_750.0, 22_500.0)  # the shipped table's overnight figures
RATES = {"ES": ES}


def fut(line: int, qty: float, price: float = 6000.0, expiry: dt.date = DEC) -> Row:
    return Row(line, "ES", "FUT", "", 0.0, expiry, 50.0, qty, price, price, None, "", 0.0,
               "equity")


def fop(line: int, right: str, strike: float, qty: float, f: float = 6000.0,
        iv: float | None = 0.16) -> Row:
    years = (DEC - AS_OF).days / 365
    price = round(bsm_price(f, strike, years, iv or 0.16, 0.04, right == "C", 0.04), 2)
    return Row(line, "ES", "FOP", right, strike, DEC, 50.0, qty, price, f, iv, "", 0.0,
               "equity")


def test_a_future_alone_is_charged_the_table_rates() -> None:
    result = compute_margin([fut(2, 2)], AS_OF, futures_margin=RATES)
    assert [s.name for s in result.strategies] == ["future"]
    assert result.initial == pytest.approx(2 * ES[0])
    assert result.maintenance == pytest.approx(2 * ES[1])
    short = compute_margin([fut(2, -3)], AS_OF, futures_margin=RATES)
    assert short.maintenance == pytest.approx(3 * ES[1])


def test_intraday_rates_come_from_the_same_table() -> None:
    overnight, intraday = futures_rates()["ES"], futures_rates(intraday=True)["ES"]
    assert overnight == ES and intraday[1] < overnight[1]
    result = compute_margin([fut(2, 1)], AS_OF, futures_margin={"ES": intraday})
    assert result.initial == pytest.approx(intraday[0])


def test_a_long_future_covers_a_short_call() -> None:
    call = fop(3, "C", 6100, -1)
    both = compute_margin([fut(2, 1), call], AS_OF, futures_margin=RATES)
    apart = (compute_margin([fut(2, 1)], AS_OF, futures_margin=RATES).maintenance
             + compute_margin([call], AS_OF, futures_margin=RATES).maintenance)
    assert [s.name for s in both.strategies] == ["SPAN scan"]
    assert both.maintenance < apart - 5_000
    # Initial keeps the root's initial / maintenance ratio.
    assert both.initial == pytest.approx(both.maintenance * ES[0] / ES[1])


def test_long_options_cost_their_premium_and_short_ones_include_their_price() -> None:
    long_call = compute_margin([fop(2, "C", 6100, 2)], AS_OF, futures_margin=RATES)
    assert long_call.initial == 0 and long_call.maintenance == 0
    assert long_call.long_premium == pytest.approx(2 * fop(2, "C", 6100, 2).price * 50)
    short = fop(2, "P", 5000, -1)  # far out of the money: the short option minimum
    params = SpanParams()
    result = compute_margin([short], AS_OF, futures_margin=RATES, span=params)
    minimum = params.short_option_minimum * ES[1]
    assert result.maintenance >= minimum + short.price * 50 - 1e-6


def test_a_futures_calendar_spread_pays_the_spread_charge() -> None:
    rows = [fut(2, 1, 6000, DEC), fut(3, -1, 6000, MAR)]
    result = compute_margin(rows, AS_OF, futures_margin=RATES)
    assert result.maintenance == pytest.approx(SpanParams().spread_charge * ES[1])
    assert result.maintenance < ES[1]


def test_an_unknown_root_falls_back_to_a_share_of_its_price() -> None:
    row = replace(fut(2, 1, 80.0), symbol="ZZ", multiplier=1000.0, price=80.0,
                  underlying_price=80.0)
    params = SpanParams()
    result = compute_margin([row], AS_OF, span=params)
    assert result.maintenance == pytest.approx(params.fallback_scan * 80 * 1000)
    assert result.initial == pytest.approx(result.maintenance * params.fallback_initial_ratio)


def test_a_futures_option_without_iv_implies_it() -> None:
    with_iv = compute_margin([fut(2, 1), fop(3, "C", 6100, -1)], AS_OF, futures_margin=RATES)
    without = compute_margin([fut(2, 1), fop(3, "C", 6100, -1, iv=None)], AS_OF,
                             futures_margin=RATES)
    assert without.maintenance == pytest.approx(with_iv.maintenance, rel=1e-3)
