"""A combo's order messages at each served version, against the real clients: the
placeOrder frame ib_async and ib_insync write is read back leg for leg, and the
openOrder, completedOrder and execDetails the simulator writes for it decode."""

from __future__ import annotations

import ib_async
import ib_insync
import pytest

from ibterm.sim.combos import make_combo
from ibterm.sim.orders import Fill, SimOrder
from ibterm.sim.server import SimServer
from ibterm.sim.wire.orders import COMPLETED_ORDER, EXEC_DETAILS, OPEN_ORDER, PLACE_ORDER
from tests.sim.test_versions import _decoded

CLIENTS = [(ib_insync, 176), (ib_async, 176), (ib_async, 177), (ib_async, 178)]


def _place_order_fields(lib, version: int, sim: SimServer) -> list[str]:  # type: ignore[no-untyped-def]
    """The fields of the placeOrder frame `lib`'s own client writes for a credit spread."""
    sent: list[str] = []
    client = lib.client.Client(lib.wrapper.Wrapper(lib.IB()))
    client._serverVersion = version
    client.isConnected = lambda: True
    client.sendMsg = sent.append
    legs = [lib.ComboLeg(conId=sim.con_id_of(s), ratio=r, action=a, exchange="SMART")
            for s, r, a in (("SPY 20261218 610 C", 1, "BUY"), ("SPY 20261218 600 C", 2, "SELL"))]
    contract = lib.Contract(secType="BAG", symbol="SPY", exchange="SMART", currency="USD",
                            comboLegs=legs)
    order = lib.LimitOrder("BUY", 3, -1.25, orderRef="spread", tif="GTC",
                           smartComboRoutingParams=[lib.TagValue("NonGuaranteed", "1")])
    client.placeOrder(9, contract, order)
    [frame] = sent
    return frame.split("\0")[:-1]


@pytest.mark.parametrize(("lib", "version"), CLIENTS)
def test_a_combo_order_is_read_and_answered_at_each_version(lib, version: int,  # type: ignore[no-untyped-def]
                                                            sim: SimServer) -> None:
    req = PLACE_ORDER.read(version, _place_order_fields(lib, version, sim))
    assert (req.order_id, req.action, req.quantity, req.order_type, req.limit, req.tif,
            req.order_ref) == (9, "BUY", 3, "LMT", -1.25, "GTC", "spread")
    assert [(leg.con_id, leg.ratio, leg.action) for leg in req.legs] == [
        (sim.con_id_of("SPY 20261218 610 C"), 1, "BUY"),
        (sim.con_id_of("SPY 20261218 600 C"), 2, "SELL")]
    assert req.combo_params == (("NonGuaranteed", "1"),)
    combo = make_combo(sim.world, req.contract, req.legs)
    order = SimOrder(req, 7, 1_000_000_001, combo.legs[0].sim, "DU1234567", quantity=3,
                     combo=combo, status="Filled", filled=3, avg_price=-1.25)
    order.leg_avg = {leg.sim.instrument.con_id: 1.0 for leg in combo.legs}
    view = order.view()
    frames = [OPEN_ORDER.at(version)(view, combo),
              COMPLETED_ORDER.at(version)(view, combo, "20261127 10:00:00")]
    for fill in (Fill(order, "0000e0d5.1.01.01", "20261127 10:00:00 UTC", 6, 1.0, 3.9, None,
                      combo.legs[1]),
                 Fill(order, "0000e0d5.2.01.01", "20261127 10:00:00 UTC", 3, -1.25, 0, None)):
        frames.append(EXEC_DETAILS.at(version)(-1, view, fill.contract, fill.exec_id, fill.time,
                                               "SLD", fill.shares, fill.price, fill.cum_qty,
                                               fill.avg_price))
    calls = [call for frame in frames for call in _decoded(lib, version, frame)]
    assert calls == ["openOrder", "completedOrder", "execDetails", "execDetails"]
