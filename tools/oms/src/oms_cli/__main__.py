"""`python -m oms_cli ...` == `oms ...`."""

from oms_cli.main import app

app()
