from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibterm.domain.numbers import plain


@pytest.mark.parametrize(("value", "text"), [
    (21050.75, "21050.75"), (1_000_000.0, "1000000"), (1_234_567.0, "1234567"),
    (0.00005, "0.00005"), (-4.2, "-4.2"), (100.0, "100"), (0.0, "0"), (-0.0, "0"),
    (1.10, "1.1"), (1e-9, "0.000000001"), (123456789.125, "123456789.125"),
    (23001 * 0.01, "230.01"), (0.1 + 0.2, "0.3"), (12_500_000.0, "12500000"),
])
def test_exact_and_positional(value: float, text: str) -> None:
    assert plain(value) == text


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_reads_back_as_the_same_number_to_twelve_digits(value: float) -> None:
    text = plain(value)
    assert "e" not in text.lower()
    assert float(text) == pytest.approx(value, rel=1e-11, abs=1e-300)
