"""Reg T margin: every worked example of margin-rules.md, pairing, and its invariants."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ibterm.risk.margin import Rates, compute_margin
from ibterm.risk.portfolio import Row

AS_OF = dt.date(2026, 11, 27)
EXP = dt.date(2027, 1, 15)


def opt(line: int, right: str, strike: float, qty: float, price: float, spot: float,
        symbol: str = "XYZ", expiry: dt.date = EXP, index_class: str = "equity") -> Row:
    return Row(line, symbol, "OPT", right, strike, expiry, 100.0, qty, price, spot, 0.3, "",
               0.0, index_class)


def stk(line: int, qty: float, price: float, symbol: str = "XYZ") -> Row:
    return Row(line, symbol, "STK", "", 0.0, None, 1.0, qty, price, price, None, "", 0.0,
               "equity")


def test_naked_call_and_put() -> None:
    assert compute_margin([opt(2, "C", 68, -1, 1.50, 65)], AS_OF).initial == pytest.approx(1150)
    assert compute_margin([opt(2, "P", 45, -1, 0.50, 47.5)], AS_OF).initial == pytest.approx(750)


def test_credit_vertical_and_iron_condor() -> None:
    spread = compute_margin([opt(2, "C", 100, -1, 1.40, 98), opt(3, "C", 101, 1, 1.05, 98)],
                            AS_OF)
    assert spread.initial == pytest.approx(100) and spread.long_premium == pytest.approx(105)
    condor = compute_margin([opt(2, "P", 160, 10, 0.5, 170, "SPY"),
                             opt(3, "P", 170, -10, 1.5, 170, "SPY"),
                             opt(4, "C", 180, -10, 1.5, 170, "SPY"),
                             opt(5, "C", 190, 10, 0.5, 170, "SPY")], AS_OF)
    assert condor.initial == pytest.approx(10_000)
    assert [s.name for s in condor.strategies] == ["iron condor"]


@pytest.mark.parametrize(("shares", "price", "maintenance"), [
    (1_000, 50, 15_000), (10_000, 5, 50_000), (10_000, 4.50, 45_000), (50_000, 1, 125_000)])
def test_short_stock_maintenance(shares: int, price: float, maintenance: float) -> None:
    assert compute_margin([stk(2, -shares, price)], AS_OF).maintenance == pytest.approx(
        maintenance)


@pytest.mark.parametrize(("shares", "price", "initial"), [(500, 40, 10_000),
                                                          (10_000, 2, 25_000)])
def test_short_stock_initial(shares: int, price: float, initial: float) -> None:
    assert compute_margin([stk(2, -shares, price)], AS_OF).initial == pytest.approx(initial)


def test_covered_call_splits_a_row_and_long_premium_conventions() -> None:
    # 150 shares cover one call; the other 50 are outright.
    result = compute_margin([stk(2, 150, 100), opt(3, "C", 105, -1, 2.0, 100)], AS_OF)
    names = sorted(s.name for s in result.strategies)
    assert names == ["covered call", "long stock"]
    assert result.initial == pytest.approx(150 * 100 * 0.5)
    far = compute_margin([opt(2, "C", 100, 1, 10.0, 100, expiry=dt.date(2028, 1, 21))], AS_OF)
    assert far.initial == 0 and far.long_premium == pytest.approx(750)  # 75% past 9 months


def test_pairing_picks_the_cheaper_grouping() -> None:
    # The short 105 call could be covered (adds 0: out of the money) or spread against the
    # long 110 call (adds 500): covering is cheaper, and the long call stays long.
    rows = [stk(2, 100, 100), opt(3, "C", 105, -1, 2.0, 100), opt(4, "C", 110, 1, 1.0, 100)]
    result = compute_margin(rows, AS_OF)
    assert result.initial == pytest.approx(5_000)


def test_straddle_is_the_larger_requirement_plus_the_other_price() -> None:
    rows = [opt(2, "C", 100, -1, 3.0, 100), opt(3, "P", 100, -1, 2.5, 100)]
    result = compute_margin(rows, AS_OF)
    assert [s.name for s in result.strategies] == ["short straddle"]
    assert result.initial == pytest.approx((3.0 + 20) * 100 + 2.5 * 100)


def test_butterflies_cost_their_worst_case() -> None:
    long_call = compute_margin([opt(2, "C", 95, 1, 7.0, 100), opt(3, "C", 100, -2, 4.0, 100),
                                opt(4, "C", 105, 1, 2.0, 100)], AS_OF)
    assert [s.name for s in long_call.strategies] == ["long call butterfly"]
    assert long_call.initial == 0 and long_call.long_premium == pytest.approx(900)
    long_put = compute_margin([opt(2, "P", 95, 3, 1.8, 100), opt(3, "P", 100, -6, 3.6, 100),
                               opt(4, "P", 105, 3, 6.5, 100)], AS_OF)
    assert [s.name for s in long_put.strategies] == ["long put butterfly"]
    assert long_put.initial == 0 and long_put.strategies[0].legs == [(2, 3), (3, -6), (4, 3)]
    # Broken wing: 95/100/110 loses 5 a share above 110 (the upper wing is the wider).
    broken = compute_margin([opt(2, "C", 95, 1, 7.0, 100), opt(3, "C", 100, -2, 4.0, 100),
                             opt(4, "C", 110, 1, 1.0, 100)], AS_OF)
    assert [s.name for s in broken.strategies] == ["broken-wing long call butterfly"]
    assert broken.initial == pytest.approx(500)
    # Short butterfly (long body): highest strike less the second highest.
    short = compute_margin([opt(2, "C", 95, -1, 7.0, 100), opt(3, "C", 100, 2, 4.0, 100),
                            opt(4, "C", 105, -1, 2.0, 100)], AS_OF)
    assert [s.name for s in short.strategies] == ["short call butterfly"]
    assert short.initial == pytest.approx(500)


def test_iron_butterfly_beats_the_straddle_it_contains() -> None:
    # The docs' example: as a straddle plus two long wings it would cost 5,926.
    rows = [opt(2, "P", 90, 2, 0.95, 100), opt(3, "P", 95, -2, 2.06, 100),
            opt(4, "C", 95, -2, 7.57, 100), opt(5, "C", 110, 2, 0.85, 100)]
    result = compute_margin(rows, AS_OF)
    assert [s.name for s in result.strategies] == ["iron butterfly"]
    assert result.initial == pytest.approx(3_000)
    alone = compute_margin(rows[1:3], AS_OF)
    assert [s.name for s in alone.strategies] == ["short straddle"]
    assert alone.initial == pytest.approx(5_926)


def test_iron_condor_needs_one_expiry() -> None:
    far = dt.date(2027, 3, 19)
    rows = [opt(2, "P", 160, 10, 0.5, 170, "SPY"), opt(3, "P", 170, -10, 1.5, 170, "SPY"),
            opt(4, "C", 180, -10, 1.5, 170, "SPY", expiry=far),
            opt(5, "C", 190, 10, 0.5, 170, "SPY", expiry=far)]
    result = compute_margin(rows, AS_OF)
    assert sorted(s.name for s in result.strategies) == ["bear call spread", "bull put spread"]
    assert result.initial == pytest.approx(20_000)


def test_calendars_and_diagonals() -> None:
    far = dt.date(2027, 3, 19)
    calendar = compute_margin([opt(2, "C", 100, -1, 3.0, 100),
                               opt(3, "C", 100, 1, 5.0, 100, expiry=far)], AS_OF)
    assert [s.name for s in calendar.strategies] == ["calendar spread"]
    assert calendar.initial == 0 and calendar.long_premium == pytest.approx(500)
    # The short expiring later is not covered: naked, the long's cost to long_premium.
    reverse = compute_margin([opt(2, "C", 100, 1, 3.0, 100),
                              opt(3, "C", 100, -1, 5.0, 100, expiry=far)], AS_OF)
    assert sorted(s.name for s in reverse.strategies) == ["long call", "naked call"]
    assert reverse.initial == pytest.approx((5.0 + 20) * 100)
    diagonal = compute_margin([opt(2, "C", 100, -1, 3.0, 100),
                               opt(3, "C", 105, 1, 2.5, 100, expiry=far)], AS_OF)
    assert [s.name for s in diagonal.strategies] == ["diagonal spread"]
    assert diagonal.initial == pytest.approx(500)


def test_straddles_need_one_expiry() -> None:
    rows = [opt(2, "C", 100, -1, 3.0, 100), opt(3, "P", 100, -1, 2.5, 100,
                                                 expiry=dt.date(2027, 3, 19))]
    assert sorted(s.name for s in compute_margin(rows, AS_OF).strategies) == [
        "naked call", "naked put"]


def test_covered_put_protective_put_and_call() -> None:
    covered = compute_margin([stk(2, -100, 100), opt(3, "P", 105, -1, 6.5, 100)], AS_OF)
    assert [s.name for s in covered.strategies] == ["covered put"]
    assert covered.initial == pytest.approx(5_000 + 500)  # short stock + put ITM
    assert covered.maintenance == pytest.approx(3_000 + 500)
    protective = compute_margin([stk(2, 100, 100), opt(3, "P", 95, 1, 2.0, 100)], AS_OF)
    assert [s.name for s in protective.strategies] == ["protective put"]
    assert protective.initial == pytest.approx(5_000)
    assert protective.maintenance == pytest.approx((9.5 + 5) * 100)  # 10% K + OTM
    call = compute_margin([stk(2, -100, 100), opt(3, "C", 105, 1, 2.0, 100)], AS_OF)
    assert [s.name for s in call.strategies] == ["protective call"]
    assert call.initial == pytest.approx(5_000)
    assert call.maintenance == pytest.approx((10.5 + 5) * 100)


def test_broad_index_rate_and_rates_from_a_table() -> None:
    spx = opt(2, "P", 5500, -1, 20.0, 6000, "SPX", index_class="broad_index")
    # 15% of S less OTM (900 - 500 = 400) against the 10% floor of the strike (550).
    assert compute_margin([spx], AS_OF).initial == pytest.approx((20 + 550) * 100)
    stricter = Rates(naked_pct=0.30, naked_pct_broad_index=0.25)
    assert compute_margin([opt(2, "C", 68, -1, 1.50, 65)], AS_OF, stricter).initial == \
        pytest.approx((1.5 + 0.30 * 65 - 3) * 100)
    assert compute_margin([spx], AS_OF, stricter).initial == pytest.approx(
        (20 + 0.25 * 6000 - 500) * 100)


def test_pairing_stays_within_an_account_and_a_multiplier() -> None:
    a = opt(2, "C", 100, -1, 1.40, 98)
    b = replace(opt(3, "C", 101, 1, 1.05, 98), account="U2")
    assert [s.name for s in compute_margin([a, b], AS_OF).strategies] == [
        "naked call", "long call"]
    mini = replace(opt(3, "C", 101, 1, 1.05, 98), multiplier=10.0)
    assert "bear call spread" not in {s.name for s in compute_margin([a, mini], AS_OF).strategies}


def test_pairing_is_near_linear_in_legs() -> None:
    # Twice the legs, not four times the candidates: count the work, not the clock.
    from ibterm.risk import margin

    sizes = []
    for n in (200, 400):
        rows = [opt(i + 2, "CP"[i % 2], 80 + (i * 7) % 41, (-1) ** (i // 2) * (1 + i % 3),
                    1.0 + i % 5, 100, expiry=EXP + dt.timedelta(days=7 * (i % 5)))
                for i in range(n)]
        opts = sorted((margin._Leg(r, Rates()) for r in rows), key=lambda lg: lg.key)
        pool, _idle = margin._pool([lg for lg in opts if lg.row.quantity < 0],
                                   [lg for lg in opts if lg.row.quantity > 0], [])
        sizes.append(len(pool))
    assert sizes[1] <= 2.2 * sizes[0]


_legs = st.lists(st.tuples(st.sampled_from("CP"), st.sampled_from([90, 95, 100, 105, 110]),
                           st.integers(-3, 3).filter(bool),
                           st.floats(0.05, 15, allow_nan=False)), min_size=1, max_size=8)


_extra = st.tuples(st.sampled_from("CP"), st.sampled_from([90, 95, 100, 105, 110, 120]),
                   st.integers(1, 3), st.floats(0.05, 15, allow_nan=False))


@settings(max_examples=80, deadline=None)
@given(_legs, st.integers(-300, 300), _extra, st.randoms(use_true_random=False))
# Found by Hypothesis: the long 90 call added pairs with a short 90 call as a debit spread,
# which moves the strangles and breaks the iron condor (11,150 -> 11,200 before the
# search over long options left out).
@example([("C", 90, 3, 1.0), ("C", 90, -3, 1.0), ("C", 90, -3, 0.5), ("C", 105, -3, 1.0),
          ("C", 110, 1, 1.0), ("P", 90, 1, 1.0), ("P", 95, -3, 5.0), ("P", 100, -3, 1.0)],
         0, ("C", 90, 1, 1.0), random.Random(0))
def test_invariants(legs: list[tuple[str, int, int, float]], shares: int,
                    extra: tuple[str, int, int, float], rnd: random.Random) -> None:
    rows = [opt(i + 2, r, k, q, p, 100) for i, (r, k, q, p) in enumerate(legs)]
    if shares:
        rows.append(stk(len(rows) + 2, shares, 100))
    result = compute_margin(rows, AS_OF)
    assert result.initial >= 0 and result.maintenance >= 0
    # Never more than every leg on its own.
    alone = [compute_margin([r], AS_OF) for r in rows]
    assert result.initial <= sum(a.initial for a in alone) + 1e-6
    assert result.maintenance <= sum(a.maintenance for a in alone) + 1e-6
    # Adding a long option never raises the margin (its cost goes to long_premium).
    more = compute_margin([*rows, opt(99, *extra, 100)], AS_OF)
    assert more.initial <= result.initial + 1e-6
    assert more.long_premium > result.long_premium
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    again = compute_margin(shuffled, AS_OF)
    assert again.initial == pytest.approx(result.initial)
    assert again.maintenance == pytest.approx(result.maintenance)


_expiries = st.sampled_from([EXP, dt.date(2027, 2, 19), dt.date(2027, 3, 19)])
_multi = st.lists(st.tuples(st.sampled_from("CP"), st.sampled_from([85, 90, 95, 100, 105, 110]),
                            st.integers(-3, 3).filter(bool), st.floats(0.05, 15),
                            _expiries), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(_multi, st.sampled_from([0, 100, -100, 250]), st.randoms(use_true_random=False),
       st.tuples(st.sampled_from("CP"), st.sampled_from([85, 90, 95, 100, 105, 110, 120]),
                 st.integers(1, 3), st.floats(0.05, 15), _expiries))
def test_invariants_across_expiries(legs: list[tuple[str, int, int, float, dt.date]],
                                    shares: int, rnd: random.Random,
                                    extra: tuple[str, int, int, float, dt.date]) -> None:
    """Calendars and diagonals in the mix: never negative, never above every leg alone,
    the same whatever the order of the rows, and a long option added never raises it."""
    rows = [opt(i + 2, r, k, q, p, 100, expiry=e) for i, (r, k, q, p, e) in enumerate(legs)]
    if shares:
        rows.append(stk(len(rows) + 2, shares, 100))
    result = compute_margin(rows, AS_OF)
    assert result.initial >= 0 and result.maintenance >= 0
    assert result.initial <= sum(compute_margin([r], AS_OF).initial for r in rows) + 1e-6
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    assert compute_margin(shuffled, AS_OF).initial == pytest.approx(result.initial)
    # Every leg is placed exactly once.
    placed: dict[int, float] = {}
    for s in result.strategies:
        for line, qty in s.legs:
            placed[line] = placed.get(line, 0.0) + qty
    assert placed == pytest.approx({r.line: r.quantity for r in rows})
    r, k, q, p, e = extra
    assert compute_margin([*rows, opt(99, r, k, q, p, 100, expiry=e)], AS_OF).initial <= \
        result.initial + 1e-6


def test_a_later_long_call_does_not_break_an_iron_condor() -> None:
    # Greedy pairing alone took the diagonal (a better pair) and left the put spread
    # alone: 4,500. The verticals-only walk keeps the iron condor: 4,000 either way.
    rows = [opt(2, "C", 95, -1, 6.0, 100), opt(3, "C", 105, 1, 1.0, 100),
            opt(4, "P", 105, -1, 6.0, 100), opt(5, "P", 90, 1, 0.5, 100), stk(6, 50, 100)]
    later = opt(7, "C", 100, 1, 3.0, 100, expiry=dt.date(2027, 3, 19))
    assert compute_margin(rows, AS_OF).initial == 4000
    assert compute_margin([*rows, later], AS_OF).initial == 4000


def test_an_iron_condor_of_verticals_that_save_nothing_alone() -> None:
    # The shorts' naked requirements (14.90 and 11.90 a share) are below the 15-point
    # widths, so neither vertical saves on its own; the strangle costs 19.80, both naked
    # 26.80, the condor one width.
    rows = [opt(2, "C", 130, -1, 4.9, 100), opt(3, "C", 145, 1, 0.5, 100),
            opt(4, "P", 70, -1, 4.9, 100), opt(5, "P", 55, 1, 0.5, 100)]
    result = compute_margin(rows, AS_OF)
    assert [s.name for s in result.strategies] == ["iron condor"]
    assert result.initial == pytest.approx(1_500)


def test_a_long_option_added_never_raises_the_margin() -> None:
    # Hypothesis's book (above), and a window one: a seventh long put nearest the short
    # 100 put pushed the diagonal with the long 110 put out of the short's six, and took
    # its place as a credit spread (5,000 -> 6,000 before the search).
    legs = [("C", 90, 3, 1.0), ("C", 90, -3, 1.0), ("C", 90, -3, 0.5), ("C", 105, -3, 1.0),
            ("C", 110, 1, 1.0), ("P", 90, 1, 1.0), ("P", 95, -3, 5.0), ("P", 100, -3, 1.0)]
    rows = [opt(i + 2, r, k, q, p, 100) for i, (r, k, q, p) in enumerate(legs)]
    before = compute_margin(rows, AS_OF)
    after = compute_margin([*rows, opt(99, "C", 90, 1, 1.0, 100)], AS_OF)
    assert before.initial == pytest.approx(11_150) and after.initial == pytest.approx(11_150)
    feb, mar = dt.date(2027, 2, 19), dt.date(2027, 3, 19)
    rows = [opt(2, "P", 90, 3, 5.0, 100, expiry=feb), opt(3, "P", 90, 2, 0.5, 100),
            opt(4, "P", 100, 1, 10.0, 100), opt(5, "C", 95, 1, 0.5, 100, expiry=feb),
            opt(6, "P", 110, 3, 11.48, 100, expiry=mar), opt(7, "P", 90, 2, 2.5, 100, expiry=feb),
            opt(8, "P", 85, -2, 4.81, 100, expiry=mar), opt(9, "P", 100, -3, 1.0, 100),
            opt(10, "P", 100, 1, 10.0, 100, expiry=feb), stk(11, 100, 100)]
    before = compute_margin(rows, AS_OF)
    after = compute_margin([*rows, opt(99, "P", 90, 1, 0.5, 100)], AS_OF)
    assert before.initial == pytest.approx(5_000) and after.initial == pytest.approx(5_000)


_spread = st.tuples(st.sampled_from("CP"), st.sampled_from([90, 95, 100, 105, 110]),
                    st.sampled_from([90, 95, 100, 105, 110]))


@settings(max_examples=100, deadline=None)
@given(_spread, _spread)
def test_the_fast_two_spread_floor_is_the_general_one(a: tuple[str, int, int],
                                                      b: tuple[str, int, int]) -> None:
    from ibterm.risk import margin

    def spread(right: str, short_k: int, long_k: int) -> margin._Spread:
        short = margin._Leg(opt(2, right, short_k, -1, 1.0, 100), Rates())
        long = margin._Leg(opt(3, right, long_k, 1, 1.0, 100), Rates())
        return margin._Spread(short, long, 1.0, 0.0)  # (its cost is not read)

    general = margin.payoff_floor([(a[0], a[1], -1.0), (a[0], a[2], 1.0),
                                   (b[0], b[1], -1.0), (b[0], b[2], 1.0)])
    assert margin._two_spreads_floor(spread(*a), spread(*b)) == pytest.approx(general)
