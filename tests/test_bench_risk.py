"""bench/risk.py reaches into the risk calculator's insides (Positions' arrays, the
pricing kernel, the grid): run its parts on a small book, so that a change to those
breaks here and not on the next `make bench` (b0efd1a once renamed a field it read). The
figures themselves are not looked at: no test asserts a time."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from ibterm.risk import parallel
from ibterm.risk.stress import StressParams

BENCH = Path(__file__).resolve().parents[1] / "bench" / "risk.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_risk", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_curve_and_its_stress_split_run_on_a_small_book(
        bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        totals = bench.curve([(300, 4)], StressParams())
    finally:
        parallel.shutdown()  # (the two-core column started the worker)
    out = capsys.readouterr().out
    assert set(totals) == {(300, 4), (-300, 4)}
    assert "stress path, 300 on 4:" in out and "pricing kernel" in out
    assert "margin + stress, 300 on 4: fastest" in out


def test_the_preview_figures_run(bench: ModuleType,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    rows = bench.book(40, seed=2)
    bench.preview("a condor", rows, [bench.condor(9_000 + 4 * i, rows[i]) for i in range(4)])
    assert "preview, a condor: median" in capsys.readouterr().out


def test_tenfold_copies_the_book_under_new_names_with_lines_in_order(
        bench: ModuleType) -> None:
    rows = bench.book(50, underlyings=3)
    copies = bench.tenfold(rows)
    assert len(copies) == 500
    assert len({r.symbol for r in copies}) == 10 * len({r.symbol for r in rows})
    lines = [r.line for r in copies]
    assert lines == sorted(set(lines))
    # the same book ten times over: only the names and lines differ
    strip = [(r.strike, r.right, r.expiry, r.quantity, r.iv) for r in rows]
    assert [(r.strike, r.right, r.expiry, r.quantity, r.iv) for r in copies] == strip * 10
