"""The pairing on two cores (parallel.py) against the serial one: the same strategies, in
the same order, with the same figures to the last bit."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Iterator

import pytest

from ibterm.risk import margin, parallel
from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.margin import compute_margin, margin_and_stress
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import positions, stress

AS_OF = dt.date(2026, 11, 27)
RATE = 0.04

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


@pytest.fixture(autouse=True)
def _workers() -> Iterator[None]:
    yield
    parallel.shutdown()


def _book(n: int, seed: int = 3) -> list[Row]:
    """Options and stock over six underlyings and two accounts (and no account), two
    multipliers, five expiries; and a futures underlying, which stays in this process."""
    rng = random.Random(seed)
    spots = {f"U{i}": rng.uniform(20, 500) for i in range(6)}
    rows: list[Row] = []
    for line in range(2, n + 2):
        symbol = rng.choice(list(spots))
        s = spots[symbol]
        account = rng.choice(["", "A1", "A2"])
        if rng.random() < 0.05:
            rows.append(Row(line, symbol, "STK", "", 0.0, None, 1.0,
                            float(rng.choice([-300, -100, 100, 200, 500])), round(s, 2), s, None,
                            account, 0.0, "equity"))
            continue
        days = rng.choice((14, 35, 63, 126, 252))
        right = rng.choice("CP")
        k = float(round(s * rng.uniform(0.8, 1.2)))
        iv = rng.uniform(0.15, 0.6)
        price = max(0.01, round(bsm_price(s, k, days / 365, iv, RATE, right == "C"), 2))
        rows.append(Row(line, symbol, "OPT", right, k, AS_OF + dt.timedelta(days=days),
                        rng.choice([100.0, 100.0, 10.0]), float(rng.choice([-5, -3, -1, 1, 2, 4])),
                        price, s, iv, account, 0.0, "equity"))
    expiry = dt.date(2027, 3, 19)
    rows.append(Row(n + 2, "ES", "FUT", "", 0.0, expiry, 50.0, 2.0, 6000.0, 6000.0, None, "",
                    0.0, "equity"))
    rows.append(Row(n + 3, "ES", "FOP", "C", 6100.0, expiry, 50.0, -1.0, 90.0, 6000.0, 0.2, "",
                    0.0, "equity"))
    return rows


def _same(a: margin.MarginResult, b: margin.MarginResult) -> None:
    assert a.strategies == b.strategies  # names, legs, order, figures: exactly
    assert (a.initial, a.maintenance, a.long_premium) == (b.initial, b.maintenance,
                                                          b.long_premium)


def test_parallel_pairing_is_the_serial_one() -> None:
    rows = _book(3_000)
    serial = compute_margin(rows, AS_OF, parallel_pairing=False)
    assert len({(s.underlying, s.account) for s in serial.strategies}) > 10
    first = compute_margin(rows, AS_OF, parallel_pairing=True)
    assert parallel._workers  # it did split the book (a worker that failed is dropped)
    _same(first, serial)
    _same(compute_margin(rows, AS_OF, parallel_pairing=True), serial)  # the warm worker
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)  # not in line order: each group sorted again
    # (long_premium sums the rows in their order: the serial figure of the same order)
    _same(compute_margin(shuffled, AS_OF, parallel_pairing=True),
          compute_margin(shuffled, AS_OF, parallel_pairing=False))


def test_margin_and_stress_is_both_serial_figures() -> None:
    rows = _book(2_000, seed=5)
    m, s = margin_and_stress(rows, AS_OF, rate=RATE, parallel_pairing=True)
    _same(m, compute_margin(rows, AS_OF, rate=RATE, parallel_pairing=False))
    assert s == stress(positions(rows, AS_OF, RATE))
    m2, s2 = margin_and_stress(rows, AS_OF, rate=RATE, parallel_pairing=False,
                               correlated_view=False)
    _same(m2, m)
    assert s2 == stress(positions(rows, AS_OF, RATE), correlated_view=False)


def test_a_dead_worker_is_paired_around_and_started_again() -> None:
    rows = _book(1_500, seed=7)
    serial = compute_margin(rows, AS_OF, parallel_pairing=False)
    _same(compute_margin(rows, AS_OF, parallel_pairing=True), serial)
    (w,) = parallel._workers.values()
    w._process.kill()
    w._process.join()
    _same(compute_margin(rows, AS_OF, parallel_pairing=True), serial)  # alone, or anew
    _same(compute_margin(rows, AS_OF, parallel_pairing=True), serial)
    (again,) = parallel._workers.values()
    assert again is not w and again.alive()


def test_the_setting_and_the_threshold() -> None:
    saved = (parallel.settings.enabled, parallel.settings.min_rows)
    try:
        parallel.configure(enabled=True, min_rows=5_000)
        assert parallel.wanted(5_000, 20) == ((os.cpu_count() or 1) >= 2)
        assert not parallel.wanted(4_999, 20)
        assert not parallel.wanted(50_000, 1)  # one group: nothing to split
        parallel.configure(enabled=False)
        assert not parallel.wanted(100_000, 200)
        rows = _book(600)
        parallel.configure(enabled=True, min_rows=100)
        memo: margin.PartsMemo[list[margin.Strategy]] = margin.PartsMemo()
        compute_margin(rows, AS_OF, memo=memo)  # a memo (the ticket's preview): serial
        assert not parallel._workers
    finally:
        parallel.configure(enabled=saved[0], min_rows=saved[1])


def test_split_takes_about_its_share_of_the_rows() -> None:
    sizes = [500, 20, 480, 30, 0, 470, 510]
    theirs = parallel.split(sizes, 0.5)
    taken = sum(sizes[i] for i in theirs)
    assert taken <= 0.5 * sum(sizes)
    assert taken >= 0.5 * sum(sizes) - max(sizes)
    assert parallel.split(sizes, 0.5) == theirs  # deterministic
