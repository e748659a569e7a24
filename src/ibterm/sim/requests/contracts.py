"""Contract lookups: reqContractDetails and reqSecDefOptParams."""

from __future__ import annotations

from ibterm.sim.contracts import match
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.wire.contracts import (
    CONTRACT_DETAILS,
    CONTRACT_DETAILS_END,
    REQ_CONTRACT_DETAILS,
    REQ_SEC_DEF_OPT_PARAMS,
    SEC_DEF_OPT_PARAMS,
    SEC_DEF_OPT_PARAMS_END,
)


class ContractDesk(Desk):
    @serves(REQ_CONTRACT_DETAILS)
    def _req_contract_details(self, fields: list[str]) -> None:
        req = REQ_CONTRACT_DETAILS.read(self.version, fields)
        found = match(self.server.world, req.contract)
        if not found:
            self.error(req.req_id, 200, "No security definition has been found for the request")
            return
        details = self.layout(CONTRACT_DETAILS)
        self.send(b"".join(details(req.req_id, sim) for sim in found))
        self.send(self.layout(CONTRACT_DETAILS_END)(req.req_id))

    @serves(REQ_SEC_DEF_OPT_PARAMS)
    def _req_sec_def_opt_params(self, fields: list[str]) -> None:
        req = REQ_SEC_DEF_OPT_PARAMS.read(self.version, fields)
        chain = [
            s for s in self.server.world.instruments.values()
            if s.instrument.sec_type.value == "OPT" and s.instrument.symbol == req.symbol
            and (not req.under_con_id or s.underlying == req.under_con_id)
        ]
        if chain:
            expiries = sorted({s.instrument.expiry for s in chain})
            strikes = sorted({s.instrument.strike for s in chain})
            self.send(self.layout(SEC_DEF_OPT_PARAMS)(req.req_id, "SMART", chain[0].underlying,
                                                      req.symbol, "100", expiries, strikes))
        self.send(self.layout(SEC_DEF_OPT_PARAMS_END)(req.req_id))
