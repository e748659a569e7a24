"""The simulator's option quotes, read by a real ib_async client: priced from their
underlying's walk with the project's pricer, a close consistent with the underlying's
close, no zero bids, and nothing the session's bad-tick check takes for a bad tick."""

from __future__ import annotations

import asyncio
import math
import time

from ib_async import IB, Contract, Ticker

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Right
from ibterm.domain.quote import clean_price
from ibterm.domain.ticks import round_to_tick
from ibterm.risk.black_scholes import bsm_price
from ibterm.sim.server import SimServer

SPY = 756733
# At the money, a put, a 0DTE call worth less than a tick (no bid), out of the money ones
# that opened 50% from their close, one on another underlying.
STEADY = ["SPY 20261218 600 C", "SPY 20261218 600 P", "SPY 20261127 640 C",
          "SPY 20261211 630 C", "SPY 20261204 620 C", "AAPL 20261218 230 C"]
# These opened more than the option band away from their close, as their underlying
# gapped overnight: a real gap, which the session takes after bad_tick_reanchor quotes.
GAPPED = ["SPY 20261204 575 P", "SPY 20261127 585 P", "SPY 20261218 545 P"]
STEPS = 30


async def _in_sync(sim: SimServer, tickers: dict[int, Ticker]) -> None:
    """Wait until every ticker shows the simulator's current book (an empty bid: None)."""
    deadline = time.monotonic() + 5
    while True:
        if all(clean_price(t.bid) == (b.bid if b.bid_size else None) and t.ask == b.ask
               and t.last == b.last
               for c, t in tickers.items() for b in [sim.market.book(c)]):
            return
        assert time.monotonic() < deadline, "quotes never caught up with the simulator"
        await asyncio.sleep(0.02)


async def test_option_quotes_follow_their_underlying(sim: SimServer, ib: IB) -> None:
    con_ids = [sim.con_id_of(s) for s in STEADY + GAPPED]
    unders = {sim.world.instruments[c].underlying for c in con_ids}
    tickers = {c: ib.reqMktData(Contract(conId=c, exchange="SMART"))
               for c in [*unders, *con_ids]}
    await _in_sync(sim, tickers)
    rate = sim.world.rate
    for step in range(STEPS):
        for c in con_ids:
            opt = sim.world.instruments[c]
            inst, t, u = opt.instrument, tickers[c], tickers[opt.underlying]
            call = inst.right is Right.CALL
            spot = (u.bid + u.ask) / 2
            theo = bsm_price(spot, inst.strike, opt.years, opt.volatility, rate, call)
            where = f"{inst.local_symbol} at step {step}"
            # Nobody bids for what is worth less than a tick: no bid, never a bid of 0.
            bid = clean_price(t.bid) or 0.0
            assert t.bid == bid or (bid == 0.0 and t.bidSize == 0), where
            assert 0 <= bid < t.ask, where
            # The book brackets the option's value at the underlying's price now...
            assert bid - 1e-9 <= theo <= t.ask + 1e-9, (where, bid, theo, t.ask)
            assert t.ask - bid <= max(0.03, theo * 0.03) + 1e-9, where
            # ...which never breaks the no-arbitrage bounds.
            intrinsic = max(spot - inst.strike, 0.0) if call else max(inst.strike - spot, 0)
            assert t.ask >= intrinsic * math.exp(-rate * opt.years) - 0.01, where
            assert t.ask <= (spot if call else inst.strike) + 0.01, where
            # The close: its value at the underlying's close, one day more to expiry.
            close = max(0.01, round_to_tick(bsm_price(
                u.close, inst.strike, opt.years + 1 / 365, opt.volatility, rate, call), 0.01))
            assert t.close == close, (where, t.close, close)
        sim.step()
        await _in_sync(sim, tickers)


async def test_the_session_takes_no_option_quote_for_a_bad_tick(sim: SimServer) -> None:
    session = BrokerSession(Profile(port=sim.port, client_id=22, connect_timeout=3,
                                    watchlist=["SPY", "AAPL", *STEADY, *GAPPED]),
                            "t", TradingMode.DEMO)  # default bands and reanchor
    assert await session.start()
    try:
        con_ids = {sim.con_id_of(s): s for s in STEADY + GAPPED}
        tickers = {t.contract.conId: t for t in session.ib.tickers() if t.contract}
        await _in_sync(sim, tickers)
        flags: dict[str, list[str]] = {s: [] for s in con_ids.values()}
        for _ in range(STEPS):
            for c, text in con_ids.items():
                quote = session.quote(c)
                assert quote is not None
                flags[text].append(quote.flag)
            sim.step()
            await _in_sync(sim, tickers)
        for text in STEADY:
            assert set(flags[text]) == {""}, (text, flags[text])
        for text in GAPPED:
            # Bad while the gap is one quote or two (bad_tick_reanchor quotes that agree
            # make it the reference; a step need not change a quote), then good for good.
            seen = flags[text]
            assert seen[0] == "bad", text
            assert "" in seen and set(seen[seen.index(""):]) == {""}, (text, seen)
    finally:
        await session.close()


async def test_open_interest_on_generic_tick_101(sim: SimServer, ib: IB) -> None:
    """An option's open interest under its right (27 a call's, 28 a put's), a stock's as
    the sums over its chain; highest about the money, the same all day."""
    strikes = [540, 570, 600, 630, 660]
    calls = {k: sim.con_id_of(f"SPY 20261218 {k} C") for k in strikes}
    put = sim.con_id_of("SPY 20261218 600 P")
    tickers = {c: ib.reqMktData(Contract(conId=c, exchange="SMART"), "101")
               for c in [SPY, put, *calls.values()]}
    plain_quote = ib.reqMktData(Contract(conId=sim.con_id_of("SPY 20261211 600 C"),
                                         exchange="SMART"))
    deadline = time.monotonic() + 5
    while any(math.isnan(t.putOpenInterest if c in (put, SPY) else t.callOpenInterest)
              for c, t in tickers.items()):
        assert time.monotonic() < deadline, "no open interest"
        await asyncio.sleep(0.02)
    oi = {k: tickers[c].callOpenInterest for k, c in calls.items()}
    assert all(math.isnan(tickers[c].putOpenInterest) for c in calls.values())
    assert math.isnan(tickers[put].callOpenInterest) and tickers[put].putOpenInterest > 0
    assert max(oi, key=lambda k: oi[k]) == 600 and oi[540] < oi[570] and oi[660] < oi[630]
    assert all(v == int(v) >= 10 for v in oi.values())
    # The underlying's: every listed call's (and put's) open interest added up.
    market = sim.market
    chain = [s for s in sim.world.instruments.values() if s.underlying == SPY]
    for right, field in ((Right.CALL, "callOpenInterest"), (Right.PUT, "putOpenInterest")):
        assert getattr(tickers[SPY], field) == sum(
            market.open_interest(s.instrument.con_id)[right] for s in chain
            if s.instrument.right is right)
    assert math.isnan(plain_quote.callOpenInterest)  # not asked for, not sent
    for _ in range(5):
        sim.step()
    await _in_sync(sim, {c: tickers[c] for c in calls.values()})
    assert {k: tickers[c].callOpenInterest for k, c in calls.items()} == oi
    # IB takes no generic ticks on a snapshot.
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((code, message))
    ib.reqMktData(Contract(conId=put, exchange="SMART"), "101", snapshot=True)
    deadline = time.monotonic() + 5
    while not errors:
        assert time.monotonic() < deadline, "no refusal"
        await asyncio.sleep(0.02)
    assert errors[0][0] == 321 and "not applicable to generic ticks" in errors[0][1]
