"""Quote flags: bad, crossed and zero quotes."""

from __future__ import annotations

import pytest

from ibterm.domain.quote import TickCheck


def test_tick_flags() -> None:
    from ibterm.domain.quote import MarketDataType, Quote, tick_flag

    q = Quote(1, MarketDataType.LIVE, 0.0, bid=99.9, ask=100.1, last=100.0, close=98.0)
    assert tick_flag(q, None, 0.10) == ""
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=99.9, ask=100.1, last=1000.0),
                     100.0, 0.10) == "bad"
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=101.0, ask=100.0), 100.0,
                     0.10) == "crossed"
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=0.0, ask=100.0), 100.0,
                     0.10) == "zero"


NAN = float("nan")


def _feed(check: TickCheck, *books: tuple[float, float, float],
          close: float = 100.0) -> list[str]:
    return [check.observe(b, a, t, close) for b, a, t in books]


def test_a_real_gap_becomes_the_reference_after_reanchor_quotes() -> None:
    check = TickCheck(band=0.10, reanchor=3)
    # Opens 25% above its close of 100, and stays there: bad twice, then the new level.
    flags = _feed(check, (124.9, 125.1, 125.0), (125.0, 125.2, 125.1), (125.1, 125.3, 125.2),
                  (125.2, 125.4, 125.3))
    assert flags == ["bad", "bad", "", ""]
    assert check.reference == pytest.approx(125.3)


def test_a_lone_outlier_stays_bad() -> None:
    check = TickCheck(band=0.10, reanchor=3)
    assert _feed(check, (99.9, 100.1, 100.0)) == [""]
    # A wild last beside a sane book disagrees with itself: it never starts a run.
    assert _feed(check, (99.9, 100.1, 300.0), (99.8, 100.0, 300.0), (99.9, 100.1, 300.0),
                 (100.0, 100.2, 300.0)) == ["bad"] * 4
    assert check.reference == pytest.approx(100.1)  # the book still moves it
    # A lone print with no book, repeated by size-only updates: the same prices are no
    # new evidence, so it cannot reanchor itself.
    lone = TickCheck(band=0.10, reanchor=3)
    assert _feed(lone, (NAN, NAN, 100.0), (NAN, NAN, 300.0), (NAN, NAN, 300.0),
                 (NAN, NAN, 300.0), (NAN, NAN, 100.1)) == ["", "bad", "bad", "bad", ""]


def test_outliers_that_disagree_with_each_other_or_cross_do_not_reanchor() -> None:
    check = TickCheck(band=0.10, reanchor=3)
    assert _feed(check, (129.9, 130.1, 130.0), (159.9, 160.1, 160.0), (129.9, 130.1, 130.0),
                 (131.0, 130.0, 130.5), (130.0, 130.2, 130.1), (130.1, 130.3, 130.2)) == [
        "bad", "bad", "bad", "crossed", "bad", "bad"]
    assert check.observe(130.2, 130.4, 130.3, 100.0) == ""  # three agreeing, at last
    assert check.observe(0.0, 130.4, 130.3, 100.0) == "zero"


def test_a_few_ticks_are_never_a_bad_tick() -> None:
    # A 0.02 option that ticks to 0.04 has moved 100%: five ticks of slack cover it.
    check = TickCheck(band=0.60, reanchor=3, min_tick=0.01)
    assert _feed(check, (0.01, 0.03, 0.02), (0.02, 0.05, 0.03), (0.03, 0.06, 0.05),
                 close=0.02) == ["", "", ""]
    assert check.observe(0.40, 0.45, 0.42, 0.02) == "bad"  # twenty times is still bad


def test_a_book_that_keeps_its_prices_but_not_its_sizes_is_new_quotes() -> None:
    # A cheap option can sit at one price after a gap: each re-sized book stands by it.
    check = TickCheck(band=0.60, reanchor=3, min_tick=0.01)
    flags = [check.observe(-1.0, 0.02, 0.01, 0.10, 0.0, size) for size in (6, 6, 13, 2, 10)]
    assert flags == ["bad", "bad", "bad", "", ""]
