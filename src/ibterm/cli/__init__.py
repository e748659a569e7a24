"""The command line: `ibterm` and its subcommands (main.py), the file checks behind
`ibterm keys | themes | config` (checks.py), and escaping of what it prints (printable.py)."""

from ibterm.cli.main import main

__all__ = ["main"]
