"""The gateway simulator: a TWS API server on loopback for the app, tests and scripts.
Its layers, and where a new request family, wire layout, fault or world state goes:
docs/simulator.md#code-layout."""
