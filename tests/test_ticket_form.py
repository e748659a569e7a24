"""The ticket's number fields: what a trader types, read exactly or refused by field."""

import math

import pytest

from ibterm.domain.combo import combo_instrument
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import ComboLeg, Side
from ibterm.domain.ticket_form import TicketError, TicketForm, build_spec, parse_number


@pytest.mark.parametrize(("text", "value"), [
    ("1,500", 1500.0), ("12,345,678.5", 12345678.5), (" 42 ", 42.0), ("230.05", 230.05),
    (".5", 0.5), ("1e3", 1000.0), ("-5", -5.0), ("", None), ("   ", None)])
def test_numbers_read(text: str, value: float | None) -> None:
    assert parse_number(text, "limit") == value


@pytest.mark.parametrize("text", ["1,5", "2,50", "1,50,000", "1_000", "0x10", "12x", "nan",
                                  "inf", "1e400", "1e13", "١٢٣"])
def test_numbers_refused_by_field(text: str) -> None:
    # A decimal comma is refused, never read as 15 or 250.
    with pytest.raises(TicketError) as err:
        parse_number(text, "limit")
    assert err.value.field == "limit"


def test_negative_zero_reads_as_plain_zero() -> None:
    # "-0" is zero, not a signed zero that prints as "-0" in a field.
    value = parse_number("-0", "quantity")
    assert value == 0 and math.copysign(1.0, value) == 1.0


AAPL = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")
ES = Instrument(1, "ES", SecType.FUT, "CME", "USD", multiplier=50, min_tick=0.25)


def _form(**fields: str) -> TicketForm:
    base = {"side": "BUY", "order_type": "LMT", "tif": "DAY", "quantity": "100",
            "limit": "230.05"}
    base.update(fields)
    return TicketForm(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"quantity": "1e-300"}, "quantity", "below one size increment (1)"),
    ({"quantity": "2e9"}, "quantity", "too large"),
    ({"quantity": "1e13"}, "quantity", "too large"),
    ({"limit": "1e-300"}, "limit", "below one tick (0.01)"),
    ({"limit": "0.001"}, "limit", "below one tick (0.01)"),
    ({"limit": "5e8"}, "limit", "too large"),
    ({"order_type": "STP", "stop": "1e-300"}, "stop", "below one tick (0.01)"),
    ({"order_type": "TRAIL", "trail": "1e-300"}, "trail", "below one tick (0.01)"),
    ({"order_type": "TRAIL", "trail": "1e-300%"}, "trail", "below 0.01%"),
    ({"order_type": "TRAIL", "trail": "1e9"}, "trail", "too large"),
])
def test_absurd_numbers_refused_with_the_field(fields: dict[str, str], field: str,
                                               words: str) -> None:
    with pytest.raises(TicketError) as err:
        build_spec(_form(**fields), AAPL)
    assert err.value.field == field and words in str(err.value)


def test_one_tick_is_the_instruments() -> None:
    # ES trades in quarters: 0.10 is below its tick, 0.25 is a price.
    with pytest.raises(TicketError, match=r"limit: below one tick \(0.25\)"):
        build_spec(_form(quantity="1", limit="0.1"), ES)
    assert build_spec(_form(quantity="1", limit="0.25"), ES).limit == 0.25
    # Real extremes stay orders: a BRK.A-sized price, a large FX size.
    assert build_spec(_form(limit="750000"), AAPL).limit == 750_000
    assert build_spec(_form(quantity="50,000,000"), AAPL).quantity == 50e6


def _condor_legs() -> tuple[ComboLeg, ...]:
    def option(con_id: int, strike: float) -> Instrument:
        return Instrument(con_id, "SPY", SecType.OPT, "SMART", "USD", multiplier=100,
                          expiry="20261218", strike=strike, right=Right.CALL)

    return (ComboLeg(option(11, 600), Side.SELL), ComboLeg(option(12, 610), Side.BUY))


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"limit": "0"}, "limit", "not zero"),
    ({"limit": ""}, "limit", "a limit price is required"),
    ({"limit": "-1e-300"}, "limit", "below one tick"),
    ({"limit": "-5e8"}, "limit", "too large"),
    ({"order_type": "STP", "stop": "1"}, "type", "LMT or MKT"),
    ({"quantity": "1.5"}, "quantity", "a whole number of combinations"),
])
def test_a_combinations_fields(fields: dict[str, str], field: str, words: str) -> None:
    legs = _condor_legs()
    with pytest.raises(TicketError) as err:
        build_spec(_form(**{"quantity": "2", "limit": "-1.20", **fields}),
                   combo_instrument(legs), legs)
    assert err.value.field == field and words in str(err.value)
    # A credit is a negative net price, kept with its legs.
    spec = build_spec(_form(quantity="2", limit="-1.20", tif="GTC"), combo_instrument(legs),
                      legs)
    assert (spec.limit, spec.quantity, spec.tif.value, spec.combo) == (-1.2, 2, "GTC", legs)
