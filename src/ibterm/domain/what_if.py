"""IB's own what-if answer for one order, as the session hands it to the app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IbWhatIf:
    """IB's own what-if for one order: margin changes and levels after, or why not."""

    init_change: float | None = None
    maint_change: float | None = None
    init_after: float | None = None
    maint_after: float | None = None
    equity_after: float | None = None
    commission: float | None = None
    error: str = ""  # set when there are no figures: not connected, refused, timed out

    @property
    def ok(self) -> bool:
        return not self.error and self.init_change is not None
