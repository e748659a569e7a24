"""User-supplied strings reach the terminal escaped: no bidi override, no escape sequence,
no screenful echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibterm.broker.journal import Journal, journal_path
from ibterm.cli.main import main
from ibterm.cli.printable import printable
from ibterm.config.settings import config_path, data_dir

RLO = "\u202e"
ESC = "\x1b"
HIDDEN = (RLO, ESC, "\u2066", "\u200f", "\x07", "\x9b")


def _clean(text: str) -> None:
    for ch in HIDDEN:
        assert ch not in text, repr(text)


def test_printable_escapes_controls_and_bidi_and_cuts() -> None:
    assert printable(f"paper{RLO}evil") == "paper\\u202eevil"
    assert printable(f"{ESC}]0;title\x07") == "\\x1b]0;title\\x07"
    assert printable("a\u2066b\u200fc\x9bd\u2028") == "a\\u2066b\\u200fc\\x9bd\\u2028"
    assert printable("ÉTÉ 東京 €") == "ÉTÉ 東京 €"  # letters of any script stay
    assert printable("x" * 500, limit=10) == "x" * 10 + "…"
    assert printable("x" * 500, limit=None) == "x" * 500


def _config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_profile_names_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    # YAML's "\e" and "\a" are ESC and BEL: a config can carry a terminal title sequence.
    _config('default_profile: paper\nprofiles:\n'
            f'  "pap{RLO}er": {{host: 127.0.0.1, port: 7497, client_id: 1, mode: paper}}\n'
            '  "\\e]0;pwned\\a": {host: 127.0.0.1, port: 7497, client_id: 2, mode: paper}\n')
    assert main(["--profile", f"live{RLO}"]) == 2
    err = capsys.readouterr().err
    _clean(err)
    assert "\\u202e" in err and "\\x1b]0;pwned\\x07" in err


def test_paths_in_errors_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"positions{RLO}vsc.csv"
    assert main(["risk", str(path)]) == 2
    err = capsys.readouterr().err
    _clean(err)
    assert "positions\\u202evsc.csv" in err


def test_csv_cells_are_escaped_and_short(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.csv"
    path.write_text("symbol,sec_type,quantity,price\n"
                    f"AAPL,{ESC}[2J{'S' * 5000},100,230\n", encoding="utf-8")
    assert main(["risk", str(path)]) == 2
    err = capsys.readouterr().err
    _clean(err)
    assert len(err) < 300


def test_journal_list_escapes_what_was_journaled(capsys: pytest.CaptureFixture[str]) -> None:
    journal = Journal(journal_path(data_dir()), f"pa{RLO}per")
    journal.record("intent", intent_id="a1", symbol=f"AAPL{ESC}[2J",
                   description=f"BUY{RLO} 10")
    journal.close()
    assert main(["journal", "list"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "AAPL\\x1b[2J" in out and "pa\\u202eper" in out


def test_config_check_escapes_the_paths_it_prints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil\u202elmay.yaml"
    path.write_text("profiles:\n  paper: {port: 7497}\ndefault_profile: paper\n")
    path.chmod(0o644)  # readable by others: a warning that names the path too
    assert main(["config", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "\u202e" not in out + err and "evil" in out and "evil" in err
