"""docs/keymaps.md lists every action id with its scope, default keys and description,
exactly as the app has them: a key added or moved in the code shows up here as a failure
whose message is the table to paste."""

from __future__ import annotations

from pathlib import Path

from ibterm.tui.actions import action_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "keymaps.md"
HEADER = "| Id | Scope | Default keys | Description |"


def expected_rows() -> list[str]:
    rows = []
    for info in sorted(action_registry().values(), key=lambda a: a.id):
        keys = ", ".join(f"`{k.strip()}`" for k in info.keys.split(","))
        rows.append(f"| `{info.id}` | {info.scope} | {keys} | {info.description} |")
    return rows


def documented_rows() -> list[str]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2  # the header and its rule
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_action_table_in_the_docs_is_the_apps() -> None:
    expected = expected_rows()
    assert documented_rows() == expected, "docs/keymaps.md should read:\n" + "\n".join(expected)
