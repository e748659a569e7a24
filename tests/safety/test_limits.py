"""Limits cannot be switched off by a number that is not one: YAML's `.inf` and `.nan`
are refused in every float of the config, each reported at its place in the file."""

from __future__ import annotations

import math
from pathlib import Path

import pydantic
import pytest

from ibterm.config import yamlfile
from ibterm.config.settings import FlattenSettings, Limits, Profile, load_config

CONFIG = """\
profiles:
  paper:
    limits:
      max_order_value: .inf
      max_order_size: .NaN
      by_sec_type:
        FUT: {max_order_value: .inf}
    stale_after: -.inf
    bad_tick_bands: {OPT: .nan}
    ticket:
      quantity: {STK: .inf}
    flatten:
      reprice_after: .inf
"""


def test_inf_and_nan_are_refused_where_they_are_written(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    with pytest.raises(yamlfile.FileProblems) as caught:
        load_config(path)
    where = {(p.line, p.column): p.message for p in caught.value.problems}
    finite = "Input should be a finite number"
    assert where == {
        (4, 24): f"profiles.paper.limits.max_order_value: {finite}",
        (5, 23): f"profiles.paper.limits.max_order_size: {finite}",
        (7, 32): f"profiles.paper.limits.by_sec_type.FUT.max_order_value: {finite}",
        (8, 18): f"profiles.paper.stale_after: {finite}",
        (9, 27): f"profiles.paper.bad_tick_bands.OPT: {finite}",
        (11, 23): f"profiles.paper.ticket.quantity.STK: {finite}",
        (13, 22): f"profiles.paper.flatten.reprice_after: {finite}",
    }
    assert all(p.path == str(path) for p in caught.value.problems)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_no_model_takes_a_non_finite_number(value: float) -> None:
    for model, field in ((Limits, "max_order_value"), (Limits, "daily_loss_limit"),
                         (Profile, "order_rate"), (FlattenSettings, "reprice_after")):
        with pytest.raises(pydantic.ValidationError, match="finite number"):
            model(**{field: value})

