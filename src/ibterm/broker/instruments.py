"""Instrument resolution: symbol-grammar text to an instrument through IB's contract
details, said in the trader's words when nothing (or too much) matches, and the
instruments learned on the way (min tick, contract month…)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from ib_async import IB, Contract, ContractDetails

from ibterm.broker.contracts import (
    contract_to_instrument,
    no_future,
    no_instrument,
    no_option,
    spec_to_contract,
)
from ibterm.config.reference import futures_table
from ibterm.domain.instrument import Instrument, InstrumentSpec, SecType
from ibterm.domain.symbols import SymbolError, parse_symbol

log = logging.getLogger("ibterm.broker")
_R = TypeVar("_R")
_NO_SUCH_CONTRACT = 200


class InstrumentBook:
    def __init__(self, ib: IB) -> None:
        self._ib = ib
        # Instruments resolved through contract details (min tick, contract month…).
        self.instruments: dict[int, Instrument] = {}
        # The book's own contract lookups, request id -> IB's refusal (other than 200):
        # a failed lookup is explained here, so IB's text is not a notice too.
        self._lookups: dict[int, str] = {}

    def claims_error(self, req_id: int, code: int, message: str) -> bool:
        """An error for one of the lookups: kept as its refusal (200 is an answer)."""
        if req_id not in self._lookups:
            return False
        log.info("lookup %d: IB %d: %s", req_id, code, message)
        if code != _NO_SUCH_CONTRACT:
            self._lookups[req_id] = f"IB {code}: {message}"
        return True

    async def resolve(self, text: str) -> tuple[Instrument | None, str]:
        """Resolve symbol-grammar text to an instrument: (instrument, "") or (None, why),
        why in the trader's words (`SPY has no 605 call for 18 Dec; nearest strikes 600,
        610`). IB's own refusal of the lookup is not also forwarded as a notice."""
        try:
            spec = parse_symbol(text, futures_table().keys())
        except SymbolError as exc:
            return None, str(exc)
        details, refusal = await self._details(spec_to_contract(spec))
        if spec.sec_type is SecType.FUT and not spec.expiry and details:
            details = sorted(details, key=lambda d: d.contract.lastTradeDateOrContractMonth
                             if d.contract else "")[:1]
        if refusal:
            return None, f"{spec} could not be looked up: {refusal}"
        if not details:
            return None, await self._why_missing(spec)
        if len(details) > 1:
            return None, f"{text!r} is ambiguous ({len(details)} contracts match)"
        d = details[0]
        assert d.contract is not None
        inst = contract_to_instrument(d.contract, d)
        self.instruments[inst.con_id] = inst
        return inst, ""

    async def _details(self, contract: Contract) -> tuple[list[ContractDetails], str]:
        """Contract details, and IB's refusal other than "no such contract" (error 200,
        which is the answer, not a failure)."""
        return await self._lookup(lambda: self._ib.reqContractDetailsAsync(contract))

    async def _lookup(self, call: Callable[[], Awaitable[_R]]) -> tuple[_R, str]:
        """One request whose errors are the caller's to explain: `claims_error` keeps them out
        of the notices and records any but 200 as the refusal returned."""
        # The id the request takes next (ib_async 2.1.0 is pinned), as in what_if: nothing
        # runs between reading it and `call` taking it.
        req_id = self._ib.client._reqIdSeq
        self._lookups[req_id] = ""
        try:
            result = await call()
        finally:
            refusal = self._lookups.pop(req_id, "")
        return result, refusal

    async def _why_missing(self, spec: InstrumentSpec) -> str:
        """What is listed near what was asked for, to say why nothing matched."""
        try:
            if spec.sec_type in (SecType.OPT, SecType.FOP):
                # The asked expiry's strikes, for this right; else the chain's expiries.
                same_day = replace(spec, strike=0.0)
                listed, _ = await self._details(spec_to_contract(same_day))
                strikes = [d.contract.strike for d in listed if d.contract is not None]
                if strikes:
                    return no_option(spec, [], strikes)
                if spec.sec_type is SecType.FOP:
                    return no_instrument(spec)
                under, _ = await self._details(spec_to_contract(
                    replace(spec, sec_type=SecType.STK, expiry="", strike=0.0, right=None)))
                if len(under) != 1 or under[0].contract is None:
                    return no_instrument(replace(spec, sec_type=SecType.STK, expiry="",
                                                 strike=0.0, right=None))
                con_id = under[0].contract.conId
                chains, _ = await self._lookup(lambda: self._ib.reqSecDefOptParamsAsync(
                    spec.symbol, "", "STK", con_id))
                return no_option(spec, [e for c in chains for e in c.expirations], [])
            if spec.sec_type is SecType.FUT and spec.expiry:
                listed, _ = await self._details(spec_to_contract(replace(spec, expiry="")))
                return no_future(spec, [d.contractMonth or (
                    d.contract.lastTradeDateOrContractMonth if d.contract else "")
                    for d in listed])
        except ConnectionError:
            pass
        return no_instrument(spec)

    async def resolve_con_id(self, con_id: int) -> bool:
        """Learn a conId's instrument (a position's); True if it was learned."""
        try:
            details, _ = await self._details(Contract(conId=con_id))
        except ConnectionError:
            return False
        if len(details) == 1 and details[0].contract is not None:
            self.instruments[con_id] = contract_to_instrument(details[0].contract, details[0])
            return True
        return False

    async def find_underlying(self, inst: Instrument) -> Instrument | None:
        """An option's underlying, resolved if it is not known yet (ConnectionError when
        the link goes meanwhile)."""
        under = self.underlying_of(inst)
        if under is None and inst.sec_type is SecType.OPT:
            under, _ = await self.resolve(inst.symbol)
        elif under is None:
            contract = Contract(secType="FUT", symbol=inst.symbol, currency=inst.currency,
                                exchange=inst.exchange)
            for d in (await self._details(contract))[0]:
                if d.contract is not None:
                    found = contract_to_instrument(d.contract, d)
                    self.instruments[found.con_id] = found
            under = self.underlying_of(inst)
        return under

    def underlying_of(self, inst: Instrument) -> Instrument | None:
        """An option's underlying among the instruments known: the stock of an equity
        option, the nearest future expiring on or after a futures option."""
        if inst.sec_type is SecType.OPT:
            return next((i for i in self.instruments.values() if i.symbol == inst.symbol
                         and i.sec_type is SecType.STK and i.currency == inst.currency), None)
        if inst.sec_type is SecType.FOP:
            futures = sorted((i for i in self.instruments.values() if i.symbol == inst.symbol
                              and i.sec_type is SecType.FUT and i.expiry[:8] >= inst.expiry[:8]),
                             key=lambda i: i.expiry)
            return futures[0] if futures else None
        return None
