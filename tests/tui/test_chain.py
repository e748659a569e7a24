"""The option chain in the running app against the simulator: SPY's expiries and strikes
centred on the money, greeks in range (calls' delta positive, puts' negative), only the
strikes on screen quoted and every line given back on escape, open interest beside the
volume where there is room, paging that moves the subscriptions with the window,
in-the-money sides marked, and legs picked by keys."""

from __future__ import annotations

from textual.pilot import Pilot

from ibterm.broker.quotes import CHAIN
from ibterm.domain.greeks import Greeks, OptionQuote
from ibterm.domain.instrument import Right
from ibterm.domain.orders import Side
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.sim.server import SimServer
from ibterm.tui import format as fmt
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.chain import ChainScreen, side_mark
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until


def _quotes_served(sim: SimServer) -> int:
    return sum(len(c.quotes) for c in sim.connections)


def _greeks_shown(screen: ChainScreen) -> bool:
    return bool(screen.rows) and all(
        s.quote is not None and s.quote.greeks is not None
        and s.quote.greeks.delta is not None for r in screen.rows for s in (r.call, r.put))


async def _quoted(pilot: Pilot[None], app: IbtermApp) -> None:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: bool(watchlist.items)
                and len(watchlist.quotes) == len(watchlist.items), timeout=10)
    watchlist.move_cursor(row=0)


async def _open(pilot: Pilot[None], app: IbtermApp) -> ChainScreen:
    await _quoted(pilot, app)
    await pilot.press("O")
    await until(pilot, lambda: isinstance(app.screen, ChainScreen))
    screen = app.screen
    assert isinstance(screen, ChainScreen)
    await until(pilot, lambda: _greeks_shown(screen), timeout=10)
    return screen


async def test_the_chain_quotes_the_strikes_on_screen_and_releases_them(sim: SimServer) -> None:
    app = make_app(sim, 141, ["SPY"])
    async with app.run_test(size=(120, 24)) as pilot:
        await _quoted(pilot, app)
        base, lines = _quotes_served(sim), app.session.lines.used
        screen = await _open(pilot, app)
        assert screen.chain is not None and len(screen.chain.expiries) > 2
        window = [r.strike for r in screen.rows]
        count = len(window)
        assert count == screen.view.row_count < len(screen.strikes)
        # Centred on the money: SPY is near 600.
        price = screen.under_price()
        assert price is not None and window[0] < price < window[-1]
        atm = next(r for r in screen.rows if r.atm)
        assert abs(atm.strike - price) <= 2.5
        assert abs(window.index(atm.strike) - count // 2) <= 1
        for row in screen.rows:
            call, put = row.call.quote, row.put.quote
            assert call is not None and call.greeks is not None and put is not None
            assert put.greeks is not None
            # The front expiry may be today's: far from the money a delta can be 0 or 1.
            assert 0 <= call.greeks.delta <= 1 and -1 <= put.greeks.delta <= 0  # type: ignore[operator]
            if row is atm:
                assert 0 < call.greeks.delta < 1 and -1 < put.greeks.delta < 0  # type: ignore[operator]
            assert call.greeks.iv is not None and 0.05 < call.greeks.iv < 1
            # In the money: calls below the price, puts above it.
            assert row.call.itm == (row.strike < price) and row.put.itm == (row.strike > price)
            assert row.call.mark == row.put.mark == " "
        # Open interest beside the volume, once IB has sent it (it has its own tick).
        await until(pilot, lambda: all(s.quote is not None and s.quote.open_interest
                                       for r in screen.rows for s in (r.call, r.put)))
        screen.refresh_view()
        drawn = str(screen.view.render()).splitlines()
        assert drawn[0].split()[-7:] == ["OI", "Vol", "Δ", "IV%", "Mid", "Ask", "Bid"]
        assert atm.call.quote is not None and atm.put.quote is not None
        line = next(text for text in drawn if f"▶{atm.strike:g}" in text).split()
        assert line[6] == fmt.compact(atm.call.quote.open_interest)
        assert line[8] == fmt.compact(atm.put.quote.open_interest)
        # Only the strikes on screen are quoted, a line each.
        assert _quotes_served(sim) == base + 2 * count
        assert app.session.lines.used == lines + 2 * count
        assert f"{2 * count} quoted" in str(screen.view.border_title)
        # A page down: the next strikes quoted, the old ones released.
        await pilot.press("pagedown")
        await until(pilot, lambda: _greeks_shown(screen))
        moved = [r.strike for r in screen.rows]
        # At most a screenful further, and no further than the last strike.
        assert moved[0] > window[0] and moved[-1] == screen.strikes[-1]
        left = [strike for strike in window if strike not in moved]
        assert left and all(screen.session.options.quote(screen.options[(k, r)].con_id) is None
                            for k in left for r in (Right.CALL, Right.PUT))
        await until(pilot, lambda: _quotes_served(sim) == base + 2 * len(moved))
        assert app.session.lines.used == lines + 2 * len(moved)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ChainScreen))
        await until(pilot, lambda: _quotes_served(sim) == base)
        assert app.session.lines.used == lines


async def test_legs_are_picked_by_keys_and_expiries_change(sim: SimServer) -> None:
    app = make_app(sim, 142, ["SPY"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        first = screen.chain.expiries[0] if screen.chain else ""
        atm = screen.strikes[screen.row]
        await pilot.press("b", "down", "s", "right", "b", "b")
        legs = [(leg.instrument.strike, leg.instrument.right, leg.action, leg.ratio)
                for leg in screen.legs]
        higher = screen.strikes[screen.strikes.index(atm) + 1]
        assert legs == [(atm, Right.CALL, Side.BUY, 1), (higher, Right.CALL, Side.SELL, 1),
                        (higher, Right.PUT, Side.BUY, 2)]
        assert all(leg.instrument.expiry == first for leg in screen.legs)
        await pilot.press("backspace")
        assert len(screen.legs) == 2
        # 80 columns: no room for the volume or the open interest.
        head = str(screen.view.render()).splitlines()[0].split()
        assert "OI" not in head and "Vol" not in head and "Δ" in head
        assert "SPY" in str(screen.query_one("#chain-legs").render())
        # The next expiry: its own options, quoted anew.
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.expiry == 1 and _greeks_shown(screen)
                    and all(r.call.inst is not None and r.call.inst.expiry != first
                            for r in screen.rows))
        assert app.session.options.subscribed == 2 * len(screen.rows)


def test_the_columns_fit_the_width_they_are_chosen_for() -> None:
    from ibterm.tui.widgets.chain import _STRIKE, WIDE, WIDEST, _columns

    for width in (80, WIDE - 1, WIDE, WIDEST - 1, WIDEST):
        cols = _columns(width)
        # A side: its mark, a space, the columns a space apart; two sides and the strike.
        assert 2 * (2 + sum(w for _, w, _ in cols) + len(cols) - 1) + _STRIKE <= width
    assert [n for n, _, _ in _columns(WIDEST)][-2:] == ["Vol", "OI"]
    assert "OI" not in [n for n, _, _ in _columns(WIDEST - 1)]


def test_a_side_not_live_is_marked() -> None:
    def option(data_type: MarketDataType, quote_at: float, greeks_at: float) -> OptionQuote:
        return OptionQuote(Quote(1, data_type, quote_at, bid=1.0, ask=1.1),
                           Greeks(iv=0.2, delta=0.5), greeks_at=greeks_at)

    live = MarketDataType.LIVE
    assert side_mark(option(live, 95, 95), False, 100, 10) == " "
    assert side_mark(option(live, 80, 95), False, 100, 10) == "~"  # the book stopped
    assert side_mark(option(live, 95, 80), False, 100, 10) == "~"  # the greeks stopped
    assert side_mark(option(MarketDataType.DELAYED, 95, 95), False, 100, 10) == "D"
    assert side_mark(option(MarketDataType.FROZEN, 95, 95), False, 100, 10) == "F"
    assert side_mark(None, True, 100, 10) == "✖"
    assert side_mark(None, False, 100, 10) == " "
    # The link down: what is shown is its last figures, whatever their age or type.
    assert side_mark(option(live, 95, 95), False, 100, 10, link_up=False) == "~"
    assert side_mark(option(MarketDataType.DELAYED, 95, 95), False, 100, 10, False) == "~"
    assert side_mark(None, True, 100, 10, link_up=False) == "✖"


async def test_two_legs_picked_in_the_chain_open_the_builder(sim: SimServer) -> None:
    from ibterm.tui.widgets.builder import StrategyBuilder

    app = make_app(sim, 143, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        chain = await _open(pilot, app)
        atm = chain.strikes[chain.row]
        await pilot.press("b", "down", "s", "enter")
        await until(pilot, lambda: isinstance(app.screen, StrategyBuilder))
        builder = app.screen
        assert isinstance(builder, StrategyBuilder)
        assert builder.underlying == chain.underlying and builder.quantity == 1
        higher = chain.strikes[chain.strikes.index(atm) + 1]
        assert [(leg.action, leg.instrument.strike, leg.instrument.right, leg.ratio)
                for leg in builder.legs] == [(Side.BUY, atm, Right.CALL, 1),
                                             (Side.SELL, higher, Right.CALL, 1)]
        # Under the builder the chain is not seen: its lines are free until it is again.
        await until(pilot, lambda: app.session.options.subscribed == 0)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is chain and _greeks_shown(chain))
        # Each option on screen quoted again, the legs among them: the builder gone, it
        # gave their quotes back, so they are the chain's alone.
        await until(pilot, lambda: app.session.options.subscribed == 2 * len(chain.rows))
        assert all(app.session._quotes.holders(leg.instrument.con_id) == {CHAIN}
                   for leg in builder.legs)


async def test_the_palette_opens_the_chain_of_an_options_underlying(sim: SimServer) -> None:
    from tests.tui.test_palette import _choose

    app = make_app(sim, 144, ["SPY"])
    async with app.run_test(size=(120, 30)) as pilot:
        await _quoted(pilot, app)
        spy = app.session.watchlist[0].instrument
        assert spy is not None
        chain, _ = await app.session.options.chain(spy)
        assert chain is not None
        option = f"SPY {chain.expiries[-1]} 600 C"
        await app.session.add_watch(option)
        app.query_one(WatchlistTable).move_cursor(row=1)
        await _choose(pilot, app, "option chain", "Option chain (open-chain)")
        await until(pilot, lambda: isinstance(app.screen, ChainScreen))
        screen = app.screen
        assert isinstance(screen, ChainScreen) and screen.underlying == spy


async def test_a_lost_link_leaves_the_last_figures_marked_stale(sim: SimServer) -> None:
    # Not blank (the trader loses the picture) and not passed off as live: every side
    # keeps its last quote, marked "~", and the watchlist's row reads STALE at once.
    app = make_app(sim, 146, ["SPY"])
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(pilot, app)
        shown = {(r.strike, s.inst.con_id): s.quote.quote.bid for r in screen.rows
                 for s in (r.call, r.put) if s.inst is not None and s.quote is not None}
        assert shown and all(s.mark == " " for r in screen.rows for s in (r.call, r.put))
        sim.drop(146)
        await until(pilot, lambda: not app.session.connected)
        screen.refresh_view()
        sides = [(r.strike, s) for r in screen.rows for s in (r.call, r.put)]
        assert all(s.quote is not None and s.mark == "~" for _, s in sides)
        assert {(k, s.inst.con_id): s.quote.quote.bid for k, s in sides
                if s.inst is not None and s.quote is not None} == shown
        await pilot.press("escape")
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: watchlist.get_cell("SPY", "data").plain == "STALE")
