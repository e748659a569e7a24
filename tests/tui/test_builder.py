"""The strategy builder against the simulator: an iron condor from the template on SPY,
its net credit and figures, the margin preview of the whole change (local pairing and IB's
what-if of the BAG agree on the width), and sending it as one combination through the
confirmation to four option positions."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from ibterm.broker.journal import read_events
from ibterm.broker.strategy_legs import leg_instrument, option_chain
from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain
from ibterm.domain.orders import ComboLeg, Side
from ibterm.domain.strategy import Template, template_legs
from ibterm.sim.server import SimServer
from ibterm.tui import format as fmt
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.builder import PriceMode, StrategyBuilder, TemplateChooser
from ibterm.tui.widgets.confirm import ConfirmOrder
from ibterm.tui.widgets.preview import MarginPreviewPane
from tests.tui.support import make_app, until


async def _builder(pilot: Pilot[None], app: IbtermApp) -> StrategyBuilder:
    await until(pilot, lambda: app.session.watchlist[0].instrument is not None
                and app.session.mark(_spy(app).con_id) is not None, timeout=10)
    app.push_screen(StrategyBuilder(_spy(app), []))
    await until(pilot, lambda: isinstance(app.screen, StrategyBuilder))
    screen = app.screen
    assert isinstance(screen, StrategyBuilder)
    return screen


def _spy(app: IbtermApp) -> Instrument:
    inst = app.session.watchlist[0].instrument
    assert inst is not None
    return inst


async def _iron_condor(pilot: Pilot[None], app: IbtermApp, screen: StrategyBuilder) -> None:
    # Opened without legs, the builder offers the templates.
    await until(pilot, lambda: isinstance(app.screen, TemplateChooser))
    app.screen.query_one(OptionList).highlighted = list(Template).index(Template.IRON_CONDOR)
    await pilot.press("enter")
    await until(pilot, lambda: len(screen.legs) == 4 and screen.market is not None, timeout=10)


async def test_an_iron_condor_shows_its_credit_figures_and_the_margin_of_its_width(
        sim: SimServer) -> None:
    app = make_app(sim, 171, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _builder(pilot, app)
        await _iron_condor(pilot, app, screen)
        # SPY at 600, 5-point strikes: shorts 590 / 610, wings 10 further.
        assert [(leg.action.value, leg.instrument.strike, leg.instrument.right.value)
                for leg in screen.legs if leg.instrument.right] == [
            ("BUY", 580, "P"), ("SELL", 590, "P"), ("SELL", 610, "C"), ("BUY", 620, "C")]
        market = screen.market
        assert market is not None and market.mid < 0  # a credit
        credit = -market.mid
        await until(pilot, lambda: "Max loss" in str(
            screen.query_one("#b-summary", Static).render()))
        summary = str(screen.query_one("#b-summary", Static).render())
        assert "credit" in summary
        limit = screen.order()
        # A credit is sold at a positive price, every leg reversed in the BAG.
        assert limit is not None and limit.limit is not None and limit.limit > 0
        assert limit.side is Side.SELL and limit.strategy == "iron condor"
        assert [leg.action for leg in limit.combo] == [
            leg.action.opposite for leg in screen.legs]
        assert f"SELL 1 iron condor LMT {limit.limit:.2f} credit" in summary
        # Max loss: the width less the credit; breakevens: the short strikes ± the credit.
        assert f"Max loss  {fmt.money((10 - limit.limit) * 100)}" in summary
        assert f"{plain(590 - limit.limit)}, {plain(610 + limit.limit)}" in summary
        assert credit > 0
        await pilot.press("plus")  # two condors
        pane = screen.query_one(MarginPreviewPane)
        await until(pilot, lambda: pane.preview is not None and pane.preview.result is not None
                    and pane.preview.order.startswith("SELL 2 SPY iron condor (BUY 1 ")
                    and pane.ib is not None
                    and pane.ib_for == pane.preview.order, timeout=15)
        assert pane.preview is not None and pane.ib is not None
        result = pane.preview.result
        assert result is not None
        assert result.initial_change == pytest.approx(10 * 100 * 2)
        assert pane.ib.init_change == pytest.approx(10 * 100 * 2)  # IB's what-if of the BAG
        assert not pane.flags
        # The preview names the order as sent: one LMT combination, not MKT legs.
        assert " LMT limit " in pane.preview.title and " MKT " not in pane.preview.title
        await until(pilot, lambda: "delta" in str(
            screen.query_one("#b-summary", Static).render()), timeout=10)


async def test_sending_goes_through_the_confirmation_and_fills_as_one_bag(
        sim: SimServer) -> None:
    app = make_app(sim, 172, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _builder(pilot, app)
        await _iron_condor(pilot, app, screen)
        await pilot.press("p")  # natural: fills at once
        assert screen.pricing.mode is PriceMode.NATURAL
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        confirm = app.screen
        assert isinstance(confirm, ConfirmOrder)
        [spec] = confirm.intent.legs
        assert len(spec.combo) == 4 and spec.limit is not None and spec.limit > 0
        assert spec.side is Side.SELL
        shown = " ".join(str(w.render()) for w in confirm.query(Static))
        assert f"SELL 1 SPY iron condor (BUY 1 SPY {spec.combo[0].instrument.expiry} 580 P" \
            in shown and f"limit {plain(spec.limit)} credit" in shown
        assert "leg 2: SELL 1 SPY" in shown  # each leg as the order does it
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, StrategyBuilder | ConfirmOrder))
        await until(pilot, lambda: len([p for p in app.session.positions()
                                        if p.quantity and p.instrument.right]) == 4,
                    timeout=10)
        submitted = [e for e in read_events(app.journal.path) if e.kind == "submitted"]
        assert [len(e.data["legs"]) for e in submitted] == [4]
        assert [leg["symbol"].split()[2:] for leg in submitted[0].data["legs"]] == [
            ["580", "P"], ["590", "P"], ["610", "C"], ["620", "C"]]


async def test_the_chains_legs_adjusted_by_keys(sim: SimServer) -> None:
    app = make_app(sim, 173, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.session.watchlist[0].instrument is not None, timeout=10)
        spy = _spy(app)
        chain, _ = await option_chain(app.session, spy)
        assert chain is not None
        expiry = chain.expiries[2]
        legs = []
        for plan in template_legs(Template.VERTICAL, chain, 600.0, 5.0, expiry):
            inst, why = await leg_instrument(app.session, spy, plan)
            assert inst is not None, why
            legs.append(ComboLeg(inst, plan.action, plan.ratio))
        app.push_screen(StrategyBuilder(spy, legs, quantity=3))  # as the chain opens it
        await until(pilot, lambda: isinstance(app.screen, StrategyBuilder))
        screen = app.screen
        assert isinstance(screen, StrategyBuilder)
        await until(pilot, lambda: screen.chain is not None and screen.market is not None)
        assert screen.quantity == 3
        assert screen.market is not None and screen.market.mid > 0  # a call debit spread

        def strikes() -> list[tuple[str, float, str, int]]:
            return [(leg.action.value, leg.instrument.strike, leg.instrument.expiry, leg.ratio)
                    for leg in screen.legs]

        await pilot.press("down", "right")  # the sold call a strike up
        await until(pilot, lambda: strikes()[1][1] == 610.0)
        await pilot.press("right_square_bracket")  # and an expiry later: a diagonal
        await until(pilot, lambda: strikes()[1][2] == chain.expiries[3])
        await pilot.press("r", "f")
        assert strikes() == [("BUY", 600.0, expiry, 1), ("BUY", 610.0, chain.expiries[3], 2)]
        await pilot.press("p", "p")  # mid, natural, market
        assert screen.pricing.mode is PriceMode.MARKET
        spec = screen.order()
        assert spec is not None and spec.order_type.value == "MKT" and spec.quantity == 3
        await pilot.press("x")
        assert len(screen.legs) == 1
        await until(pilot, lambda: "two legs or more" in str(
            screen.query_one("#b-summary", Static).render()))
        assert screen.order() is None
        await pilot.press("b")  # the main screen's keys stay off the builder
        assert not app.ticket.has_class("open")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, StrategyBuilder))


async def test_a_covered_call_is_sent_as_one_bag_and_the_direction_toggles(
        sim: SimServer) -> None:
    app = make_app(sim, 174, ["SPY"])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _builder(pilot, app)
        await until(pilot, lambda: isinstance(app.screen, TemplateChooser))
        app.screen.query_one(OptionList).highlighted = list(Template).index(
            Template.COVERED_CALL)
        await pilot.press("enter")
        await until(pilot, lambda: len(screen.legs) == 2 and screen.market is not None,
                    timeout=10)
        spec = screen.order()
        # 100 shares less a call, priced per share: a debit, bought.
        assert spec is not None and spec.side is Side.BUY and spec.limit is not None
        assert 500 < spec.limit < 700 and spec.instrument.multiplier == 100
        await pilot.press("d")  # sold instead: the legs reversed, the price negative
        sold = screen.order()
        assert sold is not None and sold.side is Side.SELL
        assert sold.limit == pytest.approx(-spec.limit)
        await pilot.press("d", "p")  # bought again, at the natural price
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, StrategyBuilder | ConfirmOrder))
        spy = _spy(app).con_id
        await until(pilot, lambda: {p.instrument.con_id: p.quantity for p in
                                    app.session.positions()}.get(spy) == 100 - 50, timeout=10)
        assert [p.quantity for p in app.session.positions() if p.instrument.right] == [-1]
