"""The ticket's number fields: what a trader types, read exactly or refused by field."""

import pytest

from ibterm.domain.ticket_form import TicketError, parse_number


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
