"""The margin preview pane beside the order ticket: the local calculator's figures before and
after the order, IB's own what-if beside them, the warnings, and a P&L chart across the
underlying's price scan.

It only renders: the app computes the preview in a worker and hands the results here.
The risk calculator's modules (polars) and plotext are imported when first used, not with
the app: a trader who never opens a ticket never waits for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Static

from ibterm.domain.what_if import IbWhatIf
from ibterm.tui import format as fmt

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

    from ibterm.risk.preview import Disagreement, MarginPreview
    from ibterm.risk.whatif import Figures

# Columns: label, now, after, change. The pane is as narrow as these allow, so the
# tables beside it keep their columns (the blotter's Status among them).
WIDTHS = (11, 10, 10, 11)
BIG = 10_000_000  # from here amounts are shown compact (12.3M): they stay in their column
# One plotext marker per curve, drawn in the legend too: colour alone does not tell the
# curves apart in the ANSI theme, on a monochrome terminal or in a plain capture. Plain
# characters (not plotext's "hd"/"braille" blocks, which mix within a cell) that every
# terminal font has; the two "now" curves lighter than the two "after" ones.
MARKERS = {"now": "·", "after": "•", "now expiry": "x", "after expiry": "+"}


def _line(text: Text, label: str, *cells: str, style: str = "") -> None:
    text.append(f"{label:<{WIDTHS[0]}}", style="dim")
    text.append("".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS[1:], strict=False)),
                style=style)
    text.append("\n")


def _money(value: float | None, signed: bool = False) -> str:
    if value is not None and abs(value) >= BIG:
        sign = ("+" if value > 0 else fmt.MINUS) if signed else (fmt.MINUS if value < 0 else "")
        return sign + fmt.compact(abs(value))
    return fmt.signed_money(value) if signed else fmt.money(value)


def _pct(value: float | None) -> str:
    return f"{value:.1%}".replace("-", fmt.MINUS) if value is not None else fmt.DASH


def _ticks(curves: list[list[float]], count: int = 5) -> tuple[list[float], list[str]]:
    """Round steps with compact labels (250K, not 250000.0), zero among them."""
    values = [0.0, *(v for c in curves for v in c)]
    low, high = min(values), max(values)
    raw = max(high - low, 1.0) / (count - 1)
    scale = 10 ** math.floor(math.log10(raw))
    step = next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= raw)
    ticks = [i * step for i in range(math.ceil(low / step), math.floor(high / step) + 1)]
    return ticks, [fmt.compact(t).replace("-", fmt.MINUS) for t in ticks]


class MarginPreviewPane(Vertical):
    DEFAULT_CSS = """
    MarginPreviewPane { width: 46; border: round $primary; padding: 0 1; display: none; }
    MarginPreviewPane.open { display: block; }
    MarginPreviewPane #p-figures, MarginPreviewPane #p-legend { height: auto; }
    MarginPreviewPane #p-chart { height: 1fr; min-height: 8; }
    """

    def __init__(self, disagreement: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Margin preview"
        self.threshold = disagreement
        self.preview: MarginPreview | None = None
        self.message = "enter an order in the ticket"
        self.ib: IbWhatIf | None = None
        self.ib_for = ""  # the order (in words) IB's answer is about
        self.ib_note = ""  # "entry only", "the larger of 2 orders"
        self.ib_pending = False
        self.flags: list[Disagreement] = []
        self._plot: PlotextPlot | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="p-figures")
        yield Static("", id="p-legend")
        # The chart's place: the plot fills it when it is first drawn.
        yield Container(id="p-chart")

    def _chart(self) -> PlotextPlot:
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.query_one("#p-chart").mount(self._plot)
        return self._plot

    # --- what the app hands over -----------------------------------------------------
    def show_message(self, message: str) -> None:
        """No order to preview (the ticket cannot build one): say why."""
        self.preview = None
        self.message = message
        self._render_figures()
        self._render_chart()

    def show_local(self, preview: MarginPreview, order: str = "") -> None:
        """The local figures; `order` words the order as it is sent when the calculator
        was handed something else for it (a combination's legs, each netted on its own)."""
        if order:
            preview = replace(preview, order=order, title=order, chart_order=order)
        self.preview = preview
        self.message = ""
        self._render_figures()
        self._render_chart()

    def ib_asking(self, order: str, note: str) -> None:
        self.ib, self.ib_for, self.ib_note, self.ib_pending = None, order, note, True
        self._render_figures()

    def show_ib(self, order: str, result: IbWhatIf, note: str) -> None:
        self.ib, self.ib_for, self.ib_note, self.ib_pending = result, order, note, False
        self._render_figures()

    # --- rendering -------------------------------------------------------------------
    def _render_figures(self) -> None:
        text = Text()
        p = self.preview
        self.flags = []
        if p is None:
            text.append(self.message, style="dim")
            self.query_one("#p-figures", Static).update(text)
            return
        text.append((p.title or p.order) + "\n", style="bold")
        if p.result is None:
            text.append(f"✖ {p.error}\n", style="yellow")
        else:
            self._figures(text, p)
        for alert in p.alerts:
            if alert.level == "error":
                text.append(f"✖ {alert.text}\n", style="bold red")
            else:
                text.append(f"⚠ {alert.text}\n", style="bold yellow")
        for item in p.left_out:
            text.append(f"not counted: {item}\n", style="dim")
        self.query_one("#p-figures", Static).update(text)

    def _figures(self, text: Text, p: MarginPreview) -> None:
        r = p.result
        assert r is not None
        b, a = r.before, r.after
        _line(text, "", "now", "after", "change", style="dim")

        def money_row(label: str, get: Callable[[Figures], float]) -> None:
            before, after = get(b), get(a)
            _line(text, label, _money(before), _money(after), _money(after - before, True))

        money_row("Initial", lambda f: f.initial)
        money_row("Maintenance", lambda f: f.maintenance)
        if a.long_premium or b.long_premium:
            money_row("Long prem.", lambda f: f.long_premium)
        _line(text, "Excess liq", _money(r.excess(b)), _money(r.excess(a)),
              _money(r.excess(a) - r.excess(b), True))
        _line(text, "Cushion", _pct(r.cushion(b)), _pct(r.cushion(a)))
        _line(text, "Committed", _pct(p.committed(b)), _pct(p.committed(a)), "of NLV")
        money_row("Stress loss", lambda f: f.worst_loss)
        self._ib(text, p, r.initial_change, r.maintenance_change)

    def _ib(self, text: Text, p: MarginPreview, local_init: float, local_maint: float) -> None:
        note = f" ({self.ib_note})" if self.ib_note else ""
        label = "IB what-if"
        if self.ib_for != p.order:
            return
        if self.ib_pending:
            text.append(f"{label:<{WIDTHS[0]}}", style="dim")
            text.append(f"asking IB…{note}\n", style="dim")
            return
        ib = self.ib
        if ib is None:
            return
        if not ib.ok:
            text.append(f"{label:<{WIDTHS[0]}}", style="dim")
            text.append(f"✖ {ib.error}{note}\n", style="yellow")
            return
        assert p.result is not None
        # Loaded already: the local figures shown came from it.
        from ibterm.risk.preview import disagreements

        _line(text, "IB initial", "", "", _money(ib.init_change, True))
        _line(text, "IB maint.", "", "", _money(ib.maint_change, True))
        self.flags = disagreements(p.result, ib.init_change, ib.maint_change, self.threshold)
        if self.flags:
            worst = ", ".join(f"{d.figure} {d.relative:.0%}" for d in self.flags)
            text.append(f"⚠ IB and local differ: {worst} (over {self.threshold:.0%}){note}\n",
                        style="bold yellow")
        else:
            text.append(f"✔ IB agrees within {self.threshold:.0%}{note}\n", style="green")

    def _render_chart(self) -> None:
        chart = self._chart()
        plt = chart.plt
        plt.clear_figure()
        chart.theme = "clear" if self.app.current_theme.ansi else "auto"
        p = self.preview
        curve = p.payoff if p is not None else None
        if curve is None:
            self.query_one("#p-legend", Static).update("")
            chart.refresh()
            return
        x = curve.prices
        # (label, points, marker, plotext colour, the same colour for Rich): the legend is
        # drawn above the chart, where it covers no curve.
        lines = [("now", curve.today_before, MARKERS["now"], "gray", "bright_black"),
                 ("after", curve.today_after, MARKERS["after"], "cyan", "cyan")]
        if curve.expiry is not None:
            # At expiry: only where it differs from today (stock and futures do not decay).
            day = f"{curve.expiry:%d %b}"
            if curve.expiry_before != curve.today_before:
                lines.append((f"now {day}", curve.expiry_before, MARKERS["now expiry"],
                              "blue", "blue"))
            if curve.expiry_after != curve.today_after:
                lines.append((f"after {day}", curve.expiry_after, MARKERS["after expiry"],
                              "magenta", "magenta"))
        legend = Text(f"P&L {curve.underlying} ", style="bold")
        for label, points, marker, colour, rich in lines:
            plt.plot(x, points, marker=marker, color=colour)
            # "x now 18 Dec", not "xnow 18 Dec": a letter glyph must not read as the label's.
            legend.append(marker, style=f"bold {rich}")
            legend.append(f" {label}  ")
        plt.hline(0.0, "gray")
        plt.vline(curve.spot, "gray")
        plt.yticks(*_ticks([points for _, points, _, _, _ in lines]))
        self.query_one("#p-legend", Static).update(legend)
        chart.refresh()

