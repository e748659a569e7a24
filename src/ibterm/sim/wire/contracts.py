"""Contract requests and answers: reqContractDetails (9) and reqSecDefOptParams (78)."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.domain.instrument import Instrument, SecType
from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import encode
from ibterm.sim.wire.contract_fields import contract_at, multiplier
from ibterm.sim.wire.layouts import Incoming, Layouts
from ibterm.sim.world import SimInstrument


@dataclass(frozen=True, slots=True)
class ContractDetailsRequest:
    req_id: int
    contract: ContractQuery


def _read_contract_details(fields: list[str]) -> ContractDetailsRequest:
    return ContractDetailsRequest(int(fields[2]), contract_at(fields, 3))


@dataclass(frozen=True, slots=True)
class OptionParamsRequest:
    req_id: int
    symbol: str
    under_con_id: int


def _read_sec_def_opt_params(fields: list[str]) -> OptionParamsRequest:
    return OptionParamsRequest(int(fields[1]), fields[2].upper(), int(fields[5] or 0))


REQ_CONTRACT_DETAILS = Incoming(9, "reqContractDetails", {176: _read_contract_details})
REQ_SEC_DEF_OPT_PARAMS = Incoming(78, "reqSecDefOptParams", {176: _read_sec_def_opt_params})


def contract_details(req_id: int, sim: SimInstrument) -> bytes:
    inst = sim.instrument
    is_stock = inst.sec_type is SecType.STK
    order_types = "DAY,GTC,IOC,LMT,MKT,STP,STPLMT,TRAIL"  # what the order engine executes
    market_name = inst.trading_class
    return encode(
        10, req_id, inst.symbol, inst.sec_type.value, sim.last_trade_date, inst.strike,
        inst.right.value if inst.right else "", inst.exchange, inst.currency,
        inst.local_symbol, market_name, inst.trading_class, inst.con_id, inst.min_tick,
        multiplier(inst), order_types, inst.exchange, 1,
        sim.underlying if inst.sec_type is SecType.OPT else 0, inst.long_name,
        inst.primary_exchange, sim.contract_month or (inst.expiry[:6] if inst.expiry else ""),
        "", "", "", "US/Eastern", "", "", "", "", 0,  # industry … evMultiplier, no secIds
        1 if is_stock else 0, _underlying_symbol(sim), _underlying_type(inst), "",
        sim.last_trade_date, "COMMON" if is_stock else "", 1, inst.size_increment,
        inst.size_increment,
    )


def _underlying_symbol(sim: SimInstrument) -> str:
    return sim.instrument.symbol if sim.instrument.sec_type is SecType.OPT else ""


def _underlying_type(inst: Instrument) -> str:
    return {SecType.OPT: "STK", SecType.FOP: "FUT"}.get(inst.sec_type, "")


def contract_details_end(req_id: int) -> bytes:
    return encode(52, 1, req_id)


def sec_def_opt_params(req_id: int, exchange: str, under_con_id: int, trading_class: str,
                       multiplier: str, expiries: list[str], strikes: list[float]) -> bytes:
    return encode(75, req_id, exchange, under_con_id, trading_class, multiplier, len(expiries),
                  *expiries, len(strikes), *strikes)


def sec_def_opt_params_end(req_id: int) -> bytes:
    return encode(76, req_id)


CONTRACT_DETAILS = Layouts("contractData", {176: contract_details})
CONTRACT_DETAILS_END = Layouts("contractDataEnd", {176: contract_details_end})
SEC_DEF_OPT_PARAMS = Layouts("securityDefinitionOptionParameter", {176: sec_def_opt_params})
SEC_DEF_OPT_PARAMS_END = Layouts("securityDefinitionOptionParameterEnd",
                                 {176: sec_def_opt_params_end})
