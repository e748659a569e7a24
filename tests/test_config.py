"""Config loading, profile selection and the no-config path of `ibterm`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ibterm.config.settings import Profile, config_path, data_dir, load_config, select_profile
from ibterm.config.yamlfile import FileProblems
from ibterm.domain.connection import TradingMode


def test_paths_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path() == tmp_path / "config" / "config.yaml"
    assert data_dir() == tmp_path / "data"
    monkeypatch.delenv("IBTERM_CONFIG")
    monkeypatch.delenv("IBTERM_DATA_DIR")
    assert config_path() == tmp_path / "xdg-config" / "ibterm" / "config.yaml"
    assert data_dir() == tmp_path / "xdg-data" / "ibterm"


def test_profiles_load_and_select(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("""\
default_profile: paper
profiles:
  paper: {port: 4002, client_id: 7}
  live: {port: 4001, mode: live, read_only: true, watchlist: [SPY, "ES 202612"]}
""")
    config = load_config(path)
    name, profile = select_profile(config, None)
    assert name == "paper" and profile.port == 4002 and profile.mode is TradingMode.PAPER
    _, live = select_profile(config, "live")
    assert live.read_only and live.watchlist == ["SPY", "ES 202612"]
    with pytest.raises(KeyError):
        select_profile(config, "nope")


@pytest.mark.parametrize(("text", "expected"), [
    ("profiles:\n  p: {prot: 1}\n", ":2:7: unknown key 'prot' (did you mean 'port'?)"),
    ("profiles:\n  p: {port: 99999}\n", ":2:13: profiles.p.port: Input should be less than"),
    ("profiles:\n  p:\n    watchlist: [AAPL, 'SPY 2026 1 C']\n",
     ":3:16: profiles.p.watchlist: watchlist entry 'SPY 2026 1 C'"),
    ("default_profile: x\nprofiles:\n  p: {}\n", ":1:18: default_profile: 'x' is not one of"),
    ("profiles:\n  p: {mode: demo}\n", "mode is paper or live"),
])
def test_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(FileProblems) as info:
        load_config(path)
    assert expected in str(info.value)
    assert str(info.value).startswith(str(path))


def test_no_config_explains_and_offers_the_demo() -> None:
    result = subprocess.run([sys.executable, "-m", "ibterm"], capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "no configuration" in result.stderr and "ibterm demo" in result.stderr


def test_a_broken_config_refuses_to_start(tmp_path: Path) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("profiles:\n  p: {host: [1]}\n")
    result = subprocess.run([sys.executable, "-m", "ibterm"], capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:2:")
    assert "Traceback" not in result.stderr


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("default_profile: p\nprofiles:\n  p: {}\n")
    result = subprocess.run([sys.executable, "-m", "ibterm", "--profile", "nope"],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "no profile named 'nope'" in result.stderr


def test_profile_defaults_are_safe() -> None:
    p = Profile()
    assert p.host == "127.0.0.1" and p.port == 7497 and p.mode is TradingMode.PAPER


def test_the_demo_counts_the_lines_its_world_gives_the_login() -> None:
    from ibterm.config.settings import MAX_MARKET_DATA_LINES, demo_profile

    assert demo_profile(4002, ["SPY"]).market_data_lines == 100
    assert demo_profile(4002, ["SPY"], 300).market_data_lines == 300
    assert demo_profile(4002, None, MAX_MARKET_DATA_LINES).watchlist == Profile().watchlist
