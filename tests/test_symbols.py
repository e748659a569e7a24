"""The shared symbol grammar."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibterm.domain.instrument import InstrumentSpec, Right, SecType
from ibterm.domain.symbols import SymbolError, parse_symbol

ROOTS = {"ES", "NQ", "CL"}


@pytest.mark.parametrize(("text", "spec"), [
    ("AAPL", InstrumentSpec("AAPL", SecType.STK)),
    ("  aapl ", InstrumentSpec("AAPL", SecType.STK)),
    ("BRK.B", InstrumentSpec("BRK.B", SecType.STK)),
    ("ES", InstrumentSpec("ES", SecType.FUT)),
    ("ES 202612", InstrumentSpec("ES", SecType.FUT, expiry="202612")),
    ("SPY 20261218 450 C", InstrumentSpec("SPY", SecType.OPT, "20261218", 450.0, Right.CALL)),
    ("spy 20261218 452.5 put", InstrumentSpec("SPY", SecType.OPT, "20261218", 452.5, Right.PUT)),
    ("ES 20261218 6000 C", InstrumentSpec("ES", SecType.FOP, "20261218", 6000.0, Right.CALL)),
    ("EUR.USD", InstrumentSpec("EUR", SecType.CASH, exchange="IDEALPRO", currency="USD")),
])
def test_valid_symbols(text: str, spec: InstrumentSpec) -> None:
    assert parse_symbol(text, ROOTS) == spec


@pytest.mark.parametrize(("text", "column", "fragment"), [
    ("", 1, "empty"),
    ("ES 2026", 4, "contract month"),
    ("ES 202613", 4, "'202613' is not a valid date"),
    ("SPY 20261218 450", 14, "option is"),
    ("SPY 2026121 450 C", 5, "expiry"),
    ("SPY 20261218 abc C", 14, "strike"),
    ("SPY 20261218 -5 C", 14, "positive"),
    ("SPY 20261218 450 X", 18, "C or P"),
    ("EUR.USD 5", 9, "currency pair"),
    ("$$$", 1, "not a symbol"),
    ("SPY 20261218 1e-300 C", 14, "out of range"),
    ("SPY 20261218 0.00001 C", 14, "out of range"),
    ("SPY 20261218 1e308 C", 14, "out of range"),
    ("SPY 20261218 nan C", 14, "positive"),
    ("SPY 20261218 inf C", 14, "positive"),
    ("A" * 10_000, 1, "too long (10,000 characters, at most 64)"),
])
def test_errors_say_what_and_where(text: str, column: int, fragment: str) -> None:
    with pytest.raises(SymbolError) as info:
        parse_symbol(text, ROOTS)
    assert info.value.column == column
    assert fragment in info.value.message


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_symbol_error(text: str) -> None:
    try:
        spec = parse_symbol(text, ROOTS)
    except SymbolError:
        return
    assert spec.symbol


def test_display_round_trips_through_the_grammar() -> None:
    spec = InstrumentSpec("SPY", SecType.OPT, "20261218", 452.5, Right.PUT)
    assert parse_symbol(str(spec), ROOTS) == spec



@pytest.mark.parametrize("text", [
    "SPY 20261218 " + "9" * 40 + "x C",  # within the length cap, a long bad token
    "SPY 2026121" + "8" * 40 + " 450 C",
    "ES " + "2" * 50,
    "$" * 60,
])
def test_messages_quote_a_short_prefix(text: str) -> None:
    with pytest.raises(SymbolError) as info:
        parse_symbol(text, ROOTS)
    assert len(info.value.message) < 80, info.value.message
    assert "…" in info.value.message


def test_strikes_between_a_tick_and_ten_million() -> None:
    assert parse_symbol("JPY 20261218 0.0067 C", ROOTS).strike == 0.0067  # real: 6J options
    assert parse_symbol("SPX 20261218 10000000 C", ROOTS).strike == 10_000_000
    for text in ("1e-300", "0.00009", "10000001"):
        with pytest.raises(SymbolError, match="out of range"):
            parse_symbol(f"SPX 20261218 {text} C", ROOTS)
