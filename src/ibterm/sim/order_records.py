"""The plain records an order crosses the simulator's layers in: what a placeOrder asks
(`OrderRequest`), what a what-if answers (`MarginState`) and what the order messages
report (`OrderView`). The wire reads and writes them; the order engine keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.contracts import ContractQuery, LegQuery


@dataclass(frozen=True, slots=True)
class OrderRequest:
    order_id: int
    contract: ContractQuery
    action: str
    quantity: float
    order_type: str
    limit: float | None
    aux: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    oca_type: int
    trail_stop_price: float | None
    trailing_percent: float | None
    what_if: bool
    legs: tuple[LegQuery, ...] = ()  # a combo's (BAG)
    combo_params: tuple[tuple[str, str], ...] = ()  # smartComboRoutingParams, echoed back


@dataclass(frozen=True, slots=True)
class MarginState:
    """What a what-if answer carries, as IB sends it (strings of numbers)."""

    init_before: float
    maint_before: float
    ewl_before: float
    init_after: float
    maint_after: float
    ewl_after: float
    commission: float


@dataclass(frozen=True, slots=True)
class OrderView:
    """The parts of an order the messages report."""

    order_id: int
    client_id: int
    perm_id: int
    parent_id: int
    account: str
    action: str
    quantity: float
    order_type: str
    limit: float | None
    aux: float | None
    tif: str
    oca_group: str
    oca_type: int
    order_ref: str
    outside_rth: bool
    trail_stop_price: float | None
    trailing_percent: float | None
    what_if: bool
    status: str
    filled: float
    combo_params: tuple[tuple[str, str], ...] = ()
