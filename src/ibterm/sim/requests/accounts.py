"""Accounts, positions and P&L: the subscriptions a client holds and what each is sent
again when account values move (on fills and on the server's account timer)."""

from __future__ import annotations

import datetime as dt

from ibterm.sim.accounts import ACCOUNT_KEYS
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.wire.accounts import (
    ACCOUNT_DOWNLOAD_END,
    ACCOUNT_SUMMARY,
    ACCOUNT_SUMMARY_END,
    ACCOUNT_TIME,
    ACCOUNT_UPDATE_MULTI,
    ACCOUNT_UPDATE_MULTI_END,
    ACCOUNT_VALUE,
    CANCEL_ACCOUNT_SUMMARY,
    CANCEL_ACCOUNT_UPDATES_MULTI,
    CANCEL_PNL,
    CANCEL_PNL_SINGLE,
    CANCEL_POSITIONS,
    MANAGED_ACCOUNTS,
    PNL,
    PNL_SINGLE,
    PORTFOLIO_VALUE,
    POSITION,
    POSITION_END,
    REQ_ACCOUNT_SUMMARY,
    REQ_ACCOUNT_UPDATES,
    REQ_ACCOUNT_UPDATES_MULTI,
    REQ_MANAGED_ACCTS,
    REQ_PNL,
    REQ_PNL_SINGLE,
    REQ_POSITIONS,
)


class AccountDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.account_subs: dict[str, dict[str, str]] = {}
        self.multi_subs: dict[int, list[tuple[str, dict[str, str]]]] = {}
        self.summary_subs: dict[int, tuple[set[str], dict[tuple[str, str], str]]] = {}
        self.pnl_subs: dict[int, str] = {}
        self.pnl_single_subs: dict[int, tuple[str, int]] = {}
        self.positions_sub = False

    def _values(self, account: str) -> dict[str, str]:
        values = self.server.account_values(account)
        return {k: (f"{values[k]:.6f}" if k == "Cushion" else f"{values[k]:.2f}")
                for k in ACCOUNT_KEYS}

    def _unknown_account(self, req_id: int, account: str) -> None:
        self.error(req_id, 321, f"Error validating request: unknown account {account!r}")

    def send_managed_accounts(self) -> None:
        self.send(self.layout(MANAGED_ACCOUNTS)(list(self.server.accounts)))

    @serves(REQ_MANAGED_ACCTS)
    def _req_managed_accts(self, fields: list[str]) -> None:
        self.send_managed_accounts()

    @serves(REQ_ACCOUNT_UPDATES)
    def _req_account_updates(self, fields: list[str]) -> None:
        req = REQ_ACCOUNT_UPDATES.read(self.version, fields)
        account = req.account
        if not req.subscribe:
            self.account_subs.pop(account, None)
            return
        if account not in self.server.accounts:
            self._unknown_account(-1, account)
            return
        self.account_subs[account] = {}
        self._push_account_updates(account, full=True)
        self.send(self.layout(ACCOUNT_DOWNLOAD_END)(account))

    def _push_account_updates(self, account: str, full: bool = False) -> None:
        acct = self.server.accounts[account]
        sent = self.account_subs[account]
        values = self._values(account)
        account_value, portfolio_value = self.layout(ACCOUNT_VALUE), self.layout(PORTFOLIO_VALUE)
        out = [account_value(k, v, acct.currency, account)
               for k, v in values.items() if full or sent.get(k) != v]
        sent.update(values)
        for row in acct.portfolio(self.server.world, self.server.market):
            out.append(portfolio_value(row.sim.instrument, row.quantity, row.market_price,
                                       row.market_value, row.avg_cost, row.unrealized,
                                       row.realized, account))
        out.append(self.layout(ACCOUNT_TIME)(dt.datetime.now().strftime("%H:%M")))
        self.send(b"".join(out))

    @serves(REQ_ACCOUNT_UPDATES_MULTI)
    def _req_account_updates_multi(self, fields: list[str]) -> None:
        req = REQ_ACCOUNT_UPDATES_MULTI.read(self.version, fields)
        everyone = req.account in ("", "All")
        accounts = list(self.server.accounts) if everyone else [req.account]
        if any(a not in self.server.accounts for a in accounts):
            self._unknown_account(req.req_id, req.account)
            return
        self.multi_subs[req.req_id] = [(a, {}) for a in accounts]
        self._push_multi(req.req_id, full=True)
        self.send(self.layout(ACCOUNT_UPDATE_MULTI_END)(req.req_id))

    @serves(CANCEL_ACCOUNT_UPDATES_MULTI)
    def _cancel_account_updates_multi(self, fields: list[str]) -> None:
        self.multi_subs.pop(CANCEL_ACCOUNT_UPDATES_MULTI.read(self.version, fields), None)

    def _push_multi(self, req_id: int, full: bool = False) -> None:
        out = []
        update = self.layout(ACCOUNT_UPDATE_MULTI)
        for account, sent in self.multi_subs[req_id]:
            currency = self.server.accounts[account].currency
            values = self._values(account)
            out += [update(req_id, account, k, v, currency)
                    for k, v in values.items() if full or sent.get(k) != v]
            sent.update(values)
        if out:
            self.send(b"".join(out))

    @serves(REQ_ACCOUNT_SUMMARY)
    def _req_account_summary(self, fields: list[str]) -> None:
        req = REQ_ACCOUNT_SUMMARY.read(self.version, fields)
        wanted = set(ACCOUNT_KEYS) if "$LEDGER" in req.tags else set(
            req.tags.split(",")) & set(ACCOUNT_KEYS)
        self.summary_subs[req.req_id] = (wanted, {})
        self._push_summary(req.req_id)
        self.send(self.layout(ACCOUNT_SUMMARY_END)(req.req_id))

    @serves(CANCEL_ACCOUNT_SUMMARY)
    def _cancel_account_summary(self, fields: list[str]) -> None:
        self.summary_subs.pop(CANCEL_ACCOUNT_SUMMARY.read(self.version, fields), None)

    def _push_summary(self, req_id: int) -> None:
        wanted, sent = self.summary_subs[req_id]
        out = []
        summary = self.layout(ACCOUNT_SUMMARY)
        for account, acct in self.server.accounts.items():
            for key, value in self._values(account).items():
                if key in wanted and sent.get((account, key)) != value:
                    out.append(summary(req_id, account, key, value, acct.currency))
                    sent[(account, key)] = value
        if out:
            self.send(b"".join(out))

    @serves(REQ_POSITIONS)
    def _req_positions(self, fields: list[str]) -> None:
        self.positions_sub = True
        out = []
        position = self.layout(POSITION)
        for account, acct in self.server.accounts.items():
            for pos in acct.positions.values():
                inst = self.server.world.instruments[pos.con_id].instrument
                out.append(position(account, inst, pos.quantity,
                                    pos.avg_price * inst.multiplier))
        out.append(self.layout(POSITION_END)())
        self.send(b"".join(out))

    @serves(CANCEL_POSITIONS)
    def _cancel_positions(self, fields: list[str]) -> None:
        self.positions_sub = False

    def push_positions(self, con_ids: set[int]) -> None:
        if not self.positions_sub or self._closed:
            return
        out = []
        position = self.layout(POSITION)
        for account, acct in self.server.accounts.items():
            for con_id in con_ids:
                pos = acct.positions.get(con_id)
                if pos is None:
                    continue
                inst = self.server.world.instruments[con_id].instrument
                out.append(position(account, inst, pos.quantity,
                                    pos.avg_price * inst.multiplier))
        if out:
            self.send(b"".join(out))

    @serves(REQ_PNL)
    def _req_pnl(self, fields: list[str]) -> None:
        req = REQ_PNL.read(self.version, fields)
        if req.account not in self.server.accounts:
            self._unknown_account(req.req_id, req.account)
            return
        self.pnl_subs[req.req_id] = req.account
        self._push_pnl(req.req_id)

    @serves(CANCEL_PNL)
    def _cancel_pnl(self, fields: list[str]) -> None:
        self.pnl_subs.pop(CANCEL_PNL.read(self.version, fields), None)

    def _push_pnl(self, req_id: int) -> None:
        account = self.pnl_subs[req_id]
        acct = self.server.accounts[account]
        values = self.server.account_values(account)
        daily = acct.daily_pnl(self.server.world, self.server.market)
        self.send(self.layout(PNL)(req_id, round(daily, 2), round(values["UnrealizedPnL"], 2),
                                   round(values["RealizedPnL"], 2)))

    @serves(REQ_PNL_SINGLE)
    def _req_pnl_single(self, fields: list[str]) -> None:
        req = REQ_PNL_SINGLE.read(self.version, fields)
        if req.account not in self.server.accounts:
            self._unknown_account(req.req_id, req.account)
            return
        self.pnl_single_subs[req.req_id] = (req.account, req.con_id)
        self._push_pnl_single(req.req_id)

    @serves(CANCEL_PNL_SINGLE)
    def _cancel_pnl_single(self, fields: list[str]) -> None:
        self.pnl_single_subs.pop(CANCEL_PNL_SINGLE.read(self.version, fields), None)

    def _push_pnl_single(self, req_id: int) -> None:
        account, con_id = self.pnl_single_subs[req_id]
        acct = self.server.accounts[account]
        pnl_single = self.layout(PNL_SINGLE)
        for row in acct.portfolio(self.server.world, self.server.market):
            if row.sim.instrument.con_id == con_id:
                self.send(pnl_single(req_id, row.quantity, round(row.daily, 2),
                                     round(row.unrealized, 2), round(row.realized, 2),
                                     round(row.market_value, 2)))
                return
        self.send(pnl_single(req_id, 0, 0.0, 0.0, 0.0, 0.0))

    def push_account(self) -> None:
        if self._closed or not self.ready:
            return
        for account in list(self.account_subs):
            self._push_account_updates(account)
        for req_id in list(self.multi_subs):
            self._push_multi(req_id)
        for req_id in list(self.summary_subs):
            self._push_summary(req_id)
        for req_id in list(self.pnl_subs):
            self._push_pnl(req_id)
        for req_id in list(self.pnl_single_subs):
            self._push_pnl_single(req_id)
