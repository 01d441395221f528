"""The ``agrilend`` command: a group of thin commands, one module each."""

from __future__ import annotations

import importlib

import click

from agrilend import __version__

#: Command modules; each defines ``command``, a :class:`click.Command`.
COMMANDS = ("demo", "report", "scan", "monitor", "train", "fetch", "check")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="agrilend")
def cli() -> None:
    """agrilend: satellite evidence to farm credit lines.

    \b
    Examples:
      agrilend demo                      # the whole path on the embedded sample county
      agrilend report H-1a2b3c4d5e6f     # one household's report (HTML)
      agrilend scan --titles t.gpkg --imagery cube.nc --out results/
    """


for _name in COMMANDS:
    try:
        _module = importlib.import_module(f"agrilend.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command not built yet is simply absent
        if _exc.name != f"agrilend.cli.{_name}":
            raise
        continue
    cli.add_command(_module.command)


if __name__ == "__main__":  # python -m agrilend.cli.main
    cli()
