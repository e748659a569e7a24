"""Run by test_journal_crash.py in a subprocess that gets SIGKILLed mid-burst.

Places limit orders through the real pipeline as fast as its throttle allows and prints
`ack <orderRef>` for each one the gateway acknowledges (status Submitted)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ibterm.broker.journal import Journal
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.orders import Confirmation, OrderIntent, OrderSpec, OrderType, Side


async def main(port: int, journal_file: Path) -> None:
    profile = Profile(port=port, client_id=71, watchlist=["AAPL"], confirm_orders=False,
                      flood_intents=100_000, order_rate=40)
    session = BrokerSession(profile, "crash", TradingMode.PAPER)

    async def never(intent: object, checks: object) -> Confirmation:
        return Confirmation(False)

    pipeline = OrderPipeline(session, Journal(journal_file, "crash"), never)
    await session.start()
    while not session.quotes():
        await asyncio.sleep(0.02)
    [item] = session.watchlist
    assert item.instrument is not None
    bid = session.quote(item.instrument.con_id).bid  # type: ignore[union-attr]
    acked: set[str] = set()

    def on_status(trade: object) -> None:
        t = trade  # ib_async Trade
        ref = t.order.orderRef  # type: ignore[attr-defined]
        if t.orderStatus.status == "Submitted" and ref not in acked:  # type: ignore[attr-defined]
            acked.add(ref)
            print(f"ack {ref}", flush=True)

    session.ib.orderStatusEvent += on_status
    for i in range(2000):
        spec = OrderSpec(item.instrument, Side.BUY, 1, OrderType.LMT,
                         limit=round(bid - 1 - (i % 50) * 0.01, 2))
        await pipeline.submit(OrderIntent((spec,), source="script"))
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
