"""Risk calculator speed: the vectorized margin + stress against a plain Python loop.

(a) Books of 100, 1,000 and 10,000 option positions over 20 underlyings: margin (with
    pairing) plus the full stress grid (with the correlated view), timed; and the stress
    path alone (positions + stress: pricing, grid, worst losses, correlated view)
    against the same maths as a per-position Python loop over the same rows (scalar
    Black-Scholes, math.erfc), pairing excluded from both sides of the ratio.
(b) One ticket change's preview on a 200-position book: the what-if a trader waits for.

Each figure is the median of several runs. Run: make bench   (or python bench/risk.py --quick)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import StressParams, _moves, positions, stress
from ibterm.risk.whatif import figures, what_if

AS_OF = dt.date(2026, 11, 27)
RATE = 0.04


def book(n: int, seed: int = 1) -> list[Row]:
    rng = random.Random(seed)
    spots = {f"U{i:02d}": rng.uniform(20, 500) for i in range(20)}
    rows = []
    for i in range(n):
        symbol = rng.choice(list(spots))
        s = spots[symbol]
        k = round(s * rng.uniform(0.8, 1.2))
        right = rng.choice("CP")
        expiry = AS_OF + dt.timedelta(days=rng.choice([14, 35, 63, 126, 252]))
        years = (expiry - AS_OF).days / 365
        iv = rng.uniform(0.15, 0.6)
        price = max(0.01, round(bsm_price(s, k, years, iv, RATE, right == "C"), 2))
        qty = rng.choice([-5, -3, -1, 1, 2, 4])
        rows.append(Row(i + 2, symbol, "OPT", right, float(k), expiry, 100.0, float(qty),
                        price, s, iv, "", 0.0, "equity"))
    return rows


def loop_stress(rows: list[Row], params: StressParams) -> tuple[float, float]:
    """What stress() computes, one position and one scenario at a time: each underlying's
    grid on its own scan, its worst loss (at least the per-contract minimum), their sum,
    and the correlated view. (worst loss, correlated worst loss)."""
    first_class: dict[str, str] = {}
    for r in rows:
        first_class.setdefault(r.symbol, r.index_class)
    shifts = sorted(set(params.vol_shifts))
    scans = {c: _moves(*scan, params.points_each_side) for c, scan in params.scans.items()}
    corr_moves = scans[params.correlated_scan]
    totals: dict[tuple[str, float, float], float] = {}
    corr: dict[tuple[float, float], float] = {}
    minimum: dict[str, float] = {}
    for r in rows:
        moves = scans[first_class[r.symbol]]
        w = r.quantity * r.multiplier
        years = (r.expiry - AS_OF).days / 365 if r.expiry else 0.0
        vol = r.iv or 0.0
        call = r.right == "C"
        # (rows on another scan than the common move's are not in the correlated view
        # here: the bench's books are all on the equity scan)
        together = r.index_class in params.correlated_classes and moves == corr_moves
        if r.is_option:
            minimum[r.symbol] = minimum.get(r.symbol, 0.0) + abs(w) * params.min_per_contract
            base = bsm_price(r.underlying_price, r.strike, years, vol, RATE, call, r.div_yield)
        else:
            base = r.underlying_price
        for m in moves:
            spot = r.underlying_price * (1 + m)
            for v in shifts:
                value = bsm_price(spot, r.strike, years, vol * (1 + v), RATE, call,
                                  r.div_yield) if r.is_option else spot
                pnl = (value - base) * w
                key = (r.symbol, m, v)
                totals[key] = totals.get(key, 0.0) + pnl
                if together:
                    corr[(m, v)] = corr.get((m, v), 0.0) + pnl
    worst: dict[str, float] = {}
    for (symbol, _m, _v), pnl in totals.items():
        worst[symbol] = max(worst.get(symbol, 0.0), -pnl)
    total = sum(max(loss, minimum.get(s, 0.0)) for s, loss in worst.items())
    return total, max([0.0, *(-p for p in corr.values())])


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000]
    params = StressParams()
    print(f"risk benchmark (python {sys.version.split()[0]}): margin + 33-scenario stress, "
          "medians")
    print(f"{'positions':>10} {'total ms':>9} {'margin ms':>10} {'stress ms':>10} "
          f"{'us/position':>12} {'loop ms':>9} {'loop/stress':>12}")
    results = {}
    for n in sizes:
        rows = book(n)
        # The two sides agree before they are timed.
        vec = stress(positions(rows, AS_OF, RATE), params)
        ref = loop_stress(rows, params)
        assert abs(vec.worst_loss - ref[0]) < 1e-6 * max(1.0, ref[0]) + 1.0, (vec, ref)
        assert abs(vec.correlated_worst_loss - ref[1]) < 1e-6 * max(1.0, ref[1]) + 1.0

        def both(rows: list[Row] = rows) -> None:
            compute_margin(rows, AS_OF)
            stress(positions(rows, AS_OF, RATE), params)

        repeat = 9 if n <= 1_000 else 7
        total = timed(both, repeat)
        margin = timed(lambda rows=rows: compute_margin(rows, AS_OF), repeat)
        stress_ms = timed(lambda rows=rows: stress(positions(rows, AS_OF, RATE), params),
                          repeat * 2)
        loop = timed(lambda rows=rows: loop_stress(rows, params), 3 if n >= 10_000 else 5)
        ratio = loop / stress_ms
        results[n] = (total, ratio)
        print(f"{n:>10,} {total * 1000:>9.1f} {margin * 1000:>10.1f} {stress_ms * 1000:>10.2f} "
              f"{total / n * 1e6:>12.1f} {loop * 1000:>9.1f} {ratio:>11.1f}x")
    # (b) a ticket change on a 200-position book.
    rows = book(200, seed=2)
    order = [Row(9999, "U03", "OPT", "P", rows[0].strike, rows[0].expiry, 100.0, -2.0,
                 rows[0].price, rows[0].underlying_price, 0.3, "", 0.0, "equity")]
    # The "before" side changes with the positions, not with the ticket: computed once.
    before = figures(rows, AS_OF, RATE)
    preview = timed(lambda: what_if(rows, [order], 1_000_000.0, AS_OF, RATE, before=before), 25)
    print(f"preview of one ticket change on 200 positions: {preview * 1000:.1f} ms median "
          "(target < 10 ms)")
    if 10_000 in results:
        total, ratio = results[10_000]
        small = results[1_000][0] / 1_000
        print(f"10,000 positions: {total * 1000:.0f} ms (target < 250 ms); stress {ratio:.0f}x "
              f"faster than the loop (target >= 20x); per position {total / 10_000 * 1e6:.1f} "
              f"us at 10,000 against {small * 1e6:.1f} us at 1,000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
