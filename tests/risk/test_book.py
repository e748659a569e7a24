"""The broker's positions and a ticket's orders as risk rows; the payoff curves; the
preview's warnings and its comparison with IB's what-if."""

from __future__ import annotations

import datetime as dt

import pytest

from ibterm.domain.account import Position
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import IntentKind, OrderIntent, OrderSpec, OrderType, Side
from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.book import (
    DEFAULT_IV,
    NotCovered,
    VolCache,
    expiry_date,
    order_outcomes,
    positions_book,
)
from ibterm.risk.payoff import payoff
from ibterm.risk.preview import (
    PreviewCalculator,
    PreviewRequest,
    disagreements,
    order_title,
    relative_difference,
)
from ibterm.risk.whatif import net, what_if

AS_OF = dt.date(2026, 11, 27)
RATE = 0.04
AAPL = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")
CALL = Instrument(9001, "AAPL", SecType.OPT, "SMART", "USD", 100.0, 0.01, "20261218", 240.0,
                  Right.CALL)
SPX_PUT = Instrument(9002, "SPX", SecType.OPT, "SMART", "USD", 100.0, 0.05, "20261218", 5800.0,
                     Right.PUT)
ES = Instrument(9003, "ES", SecType.FUT, "CME", "USD", 50.0, 0.25, "20261218",
                contract_month="202612")
ES_CALL = Instrument(9004, "ES", SecType.FOP, "CME", "USD", 50.0, 0.25, "20261218", 6100.0,
                     Right.CALL)
EURUSD = Instrument(12087792, "EUR", SecType.CASH, "IDEALPRO", "USD")
UNDERLYING = {CALL.con_id: 230.0, SPX_PUT.con_id: 6000.0, ES_CALL.con_id: 6010.0}


def _under(inst: Instrument) -> float | None:
    return UNDERLYING.get(inst.con_id)


def pos(inst: Instrument, qty: float, price: float | None) -> Position:
    return Position("DU1", inst, qty, 1.0, price)


def test_each_sec_type_becomes_its_row() -> None:
    book = positions_book([pos(AAPL, 300, 229.0), pos(CALL, -2, 3.10), pos(SPX_PUT, 1, 40.0),
                           pos(ES, 1, 6005.0), pos(ES_CALL, -1, 55.0)],
                          {AAPL.con_id: 230.0}, _under)
    stock, call, put, future, fop = book.rows
    assert not book.left_out
    # A live mark wins over the broker's (older) market price.
    assert (stock.sec_type, stock.quantity, stock.price, stock.underlying_price) == \
        ("STK", 300, 230.0, 230.0)
    assert (stock.multiplier, stock.expiry, stock.account) == (1.0, None, "DU1")
    assert (call.sec_type, call.right, call.strike, call.expiry, call.multiplier) == \
        ("OPT", "C", 240.0, dt.date(2026, 12, 18), 100.0)
    assert (call.quantity, call.price, call.underlying_price, call.iv) == (-2, 3.10, 230.0, None)
    assert call.index_class == "equity" and put.index_class == "broad_index"
    assert (future.sec_type, future.price, future.underlying_price, future.multiplier) == \
        ("FUT", 6005.0, 6005.0, 50.0)
    assert future.expiry == dt.date(2026, 12, 18) and future.symbol == "ES"
    assert (fop.sec_type, fop.underlying_price, fop.right) == ("FOP", 6010.0, "C")
    assert len({r.line for r in book.rows}) == 5


def test_what_cannot_be_computed_is_named_not_guessed() -> None:
    orphan = Instrument(9005, "MSFT", SecType.OPT, "SMART", "USD", 100.0, 0.01, "20261218",
                        400.0, Right.PUT)
    book = positions_book([pos(EURUSD, 100_000, 1.08), pos(orphan, 1, 5.0),
                           pos(AAPL, 0, 230.0), pos(AAPL, 10, None)], {}, _under)
    assert book.rows == ()
    assert book.left_out == ("EUR.USD: CASH is not in the local calculator",
                             "MSFT 20261218 400 P: no underlying price", "AAPL: no price")


def test_expiry_dates() -> None:
    assert expiry_date("20261218") == dt.date(2026, 12, 18)
    assert expiry_date("20261218 16:00 US/Eastern") == dt.date(2026, 12, 18)
    assert expiry_date("202612") is None and expiry_date("") is None
    assert expiry_date("20261399") is None


def _spec(inst: Instrument, side: Side, qty: float, limit: float | None = None,
          stop: float | None = None, order_type: OrderType = OrderType.LMT) -> OrderSpec:
    return OrderSpec(inst, side, qty, order_type, limit=limit, stop=stop)


def test_order_outcomes_single_bracket_oca() -> None:
    mark = {AAPL.con_id: 230.0}
    single = OrderIntent((_spec(AAPL, Side.BUY, 100, 230.01),))
    [[fill]] = order_outcomes(single, "DU1", mark, _under)
    # Filled at the mark, in the positions' account so it nets with them.
    assert (fill.quantity, fill.price, fill.account) == (100, 230.0, "DU1")
    entry = _spec(AAPL, Side.BUY, 100, 230.0)
    take = _spec(AAPL, Side.SELL, 100, 233.45)
    stop = _spec(AAPL, Side.SELL, 100, stop=228.25, order_type=OrderType.STP)
    bracket = OrderIntent((entry, take, stop), kind=IntentKind.BRACKET)
    outcomes = order_outcomes(bracket, "DU1", mark, _under)
    assert [[r.quantity for r in o] for o in outcomes] == [[100], [100, -100], [100, -100]]
    assert net([], outcomes[1]) == []  # entry and exit: flat again
    oca = OrderIntent((_spec(AAPL, Side.BUY, 100, 229.0), _spec(CALL, Side.SELL, 1, 3.0)),
                      kind=IntentKind.OCA, oca_type=1)
    first, second = order_outcomes(oca, "DU1", mark, _under)
    assert [r.sec_type for r in first + second] == ["STK", "OPT"]
    assert second[0].price == 3.0  # no mark for the call: its limit


def test_an_order_that_cannot_be_priced_is_named() -> None:
    intent = OrderIntent((_spec(AAPL, Side.BUY, 100, order_type=OrderType.MKT),))
    with pytest.raises(NotCovered, match="AAPL: no price"):
        order_outcomes(intent, "DU1", {}, _under)
    fx = OrderIntent((_spec(EURUSD, Side.BUY, 20_000, 1.08),))
    with pytest.raises(NotCovered, match="CASH is not in the local calculator"):
        order_outcomes(fx, "DU1", {}, _under)


def test_vols_are_implied_once_and_default_when_none_fits() -> None:
    price = round(bsm_price(230.0, 240.0, 21 / 365, 0.35, RATE, True), 2)
    # A put marked under its intrinsic value (a stale mark): no volatility fits.
    book = positions_book([pos(CALL, -2, price), pos(SPX_PUT, 1, 0.01)], {},
                          lambda inst: 5000.0 if inst is SPX_PUT else _under(inst))
    cache = VolCache()
    call, put = cache.fill(book.rows, AS_OF, RATE)
    assert call.iv == pytest.approx(0.35, abs=0.002)
    assert put.iv == DEFAULT_IV
    cache._vols = {k: 0.99 for k in cache._vols}  # a second fill reads the cache
    assert cache.fill(book.rows, AS_OF, RATE)[0].iv == 0.99


def _rows(*positions: Position) -> list:  # type: ignore[type-arg]
    book = positions_book(positions, {}, _under)
    return VolCache().fill(book.rows, AS_OF, RATE)


def test_payoff_of_stock_is_a_line_and_has_no_expiry() -> None:
    before = _rows(pos(AAPL, 100, 230.0))
    after = net(before, _rows(pos(AAPL, 100, 230.0)))
    curve = payoff(before, after, "AAPL", AS_OF, RATE, (-0.15, 0.15))
    assert curve is not None and curve.expiry is None and curve.expiry_after == []
    assert len(curve.prices) == 41 and curve.prices[0] == pytest.approx(230 * 0.85)
    assert curve.today_before[0] == pytest.approx(-0.15 * 230 * 100)
    assert curve.today_after[-1] == pytest.approx(0.15 * 230 * 200)
    assert curve.today_after[20] == 0
    assert payoff(before, after, "MSFT", AS_OF, RATE, (-0.15, 0.15)) is None


def test_payoff_of_a_short_call_today_and_at_expiry() -> None:
    before = _rows(pos(AAPL, 100, 230.0))
    price = round(bsm_price(230.0, 240.0, 21 / 365, 0.30, RATE, True), 2)
    after = net(before, _rows(pos(CALL, -1, price)))
    curve = payoff(before, after, "AAPL", AS_OF, RATE, (-0.15, 0.15))
    assert curve is not None and curve.expiry == dt.date(2026, 12, 18)
    zero = curve.prices.index(230.0)
    assert curve.today_after[zero] == pytest.approx(0, abs=0.01)
    # At expiry above the strike the covered call is capped: stock gain minus intrinsic.
    top = curve.prices[-1]
    assert curve.expiry_after[-1] == pytest.approx(
        (top - 230) * 100 - ((top - 240) * 100 - price * 100), abs=1.0)
    # At expiry at today's price the call has decayed to nothing: its premium is kept.
    assert curve.expiry_after[zero] == pytest.approx(price * 100, abs=1.0)
    assert curve.expiry_before == curve.today_before  # stock does not decay


def test_disagreement_is_relative_to_the_larger_figure() -> None:
    assert relative_difference(100.0, 150.0) == pytest.approx(1 / 3)
    assert relative_difference(0.4, 0.0) == 0  # under a dollar: rounding
    result = what_if([], [_rows(pos(AAPL, 100, 200.0))], 100_000, AS_OF, RATE)
    assert result.initial_change == pytest.approx(10_000)
    assert disagreements(result, 11_000, 5_100, 0.25) == []
    [flag] = disagreements(result, 15_000, 5_100, 0.25)
    assert (flag.figure, flag.local, flag.ib) == ("initial", 10_000, 15_000)
    assert len(disagreements(result, None, 9_000, 0.25)) == 1


def _request(intent: OrderIntent, net_liq: float | None, buffer: float = 0.10,
             positions: tuple[Position, ...] = ()) -> PreviewRequest:
    return PreviewRequest(intent, positions, {AAPL.con_id: 200.0}, UNDERLYING, net_liq, "DU1",
                          AS_OF, RATE, buffer)


def test_preview_figures_and_alerts() -> None:
    calc = PreviewCalculator()
    held = (pos(AAPL, 100, 200.0),)
    buy = OrderIntent((_spec(AAPL, Side.BUY, 100, 200.0, ),))
    quiet = calc.preview(_request(buy, 100_000, positions=held))
    assert quiet.result is not None and not quiet.alerts and not quiet.error
    assert quiet.result.before.initial == pytest.approx(10_000)
    assert quiet.result.initial_change == pytest.approx(10_000)
    assert quiet.committed(quiet.result.after) == pytest.approx(0.2)
    assert quiet.payoff is not None and quiet.chart_order == "BUY 100 AAPL LMT limit 200 DAY"
    # Cushion after: (20,000 - 10,000) / 20,000 = 50%, under a 60% buffer.
    tight = calc.preview(_request(buy, 20_000, buffer=0.6, positions=held))
    assert [a.level for a in tight.alerts] == ["warning"]
    assert "cushion after 50.0% is under the 60% buffer" in tight.alerts[0].text
    # Maintenance after (10,000) over net liquidation: a margin call.
    call = calc.preview(_request(buy, 9_000, positions=held))
    assert call.result is not None and call.result.margin_call
    assert call.alerts[0].level == "error" and "margin call" in call.alerts[0].text
    assert calc.preview(_request(buy, None)).error.startswith("waiting for")


def test_order_titles() -> None:
    entry = _spec(AAPL, Side.BUY, 100, 230.0)
    take = _spec(AAPL, Side.SELL, 100, 233.45)
    stop = _spec(AAPL, Side.SELL, 100, stop=228.25, order_type=OrderType.STP)
    assert order_title(OrderIntent((entry,))) == "BUY 100 AAPL LMT limit 230 DAY"
    assert order_title(OrderIntent((entry, take, stop), kind=IntentKind.BRACKET)) == \
        "BUY 100 AAPL LMT limit 230 DAY, exits 233.45 / 228.25"
    assert order_title(OrderIntent((entry, take), kind=IntentKind.OCA)).startswith("OCA: ")
