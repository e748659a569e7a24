"""A damaged journal.sqlite3 is named, never deleted, and can be set aside for a new one."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ibterm.broker.journal import Journal, JournalCorrupt, journal_path, read_events, set_aside
from ibterm.cli.main import _open_journal, main
from ibterm.config.settings import config_path, data_dir

GARBAGE = b"this is not an SQLite database, it is the user's data all the same\n" * 40
CONFIG = """\
default_profile: paper
profiles:
  paper: {host: 127.0.0.1, port: 7497, client_id: 1, mode: paper}
"""


def _corrupt(with_sidecars: bool = True) -> Path:
    path = journal_path(data_dir())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GARBAGE)
    if with_sidecars:
        path.with_name(path.name + "-wal").write_bytes(b"wal bytes")
        path.with_name(path.name + "-shm").write_bytes(b"shm bytes")
    return path


def _unchanged(path: Path) -> None:
    assert path.read_bytes() == GARBAGE
    assert path.with_name(path.name + "-wal").read_bytes() == b"wal bytes"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "journal.sqlite3", "journal.sqlite3-shm", "journal.sqlite3-wal"]


def test_opening_a_corrupt_journal_says_so_and_changes_nothing() -> None:
    path = _corrupt()
    with pytest.raises(JournalCorrupt) as caught:
        Journal(path, "paper")
    assert caught.value.path == path and "not a database" in caught.value.reason
    _unchanged(path)


def test_a_damaged_page_inside_a_real_journal_is_corruption_too(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, "paper")
    for i in range(300):
        journal.record("intent", intent_id=f"i{i}", symbol="AAPL", note="x" * 200)
    journal.close()
    data = bytearray(path.read_bytes())
    data[4096 * 3: 4096 * 6] = b"\xff" * (4096 * 3)  # table pages, header intact
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt):
        list(read_events(path))


def test_set_aside_renames_the_three_files_and_never_overwrites() -> None:
    path = _corrupt()
    now = dt.datetime(2026, 11, 27, 9, 30, 5)
    first = set_aside(path, now)
    assert first.name == "journal.sqlite3.corrupt-20261127-093005"
    assert first.read_bytes() == GARBAGE
    assert first.with_name(first.name + "-wal").read_bytes() == b"wal bytes"
    assert first.with_name(first.name + "-shm").read_bytes() == b"shm bytes"
    assert not path.exists()
    _corrupt(with_sidecars=False)
    second = set_aside(path, now)
    assert second.name == "journal.sqlite3.corrupt-20261127-093005-1"
    assert first.read_bytes() == second.read_bytes() == GARBAGE


@pytest.mark.parametrize("argv", [["journal", "list"],
                                  ["journal", "export", "--format", "csv", "--out", "x.csv"]])
def test_journal_list_and_export_refuse_a_corrupt_journal(
        argv: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    path = _corrupt()
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert f"{path}: the order journal is damaged (file is not a database)" in out.err
    assert "ibterm journal set-aside" in out.err and "Traceback" not in out.err
    assert not (tmp_path / "x.csv").exists()
    _unchanged(path)


def test_the_set_aside_command(capsys: pytest.CaptureFixture[str]) -> None:
    path = _corrupt()
    assert main(["journal", "set-aside"]) == 0
    assert "journal.sqlite3.corrupt-" in capsys.readouterr().err
    names = sorted(p.name for p in path.parent.iterdir())
    assert len(names) == 3 and all(re.fullmatch(
        r"journal\.sqlite3\.corrupt-\d{8}-\d{6}(-wal|-shm)?", n) for n in names)
    # A healthy journal is not moved.
    Journal(path, "paper").close()
    assert main(["journal", "set-aside"]) == 2
    assert "is readable: nothing to set aside" in capsys.readouterr().err
    assert path.exists()


def test_app_start_without_a_terminal_exits_2_and_says_how(
        capsys: pytest.CaptureFixture[str]) -> None:
    config = config_path()
    config.parent.mkdir(parents=True)
    config.write_text(CONFIG)
    config.chmod(0o600)
    path = _corrupt()
    assert main([]) == 2  # before any connection is made, and without a traceback
    err = capsys.readouterr().err
    assert "the order journal is damaged" in err and "ibterm journal set-aside" in err
    assert "nothing was changed" in err and "nothing is deleted" in err
    assert main(["demo"]) == 2
    assert path.read_bytes() == GARBAGE


def test_interactive_start_asks_and_keeps_the_old_journal(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = _corrupt()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert _open_journal("paper") == 2
    _unchanged(path)
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    journal = _open_journal("paper")
    assert isinstance(journal, Journal)
    journal.record("intent", intent_id="a1")
    journal.close()
    [old] = path.parent.glob("journal.sqlite3.corrupt-*[0-9]")
    assert old.read_bytes() == GARBAGE
    assert [e.intent_id for e in read_events(path)] == ["a1"]
    assert "the damaged journal is now" in capsys.readouterr().err
