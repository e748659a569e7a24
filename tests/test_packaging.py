"""The wheel lists its packages (pyproject maps keymaps/ and themes/ from outside src/),
so a new package under src/ must be added there: this test says which one is missing."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> set[str]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(setuptools["packages"])


def test_every_package_under_src_is_listed() -> None:
    src = ROOT / "src"
    found = {".".join(path.parent.relative_to(src).parts)
             for path in src.rglob("*.py") if "__pycache__" not in path.parts}
    assert found - _listed() == set()


def test_the_shipped_keymaps_and_themes_come_from_the_top_level_folders() -> None:
    for package, folder in (("ibterm.keymaps", "keymaps"), ("ibterm.themes", "themes")):
        shipped = sorted(p.name for p in resources.files(package).iterdir()
                         if p.name.endswith(".yaml"))
        on_disk = sorted(p.name for p in (ROOT / folder).glob("*.yaml"))
        assert shipped == on_disk and len(on_disk) >= 3
