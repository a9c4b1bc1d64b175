"""The CLI commands, one module per family; `netcalc/cli.py` names each (`COMMANDS`) and imports a command's
module only when that command runs."""
