"""``python -m agrilend``: the same as the ``agrilend`` command."""

from agrilend.cli.main import cli

cli()
