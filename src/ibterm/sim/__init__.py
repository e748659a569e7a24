"""The gateway simulator: a TWS API server on loopback for the app, tests and scripts."""
