"""Pre-trade checks: validation, precautionary limits, account limits, trading state.

Pure functions of an order, a market snapshot and the profile: the ticket calls them as
the trader types, the pipeline calls them again just before sending.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ibterm.config.settings import Profile
from ibterm.domain.combo import combo_market, combo_multiplier, combo_problem
from ibterm.domain.connection import TradingMode
from ibterm.domain.numbers import plain
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TradingState,
)
from ibterm.domain.quote import FLAG_TEXT, MarketDataType, Quote
from ibterm.domain.ticks import on_tick, round_in_favour

OK, BREACH, BLOCK = CheckSeverity.OK, CheckSeverity.BREACH, CheckSeverity.BLOCK


@dataclass(frozen=True, slots=True)
class MarketView:
    """What the checks know of the world at one moment."""

    quotes: dict[int, Quote]  # by con_id
    positions: dict[int, float]  # by con_id, signed quantity in the order's account
    now: float  # the clock quotes' ages are measured on
    stale_after: float
    state: TradingState
    mode: TradingMode
    # The accounts the gateway's login manages (empty: not known, not connected), and the
    # profile's name, for the account-mode check.
    accounts: tuple[str, ...] = ()
    profile_name: str = ""


# IB's paper accounts: DU… (an individual's paper account), DF… (a paper advisor's master).
PAPER_PREFIXES = ("DU", "DF")


def is_paper_account(account: str) -> bool:
    return account.strip().upper().startswith(PAPER_PREFIXES)


def account_mode_problem(mode: TradingMode, accounts: tuple[str, ...] | list[str],
                         profile_name: str = "") -> str:
    """Why the gateway's login does not fit the profile's mode ("" when it does): a paper
    (or demo) profile may only reach paper accounts, a live one only live accounts. The
    mode decides how carefully orders are confirmed; a mismatch would send unconfirmed
    orders to real money, or label paper trades LIVE."""
    name = f"profile {profile_name!r}" if profile_name else "this profile"
    for account in accounts:
        paper = is_paper_account(account)
        if mode is TradingMode.LIVE and paper:
            return (f"{name} is live but the gateway's account {account} is a paper "
                    "account: no orders are sent; connect to a live login or use a paper "
                    "profile")
        if mode is not TradingMode.LIVE and not paper:
            return (f"{name} is {mode.value} but the gateway's account {account} is a live "
                    "account: no orders are sent; connect to a paper login or use a live "
                    "profile")
    return ""


def reference(spec: OrderSpec, quote: Quote | None) -> float | None:
    """The relevant side of the NBBO: what a buy pays (ask), what a sell gets (bid)."""
    if quote is None:
        return None
    return quote.ask if spec.side is Side.BUY else quote.bid


def check_leg(spec: OrderSpec, leg: int, profile: Profile, view: MarketView,
              opening: bool = True, limits_apply: bool = True) -> list[CheckResult]:
    out: list[CheckResult] = []
    inst = spec.instrument

    def add(check: str, severity: CheckSeverity, message: str) -> None:
        out.append(CheckResult(check, severity, message, leg))

    # --- validation (no override) ---
    _permissions(spec, profile, view, add)
    if inst.sec_type not in profile.allowed_sec_types:
        add("scope", BLOCK, f"{inst.sec_type.value} is not allowed by this profile")
    if not (spec.quantity > 0 and math.isfinite(spec.quantity)):
        add("quantity", BLOCK, "quantity must be a positive number")
    else:
        steps = spec.quantity / inst.size_increment
        if abs(steps - round(steps)) > 1e-9:
            add("quantity", BLOCK, f"quantity must be a multiple of {plain(inst.size_increment)}")
    t = spec.order_type
    if t.needs_limit and not _positive(spec.limit):
        add("price", BLOCK, "a limit price is required")
    if t.needs_stop and not _positive(spec.stop):
        add("price", BLOCK, "a stop price is required")
    if t is OrderType.TRAIL and not (_positive(spec.trail_amount) or _positive(spec.trail_percent)):
        add("price", BLOCK, "a trailing amount or percent is required")
    for name, price, side in (("limit", spec.limit, spec.side),
                              ("stop", spec.stop, spec.side.opposite)):
        if _positive(price) and not on_tick(price, inst.min_tick):  # type: ignore[arg-type]
            # A stop rounds away from the market (later to trigger), a limit to a better price.
            rounded = round_in_favour(price, inst.min_tick, side)  # type: ignore[arg-type]
            add("tick", BREACH, f"{name} {plain(price)} is not on the "  # type: ignore[arg-type]
                                f"{plain(inst.min_tick)} tick: "
                                f"override to send it at {plain(rounded)} (rounded in your favour)")

    # --- trading state (no override) ---
    position = view.positions.get(inst.con_id, 0.0)
    reduces = _reduces(position, spec.signed_quantity)
    if view.state is TradingState.HALTED:
        add("state", BLOCK, "trading is HALTED: only cancels and flatten")
    elif view.state is TradingState.REDUCING and opening and not reduces:
        add("state", BLOCK, "trading is REDUCING: only orders that reduce a position")

    # --- account limits (no override) ---
    if (profile.limits.max_position is not None and opening and not reduces
            and abs(position + spec.signed_quantity) > profile.limits.max_position):
        add("position", BLOCK, f"position would be {plain(position + spec.signed_quantity)}, over "
                               f"the limit of {plain(profile.limits.max_position)}")

    # --- precautionary limits (override in the confirmation) ---
    quote = view.quotes.get(inst.con_id)
    ref = reference(spec, quote)
    if quote is None or ref is None:
        add("quote", BREACH, f"no quote for {inst.display}: the price checks have no reference")
    else:
        problem = _quote_problem(quote, view)
        if problem:
            add("quote", BREACH, f"the {inst.display} quote is {problem}: it cannot be the "
                                 "reference for the price checks")
            ref = None  # so the deviation, ticks and value checks never lean on it
    lim = profile.limits.for_sec_type(inst.sec_type)
    if limits_apply:
        if spec.quantity > lim.max_order_size:
            add("size", BREACH, f"size {plain(spec.quantity)} is over the limit of "
                                f"{plain(lim.max_order_size)}")
        price = spec.limit or spec.stop or ref
        if price:
            value = spec.quantity * price * inst.multiplier
            if value > lim.max_order_value:
                add("value", BREACH, f"value {value:,.0f} is over the limit of "
                                     f"{lim.max_order_value:,.0f}")
    if spec.limit is not None and ref and limits_apply:
        deviation = abs(spec.limit - ref) / ref
        if deviation > lim.max_price_deviation:
            touch = "ask" if spec.side is Side.BUY else "bid"
            add("deviation", BREACH, f"limit {plain(spec.limit)} is {deviation:.1%} from the "
                                     f"{touch} {plain(ref)} (limit "
                                     f"{lim.max_price_deviation:.0%})")
        ticks = abs(spec.limit - ref) / inst.min_tick
        if ticks > lim.max_ticks_away:
            add("ticks", BREACH, f"limit is {ticks:.0f} ticks from the market (limit "
                                 f"{lim.max_ticks_away})")
    if not out:
        add("all", OK, "all checks passed")
    return out


def check_combo(spec: OrderSpec, leg: int, profile: Profile,
                view: MarketView) -> list[CheckResult]:
    """A combination order, as one order over its legs: permissions, size and position
    per leg; value and price against the market built from every leg's quote, which each
    must be usable (live, fresh, not flagged, two-sided) or nothing prices the combination."""
    out: list[CheckResult] = []

    def add(check: str, severity: CheckSeverity, message: str) -> None:
        out.append(CheckResult(check, severity, message, leg))

    legs = spec.combo
    names = [f"leg {i + 1} ({c.instrument.display})" for i, c in enumerate(legs)]
    # --- validation (no override) ---
    _permissions(spec, profile, view, add)
    problem = combo_problem(legs)
    if problem:
        add("combo", BLOCK, problem)
    for name, c in zip(names, legs, strict=True):
        if c.instrument.sec_type not in profile.allowed_sec_types:
            add("scope", BLOCK, f"{name}: {c.instrument.sec_type.value} is not allowed by "
                                "this profile")
    if not (spec.quantity > 0 and math.isfinite(spec.quantity)
            and spec.quantity == round(spec.quantity)):
        add("quantity", BLOCK, "a combination's quantity is a whole positive number")
    t = spec.order_type
    limit = spec.limit
    if t not in (OrderType.LMT, OrderType.MKT):
        add("price", BLOCK, "a combination is LMT or MKT")
    elif t is OrderType.LMT and not (limit is not None and math.isfinite(limit) and limit):
        add("price", BLOCK, "a limit price is required (bought: positive a debit, negative "
                            "a credit; sold: positive a credit)")
    tick = spec.instrument.min_tick
    if limit is not None and math.isfinite(limit) and not on_tick(limit, tick):
        rounded = round_in_favour(limit, tick, spec.side)
        add("tick", BREACH, f"limit {plain(limit)} is not on the {plain(tick)} tick: "
                            f"override to send it at {plain(rounded)} (rounded in your favour)")

    # --- trading state and account limits (no override) ---
    moves = [(name, c.instrument.con_id, view.positions.get(c.instrument.con_id, 0.0),
              spec.leg_side(c).sign * spec.leg_quantity(c)) for name, c in zip(names, legs,
                                                                            strict=True)]
    reduces = all(_reduces(position, signed) for _, _, position, signed in moves)
    if view.state is TradingState.HALTED:
        add("state", BLOCK, "trading is HALTED: only cancels and flatten")
    elif view.state is TradingState.REDUCING and not reduces:
        add("state", BLOCK, "trading is REDUCING: a combination must reduce the position "
                            "of every leg")
    max_position = profile.limits.max_position
    if max_position is not None and not reduces:
        for name, _, position, signed in moves:
            if abs(position + signed) > max_position:
                add("position", BLOCK, f"{name}: position would be {plain(position + signed)}, "
                                       f"over the limit of {plain(max_position)}")

    # --- quotes: every leg's, or no price for the combination (no override) ---
    usable = True
    for name, c in zip(names, legs, strict=True):
        quote = view.quotes.get(c.instrument.con_id)
        why = "missing" if quote is None else _quote_problem(quote, view)
        if why:
            usable = False
            add("quote", BLOCK, f"{name}: the quote is {why}: a combination is priced from "
                                "every leg's live quote")
    market = combo_market(legs, view.quotes) if usable else None

    # --- precautionary limits (override in the confirmation) ---
    lim = profile.limits.for_combo(c.instrument.sec_type for c in legs)
    if spec.quantity > lim.max_order_size:
        add("size", BREACH, f"size {plain(spec.quantity)} is over the limit of "
                            f"{plain(lim.max_order_size)} combinations")
    for name, c in zip(names, legs, strict=True):
        leg_limit = profile.limits.for_sec_type(c.instrument.sec_type).max_order_size
        if spec.leg_quantity(c) > leg_limit:
            add("size", BREACH, f"{name}: size {plain(spec.leg_quantity(c))} is over the limit "
                                f"of {plain(leg_limit)}")
    price = limit if limit is not None else (market.natural(spec.side) if market else None)
    if price is not None and math.isfinite(price):
        # The legs' own multiplier: a buy-write's net is per share, its unit 100 of them.
        value = abs(price) * combo_multiplier(legs) * spec.quantity
        if value > lim.max_order_value:
            add("value", BREACH, f"value {value:,.0f} is over the limit of "
                                 f"{lim.max_order_value:,.0f}")
    if limit is not None and market is not None and math.isfinite(limit):
        distance = abs(limit - market.mid)
        allowed = max(lim.max_price_deviation * abs(market.mid), market.half_width)
        if distance > allowed + 1e-9:
            add("deviation", BREACH,
                f"limit {plain(limit)} is {plain(distance)} from the legs' mid "
                f"{plain(market.mid)}, more than "
                f"{lim.max_price_deviation:.0%} of it and outside the legs' market "
                f"{plain(market.bid)} to {plain(market.ask)}")
    if not out:
        add("all", OK, "all checks passed")
    return out


def check_intent(intent: OrderIntent, profile: Profile, view: MarketView) -> list[CheckResult]:
    flatten = intent.kind is IntentKind.FLATTEN
    results: list[CheckResult] = []
    for i, spec in enumerate(intent.legs):
        if spec.combo:
            results += check_combo(spec, i, profile, view)
            if intent.kind is not IntentKind.SINGLE:
                results.append(CheckResult("combo", BLOCK, "a combination order goes alone, "
                                           "not in a bracket, an OCA group or flatten", i))
            continue
        # A bracket's exits only ever close what its entry opens.
        opening = not (intent.kind is IntentKind.BRACKET and i > 0) and not flatten
        results += check_leg(spec, i, profile, view, opening=opening,
                             limits_apply=not flatten)
    if flatten:
        results = [r for r in results if not (r.check == "state" and r.severity is BLOCK)]
    return results


def _permissions(spec: OrderSpec, profile: Profile, view: MarketView,
                 add: Callable[[str, CheckSeverity, str], None]) -> None:
    """What the profile and the gateway's login allow, the same for every order."""
    if profile.read_only:
        add("read-only", BLOCK, "this profile is read-only: it never sends orders")
    mismatch = account_mode_problem(view.mode, view.accounts, view.profile_name)
    if mismatch:
        add("account-mode", BLOCK, mismatch)
    if profile.allowed_accounts and spec.account and spec.account not in profile.allowed_accounts:
        add("scope", BLOCK, f"account {spec.account} is not allowed by this profile")


def _quote_problem(quote: Quote, view: MarketView) -> str:
    if quote.flag:
        return FLAG_TEXT[quote.flag]
    if quote.is_stale(view.now, view.stale_after):
        return f"stale ({quote.age(view.now):.0f}s old)"
    if quote.data_type is not MarketDataType.LIVE:
        return quote.data_type.label
    if quote.bid is None or quote.ask is None:
        return "one-sided"
    if quote.bid >= quote.ask:
        return "crossed"
    return ""


def _reduces(position: float, signed: float) -> bool:
    return position != 0 and (position > 0) != (signed > 0) and abs(signed) <= abs(position)


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0
