"""The `ibterm` command. Exit codes: 0 success, 1 a check found problems, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibterm import __version__
from ibterm.files.logs import LEVELS

if TYPE_CHECKING:
    from ibterm.risk.portfolio import Row

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

NO_CONFIG = """\
ibterm: no configuration at {path}

Create it with a profile for your TWS or IB Gateway, for example:

    default_profile: paper
    profiles:
      paper:
        host: 127.0.0.1
        port: 7497        # TWS paper; 4002 for IB Gateway paper
        client_id: 1
        mode: paper

(Enable the API in TWS: Global Configuration > API > Settings.) See docs/config.md.
To look around first, run the app against its built-in simulator:  ibterm demo
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ibterm", description="A terminal trading "
                                     "workstation for Interactive Brokers.")
    parser.add_argument("--version", action="version", version=f"ibterm {__version__}")
    parser.add_argument("--profile", help="the config profile to connect with")
    parser.add_argument("--log-level", choices=LEVELS, help="diagnostic log level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="the app against an embedded gateway simulator")
    demo.add_argument("--seed", type=int, default=None,
                      help="simulator seed (default: the scenario's seed, else 0)")
    demo.add_argument("--scenario", type=Path, help="simulator scenario file")

    journal = sub.add_parser("journal", help="the order audit journal")
    jsub = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    jlist = jsub.add_parser("list", help="list journal events")
    jlist.add_argument("--since", type=_date, help="from this date (YYYY-MM-DD)")
    jlist.add_argument("--symbol", help="only this instrument (as displayed, e.g. 'ES 202612')")
    jlist.add_argument("--profile", dest="journal_profile", help="only this profile")
    jexport = jsub.add_parser("export", help="export the journal")
    jexport.add_argument("--format", choices=("csv", "parquet"), required=True)
    jexport.add_argument("--out", type=Path, required=True, help="output file")
    jsub.add_parser("set-aside", help="rename a damaged journal (and its -wal/-shm) to "
                    "journal.sqlite3.corrupt-DATE-TIME, so a new one starts; deletes nothing")

    risk = sub.add_parser("risk", help="margin and stress report for a portfolio CSV")
    risk.add_argument("positions", type=Path, metavar="POSITIONS.csv")
    risk.add_argument("--json", action="store_true", help="one JSON object on stdout")
    risk.add_argument("--as-of", type=_yyyymmdd, help="YYYYMMDD (default today)")
    risk.add_argument("--rate", type=float, default=0.04, help="risk-free rate (default 0.04)")
    risk.add_argument("--intraday", action="store_true",
                      help="futures at intraday margins (default: overnight)")
    risk.add_argument("--equity", type=float, metavar="DOLLARS",
                      help="account equity (net liquidation value): shows the liquidation "
                           "estimate, and adds it to --json under 'liquidation'")

    keys = sub.add_parser("keys", help="keymaps: list the keys, check a keymap file")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    ksub.add_parser("list", help="every action id, its keys in the active keymap, what it does")
    kcheck = ksub.add_parser("check", help="check a keymap file (exit 1 on any problem)")
    kcheck.add_argument("file", type=Path)

    themes = sub.add_parser("themes", help="themes: list them, check a theme file")
    tsub = themes.add_subparsers(dest="themes_command", metavar="ACTION", required=True)
    tsub.add_parser("list", help="every theme, one a line")
    tcheck = tsub.add_parser("check", help="check a theme file (exit 1 on any problem)")
    tcheck.add_argument("file", type=Path)

    config = sub.add_parser("config", help="check the config, print its JSON schema")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    ccheck = csub.add_parser("check", help="check a config file (default: the active one)")
    ccheck.add_argument("file", type=Path, nargs="?")
    csub.add_parser("schema", help="the JSON schema of the config file, for editors")

    sim = sub.add_parser("sim", help="run the gateway simulator in the foreground")
    sim.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=7497, help="port; 0 picks a free one")
    sim.add_argument("--seed", type=int, default=None,
                     help="random seed (default: the scenario's seed, else 0)")
    sim.add_argument("--scenario", type=Path, help="scenario YAML (docs/simulator.md)")
    sim.add_argument("--control-token", action="store_true",
                     help="require a random control-endpoint token, shown on stderr "
                          "($IBTERM_SIM_CONTROL_TOKEN sets it instead)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sim":
            return _run_sim(args)
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "journal":
            return _run_journal(args)
        if args.command == "risk":
            return _run_risk(args)
        if args.command in ("keys", "themes", "config"):
            from ibterm.cli import checks

            return checks.run(args)
        return _run_app(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # `ibterm keys list | head`
        sys.stderr.close()
        return EXIT_OK


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _yyyymmdd(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYYMMDD): {text!r}") from None


def _run_risk(args: argparse.Namespace) -> int:
    import json
    import math
    import warnings

    from rich.console import Console

    from ibterm.config.reference import futures_table
    from ibterm.config.yamlfile import FileProblems
    from ibterm.risk.portfolio import MAX_NOTIONAL, PortfolioErrors, read_portfolio
    from ibterm.risk.report import analyse, print_report
    from ibterm.risk.settings import load_settings

    if not -0.05 <= args.rate <= 0.5:
        return _error(f"--rate {args.rate} is not a plausible rate (a decimal: 0.04)")
    if args.equity is not None and not (math.isfinite(args.equity) and args.equity >= 0):
        return _error(f"--equity {args.equity} must be a dollar amount, zero or more")
    if args.equity is not None and args.equity > MAX_NOTIONAL:
        return _error(f"--equity {args.equity:g} is more than {MAX_NOTIONAL:g} dollars")
    as_of = args.as_of or dt.date.today()
    try:
        settings = load_settings(intraday=args.intraday)
    except FileProblems as exc:
        for problem in exc.problems:
            _say(problem)
        return EXIT_USAGE
    try:
        portfolio = read_portfolio(args.positions, as_of, futures_table())
        with warnings.catch_warnings():
            # numpy's overflow warnings are not the contract's PATH:LINE lines; an
            # overflow is caught below as a non-finite figure and reported as such.
            warnings.simplefilter("ignore", RuntimeWarning)
            analysis = analyse(portfolio.rows, as_of, args.rate, settings,
                               accounts=portfolio.has_accounts, equity=args.equity)
    except PortfolioErrors as exc:
        for message in exc.lines:
            _say(message if message.startswith(str(args.positions))
                 else f"{args.positions}:{message}")
        return EXIT_USAGE
    bad = [*_non_finite(analysis.report, ()),
           *_non_finite({"correlated_worst_loss": analysis.correlated_worst_loss,
                         "liquidation": analysis.liquidation}, ())]
    if bad:
        # The reader's bounds should make this impossible; if a calculation still ends
        # in inf/NaN, say so rather than print a figure that means nothing (or JSON's
        # non-standard Infinity), and point at the rows it came from: those behind a
        # strategy or an underlying, every row only when nothing narrower is bad.
        blamed: dict[int, str] = {}
        for where, value in bad:
            lines = _rows_behind(where, analysis.report, portfolio.rows)
            if lines is not None:
                for line in lines:
                    blamed.setdefault(line, f"{'.'.join(map(str, where))} ({value})")
        if not blamed:
            where, value = bad[0]
            blamed = {r.line: f"{'.'.join(map(str, where))} ({value})"
                      for r in portfolio.rows}
        for line, figure in sorted(blamed.items()):
            _say(f"{args.positions}:{line}: the report's {figure} is not a finite "
                 "number: values too large to compute with; no report")
        return EXIT_USAGE
    if args.json:
        print(json.dumps(analysis.report, allow_nan=False))
    else:
        print_report(analysis, Console(), settings)
    return EXIT_OK


Where = tuple[str | int, ...]


def _non_finite(value: object, where: Where) -> list[tuple[Where, float]]:
    """Every float in a report (dicts, lists, dataclasses) that is inf or NaN."""
    import dataclasses
    import math

    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, value)]
    if isinstance(value, dict):
        items: list[tuple[str | int, object]] = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    else:
        return []
    return [found for key, item in items for found in _non_finite(item, (*where, key))]


def _rows_behind(where: Where, report: dict[str, Any], rows: list[Row]) -> list[int] | None:
    """The CSV lines a report figure comes from: a strategy's legs, an underlying's or an
    account's rows; None for a total (it comes from every row)."""
    if where[:1] == ("strategies",) and len(where) > 1 and isinstance(where[1], int):
        return [leg["line"] for leg in report["strategies"][where[1]]["legs"]] or None
    key: object = None
    if where[:2] == ("stress", "grid") and len(where) > 2 and isinstance(where[2], int):
        key = report["stress"]["grid"][where[2]]["underlying"]
    elif len(where) > 1 and where[-2] in ("by_underlying", "accounts"):
        key = where[-1]
    elif where[:1] == ("accounts",) and len(where) > 1:
        key = where[1]
    return [r.line for r in rows if key is not None and key in (r.symbol, r.account)] or None


SET_ASIDE_HINT = """\
ibterm: nothing was changed. To keep the damaged journal and start a new one, run
    ibterm journal set-aside
which renames {name} (and its -wal/-shm files) to {name}.corrupt-YYYYmmdd-HHMMSS in
{folder}; nothing is deleted, and SQLite's recovery tools can still read it there.
"""


def _journal_corrupt(exc: Exception) -> int:
    """A damaged journal: what and where, and how to start afresh without losing it."""
    from ibterm.broker.journal import JournalCorrupt

    assert isinstance(exc, JournalCorrupt)
    _say(f"ibterm: {exc.path}: the order journal is damaged ({exc.reason})")
    sys.stderr.write(SET_ASIDE_HINT.format(name=_safe(exc.path.name),
                                           folder=_safe(exc.path.parent)))
    return EXIT_USAGE


def _open_journal(profile_name: str, synchronous: str = "NORMAL"):  # type: ignore[no-untyped-def]
    """The app's journal, or an exit code when it is damaged: at a terminal we offer to
    set it aside and start a new one; otherwise (a script, a service) we change nothing
    and say how."""
    from ibterm.broker.journal import Journal, JournalCorrupt, journal_path, set_aside
    from ibterm.config.settings import data_dir

    path = journal_path(data_dir())
    try:
        return Journal(path, profile_name, synchronous)
    except JournalCorrupt as exc:
        if not sys.stdin.isatty():
            return _journal_corrupt(exc)
        _say(f"ibterm: {exc.path}: the order journal is damaged ({exc.reason})")
        try:
            answer = input(f"Rename it to {path.name}.corrupt-<date>-<time> (nothing is "
                           "deleted) and start a new journal? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            sys.stderr.write(SET_ASIDE_HINT.format(name=_safe(path.name),
                                                   folder=_safe(path.parent)))
            return EXIT_USAGE
        moved = set_aside(path)
        _say(f"ibterm: the damaged journal is now {moved}; starting a new one")
        return Journal(path, profile_name, synchronous)


def _run_journal(args: argparse.Namespace) -> int:
    from ibterm.broker.journal import JournalCorrupt, journal_path
    from ibterm.config.settings import data_dir

    path = journal_path(data_dir())
    if not path.exists():
        return _error(f"no journal at {path} (nothing has been traded with this data "
                      "directory)")
    try:
        if args.journal_command == "set-aside":
            return _journal_set_aside(path)
        return _journal_list(args, path) if args.journal_command == "list" else \
            _journal_export(args, path)
    except JournalCorrupt as exc:
        return _journal_corrupt(exc)


def _journal_set_aside(path: Path) -> int:
    from ibterm.broker.journal import JournalCorrupt, check_readable, set_aside

    try:
        check_readable(path)
    except JournalCorrupt:
        moved = set_aside(path)
        _say(f"ibterm: the damaged journal is now {moved}; the next start makes a new one")
        return EXIT_OK
    # Only a damaged journal is moved: a healthy one set aside by mistake would look
    # like a lost day of orders to reconciliation.
    return _error(f"the journal at {path} is readable: nothing to set aside")


def _journal_list(args: argparse.Namespace, path: Path) -> int:
    from ibterm.broker.journal import read_events

    # Collected first: a journal damaged part way through must not leave half a listing
    # on stdout with exit 2.
    lines = []
    for e in read_events(path, since=args.since, symbol=args.symbol,
                         profile=args.journal_profile):
        details = " ".join(f"{k}={v}" for k, v in e.data.items())
        lines.append(f"{e.ts} {e.profile} {e.kind:<10} {e.symbol or '-':<12} "
                     f"{e.order_ref or e.intent_id or '-'} {details}".rstrip())
    for line in lines:
        print(_safe(line, None))  # the journal's symbols and notes are what users typed
    return EXIT_OK


def _journal_export(args: argparse.Namespace, path: Path) -> int:
    import json

    import polars as pl

    from ibterm.broker.journal import read_events

    rows = [{"seq": e.seq, "ts": e.ts, "profile": e.profile, "kind": e.kind,
             "intent_id": e.intent_id, "order_ref": e.order_ref, "symbol": e.symbol,
             "data": json.dumps(e.data, sort_keys=True)} for e in read_events(path)]
    frame = pl.DataFrame(rows, schema={"seq": pl.Int64, "ts": pl.String, "profile": pl.String,
                                       "kind": pl.String, "intent_id": pl.String,
                                       "order_ref": pl.String, "symbol": pl.String,
                                       "data": pl.String})
    from ibterm.files.private import replace_private

    try:
        # The export holds the account's orders like the journal: 0600, and written
        # beside the target then renamed, so a failed export leaves an old file whole.
        with replace_private(args.out) as tmp:
            if args.format == "csv":
                frame.write_csv(tmp)
            else:
                frame.write_parquet(tmp)
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc.strerror or exc}")
    _say(f"{len(rows)} events written to {args.out}")
    return EXIT_OK


MESSAGE_LIMIT = 500  # characters of one stderr line: a path and a short quote fit


def _safe(text: object, limit: int | None = MESSAGE_LIMIT) -> str:
    """Every user-supplied string (profile names, symbols, paths, cells, journal rows)
    the CLI prints goes through here: control and bidi characters escaped, so a name
    with U+202E or an escape sequence cannot rewrite the terminal; long text cut."""
    from ibterm.cli.printable import printable

    return printable(text, limit)


def _say(line: object) -> None:
    """One line to stderr, made safe as a whole (_safe)."""
    print(_safe(line), file=sys.stderr)


def _say_problems(exc: Exception) -> None:
    """A yamlfile.FileProblems, one located problem a line."""
    for problem in getattr(exc, "problems", [exc]):
        _say(problem)


def _private_data_dir() -> None:
    """Make the data directory private, saying on stderr (before the TUI takes the
    terminal; the log is inside the directory) when it is shared and we leave it so."""
    from ibterm.config.settings import data_dir
    from ibterm.files.private import private_dir

    for warning in private_dir(data_dir()):
        _say(f"ibterm: warning: {warning}")


def _error(message: str) -> int:
    _say(f"ibterm: {message}")
    return EXIT_USAGE


def _load_scenario(path: Path | None):  # type: ignore[no-untyped-def]
    from ibterm.sim.scenario import Scenario
    from ibterm.sim.world import load_scenario

    return load_scenario(path) if path is not None else Scenario()


def _run_sim(args: argparse.Namespace) -> int:
    from ibterm.config import yamlfile
    from ibterm.files.logs import log_to_stderr
    from ibterm.sim.runner import address_in_use, serve_foreground
    from ibterm.sim.server import SimServer, check_loopback

    log_to_stderr(args.log_level or "WARNING")
    if not 0 <= args.port <= 65535:
        return _error(f"--port must be 0..65535, not {args.port}")
    try:
        check_loopback(args.host)
    except ValueError as exc:
        return _error(str(exc))
    try:
        scenario = _load_scenario(args.scenario)
    except yamlfile.FileProblems as exc:
        _say_problems(exc)
        return EXIT_USAGE
    server = SimServer(scenario, seed=args.seed, host=args.host, port=args.port)
    try:
        asyncio.run(serve_foreground(server, generate_token=args.control_token))
    except OSError as exc:
        if address_in_use(exc):
            return _error(f"cannot listen on {args.host}:{args.port}: address already in use")
        return _error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return EXIT_OK


def _run_demo(args: argparse.Namespace) -> int:
    from ibterm.config import yamlfile
    from ibterm.config.settings import MAX_MARKET_DATA_LINES, data_dir, demo_profile
    from ibterm.domain.connection import TradingMode
    from ibterm.files.logs import log_to_file
    from ibterm.sim.runner import SimulatorThread

    try:
        scenario = _load_scenario(args.scenario)
    except yamlfile.FileProblems as exc:
        _say_problems(exc)
        return EXIT_USAGE
    _private_data_dir()
    log_to_file(data_dir(), args.log_level or "INFO")
    journal = _open_journal("demo")
    if isinstance(journal, int):
        return journal
    sim = SimulatorThread(scenario, seed=args.seed, today=dt.date.today())
    port = sim.start()
    # The demo watches what its simulated world lists (futures: the front month).
    watchlist = [d.symbol.upper() for d in scenario.instruments]
    # The login's lines are the world's; a world without a limit (0) has the most a
    # profile may count.
    lines = scenario.market_data_lines or MAX_MARKET_DATA_LINES
    try:
        return _run_tui(demo_profile(port, watchlist, lines), "demo", TradingMode.DEMO, journal)
    finally:
        sim.stop()


def _run_app(args: argparse.Namespace) -> int:
    from ibterm.config import yamlfile
    from ibterm.config.settings import config_path, data_dir, load_config, select_profile
    from ibterm.files.logs import log_to_file

    path = config_path()
    if not path.exists():
        sys.stderr.write(NO_CONFIG.format(path=_safe(path)))
        if sys.stdin.isatty() and sys.stdout.isatty():
            answer = input("Start the demo now? [Y/n] ").strip().lower()
            if answer in ("", "y", "yes"):
                return _run_demo(argparse.Namespace(seed=None, scenario=None,
                                                    log_level=args.log_level))
        return EXIT_USAGE
    try:
        config = load_config(path)
        name, profile = select_profile(config, args.profile)
    except yamlfile.FileProblems as exc:
        _say_problems(exc)
        return EXIT_USAGE
    except KeyError as exc:
        return _error(str(exc.args[0]))
    from ibterm.cli import checks

    warnings = checks.profile_warnings(path, config)
    for warning in warnings:
        _say(f"ibterm: warning: {warning}")
    try:
        keymap = checks.active_keymap(profile)
    except yamlfile.FileProblems as exc:
        _say_problems(exc)
        return EXIT_USAGE
    _private_data_dir()
    log_to_file(data_dir(), args.log_level or config.log_level)
    journal = _open_journal(name, config.journal_sync)
    if isinstance(journal, int):
        return journal
    return _run_tui(profile, name, profile.mode, journal, keymap, path, warnings)


def _run_tui(profile, name: str, mode, journal,  # type: ignore[no-untyped-def]
             keymap=None, config_file: Path | None = None,
             warnings: list[str] | None = None) -> int:
    from ibterm.broker.session import BrokerSession
    from ibterm.risk import parallel
    from ibterm.tui.app import IbtermApp

    # No second process forked from the app: it runs Textual's threads and an event loop
    # (a lock another thread holds at the fork stays held in the child), its books are
    # small, and the second core is the UI's. The embedded simulator's margin too.
    parallel.configure(enabled=False)
    session = BrokerSession(profile, name, mode)
    IbtermApp(session, journal=journal, keymap=keymap, config_file=config_file,
              warnings=warnings).run()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
