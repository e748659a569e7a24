"""`ibterm risk`: the JSON contract, pricing reference values, bad rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.pricing import greeks_exprs, implied_vol, with_price

IBTERM = [sys.executable, "-m", "ibterm"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "portfolios"
COLS = ("spot", "strike", "years", "vol", "rate", "carry_yield", "is_call", "black76")


def _price(frame: pl.DataFrame) -> pl.Series:
    return with_price(frame.lazy(), "spot", "vol", "p").collect()["p"]


def _risk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IBTERM, "risk", *args, "--as-of", "20261127"], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("row", "expected"), [
    ((42, 40, 0.5, 0.2, 0.10, 0.0, True, False), 4.7594),
    ((42, 40, 0.5, 0.2, 0.10, 0.0, False, False), 0.8086),
    ((100, 100, 1.0, 0.2, 0.05, 0.0, True, False), 10.4506),
    ((100, 100, 1.0, 0.2, 0.05, 0.0, False, False), 5.5735),
])
def test_reference_prices(row: tuple[object, ...], expected: float) -> None:
    frame = pl.DataFrame([row], schema=list(COLS), orient="row")
    price = _price(frame).item()
    assert price == pytest.approx(expected, abs=1e-4)
    implied = implied_vol(frame.with_columns(price=pl.lit(price)))
    assert implied.item() == pytest.approx(0.2, abs=1e-6)


def test_put_call_parity_and_the_scalar_reference() -> None:
    rows = [(s, 100.0, t, v, 0.03, 0.01, c, False)
            for s in (80.0, 100.0, 125.0) for t in (0.1, 1.0) for v in (0.15, 0.6)
            for c in (True, False)]
    frame = pl.DataFrame(rows, schema=list(COLS), orient="row")
    prices = _price(frame).to_list()
    for (s, k, t, v, r, q, call, _), p in zip(rows, prices, strict=True):
        assert p == pytest.approx(bsm_price(s, k, t, v, r, call, q), abs=1e-4)
    for i in range(0, len(rows), 2):
        s, k, t, _v, r, q, _c, _b = rows[i]
        import math

        assert prices[i] - prices[i + 1] == pytest.approx(
            s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-5)


def test_json_contract() -> None:
    result = _risk(str(EXAMPLES / "iron_condor.csv"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"initial_margin", "maintenance_margin", "long_premium",
                           "strategies", "stress"}
    assert report["initial_margin"] == 10_000 and report["long_premium"] == 1_000
    [strategy] = report["strategies"]
    assert set(strategy) == {"name", "underlying", "account", "legs", "initial", "maintenance"}
    assert set(report["stress"]) == {"worst_loss", "by_underlying", "grid"}
    grid = report["stress"]["grid"]
    assert len(grid) == 33 and {g["vol_shift"] for g in grid} == {-0.15, 0.0, 0.15}
    assert min(g["price_move"] for g in grid) == -0.15
    assert report["stress"]["worst_loss"] == report["stress"]["by_underlying"]["SPY"] > 0


def test_accounts_are_totalled_when_present(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,quantity,price,account\nAAPL,STK,100,200,U1\n"
                    "AAPL,STK,-50,200,U2\n")
    report = json.loads(_risk(str(path), "--json").stdout)
    assert report["accounts"]["U1"]["initial_margin"] == 10_000
    assert report["accounts"]["U2"]["maintenance_margin"] == 3_000


def test_every_bad_row_is_reported_and_nothing_printed(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,sec_type,right,strike,expiry,quantity,price,underlying_price\n"
                    "AAPL,STK,,,,100,200,\n"
                    "AAPL,OPT,X,200,20270115,1,5,200\n"
                    "AAPL,OPT,C,200,2027-01-15,1,5,200\n"
                    "AAPL,BOND,,,,1,1,\n"
                    "AAPL,STK,,,,abc,200,\n")
    result = _risk(str(path), "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:3: right 'X' must be C or P for an option",
        f"{path}:4: expiry '2027-01-15' is not a date YYYYMMDD",
        f"{path}:5: sec_type 'BOND' is not one of STK, OPT, FUT, FOP",
        f"{path}:6: quantity 'abc' is not a number",
    ]


def test_human_report() -> None:
    result = _risk(str(EXAMPLES / "naked_call.csv"))
    assert result.returncode == 0 and "naked call" in result.stdout
    assert "1,150.00" in result.stdout


def test_greeks_delta_matches_the_scalar_reference() -> None:
    from ibterm.risk.black_scholes import bsm_delta

    rows = [(s, 100.0, t, v, 0.03, 0.01, c, False) for s in (70.0, 100.0, 140.0)
            for t in (0.05, 2.0) for v in (0.1, 0.9) for c in (True, False)]
    frame = pl.DataFrame(rows, schema=list(COLS), orient="row")
    greeks = frame.select(**greeks_exprs(*(pl.col(c) for c in COLS)))
    for (s, k, t, v, r, q, call, _), delta in zip(rows, greeks["delta"], strict=True):
        assert delta == pytest.approx(bsm_delta(s, k, t, v, r, call, q), abs=1e-5)
    assert (greeks["gamma"] > 0).all() and (greeks["vega"] > 0).all()


def test_one_scan_per_underlying_even_with_mixed_classes(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,right,strike,expiry,quantity,price,underlying_price,"
                    "index_class\nXYZ,STK,,,,100,50,,equity\n"
                    "XYZ,OPT,C,80,20270115,1,0.01,50,narrow_index\n")
    report = json.loads(_risk(str(path), "--json").stdout)
    assert len(report["stress"]["grid"]) == 33
    assert report["stress"]["by_underlying"]["XYZ"] == pytest.approx(750, abs=5)
