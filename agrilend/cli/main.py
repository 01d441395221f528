"""The ``agrilend`` command: a group of thin commands, one module each, imported when run.

``agrilend --help`` lists the commands from the short help below without importing them, so it
answers at once; ``agrilend COMMAND`` imports only that command's module.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from agrilend import __version__

#: Command name -> the first line of its help (shown by ``agrilend --help``; a test keeps the
#: two the same). Each module
#: ``agrilend.cli.<name>`` defines ``command``, a :class:`click.Command`.
COMMANDS: dict[str, str] = {
    "demo": "Run the whole path on the embedded sample county and write its outputs.",
    "report": "Write the report of one household (pseudonym H-...) or one parcel.",
    "scan": "Scan every parcel of a county into a results folder.",
    "monitor": "Append the new image dates to a scanned loan book and judge the season.",
    "train": "Train the crop-type classifier and report its cross-validated accuracy.",
    "fetch": "Download Sentinel-2 L2A imagery into a local cube (NetCDF or Zarr).",
    "check": "Check input files and print what is wrong with each.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's lazy-loading pattern)."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self._lazy, *(n for n in super().list_commands(ctx) if n not in self._lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._lazy:
            return super().get_command(ctx, cmd_name)
        command = importlib.import_module(f"agrilend.cli.{cmd_name}").command
        if not isinstance(command, click.Command):
            raise TypeError(f"agrilend.cli.{cmd_name}.command is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._lazy[name]) for name in self._lazy]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="agrilend")
def cli() -> None:
    """agrilend: satellite evidence to farm credit lines.

    \b
    Examples:
      agrilend demo                      # the whole path on the embedded sample county
      agrilend report H-1a2b3c4d5e6f     # one household's report (HTML)
      agrilend scan --titles t.gpkg --imagery cube.nc --out results/
    """


if __name__ == "__main__":  # python -m agrilend.cli.main
    cli()
