"""The request families the simulator serves, one module each (desk.py: how one plugs in)."""
