"""The reconciliation pane can show every kind of difference."""

from ibterm.broker.reconcile import Difference
from ibterm.tui.widgets.reconcile import _STYLE


def test_every_difference_has_a_style() -> None:
    assert set(_STYLE) == set(Difference)
