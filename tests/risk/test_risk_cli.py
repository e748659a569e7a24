"""`ibterm risk`: the JSON contract, the examples, accounts, rate tables, bad input."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ibterm.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "portfolios"
AS_OF = ("--as-of", "20261127")


def _risk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["risk", *args, *AS_OF])
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    code, out, err = _risk(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_json_contract_end_to_end() -> None:
    result = subprocess.run([sys.executable, "-m", "ibterm", "risk",
                             str(EXAMPLES / "iron_condor.csv"), "--json", *AS_OF],
                            capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report) == ["initial_margin", "maintenance_margin", "long_premium",
                            "strategies", "stress"]
    assert report["initial_margin"] == 10_000 and report["long_premium"] == 1_000
    [strategy] = report["strategies"]
    assert list(strategy) == ["name", "underlying", "account", "legs", "initial", "maintenance"]
    assert strategy["legs"] == [{"line": 2, "quantity": 10.0}, {"line": 3, "quantity": -10.0},
                                {"line": 4, "quantity": -10.0}, {"line": 5, "quantity": 10.0}]
    assert list(report["stress"]) == ["worst_loss", "by_underlying", "grid"]
    grid = report["stress"]["grid"]
    assert len(grid) == 33 and {g["vol_shift"] for g in grid} == {-0.15, 0.0, 0.15}
    assert list(grid[0]) == ["underlying", "price_move", "vol_shift", "pnl"]
    assert min(g["price_move"] for g in grid) == -0.15
    assert report["stress"]["worst_loss"] == report["stress"]["by_underlying"]["SPY"] > 0


# Each example with its initial and maintenance margin (examples/portfolios/README.md).
@pytest.mark.parametrize(("name", "initial", "maintenance", "strategies"), [
    ("naked_call", 1_150, 1_150, ["naked call"]),
    ("naked_put", 750, 750, ["naked put"]),
    ("credit_vertical", 100, 100, ["bear call spread"]),
    ("iron_condor", 10_000, 10_000, ["iron condor"]),
    ("covered_call", 11_500, 5_750, ["covered call"]),
    ("short_stock", 25_000, 15_000, ["short stock"]),
    ("straddle", 2_550, 2_550, ["short straddle"]),
    ("long_call_butterfly", 0, 0, ["long call butterfly"]),
    ("long_put_butterfly", 0, 0, ["long put butterfly"]),
    ("iron_butterfly", 3_000, 3_000, ["iron butterfly"]),
    ("short_butterfly", 500, 500, ["short call butterfly"]),
    ("calendar", 0, 0, ["calendar spread"]),
    ("reverse_calendar", 2_500, 2_500, ["naked call", "long call"]),
    ("protective_put", 5_000, 1_450, ["protective put"]),
    ("covered_put", 5_500, 3_500, ["covered put"]),
    ("futures_calendar", 2_721.27, 2_473.88, ["SPAN scan"]),
    ("futures_covered_call", 24_503.85, 22_276.22, ["SPAN scan"]),
    ("accounts", 5_500, 3_000, ["covered call", "bear call spread"]),
])
def test_examples(capsys: pytest.CaptureFixture[str], name: str, initial: float,
                  maintenance: float, strategies: list[str]) -> None:
    report = _json(capsys, str(EXAMPLES / f"{name}.csv"))
    assert report["initial_margin"] == pytest.approx(initial, abs=0.01)
    assert report["maintenance_margin"] == pytest.approx(maintenance, abs=0.01)
    assert [s["name"] for s in report["strategies"]] == strategies


def test_accounts_exactly_when_the_column_is_there(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,quantity,price,account\nAAPL,STK,100,200,U1\n"
                    "AAPL,STK,-50,200,U2\n")
    report = _json(capsys, str(path))
    assert list(report)[-1] == "accounts"
    assert report["accounts"]["U1"] == {"initial_margin": 10_000, "maintenance_margin": 5_000,
                                        "long_premium": 0, "worst_loss": 3_000}
    assert report["accounts"]["U2"]["maintenance_margin"] == 3_000
    # The column with no account in it: one account, "".
    path.write_text("symbol,sec_type,quantity,price,account\nAAPL,STK,100,200,\n")
    assert list(_json(capsys, str(path))["accounts"]) == [""]
    path.write_text("symbol,sec_type,quantity,price\nAAPL,STK,100,200\n")
    assert "accounts" not in _json(capsys, str(path))


def test_per_account_totals_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, str(EXAMPLES / "accounts.csv"))
    for key in ("initial_margin", "maintenance_margin", "long_premium"):
        assert sum(a[key] for a in report["accounts"].values()) == pytest.approx(report[key])


def test_intraday_futures_margins(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("symbol,sec_type,expiry,quantity,price\nES,FUT,20261218,2,6000\n")
    overnight = _json(capsys, str(path))
    intraday = _json(capsys, str(path), "--intraday")
    assert overnight["initial_margin"] == 2 * 24_750
    assert intraday["initial_margin"] == 2 * 6_187.5


def test_the_users_rate_table_beside_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(os.environ["IBTERM_CONFIG"]).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "risk.yaml").write_text("reg_t:\n  naked_pct: 0.30\n")
    report = _json(capsys, str(EXAMPLES / "naked_call.csv"))
    assert report["initial_margin"] == pytest.approx((1.5 + 0.30 * 65 - 3) * 100)
    (folder / "risk.yaml").write_text("reg_t:\n  naked_pct: high\n")
    code, out, err = _risk(capsys, str(EXAMPLES / "naked_call.csv"), "--json")
    assert code == 2 and out == ""
    assert err.startswith(f"{folder / 'risk.yaml'}:2:14: reg_t.naked_pct: Input should be a "
                          "valid number")


def test_human_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _risk(capsys, str(EXAMPLES / "naked_call.csv"), "--equity", "5000")
    assert code == 0 and "naked call" in out and "1,150.00" in out
    assert "Liquidation estimate" in out and "equity 5,000.00 (given)" in out
    assert "Correlated view" in out and "XYZ: worst loss" in out
    code, out, _ = _risk(capsys, str(EXAMPLES / "futures_calendar.csv"))
    assert "Futures margins (overnight)" in out and "2026-11-27" in out


def test_every_bad_row_is_reported_and_nothing_printed(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,sec_type,right,strike,expiry,quantity,price,underlying_price\n"
                    "AAPL,STK,,,,100,200,\n"
                    "AAPL,OPT,X,200,20270115,1,5,200\n"
                    "AAPL,OPT,C,200,2027-01-15,1,5,200\n"
                    "AAPL,BOND,,,,1,1,\n"
                    "AAPL,STK,,,,abc,200,\n"
                    "ZZ,FUT,,,20270319,1,100,\n")
    code, out, err = _risk(capsys, str(path), "--json")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}:3: right 'X' must be C or P for an option",
        f"{path}:4: expiry '2027-01-15' is not a date YYYYMMDD",
        f"{path}:5: sec_type 'BOND' is not one of STK, OPT, FUT, FOP",
        f"{path}:6: quantity 'abc' is not a number",
        f"{path}:7: ZZ is not in the futures table: give its multiplier",
    ]


def test_an_unattainable_price_is_located(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,right,strike,expiry,quantity,price,underlying_price\n"
                    "XYZ,OPT,C,100,20270115,-1,150,100\n")
    code, out, err = _risk(capsys, str(path))
    assert code == 2 and out == ""
    assert err.strip() == f"{path}:2: no volatility makes this option worth its price: give iv"


@pytest.mark.parametrize(("args", "message"), [
    (("--rate", "4.0"), "ibterm: --rate 4.0 is not a plausible rate (a decimal: 0.04)"),
    (("--equity", "-5"), "ibterm: --equity -5.0 must be a dollar amount, zero or more"),
])
def test_bad_options(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                     message: str) -> None:
    code, out, err = _risk(capsys, str(EXAMPLES / "naked_call.csv"), *args)
    assert code == 2 and out == "" and err.strip() == message


def test_one_scan_per_underlying_even_with_mixed_classes(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,right,strike,expiry,quantity,price,underlying_price,"
                    "index_class\nXYZ,STK,,,,100,50,,equity\n"
                    "XYZ,OPT,C,80,20270115,1,0.01,50,narrow_index\n")
    report = _json(capsys, str(path))
    assert len(report["stress"]["grid"]) == 33
    assert report["stress"]["by_underlying"]["XYZ"] == pytest.approx(750, abs=5)


HEADER = "symbol,sec_type,right,strike,expiry,multiplier,quantity,price,underlying_price,iv\n"


@pytest.mark.parametrize(("row", "message"), [
    ("AAPL,STK,,,,,100,1e308,,", "price '1e308' is out of range (at most 1e+09)"),
    ("AAPL,STK,,,,,1e300,230,,", "quantity '1e300' is out of range (at most 1e+09)"),
    ("AAPL,STK,,,,1e300,100,230,,", "multiplier '1e300' is out of range (at most 1e+08)"),
    ("AAPL,OPT,C,1e308,20270115,,-1,4.1,230,", "strike '1e308' is out of range"),
    ("AAPL,OPT,C,240,20270115,,-1,4.1,1e-320,", "underlying_price '1e-320' is too small"),
    ("AAPL,STK,,,,,100,1e-320,,", "price '1e-320' is too small"),
    ("AAPL,STK,,,,1e8,1e9,1e9,,", "more than 1e+15"),
    ("AAPL,OPT,C,240,20270115,,-1,4.1,230,1e-300", "iv '1e-300' is too small"),
])
def test_extreme_values_are_refused_by_row(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "MSFT,STK,,,,,10,420,,\n" + row + "\n")
    code, out, err = _risk(capsys, str(path), "--json")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"{path}:3: ") and message in line


def test_a_non_finite_figure_is_never_printed(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The last guard: were a value past the reader's bounds, the report that ends in
    inf/NaN is refused (it printed Infinity/NaN, and a worst_loss of 75 beside a NaN
    grid, with exit 0)."""
    from ibterm.risk import portfolio

    for name in ("MAX_PRICE", "MAX_NOTIONAL"):
        monkeypatch.setattr(portfolio, name, math.inf)
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "MSFT,STK,,,,,10,420,,\nAAPL,STK,,,,,100,1e308,,\n")
    for extra in (("--json",), ()):
        code, out, err = _risk(capsys, str(path), *extra)
        assert code == 2 and out == "", out
        lines = err.splitlines()
        assert lines and all(line.startswith(f"{path}:") and "not a finite number" in line
                             for line in lines), err
        assert f"{path}:3: " in err and "Traceback" not in err


def test_a_byte_order_mark_is_accepted(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"symbol,sec_type,quantity,price\r\nAAPL,STK,100,230\r\n")
    report = _json(capsys, str(path))
    assert report["initial_margin"] == pytest.approx(11_500)


def test_long_cells_are_quoted_short(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "A" * 10_000 + ",STK,,,,,10,420,,\n"
                    "MSFT,STK,,,,,10," + "9" * 10_000 + "x,,\n")
    code, out, err = _risk(capsys, str(path), "--json")
    assert code == 2 and out == ""
    assert len(err) < 400, err
    assert "longer than 24 characters" in err and "is not a number" in err
