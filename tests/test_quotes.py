"""Quote flags: bad, crossed and zero quotes."""

from __future__ import annotations


def test_tick_flags() -> None:
    from ibterm.domain.quote import MarketDataType, Quote, tick_flag

    q = Quote(1, MarketDataType.LIVE, 0.0, bid=99.9, ask=100.1, last=100.0, close=98.0)
    assert tick_flag(q, None, 0.10) == ""
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=99.9, ask=100.1, last=1000.0),
                     100.0, 0.10) == "bad"
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=101.0, ask=100.0), 100.0,
                     0.10) == "crossed"
    assert tick_flag(Quote(1, MarketDataType.LIVE, 0.0, bid=0.0, ask=100.0), 100.0,
                     0.10) == "zero"
