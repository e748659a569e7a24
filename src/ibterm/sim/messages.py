"""Server-to-client messages at server version 178, field for field as ib_async decodes them.

ib_async only logs a message whose field count it cannot unpack, so each encoder here is
exercised by a test in which the real client receives it (tests/sim/test_server.py).
"""

from __future__ import annotations

from ibterm.domain.instrument import Instrument, SecType
from ibterm.sim.protocol import encode
from ibterm.sim.world import SimInstrument

# Incoming message ids (client -> server).
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCOUNT_UPDATES = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DETAILS = 9
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_MANAGED_ACCTS = 17
REQ_CURRENT_TIME = 49
REQ_GLOBAL_CANCEL = 58
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_SEC_DEF_OPT_PARAMS = 78
REQ_PNL = 92
CANCEL_PNL = 93
REQ_PNL_SINGLE = 94
CANCEL_PNL_SINGLE = 95
REQ_COMPLETED_ORDERS = 99

# Tick types.
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE = 0, 1, 2, 3, 4, 5
HIGH, LOW, VOLUME, CLOSE, OPEN = 6, 7, 8, 9, 14
# Delayed data uses its own tick type for each live one.
DELAYED = {BID: 66, ASK: 67, LAST: 68, BID_SIZE: 69, ASK_SIZE: 70, LAST_SIZE: 71,
           HIGH: 72, LOW: 73, VOLUME: 74, CLOSE: 75, OPEN: 76}


def tick_price(req_id: int, tick_type: int, price: float, size: float, attr: int = 0) -> bytes:
    return encode(1, 6, req_id, tick_type, price, size, attr)


def tick_size(req_id: int, tick_type: int, size: float) -> bytes:
    return encode(2, 6, req_id, tick_type, size)


def error(req_id: int, code: int, message: str) -> bytes:
    return encode(4, 2, req_id, code, message, "")


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return encode(6, 2, key, value, currency, account)


def _contract_head(inst: Instrument) -> tuple[object, ...]:
    """conId … tradingClass without primaryExchange (the layout of several messages)."""
    return (inst.con_id, inst.symbol, inst.sec_type.value, inst.expiry, inst.strike,
            inst.right.value if inst.right else "", _multiplier(inst))


def _multiplier(inst: Instrument) -> str:
    if inst.sec_type in (SecType.STK, SecType.CASH):
        return ""
    return f"{inst.multiplier:g}"


def portfolio_value(inst: Instrument, position: float, price: float, value: float,
                    avg_cost: float, unrealized: float, realized: float, account: str) -> bytes:
    return encode(7, 8, *_contract_head(inst), inst.primary_exchange, inst.currency,
                  inst.local_symbol, inst.trading_class, position, price, value, avg_cost,
                  unrealized, realized, account)


def account_time(hhmm: str) -> bytes:
    return encode(8, 1, hhmm)


def next_valid_id(order_id: int) -> bytes:
    return encode(9, 1, order_id)


def contract_details(req_id: int, sim: SimInstrument) -> bytes:
    inst = sim.instrument
    is_stock = inst.sec_type is SecType.STK
    order_types = "DAY,GTC,IOC,LMT,MKT,STP,STPLMT,TRAIL"  # what the order engine executes
    market_name = inst.trading_class
    return encode(
        10, req_id, inst.symbol, inst.sec_type.value, sim.last_trade_date, inst.strike,
        inst.right.value if inst.right else "", inst.exchange, inst.currency,
        inst.local_symbol, market_name, inst.trading_class, inst.con_id, inst.min_tick,
        _multiplier(inst), order_types, inst.exchange, 1,
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


def managed_accounts(accounts: list[str]) -> bytes:
    return encode(15, 1, ",".join(accounts))


def current_time(epoch: int) -> bytes:
    return encode(49, 1, epoch)


def contract_details_end(req_id: int) -> bytes:
    return encode(52, 1, req_id)


def open_order_end() -> bytes:
    return encode(53, 1)


def account_download_end(account: str) -> bytes:
    return encode(54, 1, account)


def exec_details_end(req_id: int) -> bytes:
    return encode(55, 1, req_id)


def tick_snapshot_end(req_id: int) -> bytes:
    return encode(57, 1, req_id)


def market_data_type(req_id: int, data_type: int) -> bytes:
    return encode(58, 1, req_id, data_type)


def position(account: str, inst: Instrument, quantity: float, avg_cost: float) -> bytes:
    return encode(61, 3, account, *_contract_head(inst), inst.exchange, inst.currency,
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


def sec_def_opt_params(req_id: int, exchange: str, under_con_id: int, trading_class: str,
                       multiplier: str, expiries: list[str], strikes: list[float]) -> bytes:
    return encode(75, req_id, exchange, under_con_id, trading_class, multiplier, len(expiries),
                  *expiries, len(strikes), *strikes)


def sec_def_opt_params_end(req_id: int) -> bytes:
    return encode(76, req_id)


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> bytes:
    return encode(94, req_id, daily, unrealized, realized)


def pnl_single(req_id: int, position: float, daily: float, unrealized: float, realized: float,
               value: float) -> bytes:
    return encode(95, req_id, position, daily, unrealized, realized, value)


def completed_orders_end() -> bytes:
    return encode(102)
