"""The TWS API messages the simulator reads and writes, one module per family, each
message's layouts keyed by server version (layouts.py)."""
