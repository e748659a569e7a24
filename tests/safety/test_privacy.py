"""The data directory is the user's alone: modes of what ibterm writes, account ids masked
in the log and in crash reports, ib_async's account chatter kept out of the log."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibterm.broker.journal import Journal, journal_path
from ibterm.cli.main import main
from ibterm.config.settings import data_dir
from ibterm.files.logs import log_to_file, mask_accounts, write_crash_report


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def _loose_umask_and_clean_logging() -> Iterator[None]:
    """The usual umask (files 0644): what ibterm does must not depend on the user's."""
    old_mask = os.umask(0o022)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {n: logging.getLogger(n).level for n in ("ib_async", "eventkit")}
    yield
    os.umask(old_mask)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in chatty.items():
        logging.getLogger(name).setLevel(lvl)


def test_new_data_directory_and_log_are_private() -> None:
    directory = data_dir()
    path = log_to_file(directory, "INFO")
    logging.getLogger("ibterm.test").warning("hello")
    assert _mode(directory) == 0o700
    assert _mode(path) == 0o600


def test_log_rotations_stay_private(tmp_path: Path) -> None:
    path = log_to_file(tmp_path / "data", "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    handler.maxBytes = 200
    for i in range(40):
        logging.getLogger("ibterm.test").warning("line %d %s", i, "x" * 50)
    rotated = sorted(path.parent.glob("ibterm.log*"))
    assert len(rotated) >= 3
    assert {_mode(p) for p in rotated} == {0o600}


def test_old_world_readable_files_are_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    (directory / "ibterm.log").write_text("old\n")
    (directory / "ibterm.log.1").write_text("older\n")
    os.chmod(directory / "ibterm.log", 0o644)
    os.chmod(directory / "ibterm.log.1", 0o644)
    log_to_file(directory, "INFO")
    assert _mode(directory) == 0o700  # only ibterm's files in it: ours to tighten
    assert _mode(directory / "ibterm.log") == 0o600
    assert _mode(directory / "ibterm.log.1") == 0o600
    assert (directory / "ibterm.log.1").read_text() == "older\n"


def test_a_shared_directory_is_left_alone_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    (shared / "notes.txt").write_text("someone else's\n")
    monkeypatch.setenv("IBTERM_DATA_DIR", str(shared))
    from ibterm.cli.main import _private_data_dir

    _private_data_dir()
    assert _mode(shared) == 0o755
    err = capsys.readouterr().err
    assert "warning" in err and f"chmod 700 {shared}" in err
    # Our own files in it are private all the same.
    assert _mode(log_to_file(shared, "INFO")) == 0o600


def test_journal_and_its_wal_and_shm_are_private() -> None:
    path = journal_path(data_dir())
    journal = Journal(path, "paper")
    journal.record("intent", intent_id="a1", symbol="AAPL")
    sidecars = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
    try:
        assert all(p.exists() for p in sidecars)
        assert _mode(path.parent) == 0o700
        assert {_mode(p) for p in [path, *sidecars]} == {0o600}
    finally:
        journal.close()


def test_an_old_world_readable_journal_is_tightened() -> None:
    path = journal_path(data_dir())
    Journal(path, "paper").close()
    os.chmod(path, 0o644)
    journal = Journal(path, "paper")
    journal.record("intent", intent_id="a1")
    journal.close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_journal_export_is_private(tmp_path: Path, fmt: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    journal = Journal(journal_path(data_dir()), "paper")
    journal.record("intent", intent_id="a1", symbol="AAPL")
    journal.close()
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / f"export.{fmt}"
    out.write_text("an older export\n")
    os.chmod(out, 0o644)
    assert main(["journal", "export", "--format", fmt, "--out", str(out)]) == 0
    assert _mode(out) == 0o600
    assert out.read_bytes() != b"an older export\n"
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left


def test_account_ids_are_masked_in_the_log(tmp_path: Path) -> None:
    path = log_to_file(tmp_path / "data", "INFO")
    log = logging.getLogger("ibterm.test")
    log.info("connected to %s", "DU1234567")
    log.warning("accounts U7654321, DF123456 and F1234567; broker I123456")
    try:
        raise RuntimeError("position for DU1234567 refused")
    except RuntimeError:
        log.exception("order failed on %s", "U7654321")
    text = path.read_text(encoding="utf-8")
    for raw in ("DU1234567", "U7654321", "DF123456", "F1234567", "I123456", "1234567",
                "7654321"):
        assert raw not in text
    assert "connected to DU…567" in text
    assert "U…321, DF…456 and F…567; broker I…456" in text
    assert "position for DU…567 refused" in text  # the traceback too


def test_mask_keeps_what_is_not_an_account() -> None:
    assert mask_accounts("AAPL 230.05 order 1234567 FUT ES 202612") == \
        "AAPL 230.05 order 1234567 FUT ES 202612"
    assert mask_accounts("'DU1234567'") == "'DU…567'"


def test_ib_async_info_stays_out_unless_debug(tmp_path: Path) -> None:
    path = log_to_file(tmp_path / "a", "INFO")
    logging.getLogger("ib_async.wrapper").info("position: AAPL 300")
    logging.getLogger("ib_async.client").warning("connection lost")
    text = path.read_text(encoding="utf-8")
    assert "position: AAPL 300" not in text and "connection lost" in text
    path = log_to_file(tmp_path / "b", "DEBUG")
    logging.getLogger("ib_async.wrapper").info("position: AAPL 300")
    assert "position: AAPL 300" in path.read_text(encoding="utf-8")


def test_crash_report_is_private_masked_and_never_overwritten() -> None:
    directory = data_dir()
    first = write_crash_report(directory, "Traceback: account DU1234567\n")
    second = write_crash_report(directory, "again U7654321\n")
    assert first != second
    for path in (first, second):
        assert re.fullmatch(r"crash-\d{8}-\d{6}(-\d+)?\.txt", path.name)
        assert path.parent == directory
        assert _mode(path) == 0o600
    assert _mode(directory) == 0o700
    assert first.read_text(encoding="utf-8") == "Traceback: account DU…567\n"
    assert second.read_text(encoding="utf-8") == "again U…321\n"
