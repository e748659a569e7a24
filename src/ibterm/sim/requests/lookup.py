"""The one instrument a request names, or IB's error for it: shared by the bar, depth and
tick-by-tick families."""

from __future__ import annotations

from ibterm.sim.contracts import ContractQuery, match
from ibterm.sim.requests.desk import Desk
from ibterm.sim.world import SimInstrument

NO_SECURITY = "No security definition has been found for the request"
NOT_SUBSCRIBED = "Requested market data is not subscribed. Delayed market data is available."


def one_instrument(desk: Desk, req_id: int, contract: ContractQuery | None,
                   live: bool = True) -> SimInstrument | None:
    """The instrument, or None once the client has its error: 200 for no single match,
    and, for a request that needs live data (`live`), 354 for a delayed-only one."""
    found = match(desk.server.world, contract) if contract is not None else []
    if len(found) != 1:
        desk.error(req_id, 200, NO_SECURITY)
        return None
    if live and not found[0].live_data:
        desk.error(req_id, 354, NOT_SUBSCRIBED)
        return None
    return found[0]
