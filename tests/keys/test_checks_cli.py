"""`ibterm config check|schema` and `ibterm themes list|check`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

IBTERM = [sys.executable, "-m", "ibterm"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IBTERM, *args], capture_output=True, text=True, timeout=30)


def test_config_check_finds_missing_themes_and_keymaps(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles:\n  p:\n    theme: nope\n    keymap: vim\n")
    path.chmod(0o600)
    result = _run("config", "check", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{path}:3:12: profile 'p': no theme 'nope'"
    path.write_text("profiles:\n  p: {keymap: vim}\n")
    ok = _run("config", "check", str(path))
    assert ok.returncode == 0 and "no problems" in ok.stdout and ok.stderr == ""


def test_config_check_warns_about_ports_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles:\n  real: {port: 7497, mode: live}\n")
    path.chmod(0o644)
    result = _run("config", "check", str(path))
    assert result.returncode == 0
    assert "profile 'real' is live but port 7497 is usually TWS paper" in result.stderr
    assert "readable by other users" in result.stderr


def test_config_check_refuses_a_paper_profile_on_a_live_port(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles:\n  test:\n    port: 4001\n  tws: {port: 7496}\n"
                    "  fine: {port: 4002}\n")
    path.chmod(0o600)
    result = _run("config", "check", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{path}:3:11: profile 'test' is paper but port 4001 is usually IB Gateway live: "
        "orders may reach a live account (use a paper port, 7497 or 4002, or mode: live)",
        f"{path}:4:15: profile 'tws' is paper but port 7496 is usually TWS live: "
        "orders may reach a live account (use a paper port, 7497 or 4002, or mode: live)"]


def test_config_check_reports_bad_files_and_schema_is_json(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles:\n  p: {porrt: 1}\n")
    result = _run("config", "check", str(path))
    assert result.returncode == 1 and "did you mean 'port'" in result.stderr
    assert _run("config", "check", str(tmp_path / "none.yaml")).returncode == 2
    schema = json.loads(_run("config", "schema").stdout)
    assert "profiles" in schema["properties"]


def test_themes_list_and_check(tmp_path: Path) -> None:
    listed = _run("themes", "list")
    names = listed.stdout.split()
    assert names[:4] == ["ibterm-ansi", "ibterm-dark", "ibterm-high-contrast", "ibterm-light"]
    assert "nord" in names  # Textual's own themes are usable by name too
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nprimary: '#12'\nvariables:\n  trade-up: nope\n")
    result = _run("themes", "check", str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{bad}:2:10: primary: ")
    assert lines[1].startswith(f"{bad}:4:3: variables: ") and "trade-up" in lines[1]
    good = tmp_path / "g.yaml"
    good.write_text("name: g\nprimary: '#123456'\n")
    assert _run("themes", "check", str(good)).returncode == 0


def test_theme_colours_with_alpha_still_draw() -> None:
    from rich.style import Style

    from ibterm.tui.theme import rich_colour

    for value in ("#11223380", "rgba(10,20,30,0.5)", "transparent", "ansi_red", "#3fb950"):
        Style.parse(f"bold {rich_colour(value)}")  # raises if Rich cannot draw it
    assert rich_colour("#11223380") == "#112233"
