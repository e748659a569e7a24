"""The layer rule: only tui/ may import Textual, and tui/ never imports ib_async."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ibterm"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found



NON_TUI = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "tui"]
TUI = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] == "tui"]


def test_the_tree_has_both_sides() -> None:
    assert len(NON_TUI) > 10 and len(TUI) > 3


@pytest.mark.parametrize("path", NON_TUI, ids=lambda p: str(p.relative_to(SRC)))
def test_non_tui_modules_never_import_textual(path: Path) -> None:
    if path.name == "cli.py":
        # The entry point imports the app lazily, inside the command that runs it.
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(m.startswith(("textual", "ibterm.tui")) for m in top)
        return
    assert "textual" not in _imports(path)


@pytest.mark.parametrize("path", TUI, ids=lambda p: str(p.relative_to(SRC)))
def test_tui_never_imports_ib_async(path: Path) -> None:
    assert "ib_async" not in _imports(path)


@pytest.mark.parametrize("path", [p for p in NON_TUI if p.relative_to(SRC).parts[0] == "domain"],
                         ids=lambda p: str(p.relative_to(SRC)))
def test_domain_is_pure(path: Path) -> None:
    """Domain holds dataclasses and rules: no broker, no I/O libraries."""
    assert not _imports(path) & {"ib_async", "textual", "yaml", "polars", "asyncio", "pydantic"}
