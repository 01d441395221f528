"""The command group: commands imported only when run, so ``agrilend --help`` answers at once."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from agrilend.cli.main import COMMANDS, cli


def test_help_imports_no_command_and_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from agrilend.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['pandas', 'geopandas', 'xarray', 'sklearn', 'dask', 'matplotlib', 'rasterio',\n"
        "         'sentinelhub', 'odc.stac', 'numba']\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "loaded += [m for m in sys.modules if m.startswith('agrilend.cli.')\n"
        "           and m not in ('agrilend.cli.main',)]\n"
        "print('LOADED:' + ','.join(loaded))\n"
    )
    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == "LOADED:"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_loads_with_its_help(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name
    # the one-line help shown by `agrilend --help` is the first line of the command's own help
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name]


def test_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agrilend", "nope"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_credit_records_are_input_options(tmp_path) -> None:
    from agrilend.cli.options import input_files  # noqa: PLC0415

    names = ("titles", "imagery", "prices", "transfers", "insurance", "own_evidence")
    paths = {}
    for n in names:
        paths[n] = tmp_path / f"{n}.csv"
        paths[n].write_text("x\n", encoding="utf-8")
    files = input_files({n: str(p) for n, p in paths.items()})
    for n in names:
        assert getattr(files, n) == paths[n]
    for opt in ("--prices", "--transfers", "--insurance", "--evidence"):
        for name in ("scan", "report"):
            command = cli.get_command(click.Context(cli), name)
            assert opt in [o for p in command.params for o in getattr(p, "opts", [])]
