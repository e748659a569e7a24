"""TIMS-style stress: each underlying's positions revalued over a grid of price moves and
volatility shifts; its worst loss (at least the per-contract minimum) counts, and the
portfolio's worst loss is the sum over underlyings. Beside it, the correlated view: one
common move for every equity-like underlying. Parameters: the `stress` section of the
risk tables (tables.py, data/risk.yaml); defaults from margin-rules.md.

The whole grid is one numpy pass (pricing.scenario_values): rows x scenarios, each
scenario a column, weighted by quantity x multiplier and summed per underlying. The
unshocked value is the grid's own zero column, so P&L is exactly zero there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ibterm.risk import tables
from ibterm.risk.portfolio import PortfolioErrors, Row
from ibterm.risk.pricing import carry_of, implied_vols, scenario_values, workspace

_OPTIONS = frozenset({"OPT", "FOP"})


def _default(name: str):  # type: ignore[no-untyped-def]
    return field(default_factory=lambda: getattr(tables.shipped().stress, name))


@dataclass(frozen=True, slots=True)
class StressParams:
    scans: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(tables.shipped().stress.scans.items()))
    points_each_side: int = _default("points_each_side")
    vol_shifts: tuple[float, ...] = _default("vol_shifts")  # relative: sigma x (1 + shift)
    min_per_contract: float = _default("min_per_contract")  # x multiplier, per contract
    vol_shift_mode: str = _default("vol_shift_mode")  # "relative" or "absolute"
    correlated_scan: str = _default("correlated_scan")
    correlated_classes: tuple[str, ...] = _default("correlated_classes")

    @classmethod
    def from_table(cls, m: tables.StressModel) -> StressParams:
        return cls(dict(m.scans.items()), m.points_each_side, tuple(m.vol_shifts),
                   m.min_per_contract, m.vol_shift_mode, m.correlated_scan,
                   tuple(m.correlated_classes))


@dataclass(slots=True)
class StressResult:
    worst_loss: float
    by_underlying: dict[str, float]
    grid: list[dict[str, object]]
    correlated_worst_loss: float


def _moves(low: float, high: float, n: int) -> list[float]:
    return sorted({round(low * i / n, 6) for i in range(1, n + 1)}
                  | {0.0} | {round(high * i / n, 6) for i in range(1, n + 1)})


@dataclass(frozen=True, slots=True)
class Positions:
    """The book as arrays, one entry per position: what the pricing and the stress read.
    `vol` is the row's iv, or the volatility implied from its price (the rows' lines and
    prices are read only for that, when an option has no iv)."""

    underlying: list[str]
    index_class: list[str]
    option: np.ndarray
    weight: np.ndarray  # quantity x multiplier
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


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.fromiter(values, np.float64, len(values))  # (None, a missing iv: NaN)


def _days(values: list[int]) -> np.ndarray:
    return np.fromiter(values, np.int64, len(values))


def positions(rows: list[Row], as_of: dt.date, rate: float) -> Positions:
    """The rows as arrays (PortfolioErrors when no volatility reproduces an option's
    price and it has no iv). No data frame on the way: for the few rows of a ticket's
    preview its fixed cost would be most of the time."""
    # One list comprehension per field into np.fromiter: on slotted rows that is faster
    # than attrgetter, map, struct or reading several fields per row (the tuples cost
    # more than they save). What the usual book has in common is checked once on small
    # sets, and the per-row work it makes constant is skipped: all options, no futures
    # options, calls and puts only, no dividend yield, every expiry given.
    n = len(rows)
    kinds = set([r.sec_type for r in rows])
    if kinds <= _OPTIONS:
        option = np.ones(n, bool)
    elif kinds.isdisjoint(_OPTIONS):
        option = np.zeros(n, bool)
    else:
        option = np.fromiter([r.sec_type in _OPTIONS for r in rows], bool, n)
    black76 = np.fromiter([r.sec_type == "FOP" for r in rows], bool, n) if "FOP" in kinds \
        else None
    rights = [r.right for r in rows]
    if set(rights) <= {"C", "P"}:  # one ASCII letter each: the joined bytes line up
        is_call = np.frombuffer("".join(rights).encode("ascii"), np.uint8) == ord("C")
    else:
        is_call = np.fromiter([x == "C" for x in rights], bool, n)
    strike = _floats([r.strike for r in rows])
    strike = np.where(strike > 0, strike, 1.0)
    spot = _floats([r.underlying_price for r in rows])
    weight = _floats([r.quantity * r.multiplier for r in rows])
    iv = _floats([r.iv for r in rows])
    day0 = as_of.toordinal()
    try:
        days = _days([r.expiry.toordinal() for r in rows])  # type: ignore[union-attr]
    except AttributeError:  # stock rows: no expiry, no time
        days = _days([day0 if r.expiry is None else r.expiry.toordinal() for r in rows])
    # (the same division as (expiry - as_of).days / 365.0, so the same floats)
    years = (days - day0) / 365.0
    rates = np.full(n, float(rate))
    divs = [r.div_yield for r in rows]
    if any(divs):
        carry = carry_of(rates, _floats(divs), np.zeros(n, bool) if black76 is None
                         else black76)
    elif black76 is not None:
        carry = carry_of(rates, np.zeros(n), black76)
    else:
        carry = np.zeros(n)
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
                     weight, spot, strike, years, carry, is_call, rates, vol)


def _same_for_all(a: np.ndarray) -> bool:
    """A broadcast view (_uniform's): one value for every row, nothing to pick."""
    return a.ndim == 1 and a.size > 0 and a.strides[0] == 0


def _uniform(a: np.ndarray) -> np.ndarray:
    """`a`, or its one value as a broadcast view when every row has it (the rate and the
    carry of the usual book): the view is picked in no time and prices the same."""
    if a.size and bool((a == a[0]).all()):
        return np.broadcast_to(a[:1], a.shape)
    return a


def _pick(a: np.ndarray, which: np.ndarray | None, size: int) -> np.ndarray:
    if _same_for_all(a):
        return np.broadcast_to(a[:1], (size,))
    return a if which is None else a[which]


@dataclass(slots=True)
class _Part:
    """Some rows of the book as arrays, sorted by underlying (a column the same for every
    row may be a broadcast view)."""

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
        which = np.flatnonzero(mask)
        return _Part(*(_pick(getattr(self, f), which, which.size) for f in _Part.__slots__))


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
    if len(set(together.values())) == 1:
        eligible = np.broadcast_to(np.array([together[next(iter(classes))]]), (book.size,))
    else:
        eligible = np.fromiter([together[c] for c in book.index_class], bool, book.size)
    # The stable order by underlying; none when the rows are grouped already. Codes of 8
    # or 16 bits are sorted by radix (numpy's stable sort of small integers): a tenth of
    # the time of a merge sort of int64, and the same order.
    order: np.ndarray | None = None
    if book.size > 1 and not bool((raw[1:] >= raw[:-1]).all()):
        small = np.uint8 if len(names) <= 1 << 8 else \
            np.uint16 if len(names) <= 1 << 16 else np.int64
        order = np.argsort(raw.astype(small), kind="stable")
    # Each column picked once, straight into the options' and the linear rows' parts.
    option = book.option
    opt_rows: np.ndarray | None
    lin_rows: np.ndarray | None
    if option.all():
        opt_rows, lin_rows = order, np.zeros(0, np.intp)
    elif not option.any():
        opt_rows, lin_rows = np.zeros(0, np.intp), order
    else:
        ordered = option if order is None else option[order]
        base = np.arange(book.size) if order is None else order
        opt_rows, lin_rows = base[ordered], base[~ordered]
    columns = (raw, book.weight, eligible, book.spot, book.strike, book.years, book.vol,
               _uniform(book.rate), _uniform(book.carry), book.is_call)

    def part(rows: np.ndarray | None) -> _Part:
        size = book.size if rows is None else rows.size
        return _Part(*(_pick(c, rows, size) for c in columns))

    opts, lin = part(opt_rows), part(lin_rows)
    contracts = np.bincount(opts.code, weights=np.abs(opts.w), minlength=len(names))
    return names, first_class, opts, lin, contracts


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


def _rounded(a: np.ndarray) -> list[list[float]]:
    """round(x, 2) of every cell, as lists. Python's round is exact: the nearest double to
    the float's own decimal value rounded half to even, i.e. to N / 100. np.rint(x * 100)
    / 100 is that same double (the division is correctly rounded) unless x * 100, rounded,
    crossed a half-cent or x is too large for that product to be within 1e-5 of exact:
    those cells, a few in a thousand, are rounded by Python's round."""
    scaled = a * 100.0
    out = (np.rint(scaled) / 100.0).tolist()
    near = ~(np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) > 1e-4) | ~(np.abs(a) < 1e9)
    if near.any():
        for i, j in zip(*np.nonzero(near), strict=True):
            out[i][j] = round(float(a[i, j]), 2)
    return out  # type: ignore[no-any-return]


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
        grouped = np.add.reduceat(values, starts, axis=0)
        sums[codes[starts]] += grouped
        eligible = p.eligible[part]
        if eligible.all():  # the usual book: the underlyings' sums, not another pass
            together += grouped.sum(axis=0)
        elif eligible.any():
            together += eligible.astype(float) @ values
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
    pnl_of: dict[int, tuple[list[float], float]] = {}  # cells (to the cent), lowest
    grid_of: dict[int, _Grid] = {}
    on_corr_scan = np.array([s == corr_moves for s in scan_of])
    for moves in sorted(set(scan_of)):
        grid = _grid(list(moves), params.vol_shifts)
        member = np.array([s == moves for s in scan_of])
        if member.all():
            o, li = opts, lin
        else:
            o, li = opts.take(member[opts.code]), lin.take(member[lin.code])
        sums, together = _option_sums(o, grid, absolute, k)
        linear = np.bincount(li.code, weights=li.w * li.spot, minlength=k)
        sums += np.outer(linear, 1.0 + grid.moves)
        # Each underlying's grid as plain floats, its worst loss beside it: one pass per
        # scan rather than a few array operations per underlying (200 of them: 4 ms).
        mine = np.flatnonzero(member)
        pnl = sums[mine][:, grid.shown] - sums[mine][:, [grid.base]]
        for c, cells, low in zip(mine.tolist(), _rounded(pnl), pnl.min(axis=1).tolist(),
                                 strict=True):
            pnl_of[c] = (cells, low)
            grid_of[c] = grid
        if correlated_view and moves == corr_moves:
            corr_total += together
    if correlated_view:
        # Rows priced above on another scan are revalued on the common one.
        off_scan = opts.eligible & ~on_corr_scan[opts.code]
        if off_scan.any():
            corr_total += _option_sums(opts.take(off_scan), corr_grid, absolute, k)[1]
        li = lin if lin.eligible.all() else lin.take(lin.eligible)
        corr_total += float(np.sum(li.w * li.spot)) * (1.0 + corr_grid.moves)
    minimum = contracts * params.min_per_contract
    by_underlying: dict[str, float] = {}
    out_grid: list[dict[str, object]] = []
    grids = {id(g): g for g in grid_of.values()}  # (one per scan, not one per underlying)
    cells_of = {i: list(zip(g.moves[g.shown].tolist(), g.shifts[g.shown].tolist(),
                            strict=True)) for i, g in grids.items()}
    for c, name, floor in zip(range(k), names, minimum.tolist(), strict=True):
        pnl, low = pnl_of[c]
        loss = max(0.0, -low)
        by_underlying[name] = round(max(loss, floor), 2)
        out_grid.extend([{"underlying": name, "price_move": m, "vol_shift": v, "pnl": p}
                         for (m, v), p in zip(cells_of[id(grid_of[c])], pnl, strict=True)])
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
