"""A combination (BAG) order's checks, as pure functions of the order, the legs' quotes
and the profile: the market built from the legs, size per combination and per leg, value,
deviation from the legs' mid, and a leg whose quote cannot price it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ibterm.broker.checks import MarketView, check_intent
from ibterm.config.settings import ComboLimits, Limits, OrderLimits, Profile
from ibterm.domain.combo import combo_con_id, combo_instrument, combo_market, combo_problem
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import (
    ComboLeg,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TradingState,
)
from ibterm.domain.quote import MarketDataType, Quote

NOW = 1000.0


def _call(strike: float, con_id: int) -> Instrument:
    return Instrument(con_id=con_id, symbol="SPY", sec_type=SecType.OPT, exchange="SMART",
                      currency="USD", multiplier=100, min_tick=0.01, expiry="20261218",
                      strike=strike, right=Right.CALL)


LOW, HIGH = _call(600, 1001), _call(610, 1002)
VERTICAL = (ComboLeg(LOW, Side.BUY), ComboLeg(HIGH, Side.SELL))


def _quote(con_id: int, bid: float, ask: float, **changes: Any) -> Quote:
    base = Quote(con_id=con_id, data_type=MarketDataType.LIVE, updated_at=NOW, bid=bid,
                 ask=ask)
    return replace(base, **changes)


QUOTES = {1001: _quote(1001, 12.00, 12.20), 1002: _quote(1002, 7.00, 7.10)}


def _view(quotes: dict[int, Quote] | None = None, **changes: Any) -> MarketView:
    base = MarketView(quotes=QUOTES if quotes is None else quotes, positions={}, now=NOW,
                      stale_after=10, state=TradingState.ACTIVE, mode=TradingMode.PAPER,
                      accounts=("DU1234567",))
    return replace(base, **changes)


def _combo(limit: float | None = 5.0, qty: float = 1, legs: tuple[ComboLeg, ...] = VERTICAL,
           side: Side = Side.BUY, **changes: Any) -> OrderIntent:
    spec = OrderSpec(combo_instrument(legs), side, qty,
                     OrderType.LMT if limit is not None else OrderType.MKT, limit=limit,
                     combo=legs, **changes)
    return OrderIntent((spec,))


def _results(intent: OrderIntent, profile: Profile | None = None,
             view: MarketView | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for c in check_intent(intent, profile or Profile(), view or _view()):
        found.setdefault(c.check, []).append(f"{c.severity.value}: {c.message}")
    return found


def test_the_market_of_a_vertical_from_its_legs() -> None:
    market = combo_market(VERTICAL, QUOTES)
    assert market is not None
    # Buying: pay the lower call's ask, get the higher call's bid; selling: the reverse.
    assert (market.bid, market.ask) == (4.90, 5.20)
    assert market.mid == pytest.approx(5.05) and market.natural(Side.BUY) == 5.20
    credit = (ComboLeg(LOW, Side.SELL), ComboLeg(HIGH, Side.BUY))
    sold = combo_market(credit, QUOTES)
    assert sold is not None and (sold.bid, sold.ask) == (-5.20, -4.90)
    ratio = (ComboLeg(LOW, Side.BUY), ComboLeg(HIGH, Side.SELL, ratio=2))
    assert combo_market(ratio, QUOTES) == type(market)(bid=-2.20, ask=-1.80)
    assert combo_market(VERTICAL, {1001: QUOTES[1001]}) is None  # a leg without a quote
    one_sided = {**QUOTES, 1002: replace(QUOTES[1002], ask=None)}
    assert combo_market(VERTICAL, one_sided) is None


def test_a_combination_is_named_by_its_legs_and_keeps_one_id() -> None:
    spec = _combo(4.2).legs[0]
    assert spec.describe() == ("BUY 1 SPY combo (BUY 1 SPY 20261218 600 C + SELL 1 SPY "
                               "20261218 610 C) LMT limit 4.2 debit DAY")
    assert "limit -1.2 credit" in _combo(-1.2).legs[0].describe()
    sold = replace(spec, side=Side.SELL)
    assert [sold.leg_side(leg) for leg in VERTICAL] == [Side.SELL, Side.BUY]
    inst = spec.instrument
    assert (inst.symbol, inst.multiplier, inst.currency, spec.display) == (
        "SPY", 100, "USD", "SPY combo")
    assert inst.con_id == combo_con_id(VERTICAL) < 0  # never a real conId, same each run
    assert combo_con_id(VERTICAL[::-1]) != inst.con_id


def test_legs_that_cannot_be_one_combination() -> None:
    assert combo_problem(VERTICAL) == ""
    assert "two legs" in combo_problem(VERTICAL[:1])
    assert "two legs" in combo_problem(())
    assert "appears in two legs" in combo_problem((VERTICAL[0], ComboLeg(LOW, Side.SELL)))
    qqq = replace(HIGH, symbol="QQQ", con_id=2001)
    assert "one underlying" in combo_problem((VERTICAL[0], ComboLeg(qqq, Side.SELL)))
    stock = Instrument(con_id=756733, symbol="SPY", sec_type=SecType.STK, exchange="SMART",
                       currency="USD")
    assert combo_problem((ComboLeg(stock, Side.BUY, 100), VERTICAL[1])) == ""  # buy-write
    mini = replace(HIGH, con_id=1003, multiplier=10)
    assert "multipliers 10 and 100" in combo_problem((VERTICAL[0], ComboLeg(mini, Side.SELL)))
    assert "ratio" in combo_problem((VERTICAL[0], ComboLeg(HIGH, Side.SELL, ratio=0)))
    assert _results(_combo(legs=VERTICAL[:1]))["combo"][0].startswith("block")


def test_a_clean_debit_and_a_clean_credit_pass() -> None:
    assert _results(_combo(5.05)) == {"all": ["ok: all checks passed"]}
    credit = (ComboLeg(LOW, Side.SELL), ComboLeg(HIGH, Side.BUY))
    assert _results(_combo(-5.05, legs=credit)) == {"all": ["ok: all checks passed"]}
    assert _results(_combo(None)) == {"all": ["ok: all checks passed"]}  # MKT


@pytest.mark.parametrize(("problem", "words"), [
    ({"data_type": MarketDataType.DELAYED}, "delayed"),
    ({"updated_at": NOW - 60}, "stale (60s old)"),
    ({"flag": "bad"}, "bad tick"),
    ({"bid": None}, "one-sided"),
])
def test_a_leg_whose_quote_cannot_price_the_combination_blocks(problem: dict[str, Any],
                                                               words: str) -> None:
    quotes = {**QUOTES, 1002: replace(QUOTES[1002], **problem)}
    [message] = _results(_combo(5.05), view=_view(quotes))["quote"]
    assert message.startswith("block: leg 2 (SPY 20261218 610 C): the quote is ")
    assert words in message
    missing = _results(_combo(5.05), view=_view({1002: QUOTES[1002]}))["quote"]
    assert missing == ["block: leg 1 (SPY 20261218 600 C): the quote is missing: a "
                       "combination is priced from every leg's live quote"]


def test_size_per_combination_and_per_leg() -> None:
    # 30 combinations: within the 50 of options; a 1x2 ratio's second leg trades 60.
    ratio = (ComboLeg(LOW, Side.BUY), ComboLeg(HIGH, Side.SELL, ratio=2))
    found = _results(_combo(-2.0, qty=30, legs=ratio), profile=Profile(
        limits=Limits(max_order_value=10_000_000)))
    assert found["size"] == ["breach: leg 2 (SPY 20261218 610 C): size 60 is over the limit "
                             "of 50"]
    found = _results(_combo(5.05, qty=60),
                     profile=Profile(limits=Limits(max_order_value=10_000_000)))
    assert found["size"][0] == "breach: size 60 is over the limit of 50 combinations"
    assert len(found["size"]) == 3  # the combination, and each of its legs
    own = Profile(limits=Limits(combo=ComboLimits(max_order_size=5),
                                max_order_value=10_000_000))
    assert _results(_combo(5.05, qty=6), profile=own)["size"] == [
        "breach: size 6 is over the limit of 5 combinations"]


def test_value_is_the_net_price_times_multiplier_and_quantity() -> None:
    # |-5.05| x 100 x 10 = 5,050: over a 5,000 limit, whether a debit or a credit.
    limits = Limits(by_sec_type={SecType.OPT: OrderLimits(max_order_value=5_000)})
    credit = (ComboLeg(LOW, Side.SELL), ComboLeg(HIGH, Side.BUY))
    for intent in (_combo(5.05, qty=10), _combo(-5.05, qty=10, legs=credit)):
        assert _results(intent, profile=Profile(limits=limits))["value"] == [
            "breach: value 5,050 is over the limit of 5,000"]
    assert "value" not in _results(_combo(5.05, qty=9), profile=Profile(limits=limits))
    # A market order is valued at the legs' natural price: 5.20 x 100 x 10.
    assert _results(_combo(None, qty=10), profile=Profile(limits=limits))["value"] == [
        "breach: value 5,200 is over the limit of 5,000"]
    own = Profile(limits=Limits(combo=ComboLimits(max_order_value=400)))
    assert "value" in _results(_combo(5.05), profile=own)


def test_deviation_is_measured_from_the_legs_mid() -> None:
    # Mid 5.05, the legs' market 4.90 to 5.20: the default 3% of the mid is 0.15.
    for inside in (4.90, 5.05, 5.20):
        assert "deviation" not in _results(_combo(inside))
    [message] = _results(_combo(5.50))["deviation"]
    assert message == ("breach: limit 5.5 is 0.45 from the legs' mid 5.05, more than 3% of "
                       "it and outside the legs' market 4.9 to 5.2")
    # The classic fat finger: a credit spread entered as a debit.
    credit = (ComboLeg(LOW, Side.SELL), ComboLeg(HIGH, Side.BUY))
    assert "deviation" in _results(_combo(5.05, legs=credit))
    own = Profile(limits=Limits(combo=ComboLimits(max_price_deviation=0.2)))
    assert "deviation" not in _results(_combo(5.50), profile=own)


def test_validation_state_and_positions() -> None:
    assert _results(_combo(5.055))["tick"] == [
        "breach: limit 5.055 is not on the 0.01 tick: override to send it at 5.05 (rounded "
        "in your favour)"]
    assert "block" in _results(_combo(0.0))["price"][0]
    assert "block" in _results(_combo(1.5, qty=1.5))["quantity"][0]
    stop = replace(_combo(5.05).legs[0], order_type=OrderType.STP, stop=5.0, limit=None)
    assert _results(OrderIntent((stop,)))["price"] == ["block: a combination is LMT or MKT"]
    assert "read-only" in _results(_combo(5.05), profile=Profile(read_only=True))
    stocks_only = Profile(allowed_sec_types=[SecType.STK])
    assert len(_results(_combo(5.05), profile=stocks_only)["scope"]) == 2
    live = _view(accounts=("U7654321",))
    assert "account-mode" in _results(_combo(5.05), view=live)
    assert "state" in _results(_combo(5.05), view=_view(state=TradingState.HALTED))
    # REDUCING: only when every leg reduces (long the 600s, short the 610s: sold back).
    reducing = _view(state=TradingState.REDUCING, positions={1001: 2, 1002: -2})
    assert "state" in _results(_combo(5.05), view=reducing)
    sell = replace(_combo(5.05).legs[0], side=Side.SELL)
    assert "state" not in _results(OrderIntent((sell,)), view=reducing)
    capped = Profile(limits=Limits(max_position=1))
    assert _results(_combo(5.05, qty=2), profile=capped)["position"] == [
        "block: leg 1 (SPY 20261218 600 C): position would be 2, over the limit of 1",
        "block: leg 2 (SPY 20261218 610 C): position would be -2, over the limit of 1"]
    in_a_bracket = replace(_combo(5.05), kind=IntentKind.OCA)
    assert _results(in_a_bracket)["combo"][0].startswith("block: a combination order goes "
                                                         "alone")


STOCK = Instrument(con_id=756733, symbol="SPY", sec_type=SecType.STK, exchange="SMART",
                   currency="USD", min_tick=0.01)
COVERED = (ComboLeg(STOCK, Side.BUY, 100), ComboLeg(HIGH, Side.SELL))
MIXED = {**QUOTES, 756733: _quote(756733, 599.98, 600.02)}


def test_a_covered_call_is_priced_per_share_and_checked_per_leg() -> None:
    market = combo_market(COVERED, MIXED)
    # 100 shares count one share's price, the call one premium: 600.02 - 7.00 to buy.
    assert market == type(market)(bid=round(599.98 - 7.10, 10), ask=round(600.02 - 7.00, 10))
    inst = combo_instrument(COVERED)
    assert (inst.multiplier, inst.sec_type) == (100, SecType.OPT)
    wide = Limits(max_order_value=10_000_000)
    assert _results(_combo(593.0, legs=COVERED, qty=5), view=_view(MIXED),
                    profile=Profile(limits=wide)) == {"all": ["ok: all checks passed"]}
    # Each leg's size against its own type's limit: 600 shares over the 500 of stocks.
    assert _results(_combo(593.0, legs=COVERED, qty=6), view=_view(MIXED),
                    profile=Profile(limits=wide))["size"] == [
        "breach: leg 1 (SPY): size 600 is over the limit of 500"]
    # Its value is the net per share x 100 shares x units (not x 100 again): 296,500.
    tight = Limits(by_sec_type={SecType.OPT: OrderLimits(max_order_value=296_000),
                                SecType.STK: OrderLimits(max_order_value=296_000)})
    assert _results(_combo(593.0, legs=COVERED, qty=5), view=_view(MIXED),
                    profile=Profile(limits=tight))["value"] == [
        "breach: value 296,500 is over the limit of 296,000"]
    assert "deviation" in _results(_combo(600.0 - 70, legs=COVERED), view=_view(MIXED))


def test_a_credit_sold_at_a_positive_price_is_checked_in_its_direction() -> None:
    # Selling the vertical (legs as bought, each reversed by the sale) brings its bid.
    assert _results(_combo(5.05, side=Side.SELL)) == {"all": ["ok: all checks passed"]}
    sold = _combo(4.9, side=Side.SELL).legs[0]
    assert sold.credit and "limit 4.9 credit" in sold.describe()
    assert sold.describe().startswith("SELL 1 SPY combo (SELL 1 SPY 20261218 600 C + BUY 1 ")
    limits = Limits(by_sec_type={SecType.OPT: OrderLimits(max_order_value=5_000)})
    # A market sale is valued at what it brings: the bid, 4.90 x 100 x 11.
    assert _results(_combo(None, side=Side.SELL, qty=11), profile=Profile(limits=limits))[
        "value"] == ["breach: value 5,390 is over the limit of 5,000"]
    # A sale at a negative price would pay to sell: far from the legs' mid.
    assert "deviation" in _results(_combo(-5.05, side=Side.SELL))
    assert "block" in _results(_combo(0.0, side=Side.SELL))["price"][0]
