"""The command imports the TUI only inside the subcommands that run it, so `ibterm keys`,
`ibterm config` and the checks start without loading Textual. The import contracts
([tool.importlinter] in pyproject.toml) let cli import tui; they cannot tell a lazy import
from a top-level one, so this asks a fresh interpreter what importing the command loads."""

from __future__ import annotations

import subprocess
import sys

PRINT_LOADED = "import sys, ibterm.cli; print('\\n'.join(sys.modules))"


def test_importing_the_command_loads_neither_textual_nor_the_tui() -> None:
    loaded = subprocess.run([sys.executable, "-c", PRINT_LOADED], capture_output=True,
                            text=True, check=True).stdout.split()
    assert [m for m in loaded if m.startswith(("textual", "ibterm.tui"))] == []
