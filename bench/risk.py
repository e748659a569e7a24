"""Risk calculator speed: the vectorized margin + stress against a plain Python loop.

(a) Books of 100, 1,000 and 10,000 option positions over 20 underlyings: margin (with
    pairing) plus the full stress grid, timed; and the same pricing and stress maths as a
    per-position Python loop (pairing excluded from both sides of the ratio).
(b) One ticket change's preview on a 200-position book: the what-if a trader waits for.

Run: make bench   (or python bench/risk.py --quick)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import StressParams, positions_frame, stress
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


def loop_stress(rows: list[Row], params: StressParams) -> float:
    """The same maths one position and one scenario at a time."""
    low, high = params.scans["equity"]
    n = params.points_each_side
    moves = sorted({low * i / n for i in range(1, n + 1)} | {0.0}
                   | {high * i / n for i in range(1, n + 1)})
    totals: dict[tuple[str, float, float], float] = {}
    for r in rows:
        years = (r.expiry - AS_OF).days / 365 if r.expiry else 0.0
        base = bsm_price(r.underlying_price, r.strike, years, r.iv or 0.3, RATE, r.right == "C")
        for m in moves:
            for v in params.vol_shifts:
                value = bsm_price(r.underlying_price * (1 + m), r.strike, years,
                                  (r.iv or 0.3) * (1 + v), RATE, r.right == "C")
                key = (r.symbol, m, v)
                totals[key] = totals.get(key, 0.0) + (value - base) * r.quantity * r.multiplier
    worst: dict[str, float] = {}
    for (symbol, _m, _v), pnl in totals.items():
        worst[symbol] = max(worst.get(symbol, 0.0), -pnl)
    return sum(worst.values())


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
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
    print(f"risk benchmark (python {sys.version.split()[0]}): margin + 33-scenario stress")
    print(f"{'positions':>10} {'vectorized ms':>14} {'of which margin':>16} "
          f"{'loop ms (no pairing)':>21} {'loop/vectorized':>16}")
    results = {}
    for n in sizes:
        rows = book(n)

        def vectorized(rows: list[Row] = rows) -> None:
            compute_margin(rows, AS_OF)
            stress(positions_frame(rows, AS_OF, RATE), params)

        repeat = 5 if n <= 1_000 else 3
        vec = timed(vectorized, repeat)
        margin_only = timed(lambda rows=rows: compute_margin(rows, AS_OF), repeat)
        stress_only = vec - margin_only
        loop = timed(lambda rows=rows: loop_stress(rows, params), 1 if n >= 10_000 else 3)
        results[n] = (vec, loop / max(stress_only, 1e-9))
        print(f"{n:>10,} {vec * 1000:>14.1f} {margin_only * 1000:>16.1f} {loop * 1000:>21.1f} "
              f"{loop / max(stress_only, 1e-9):>15.1f}x")
    # (b) a ticket change on a 200-position book.
    rows = book(200, seed=2)
    order = [Row(9999, "U03", "OPT", "P", rows[0].strike, rows[0].expiry, 100.0, -2.0,
                 rows[0].price, rows[0].underlying_price, 0.3, "", 0.0, "equity")]
    # The "before" side changes with the positions, not with the ticket: computed once.
    before = figures(rows, AS_OF, RATE, None, None)
    preview = timed(lambda: what_if(rows, [order], 1_000_000.0, AS_OF, RATE, before=before), 15)
    print(f"preview of one ticket change on 200 positions: {preview * 1000:.1f} ms median "
          "(target < 10 ms)")
    if 10_000 in results:
        ms, ratio = results[10_000][0] * 1000, results[10_000][1]
        print(f"10,000 positions: {ms:.0f} ms (target < 250 ms), stress {ratio:.0f}x faster "
              "than the loop (target >= 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
