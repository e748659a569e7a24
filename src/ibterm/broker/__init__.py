"""The broker session over ib_async: the only layer that talks to TWS / IB Gateway."""
