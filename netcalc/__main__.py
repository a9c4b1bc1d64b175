from netcalc.cli import run

run()
