"""IB's what-if for one order: the margin and equity it would leave, or why not, never
waiting past the profile's timeout."""

from __future__ import annotations

import asyncio

from ib_async import IB, OrderState

from ibterm.broker.convert import spec_contract, to_ib_order, what_if_of
from ibterm.config.settings import Profile
from ibterm.domain.orders import OrderSpec
from ibterm.domain.what_if import IbWhatIf


class WhatIfAsker:
    def __init__(self, ib: IB, profile: Profile) -> None:
        self._ib = ib
        self.profile = profile
        self._errors: dict[int, str] = {}  # what-if request id -> IB's refusal

    def claims_error(self, req_id: int, code: int, message: str) -> bool:
        """An error for a what-if asked: its refusal, shown in the preview."""
        if req_id not in self._errors:
            return False
        self._errors[req_id] = f"IB {code}: {message}"
        return True

    async def ask(self, spec: OrderSpec, account: str) -> IbWhatIf:
        """IB answers one order at a time (a combination is one, sent as its BAG) and ignores
        bracket links; ib_async's own call never gives up when the gateway sends figures it
        cannot read."""
        order = to_ib_order(spec, "ibterm-what-if")
        order.account = spec.account or account
        contract = spec_contract(spec)  # a combination: the BAG of its legs
        # The id whatIfOrderAsync takes next (ib_async 2.1.0 is pinned): a refusal arrives as
        # an error for it, shown in the preview rather than as a notification.
        req_id = self._ib.client._reqIdSeq
        self._errors[req_id] = ""
        timeout = self.profile.whatif_timeout
        try:
            state = await asyncio.wait_for(self._ib.whatIfOrderAsync(contract, order), timeout)
        except TimeoutError:
            return IbWhatIf(error=f"no answer within {timeout:g}s")
        except ConnectionError:
            return IbWhatIf(error="not connected")
        finally:
            refusal = self._errors.pop(req_id, "")
        if not isinstance(state, OrderState):
            return IbWhatIf(error=f"refused: {refusal}" if refusal else "no figures")
        return what_if_of(state)
