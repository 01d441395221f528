"""The ``agrilend`` command: a group of thin commands, one module each."""

from __future__ import annotations

import importlib

import click

from agrilend import __version__

#: Command modules; each defines ``command``, a :class:`click.Command`.
COMMANDS = ("demo", "report", "scan", "train", "fetch", "check")


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists them all), so
    ``agrilend report`` never pays for scikit-learn or Dask it does not use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(n for n in COMMANDS if _load(n))})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in COMMANDS:
            found = _load(cmd_name)
        return found


class _LazyCommands(dict[str, click.Command]):
    """``cli.commands[name]`` loads the command's module on first use."""

    def __missing__(self, key: str) -> click.Command:
        command = _load(key) if key in COMMANDS else None
        if command is None:
            raise KeyError(key)
        self[key] = command
        return command


def _load(name: str) -> click.Command | None:
    try:
        module = importlib.import_module(f"agrilend.cli.{name}")
    except ModuleNotFoundError as exc:  # a command not built yet is simply absent
        if exc.name != f"agrilend.cli.{name}":
            raise
        return None
    command: click.Command = module.command
    return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="agrilend")
def cli() -> None:
    """agrilend: satellite evidence to farm credit lines.

    \b
    Examples:
      agrilend demo                      # the whole path on the embedded sample county
      agrilend report H-1a2b3c4d5e6f     # one household's report (HTML)
      agrilend scan --titles t.gpkg --imagery cube.nc --out results/
    """


cli.commands = _LazyCommands(cli.commands)


if __name__ == "__main__":  # python -m agrilend.cli.main
    cli()
