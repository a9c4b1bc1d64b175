"""The CLI commands, one module per family; `netcalc/cli.py` registers them."""
