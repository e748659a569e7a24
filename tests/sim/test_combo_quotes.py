"""Combo (BAG) quotes read by the real ib_async client: natural prices from the legs'
books (ratios honoured, credits negative), the legs' greeks summed, and IB's errors for
combos it cannot take."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from ib_async import IB, ComboLeg, Contract

from ibterm.sim.server import SimServer

SPY = 756733


def bag(sim: SimServer, *legs: tuple[str, int, str], symbol: str = "SPY",
        exchange: str = "SMART") -> Contract:
    """A combo of (symbol-grammar leg, ratio, action) legs."""
    return Contract(secType="BAG", symbol=symbol, exchange=exchange, currency="USD",
                    comboLegs=[ComboLeg(conId=sim.con_id_of(s), ratio=r, action=a,
                                        exchange=exchange) for s, r, a in legs])


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_combo_is_quoted_at_its_legs_natural_prices(sim: SimServer, ib: IB) -> None:
    vertical = ib.reqMktData(bag(sim, ("SPY 20261218 600 C", 1, "BUY"),
                                 ("SPY 20261218 610 C", 1, "SELL")))
    ratio = ib.reqMktData(bag(sim, ("SPY 20261218 600 P", 1, "BUY"),
                              ("SPY 20261218 580 P", 2, "SELL")))
    condor = ib.reqMktData(bag(sim, ("SPY 20261218 570 P", 1, "BUY"),
                               ("SPY 20261218 580 P", 1, "SELL"),
                               ("SPY 20261218 620 C", 1, "SELL"),
                               ("SPY 20261218 630 C", 1, "BUY")))
    tickers = (vertical, ratio, condor)
    for _ in range(3):
        sim.step()
        mid = sim.market.book(SPY).mid
        await until(lambda mid=mid: all(t.modelGreeks is not None
                                        and t.modelGreeks.undPrice == mid for t in tickers),
                    "no combo quotes")
        for t in tickers:
            legs = [(leg.ratio if leg.action == "BUY" else -leg.ratio, sim.market.book(leg.conId))
                    for leg in t.contract.comboLegs]  # type: ignore[union-attr]
            # Buying pays the bought legs' asks and takes the sold legs' bids.
            ask = sum(r * (b.ask if r > 0 else b.bid) for r, b in legs)
            bid = sum(r * (b.bid if r > 0 else b.ask) for r, b in legs)
            assert (t.bid, t.ask) == (pytest.approx(bid), pytest.approx(ask))
            assert t.bidSize > 0 and t.askSize > 0
            assert t.modelGreeks is not None
            model = sum(r * sim.market.option_computations(leg.conId)[13].delta
                        for (r, _), leg in zip(legs, t.contract.comboLegs, strict=True))  # type: ignore[union-attr]
            assert t.modelGreeks.delta == pytest.approx(model, abs=1e-5)
            assert t.modelGreeks.impliedVol is None
            assert t.modelGreeks.undPrice == pytest.approx(sim.market.book(SPY).mid)
    assert 0 < vertical.bid < vertical.ask < 10  # a debit below the strikes' width
    assert condor.bid < condor.ask < 0  # a condor sold for a credit is quoted negative


@pytest.mark.parametrize(("contract", "code", "text"), [
    (lambda sim: Contract(secType="BAG", symbol="SPY", exchange="SMART", currency="USD"),
     321, "Error validating request.-'bN' : cause - Security type 'BAG' requires combo leg "
          "details."),
    (lambda sim: Contract(secType="BAG", symbol="SPY", exchange="SMART", currency="USD",
                          comboLegs=[ComboLeg(conId=999, ratio=1, action="BUY",
                                              exchange="SMART")]),
     200, "No security definition has been found for the request"),
    (lambda sim: bag(sim, ("SPY 20261218 600 C", 1, "BUY"), ("SPY 20261218 610 C", 0, "SELL")),
     321, "Error validating request.-'bN' : cause - The combo details for leg '1' are "
          "invalid."),
    (lambda sim: bag(sim, ("SPY 20261218 600 C", 1, "BUY"), ("AAPL 20261218 230 C", 1, "SELL"),
                     exchange="CBOE"),
     321, "Error validating request.-'bN' : cause - The combo details are invalid."),
    (lambda sim: bag(sim, ("SPY", 100, "BUY"), ("SPY 20261218 610 C", 1, "SELL"),
                     exchange="ARCA"),
     321, "Error validating request.-'bN' : cause - Stock combo legs are restricted to SMART "
          "order routing."),
])
async def test_bad_combos_get_ibs_errors(sim: SimServer, ib: IB,
                                         contract: Callable[[SimServer], Contract], code: int,
                                         text: str) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, c, msg, _: errors.append((c, msg))
    ticker = ib.reqMktData(contract(sim))
    await until(lambda: bool(errors), "no error")
    assert errors == [(code, text)]
    assert ticker.bid != ticker.bid  # nothing quoted
