"""A strategy: legs of one underlying and account charged together, and what they cost.
Both margin systems produce them: Reg T pairing (margin.py) and the SPAN-like scan of
futures (span.py), which margin.py calls for an underlying's futures rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Strategy:
    name: str
    underlying: str
    account: str
    legs: list[tuple[int, float]]  # (line, signed quantity)
    initial: float
    maintenance: float

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "underlying": self.underlying, "account": self.account,
                "legs": [{"line": line, "quantity": qty} for line, qty in self.legs],
                "initial": round(self.initial, 2) + 0.0,  # never -0.0
                "maintenance": round(self.maintenance, 2) + 0.0}
