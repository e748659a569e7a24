"""Account and P&L requests and answers: reqAccountUpdates (6), reqManagedAccts (17),
reqPositions (61), reqAccountSummary (62), reqAccountUpdatesMulti (76), reqPnL (92),
reqPnLSingle (94) and their cancels."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.domain.instrument import Instrument
from ibterm.sim.protocol import encode
from ibterm.sim.wire.contract_fields import contract_head
from ibterm.sim.wire.fields import int_field, nothing
from ibterm.sim.wire.layouts import Incoming, Layouts


@dataclass(frozen=True, slots=True)
class AccountUpdatesRequest:
    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """A request about one account (or "All"/"" for every one, where IB allows it)."""

    req_id: int
    account: str


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    req_id: int
    tags: str  # comma-separated tags, or a "$LEDGER" group


@dataclass(frozen=True, slots=True)
class PnlSingleRequest:
    req_id: int
    account: str
    con_id: int


def _read_account_updates(fields: list[str]) -> AccountUpdatesRequest:
    return AccountUpdatesRequest(fields[2] == "1", fields[3])


def _read_updates_multi(fields: list[str]) -> AccountRequest:
    return AccountRequest(int(fields[2]), fields[3])


def _read_summary(fields: list[str]) -> SummaryRequest:
    return SummaryRequest(int(fields[2]), fields[4])


def _read_pnl(fields: list[str]) -> AccountRequest:
    return AccountRequest(int(fields[1]), fields[2])


def _read_pnl_single(fields: list[str]) -> PnlSingleRequest:
    return PnlSingleRequest(int(fields[1]), fields[2], int(fields[4] or 0))


REQ_ACCOUNT_UPDATES = Incoming(6, "reqAccountUpdates", {176: _read_account_updates})
REQ_MANAGED_ACCTS = Incoming(17, "reqManagedAccts", {176: nothing})
REQ_POSITIONS = Incoming(61, "reqPositions", {176: nothing})
REQ_ACCOUNT_SUMMARY = Incoming(62, "reqAccountSummary", {176: _read_summary})
CANCEL_ACCOUNT_SUMMARY = Incoming(63, "cancelAccountSummary", {176: int_field(2)})
CANCEL_POSITIONS = Incoming(64, "cancelPositions", {176: nothing})
REQ_ACCOUNT_UPDATES_MULTI = Incoming(76, "reqAccountUpdatesMulti", {176: _read_updates_multi})
CANCEL_ACCOUNT_UPDATES_MULTI = Incoming(77, "cancelAccountUpdatesMulti", {176: int_field(2)})
REQ_PNL = Incoming(92, "reqPnL", {176: _read_pnl})
CANCEL_PNL = Incoming(93, "cancelPnL", {176: int_field(1)})
REQ_PNL_SINGLE = Incoming(94, "reqPnLSingle", {176: _read_pnl_single})
CANCEL_PNL_SINGLE = Incoming(95, "cancelPnLSingle", {176: int_field(1)})


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return encode(6, 2, key, value, currency, account)


def portfolio_value(inst: Instrument, position: float, price: float, value: float,
                    avg_cost: float, unrealized: float, realized: float, account: str) -> bytes:
    return encode(7, 8, *contract_head(inst), inst.primary_exchange, inst.currency,
                  inst.local_symbol, inst.trading_class, position, price, value, avg_cost,
                  unrealized, realized, account)


def account_time(hhmm: str) -> bytes:
    return encode(8, 1, hhmm)


def managed_accounts(accounts: list[str]) -> bytes:
    return encode(15, 1, ",".join(accounts))


def account_download_end(account: str) -> bytes:
    return encode(54, 1, account)


def position(account: str, inst: Instrument, quantity: float, avg_cost: float) -> bytes:
    return encode(61, 3, account, *contract_head(inst), inst.exchange, inst.currency,
                  inst.local_symbol, inst.trading_class, quantity, avg_cost)


def position_end() -> bytes:
    return encode(62, 1)


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode(63, 1, req_id, account, tag, value, currency)


def account_summary_end(req_id: int) -> bytes:
    return encode(64, 1, req_id)


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> bytes:
    return encode(73, 1, req_id, account, "", key, value, currency)


def account_update_multi_end(req_id: int) -> bytes:
    return encode(74, 1, req_id)


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> bytes:
    return encode(94, req_id, daily, unrealized, realized)


def pnl_single(req_id: int, position: float, daily: float, unrealized: float, realized: float,
               value: float) -> bytes:
    return encode(95, req_id, position, daily, unrealized, realized, value)


ACCOUNT_VALUE = Layouts("updateAccountValue", {176: account_value})
PORTFOLIO_VALUE = Layouts("updatePortfolio", {176: portfolio_value})
ACCOUNT_TIME = Layouts("updateAccountTime", {176: account_time})
MANAGED_ACCOUNTS = Layouts("managedAccounts", {176: managed_accounts})
ACCOUNT_DOWNLOAD_END = Layouts("accountDownloadEnd", {176: account_download_end})
POSITION = Layouts("position", {176: position})
POSITION_END = Layouts("positionEnd", {176: position_end})
ACCOUNT_SUMMARY = Layouts("accountSummary", {176: account_summary})
ACCOUNT_SUMMARY_END = Layouts("accountSummaryEnd", {176: account_summary_end})
ACCOUNT_UPDATE_MULTI = Layouts("accountUpdateMulti", {176: account_update_multi})
ACCOUNT_UPDATE_MULTI_END = Layouts("accountUpdateMultiEnd", {176: account_update_multi_end})
PNL = Layouts("pnl", {176: pnl})
PNL_SINGLE = Layouts("pnlSingle", {176: pnl_single})
