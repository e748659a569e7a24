"""An iron condor built from the option chain by keys in a real terminal (tmux, 120x40,
`ibterm demo`), sent from the builder through the confirmation, and seen filled as one
combination in the blotter and grouped as an iron condor in the positions pane."""

from __future__ import annotations

import re

from tests.e2e import test_terminal as real

pytestmark = real.pytestmark
terminal = real.terminal  # the fixture: the demo in tmux, and the app gone after it

# The legs line under the chain once the four are picked: a put spread sold below the
# money and a call spread sold above it, one strike wide each (the chain's step is 5).
_LEGS = re.compile(r"Strategy: −1 SPY (\d{8}) (\d+) P, \+1 SPY \1 (\d+) P, "
                   r"−1 SPY \1 (\d+) C, \+1 SPY \1 (\d+) C")


def _title(screen: str) -> str | None:
    """The chain's expiry while it quotes some of its options."""
    found = re.search(r"Chain SPY (\d\d \w{3} \d\d) · [1-9]", screen)
    return found.group(1) if found else None


def test_an_iron_condor_from_the_chain_by_keys_fills(terminal: real.Terminal) -> None:
    terminal.wait_for("DEMO", "● connected", "SPY", "live")
    # SPY is the watchlist's fifth row; its chain opens on the front expiry, and the next
    # one is a week out (the front one may expire today, quoted one-sided).
    terminal.keys("Down", "Down", "Down", "Down", "O")
    front = _title(terminal.wait_until(lambda s: _title(s) is not None and "▶" in s,
                                       "the front expiry quoted"))
    terminal.keys("]")
    terminal.wait_until(lambda s: _title(s) not in (None, front) and "▶" in s,
                        "the second expiry quoted")
    # The cursor starts on the call at the money: the put side, a strike down sold, one
    # more down bought; back up past the money to the call a strike up sold, one more bought.
    terminal.keys("Right", "Up", "s", "Up", "b", "Down", "Down", "Down", "Left", "s", "Down", "b")
    screen = terminal.wait_until(lambda s: _LEGS.search(s) is not None, "the condor's four legs")
    found = _LEGS.search(screen)
    assert found is not None
    long_put, short_put, short_call, long_call = (int(found.group(i)) for i in (3, 2, 4, 5))
    assert long_put < short_put < short_call < long_call
    terminal.keys("Enter")
    terminal.wait_for("Strategy builder SPY", "Max profit", "Breakevens")
    # Natural prices: the combination trades at once against its legs' books.
    terminal.keys("p")
    terminal.wait_for("price natural")
    terminal.keys("F4")
    terminal.wait_for("Send (y)", "leg 4:", "all checks passed")
    terminal.keys("y")
    # The builder closes once the order is queued; the chain under it goes with escape.
    terminal.wait_for("Chain SPY")
    terminal.keys("Escape")
    terminal.wait_until(lambda s: re.search(r"SPY combo\s.*\sFilled\s+1\s", s) is not None
                        and "iron condor" in s, "the combo filled and the condor grouped",
                        timeout=20)
