"""ib_async's orders (a combination's BAG included), tickers, portfolio items and order
states, as domain values and back. Instruments and contracts are translated in
`contracts`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from ib_async import ComboLeg as IbComboLeg
from ib_async import (
    Contract,
    OptionComputation,
    Order,
    OrderState,
    PnLSingle,
    PortfolioItem,
    Ticker,
)

from ibterm.broker.contracts import contract_to_instrument, spec_to_contract
from ibterm.domain.account import Position
from ibterm.domain.combo import combo_instrument
from ibterm.domain.greeks import Greeks
from ibterm.domain.instrument import Instrument
from ibterm.domain.orders import ComboLeg, OrderSpec, OrderType, Side
from ibterm.domain.quote import MarketDataType, Quote, clean_price
from ibterm.domain.what_if import IbWhatIf


def to_ib_order(spec: OrderSpec, order_ref: str) -> Order:
    order = Order(action=spec.side.value, totalQuantity=spec.quantity,
                  orderType=spec.order_type.value, tif=spec.tif.value,
                  outsideRth=spec.outside_rth, orderRef=order_ref, account=spec.account)
    if spec.limit is not None:
        order.lmtPrice = spec.limit
    if spec.order_type is OrderType.TRAIL:
        if spec.trail_percent is not None:
            order.trailingPercent = spec.trail_percent
        else:
            order.auxPrice = spec.trail_amount
        if spec.stop is not None:
            order.trailStopPrice = spec.stop
    elif spec.stop is not None:
        order.auxPrice = spec.stop
    return order


def order_contract(inst: Instrument) -> Contract:
    """The contract an order or a quote request names: the conId, and an exchange, which
    IB requires of an order (error 321, "Missing order exchange"). An instrument known
    only from a portfolio update has none: it gets the one its lookup would name
    (SMART for stocks and options)."""
    return Contract(conId=inst.con_id,
                    exchange=inst.exchange or spec_to_contract(inst.spec).exchange)


def spec_contract(spec: OrderSpec) -> Contract:
    """The contract an order is placed on: its instrument's, or for a combination a BAG
    of its legs' conIds, routed SMART, named by the legs' underlying symbol."""
    if not spec.combo:
        return order_contract(spec.instrument)
    first = spec.combo[0].instrument
    return Contract(secType="BAG", symbol=first.symbol, exchange="SMART",
                    currency=first.currency,
                    comboLegs=[IbComboLeg(conId=leg.instrument.con_id, ratio=leg.ratio,
                                          action=leg.action.value, exchange="SMART")
                               for leg in spec.combo])


def spec_of_order(contract: Contract, order: Order,
                  known: Mapping[int, Instrument] | None = None) -> OrderSpec:
    """The spec of an order found at the gateway; ValueError for a side or order type
    the app does not model. A combination's legs are the instruments `known` by conId;
    one not known (its details never looked up in this run) has only its conId, the
    BAG's symbol and currency: enough to follow and cancel the order."""
    legs: tuple[ComboLeg, ...] = ()
    if contract.secType == "BAG":
        found = known or {}
        legs = tuple(ComboLeg(found.get(c.conId) or contract_to_instrument(Contract(
            conId=c.conId, symbol=contract.symbol, currency=contract.currency,
            exchange=c.exchange)), Side(c.action), c.ratio)
            for c in contract.comboLegs or [])
    return OrderSpec(
        combo_instrument(legs) if legs else contract_to_instrument(contract),
        Side(order.action), order.totalQuantity, OrderType(order.orderType),
        limit=_price(order.lmtPrice) if order.orderType in ("LMT", "STP LMT") else None,
        stop=_price(order.auxPrice) if order.orderType in ("STP", "STP LMT") else None,
        account=order.account, combo=legs)


def _price(value: float | Decimal | None) -> float | None:
    """An order's price as the domain keeps it (ib_async may hold a Decimal)."""
    return None if value is None else float(value)


def finite(value: float | None) -> float | None:
    """A figure IB may leave unset (the largest double) or NaN: None then."""
    return clean_price(value) if value is not None and abs(value) < 1e300 else None


def _state_number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if abs(number) < 1e300 else None  # IB's "unset" is the largest double


def what_if_of(state: OrderState) -> IbWhatIf:
    result = IbWhatIf(
        init_change=_state_number(state.initMarginChange),
        maint_change=_state_number(state.maintMarginChange),
        init_after=_state_number(state.initMarginAfter),
        maint_after=_state_number(state.maintMarginAfter),
        equity_after=_state_number(state.equityWithLoanAfter),
        commission=_state_number(state.commission))
    return replace(result, error="no margin figures") if result.init_change is None else result


def position_of(item: PortfolioItem, inst: Instrument, pnl: PnLSingle | None) -> Position:
    mult = inst.multiplier or 1.0
    return Position(
        account=item.account,
        instrument=inst,
        quantity=item.position,
        avg_cost=item.averageCost / mult,
        market_price=clean_price(item.marketPrice),
        market_value=item.marketValue,
        unrealized_pnl=item.unrealizedPNL,
        realized_pnl=item.realizedPNL,
        daily_pnl=finite(pnl.dailyPnL) if pnl is not None else None,
    )


def quote_from_ticker(con_id: int, t: Ticker, at: float) -> Quote:
    try:
        data_type = MarketDataType(t.marketDataType)
    except ValueError:
        data_type = MarketDataType.LIVE
    return Quote(
        con_id=con_id,
        data_type=data_type,
        updated_at=at,
        bid=clean_price(t.bid),
        ask=clean_price(t.ask),
        last=clean_price(t.last),
        bid_size=clean_price(t.bidSize),
        ask_size=clean_price(t.askSize),
        last_size=clean_price(t.lastSize),
        volume=clean_price(t.volume),
        open=clean_price(t.open),
        high=clean_price(t.high),
        low=clean_price(t.low),
        close=clean_price(t.close),
    )


def greeks_of(c: OptionComputation | None) -> Greeks | None:
    """One of IB's option computations (a ticker's modelGreeks, bidGreeks, askGreeks);
    IB's "not computed" (NaN, the largest double, -1 and -2 for a price) is None."""
    if c is None:
        return None
    greeks = Greeks(iv=finite(c.impliedVol), delta=_greek(c.delta), gamma=_greek(c.gamma),
                    vega=_greek(c.vega), theta=_greek(c.theta), und_price=finite(c.undPrice),
                    price=finite(c.optPrice))
    return None if greeks.iv is None and greeks.delta is None else greeks


def _greek(value: float | None) -> float | None:
    # A greek may be negative (a put's delta, theta): only NaN and IB's unset are none.
    if value is None or value != value or abs(value) >= 1e300 or value == -2.0:
        return None
    return float(value)
