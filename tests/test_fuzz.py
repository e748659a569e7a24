"""Bad input everywhere: random text and random YAML structures give a located error or a
result, never a crash."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibterm.config import yamlfile
from ibterm.config.keymaps import check_keymap
from ibterm.config.reference import futures_table
from ibterm.config.settings import Config
from ibterm.risk.portfolio import PortfolioErrors, load_portfolio
from ibterm.sim.protocol import FrameDecoder, FrameError
from ibterm.sim.world import load_scenario
from ibterm.tui.actions import action_registry, key_exists
from ibterm.tui.theme import check_theme_text

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
keys = st.sampled_from(["profiles", "default_profile", "port", "host", "watchlist", "name",
                        "bindings", "macros", "key", "action", "args", "instruments",
                        "accounts", "symbol", "price", "primary", "variables", "limits",
                        "x", "qty", "positions", "sec_type", "date", "mode"])
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)), max_leaves=20)
texts = st.one_of(st.text(max_size=200),
                  documents.map(lambda d: yaml.safe_dump(d, default_flow_style=False)))


def _write(text: str) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8")
    with handle:
        handle.write(text)
    return Path(handle.name)


@SETTINGS
@given(texts)
def test_config_loader(text: str) -> None:
    try:
        yamlfile.validate(Config, yamlfile.parse(text, "c.yaml"), "c.yaml")
    except yamlfile.FileProblems as exc:
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)


@SETTINGS
@given(texts)
def test_scenario_loader(text: str) -> None:
    path = _write(text)
    try:
        load_scenario(path, dt.date(2026, 11, 27))
    except yamlfile.FileProblems as exc:
        assert exc.problems
    finally:
        path.unlink()


@SETTINGS
@given(texts)
def test_keymap_checker(text: str) -> None:
    try:
        located = yamlfile.parse(text, "k.yaml")
    except yamlfile.FileProblems:
        return
    keymap, problems = check_keymap(located, "k.yaml", action_registry(), key_exists)
    assert (keymap is None) == bool(problems)


@SETTINGS
@given(texts)
def test_theme_checker(text: str) -> None:
    try:
        check_theme_text(text, "t.yaml")
    except yamlfile.FileProblems as exc:
        assert exc.problems


cells = st.one_of(st.text(max_size=10), st.sampled_from(
    ["AAPL", "SPY", "ES", "STK", "OPT", "FUT", "FOP", "C", "P", "100", "-5", "0.25",
     "20270115", "20261127", "abc", "", "1e9", "nan", "inf", "-0"]))


@SETTINGS
@given(st.lists(st.lists(cells, min_size=0, max_size=12), max_size=6),
       st.permutations(["symbol", "sec_type", "right", "strike", "expiry", "quantity", "price",
                        "underlying_price", "iv", "multiplier"]))
def test_risk_csv(rows: list[list[str]], header: list[str]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    path = _write(out.getvalue())
    try:
        load_portfolio(path, dt.date(2026, 11, 27), futures_table())
    except PortfolioErrors as exc:
        assert all(line.startswith(str(path)) for line in exc.lines)
    finally:
        path.unlink()


@SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_frame_decoder_on_garbage(chunks: list[bytes]) -> None:
    decoder = FrameDecoder()
    for chunk in chunks:
        try:
            messages: Any = decoder.feed(chunk)
        except FrameError:
            return  # the connection would be closed
        assert all(isinstance(m, list) for m in messages)


# --- the order ticket's fields -------------------------------------------------------
number_texts = st.one_of(
    st.text(max_size=14),
    st.floats().map(repr),
    st.sampled_from(["", " ", "1,500", "1e400", "-0", "nan", "inf", "-5", "0", "1_000",
                     "230.05", "0x10", "١٢٣", "99%", "-1%", "100%", "nan%", "1e13"]))


@SETTINGS
@given(side=st.sampled_from(["BUY", "SELL", "HOLD", ""]),
       order_type=st.sampled_from(["LMT", "MKT", "STP", "STP LMT", "TRAIL", "XYZ"]),
       tif=st.sampled_from(["DAY", "GTC", "IOC", "FOK?"]),
       quantity=number_texts, limit=number_texts, stop=number_texts, trail=number_texts)
def test_ticket_fields(side: str, order_type: str, tif: str, quantity: str, limit: str,
                       stop: str, trail: str) -> None:
    import math

    from ibterm.broker.checks import MarketView, check_intent
    from ibterm.config.settings import Profile
    from ibterm.domain.connection import TradingMode
    from ibterm.domain.instrument import Instrument, SecType
    from ibterm.domain.orders import OrderIntent, TradingState
    from ibterm.domain.quote import MarketDataType, Quote
    from ibterm.domain.ticket_form import TicketError, TicketForm, build_spec

    aapl = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")
    form = TicketForm(side, order_type, tif, quantity, limit, stop, trail)
    try:
        spec = build_spec(form, aapl)
    except TicketError as exc:
        assert exc.field in {"side", "type", "tif", "quantity", "limit", "stop", "trail"}
        return
    numbers = [spec.quantity, spec.limit, spec.stop, spec.trail_amount, spec.trail_percent]
    assert all(math.isfinite(n) and n > 0 for n in numbers if n is not None)
    # Whatever got through, the pre-trade checks judge it without failing.
    quote = Quote(265598, MarketDataType.LIVE, 0.0, bid=230.0, ask=230.01, last=230.0)
    view = MarketView({265598: quote}, {}, 1.0, 5.0, TradingState.ACTIVE, TradingMode.PAPER)
    results = check_intent(OrderIntent((spec,)), Profile(), view)
    assert results
