"""The stress path as it was before it was made fast, kept as the oracle the fast one is
compared with (test_stress_fast_paths.py): positions() and stress() of the book, and the
pricing kernel they called, unchanged. What the change left as it was (the parameters,
the result, the scan's moves, implied volatility) is shared, not copied.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ibterm.risk.portfolio import PortfolioErrors, Row
from ibterm.risk.pricing import carry_of, implied_vols
from ibterm.risk.stress import StressParams, StressResult, _moves

_OPTIONS = frozenset({"OPT", "FOP"})
Array = np.ndarray

_P = 0.2316419
_B = (0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Rows per block of the scenario grid: a block's temporaries (rows x scenarios doubles)
# stay in the CPU cache, which more than halves the time of one pass over a large book.
_BLOCK_ROWS = 1024
VOL_FLOOR = 1e-12  # an absolute vol shift can push sigma to zero or below


# 26.2.17 as a polynomial in u = 1 / (1/p + |x|) (= p t), with 1/sqrt(2 pi) folded in.
_U = tuple(b * _INV_SQRT_2PI / _P ** (i + 1) for i, b in enumerate(_B))


def _norm_cdf_into(x: Array, gauss: Array, out: Array, u: Array | None = None) -> None:
    """out = N(x), given gauss = exp(-x^2 / 2). In place, since temporaries are most of
    the cost at this size; u is scratch space like x; out must not be x or gauss."""
    u = np.abs(x, out=u)
    u += 1.0 / _P
    np.divide(1.0, u, out=u)  # (np.reciprocal is slower)
    np.multiply(u, _U[4], out=out)
    for c in (_U[3], _U[2], _U[1], _U[0]):
        out += c
        out *= u
    out *= gauss  # Q = 1 - N(|x|), at most 1/2
    # N(x) = 1/2 + sign(x) (1/2 - Q): no comparison, no masked copy.
    np.subtract(0.5, out, out=u)
    np.copysign(u, x, out=u)
    np.add(u, 0.5, out=out)


_local = threading.local()


def workspace(name: str, rows: int, cols: int) -> Array:
    """A (rows, cols) scratch array, kept per thread and reused from call to call: a
    fresh one of a few hundred kilobytes or more is, often, a round trip to the operating
    system whose page faults cost more than the arithmetic done in it. Its contents are
    whatever the last user left."""
    pool: dict[str, Array] = _local.__dict__.setdefault("arrays", {})
    flat = pool.get(name)
    if flat is None or flat.size < rows * cols:
        flat = pool[name] = np.empty(max(rows * cols, 1))
    return flat[:rows * cols].reshape(rows, cols)


def _f(a: object, n: int) -> Array:
    return np.broadcast_to(np.asarray(a, dtype=float), (n,))


def scenario_values(spot: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike,
                    rate: ArrayLike, carry: ArrayLike, is_call: ArrayLike,
                    moves: Sequence[float] | Array, shifts: Sequence[float] | Array,
                    weight: ArrayLike | None = None, absolute_vol: bool = False,
                    out: Array | None = None) -> Array:
    """values[i, j]: row i's option value (times weight[i]) with its spot moved by
    moves[j] (spot x (1 + move)) and its volatility shifted by shifts[j] (sigma x
    (1 + shift), or sigma + shift when absolute_vol). Written into `out` when given."""
    spot = np.asarray(spot, dtype=float)
    n = spot.shape[0]
    strike, years, vol = _f(strike, n), _f(years, n), _f(vol, n)
    rate, carry, weight = _f(rate, n), _f(carry, n), _f(1.0 if weight is None else weight, n)
    phi = np.where(_f(is_call, n) > 0, 1.0, -1.0)
    move_factor = 1.0 + np.asarray(moves, dtype=float)
    shift = np.asarray(shifts, dtype=float)
    if move_factor.shape != shift.shape:
        raise ValueError("moves and shifts are per scenario: give one of each per column")
    if out is None:
        out = np.empty((n, move_factor.shape[0]))
    t = np.maximum(years, 0.0)
    live = (t > 0) & (vol > 0)
    disc_r = np.exp(-rate * t)
    if not live.all():
        # Discounted forward intrinsic: max(phi (S' e^(-qT) - K e^(-rT)), 0).
        dead = ~live
        fwd = (phi * spot * np.exp(-carry * t))[dead, None] * move_factor[None, :] \
            - (phi * strike * disc_r)[dead, None]
        out[dead] = np.maximum(fwd, 0.0) * weight[dead, None]
        if live.any():
            out[live] = scenario_values(spot[live], strike[live], years[live], vol[live],
                                        rate[live], carry[live], phi[live] > 0, moves, shifts,
                                        weight[live], absolute_vol)
        return out
    sqrt_t = np.sqrt(t)
    # phi d1 = (ln(S/K) + ln(1 + move) + (r - q) T) / (phi sigma' sqrt T)
    #          + phi sigma' sqrt T / 2, and phi d2 the same less phi sigma' sqrt T:
    # phi is folded into the volatility term, which saves two passes over the grid.
    base = np.log(spot / strike) + (rate - carry) * t
    log_move = np.log(move_factor)
    phi_sig_t = phi * vol * sqrt_t
    # w * phi * S * e^(-qT) and w * phi * K * e^(-rT): the price's two coefficients.
    s_coef = weight * phi * spot * np.exp(-carry * t)
    k_coef = weight * phi * strike * disc_r
    # n(d2) = n(d1) x S' e^(-qT) / (K e^(-rT)): one exp for both CDFs.
    fwd_ratio = spot * np.exp(-carry * t) / (strike * disc_r)
    rows = min(n, _BLOCK_ROWS)
    half_b, x_b, d2_b, n1_b, u_b = (workspace(f"block{i}", rows, shift.shape[0])
                                    for i in range(5))
    one_plus_shift = 1.0 + shift
    for i in range(0, n, _BLOCK_ROWS):
        sl = slice(i, min(i + _BLOCK_ROWS, n))
        m = sl.stop - sl.start
        half, x, d2, n1, u = half_b[:m], x_b[:m], d2_b[:m], n1_b[:m], u_b[:m]
        if absolute_vol:
            np.add(vol[sl, None], shift[None, :], out=half)
            np.maximum(half, VOL_FLOOR, out=half)
            half *= (phi * sqrt_t)[sl, None]
        else:
            np.multiply(phi_sig_t[sl, None], one_plus_shift[None, :], out=half)
        np.add(base[sl, None], log_move[None, :], out=x)
        x /= half
        half *= 0.5
        np.subtract(x, half, out=d2)
        x += half  # phi d1
        gauss = np.multiply(x, x, out=half)
        gauss *= -0.5
        np.exp(gauss, out=gauss)
        _norm_cdf_into(x, gauss, n1, u)
        gauss *= fwd_ratio[sl, None]
        gauss *= move_factor
        _norm_cdf_into(d2, gauss, x, u)  # x now holds N(phi d2)
        n1 *= s_coef[sl, None]
        n1 *= move_factor
        x *= k_coef[sl, None]
        np.subtract(n1, x, out=out[sl])
    return out



@dataclass(frozen=True, slots=True)
class Positions:
    """The book as arrays, one entry per position: what the pricing and the stress read.
    `vol` is the row's iv, or the volatility implied from its price (the rows' lines and
    prices are read only for that, when an option has no iv)."""

    underlying: list[str]
    index_class: list[str]
    option: np.ndarray
    qty: np.ndarray
    mult: np.ndarray
    spot: np.ndarray
    strike: np.ndarray  # stock rows: any positive number
    years: np.ndarray
    carry: np.ndarray  # the dividend yield, or the rate for Black-76 (pricing.carry_of)
    is_call: np.ndarray
    rate: np.ndarray
    vol: np.ndarray

    @property
    def size(self) -> int:
        return len(self.underlying)


def positions(rows: list[Row], as_of: dt.date, rate: float) -> Positions:
    """The rows as arrays (PortfolioErrors when no volatility reproduces an option's
    price and it has no iv). No data frame on the way: for the few rows of a ticket's
    preview its fixed cost would be most of the time."""
    n = len(rows)
    expiries = [r.expiry for r in rows]
    years_of: dict[dt.date | None, float] = {e: (e - as_of).days / 365.0
                                             for e in set(expiries) if e is not None}
    years_of[None] = 0.0
    # Plain comprehensions into np.fromiter: the fastest way from row objects to arrays
    # (a third of a millisecond each for 10,000 rows). The security types are read once.
    kinds = [r.sec_type for r in rows]
    option = np.fromiter([k in _OPTIONS for k in kinds], bool, n)
    strike = np.fromiter([r.strike for r in rows], np.float64, n)
    rates = np.full(n, float(rate))
    spot = np.fromiter([r.underlying_price for r in rows], np.float64, n)
    strike = np.where(strike > 0, strike, 1.0)
    years = np.fromiter([years_of[e] for e in expiries], np.float64, n)
    is_call = np.fromiter([r.right == "C" for r in rows], bool, n)
    black76 = np.fromiter([k == "FOP" for k in kinds], bool, n) if "FOP" in set(kinds) \
        else np.zeros(n, bool)
    carry = carry_of(rates, np.fromiter([r.div_yield for r in rows], np.float64, n), black76)
    iv = np.fromiter([np.nan if r.iv is None else r.iv for r in rows], np.float64, n)
    vol = np.where(option, iv, 0.0)
    need = option & np.isnan(iv)
    if need.any():
        which = np.flatnonzero(need).tolist()
        price = np.fromiter([rows[i].price for i in which], np.float64, len(which))
        implied = implied_vols(spot[need], strike[need], years[need], rates[need],
                               carry[need], is_call[need], price)
        bad = [rows[i].line for i, v in zip(which, np.isnan(implied).tolist(), strict=True)
               if v]
        if bad:
            raise PortfolioErrors([f"{line}: no volatility makes this option worth its "
                                   "price: give iv" for line in bad])
        vol[need] = implied
    return Positions([r.symbol for r in rows], [r.index_class for r in rows], option,
                     np.fromiter([r.quantity for r in rows], np.float64, n),
                     np.fromiter([r.multiplier for r in rows], np.float64, n), spot,
                     strike, years, carry, is_call, rates, vol)


@dataclass(slots=True)
class _Part:
    """Some rows of the book as arrays, sorted by underlying."""

    code: np.ndarray  # index into the book's names
    w: np.ndarray  # quantity x multiplier
    eligible: np.ndarray  # in the correlated view
    spot: np.ndarray
    strike: np.ndarray
    years: np.ndarray
    vol: np.ndarray
    rate: np.ndarray
    carry: np.ndarray
    is_call: np.ndarray

    def take(self, mask: np.ndarray) -> _Part:
        return _Part(*(getattr(self, f)[mask] for f in _Part.__slots__))


def _book(book: Positions, correlated: tuple[str, ...]
          ) -> tuple[list[str], list[str], _Part, _Part, np.ndarray]:
    """(names, first_class, options, linear rows, option contracts per underlying)."""
    under = book.underlying
    names = sorted(set(under))
    index = {name: i for i, name in enumerate(names)}
    raw = np.fromiter([index[u] for u in under], np.int64, book.size)
    classes = set(book.index_class)
    if len(classes) == 1:  # (the usual book: a third of a millisecond per pass saved)
        first_class = [next(iter(classes))] * len(names)
    else:
        # Built backwards, so each underlying keeps its first row's class.
        first = dict(zip(reversed(under), reversed(book.index_class), strict=True))
        first_class = [first[name] for name in names]
    together = {c: c in correlated for c in classes}
    order = np.argsort(raw, kind="stable")
    if len(set(together.values())) == 1:
        eligible = np.full(book.size, together[next(iter(classes))])
    else:
        eligible = np.fromiter([together[c] for c in book.index_class], bool,
                               book.size)[order]
    code = raw[order]
    w = (book.qty * book.mult)[order]
    part = _Part(code, w, eligible, book.spot[order], book.strike[order], book.years[order],
                 book.vol[order], book.rate[order], book.carry[order], book.is_call[order])
    option = book.option[order]
    contracts = np.bincount(code[option], weights=np.abs(w[option]), minlength=len(names))
    return names, first_class, part.take(option), part.take(~option), contracts


@dataclass(frozen=True, slots=True)
class _Grid:
    moves: np.ndarray  # per column
    shifts: np.ndarray
    base: int  # the column with no move and no shift
    shown: np.ndarray  # the columns of the grid itself (the base may be an extra one)


def _grid(moves: list[float], shifts: tuple[float, ...]) -> _Grid:
    ordered = sorted(set(shifts))
    cells = [(m, v) for m in moves for v in ordered]
    shown = len(cells)
    if (0.0, 0.0) in cells:
        base = cells.index((0.0, 0.0))
    else:
        cells.append((0.0, 0.0))
        base = shown
    return _Grid(np.array([c[0] for c in cells]), np.array([c[1] for c in cells]), base,
                 np.arange(shown))


_CHUNK = 8192  # option rows priced at a time: bounds the memory of a large book


def _option_sums(p: _Part, grid: _Grid, absolute: bool, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(per underlying, eligible rows): the weighted scenario values of the options,
    summed per underlying (one row per code, zeros where none) and over the rows in the
    correlated view. Priced in chunks into a reused workspace."""
    sums = np.zeros((size, grid.moves.size))
    together = np.zeros(grid.moves.size)
    for start in range(0, p.code.size, _CHUNK):
        part = slice(start, min(start + _CHUNK, p.code.size))
        values = scenario_values(p.spot[part], p.strike[part], p.years[part], p.vol[part],
                                 p.rate[part], p.carry[part], p.is_call[part], grid.moves,
                                 grid.shifts, weight=p.w[part], absolute_vol=absolute,
                                 out=workspace("stress", part.stop - part.start,
                                               grid.moves.size))
        codes = p.code[part]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        sums[codes[starts]] += np.add.reduceat(values, starts, axis=0)
        together += p.eligible[part].astype(float) @ values
    return sums, together


def stress(book: Positions, params: StressParams | None = None,
           correlated_view: bool = True) -> StressResult:
    params = params or StressParams()
    absolute = params.vol_shift_mode == "absolute"
    if book.size == 0:
        return StressResult(0.0, {}, [], 0.0)
    names, first_class, opts, lin, contracts = _book(book, params.correlated_classes)
    k = len(names)
    # One scan per underlying, whatever its rows say (the first row's class decides):
    # two classes for one underlying would count its positions twice.
    by_class = {c: tuple(_moves(*params.scans[c], params.points_each_side))
                for c in set(first_class)}
    scan_of = [by_class[c] for c in first_class]
    corr_moves = tuple(_moves(*params.scans[params.correlated_scan], params.points_each_side))
    corr_grid = _grid(list(corr_moves), params.vol_shifts)
    corr_total = np.zeros(corr_grid.moves.size)
    pnl_of: dict[int, tuple[list[float], float]] = {}  # grid cells, the lowest
    grid_of: dict[int, _Grid] = {}
    on_corr_scan = np.array([s == corr_moves for s in scan_of])
    for moves in sorted(set(scan_of)):
        grid = _grid(list(moves), params.vol_shifts)
        member = np.array([s == moves for s in scan_of])
        o, li = opts.take(member[opts.code]), lin.take(member[lin.code])
        sums, together = _option_sums(o, grid, absolute, k)
        linear = np.bincount(li.code, weights=li.w * li.spot, minlength=k)
        sums += np.outer(linear, 1.0 + grid.moves)
        # Each underlying's grid as plain floats, its worst loss beside it: one pass per
        # scan rather than a few array operations per underlying (200 of them: 4 ms).
        mine = np.flatnonzero(member)
        pnl = sums[mine][:, grid.shown] - sums[mine][:, [grid.base]]
        for c, cells, low in zip(mine.tolist(), pnl.tolist(), pnl.min(axis=1).tolist(),
                                 strict=True):
            pnl_of[c] = (cells, low)
            grid_of[c] = grid
        if correlated_view and moves == corr_moves:
            corr_total += together
    if correlated_view:
        # Rows priced above on another scan are revalued on the common one.
        o = opts.take(opts.eligible & ~on_corr_scan[opts.code])
        if o.code.size:
            corr_total += _option_sums(o, corr_grid, absolute, k)[1]
        li = lin.take(lin.eligible)
        corr_total += float(np.sum(li.w * li.spot)) * (1.0 + corr_grid.moves)
    minimum = contracts * params.min_per_contract
    by_underlying: dict[str, float] = {}
    out_grid: list[dict[str, object]] = []
    cells_of = {id(g): list(zip(g.moves[g.shown].tolist(), g.shifts[g.shown].tolist(),
                                strict=True)) for g in grid_of.values()}
    for c, name, floor in zip(range(k), names, minimum.tolist(), strict=True):
        pnl, low = pnl_of[c]
        loss = max(0.0, -low)
        by_underlying[name] = round(max(loss, floor), 2)
        out_grid.extend({"underlying": name, "price_move": m, "vol_shift": v,
                         "pnl": round(p, 2)}
                        for (m, v), p in zip(cells_of[id(grid_of[c])], pnl, strict=True))
    correlated = 0.0
    if correlated_view and (opts.eligible.any() or lin.eligible.any()):
        corr_pnl = corr_total[corr_grid.shown] - corr_total[corr_grid.base]
        correlated = max(0.0, -float(corr_pnl.min()))
    return StressResult(
        worst_loss=round(sum(by_underlying.values()), 2),
        by_underlying=by_underlying,
        grid=out_grid,
        correlated_worst_loss=round(correlated, 2),
    )
