"""Strategy templates on a chain, leg adjustments, and the figures at expiry on textbook
cases."""

from __future__ import annotations

import datetime as dt

import pytest

from ibterm.domain.greeks import OptionChain
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import ComboLeg, Side
from ibterm.domain.strategy import (
    SHARES_PER_OPTION,
    ExpiryFigures,
    LegPlan,
    Template,
    combo_greeks,
    default_expiry,
    expiry_figures,
    flipped,
    plan_of,
    shifted,
    template_legs,
    with_ratio,
)

SPY = Instrument(756733, "SPY", SecType.STK, "SMART", "USD")
CHAIN = OptionChain(SPY, ("20261218", "20270115", "20270219"),
                    tuple(float(k) for k in range(560, 645, 5)))
FRONT, NEXT = "20261218", "20270115"
B, S, C, P = Side.BUY, Side.SELL, Right.CALL, Right.PUT


def opt(right: Right, strike: float, expiry: str = FRONT) -> Instrument:
    return Instrument(int(strike * 10) + (1 if right is C else 2) + int(expiry[-4:]) * 10000,
                      "SPY", SecType.OPT, "SMART", "USD", multiplier=100, expiry=expiry,
                      strike=strike, right=right)


def legs(*spec: tuple[Side, Right, float] | tuple[Side, Right, float, int]) -> list[ComboLeg]:
    return [ComboLeg(opt(s[1], s[2]), s[0], s[3] if len(s) == 4 else 1) for s in spec]


@pytest.mark.parametrize(("template", "expected"), [
    (Template.VERTICAL, [(B, C, FRONT, 600, 1), (S, C, FRONT, 610, 1)]),
    (Template.STRADDLE, [(B, C, FRONT, 600, 1), (B, P, FRONT, 600, 1)]),
    (Template.STRANGLE, [(B, P, FRONT, 590, 1), (B, C, FRONT, 610, 1)]),
    (Template.IRON_CONDOR, [(B, P, FRONT, 580, 1), (S, P, FRONT, 590, 1),
                            (S, C, FRONT, 610, 1), (B, C, FRONT, 620, 1)]),
    (Template.IRON_BUTTERFLY, [(B, P, FRONT, 590, 1), (S, P, FRONT, 600, 1),
                               (S, C, FRONT, 600, 1), (B, C, FRONT, 610, 1)]),
    (Template.BUTTERFLY, [(B, C, FRONT, 590, 1), (S, C, FRONT, 600, 2),
                          (B, C, FRONT, 610, 1)]),
    (Template.CALENDAR, [(S, C, FRONT, 600, 1), (B, C, NEXT, 600, 1)]),
    (Template.DIAGONAL, [(S, C, FRONT, 610, 1), (B, C, NEXT, 600, 1)]),
    (Template.COVERED_CALL, [(B, None, "", 0, SHARES_PER_OPTION), (S, C, FRONT, 610, 1)]),
    (Template.COLLAR, [(B, None, "", 0, SHARES_PER_OPTION), (B, P, FRONT, 590, 1),
                       (S, C, FRONT, 610, 1)]),
    (Template.RATIO_SPREAD, [(B, C, FRONT, 600, 1), (S, C, FRONT, 610, 2)]),
])
def test_every_template_on_the_strikes_nearest_the_money(
        template: Template, expected: list[tuple[Side, Right | None, str, float, int]]) -> None:
    # 601.2: the money is nearest 600; 10 wide is two of the chain's 5-point steps.
    assert template_legs(template, CHAIN, 601.2, 10.0) == [LegPlan(*e) for e in expected]


def test_a_width_off_the_grid_takes_the_nearest_listed_strike_and_an_expiry_is_chosen() -> None:
    assert template_legs(Template.VERTICAL, CHAIN, 600.0, 7.0, expiry=NEXT) == [
        LegPlan(B, C, NEXT, 600.0), LegPlan(S, C, NEXT, 605.0)]


def test_what_the_chain_cannot_hold_is_said() -> None:
    with pytest.raises(ValueError, match="after 20270219"):
        template_legs(Template.CALENDAR, CHAIN, 600.0, 5.0, expiry="20270219")
    with pytest.raises(ValueError, match="too few"):
        template_legs(Template.IRON_CONDOR, OptionChain(SPY, (FRONT,), (600.0,)), 600.0, 5.0)
    with pytest.raises(ValueError, match="no options expire"):
        template_legs(Template.STRADDLE, CHAIN, 600.0, 5.0, expiry="20260101")
    with pytest.raises(ValueError, match="lists no options"):
        template_legs(Template.STRADDLE, OptionChain(SPY, (), ()), 600.0, 5.0)


def test_a_leg_moves_a_strike_or_an_expiry_within_the_chain() -> None:
    plan = plan_of(ComboLeg(opt(C, 600.0), S, 2))
    assert plan == LegPlan(S, C, FRONT, 600.0, 2)
    assert shifted(plan, CHAIN, strikes=1) == LegPlan(S, C, FRONT, 605.0, 2)
    assert shifted(plan, CHAIN, strikes=-2, expiries=1) == LegPlan(S, C, NEXT, 590.0, 2)
    assert shifted(plan, CHAIN, expiries=-1) is None  # before the first expiry
    assert shifted(LegPlan(S, C, FRONT, 640.0), CHAIN, strikes=1) is None
    assert shifted(LegPlan(B, None, ratio=100), CHAIN, strikes=1) is None
    leg = ComboLeg(opt(C, 600.0), B)
    assert with_ratio(leg, 1).ratio == 2 and with_ratio(leg, -1).ratio == 1
    assert flipped(leg).action is S


def test_a_10_wide_iron_condor_for_2_credit() -> None:
    condor = legs((B, P, 580), (S, P, 590), (S, C, 610), (B, C, 620))
    assert expiry_figures(condor, -2.0, 1, 100) == ExpiryFigures(200.0, 800.0, (588.0, 612.0))
    assert expiry_figures(condor, -2.0, 3, 100) == ExpiryFigures(600.0, 2400.0, (588.0, 612.0))


def test_a_call_vertical_for_a_debit_and_a_butterfly() -> None:
    vertical = legs((B, C, 600), (S, C, 610))
    assert expiry_figures(vertical, 4.0, 1, 100) == ExpiryFigures(600.0, 400.0, (604.0,))
    fly = legs((B, C, 590), (S, C, 600, 2), (B, C, 610))
    assert expiry_figures(fly, 2.5, 1, 100) == ExpiryFigures(750.0, 250.0, (592.5, 607.5))


def test_unbounded_sides_are_marked() -> None:
    straddle = legs((B, C, 600), (B, P, 600))
    assert expiry_figures(straddle, 20.0, 1, 100) == ExpiryFigures(None, 2000.0, (580.0, 620.0))
    short_call = legs((B, C, 600), (S, C, 610, 2))  # a ratio spread: unbounded above
    figures = expiry_figures(short_call, 1.0, 1, 100)
    assert figures == ExpiryFigures(900.0, None, (601.0, 619.0))
    covered = [ComboLeg(SPY, B, SHARES_PER_OPTION), ComboLeg(opt(C, 610.0), S)]
    # Bought at 595 net (600 stock less a 5 call): loses all of it at 0, keeps 1,500 above 610.
    assert expiry_figures(covered, 595.0, 1, 100) == ExpiryFigures(1500.0, 59500.0, (595.0,))


def test_legs_on_two_expiries_have_no_single_expiry_figures() -> None:
    calendar = [ComboLeg(opt(C, 600.0), S), ComboLeg(opt(C, 600.0, NEXT), B)]
    assert expiry_figures(calendar, 3.0, 1, 100) is None


def test_the_combination_greeks_sum_the_legs() -> None:
    vertical = legs((B, C, 600), (S, C, 610))
    greeks = combo_greeks(vertical, 2, [{"delta": 0.5, "theta": -0.1},
                                        {"delta": 0.3, "theta": -0.08}])
    assert greeks == pytest.approx({"delta": 40.0, "theta": -4.0})
    assert combo_greeks(vertical, 1, [{"delta": 0.5}, None]) is None


def test_a_template_starts_a_week_out_or_on_the_last_expiry() -> None:
    assert default_expiry(CHAIN, dt.date(2026, 12, 18)) == "20270115"  # not today's
    assert default_expiry(CHAIN, dt.date(2026, 12, 11)) == FRONT
    assert default_expiry(CHAIN, dt.date(2027, 3, 1)) == "20270219"
