"""Options and behaviour shared by every command: verbosity, JSON output, overwrite, errors."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agrilend.errors import AgrilendError, OutputExistsError
from agrilend.outputs import terminal_safe

if TYPE_CHECKING:
    from agrilend.inputs import InputFiles

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("agrilend")


#: Environment variable of Dask's configuration for the level of the ``distributed`` loggers
#: (``logging.distributed``): read when ``distributed`` is imported, in this process and in
#: the worker processes a local cluster starts (they inherit the environment).
DASK_LOG_ENV = "DASK_LOGGING__DISTRIBUTED"


def _setup_logging(verbose: int, quiet: int) -> None:
    level = max(logging.DEBUG, min(logging.WARNING - 10 * verbose + 10 * quiet, logging.CRITICAL))
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)  # fmt: skip
    logging.getLogger("agrilend").setLevel(level)
    quiet_dask(level)


def quiet_dask(level: int) -> None:
    """Show Dask's ``distributed`` log lines from ``level`` up (WARNING by default, INFO with
    ``-v``): the scheduler, nannies and workers log every connection at INFO, hundreds of
    lines a scan.

    ``distributed`` sets its loggers' levels from Dask's configuration when it is imported
    (after this, in a command that imports it late, and in every worker process), so the level
    is put in the configuration (and the environment, which worker processes inherit), and on
    the loggers when ``distributed`` is already imported.

    Examples
    --------
    >>> import logging, os
    >>> quiet_dask(logging.WARNING)
    >>> os.environ[DASK_LOG_ENV]
    'warning'
    """
    name = logging.getLevelName(level).lower()
    os.environ[DASK_LOG_ENV] = name
    if "dask" in sys.modules:  # its configuration already read the environment
        import dask  # noqa: PLC0415

        dask.config.set({"logging.distributed": name})
    if "distributed" in sys.modules:
        logging.getLogger("distributed").setLevel(level)


def common_options(func: F) -> F:
    """Add ``-v/--verbose`` and ``-q/--quiet`` and turn library errors into one clear line.

    An :class:`~agrilend.errors.AgrilendError` (or a missing file) exits with code 1 and one
    line on stderr; the traceback is shown only with ``-v``. Usage errors exit with 2 (click).
    """

    @click.option(
        "-v",
        "--verbose",
        count=True,
        help="More detail: agrilend's steps, and Dask's log lines (repeat for debug).",
    )
    @click.option("-q", "--quiet", count=True, help="Less output.")
    @functools.wraps(func)
    def wrapper(*args: Any, verbose: int = 0, quiet: int = 0, **kwargs: Any) -> Any:
        _setup_logging(verbose, quiet)
        ctx = click.get_current_context()
        ctx.meta["agrilend.verbose"] = verbose
        ctx.meta["agrilend.quiet"] = quiet
        try:
            return func(*args, **kwargs)
        except (AgrilendError, FileNotFoundError, PermissionError) as exc:
            if verbose:
                log.exception("failed")
            click.echo(f"Error: {terminal_safe(exc)}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable JSON result on stdout."
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace existing outputs (never done without it)."
)


#: Input options: option name -> (InputFiles field, help). One place, so every command that
#: reads a county names its files the same way.
INPUT_OPTIONS: dict[str, tuple[str, str]] = {
    "titles": ("titles", "Land titles (GeoPackage, GeoParquet, shapefile, ... or a zip of one)."),
    "mapping": (
        "titles_mapping",
        "Titles column mapping (TOML) [default: titles_mapping.toml beside the titles, if any].",
    ),
    "imagery": (
        "imagery",
        "Imagery cube (NetCDF, GeoTIFF, Zarr), or a TOML file describing a STAC search.",
    ),
    "subsidies": ("subsidies", "Subsidy records (CSV, ...)."),
    "weather": ("weather", "Daily weather (CSV, ...)."),
    "policy": ("policy", "Credit policy (TOML)."),
    "yields": ("county_yields", "County yield statistics (CSV)."),
    "prices": ("prices", "Monthly crop prices per market (CSV, ...): the prudent price rule."),
    "transfers": ("transfers", "Land-transfer contracts (土地流转; CSV, ...)."),
    "insurance": ("insurance", "Crop-insurance records (CSV, ...)."),
    "evidence": (
        "own_evidence",
        "The farmers' own evidence (百灵): a CSV listing photos, receipts and repaid loans.",
    ),
    "claims": (
        "claims",
        ("Farmer-drawn plots (GeoJSON or GPX): verified against the imagery and counted as "
        "titles with lower trust [default: none; with no other file, over the sample county]."),
    ),
}  # fmt: skip


def input_options(*names: str, required: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Add the input-file options ``names`` (all of :data:`INPUT_OPTIONS` by default).

    The command receives them as one keyword argument, ``given``: a dict from
    :class:`~agrilend.inputs.InputFiles` field names to the values given (None when absent),
    which :func:`input_files` turns into an :class:`~agrilend.inputs.InputFiles`.
    """
    chosen = names or tuple(INPUT_OPTIONS)
    unknown = set(chosen) - set(INPUT_OPTIONS)
    if unknown:
        raise ValueError(f"unknown input options {sorted(unknown)}")

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {INPUT_OPTIONS[n][0]: kwargs.pop(n, None) for n in chosen}
            return func(*args, given=given, **kwargs)

        for name in reversed(chosen):
            help_text = INPUT_OPTIONS[name][1]
            wrapper = click.option(
                f"--{name}",
                type=click.Path(dir_okay=name == "imagery"),
                required=name in required,
                help=help_text,
            )(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def check_output(path: Path, *, overwrite: bool) -> Path:
    """Refuse to write over an existing non-empty output unless ``overwrite`` is set."""
    # a link counts as an output, even one that points nowhere: it is never written through
    taken = path.is_symlink() or (path.exists() and (path.is_file() or any(path.iterdir())))
    if taken and not overwrite:
        raise OutputExistsError(
            f"output {str(path)!r} already exists; pass --overwrite to replace it or choose "
            "another path",
            path=path,
        )
    return path


def input_files(given: dict[str, str | None], *, doing: str = "using") -> InputFiles:
    """The input files named on the command line, or the sample county when none is named.

    ``given`` maps :class:`~agrilend.inputs.InputFiles` field names to option values;
    ``--titles`` and ``--imagery`` are both needed once any file is named.
    """
    from agrilend.inputs import InputFiles  # noqa: PLC0415  (pandas, geopandas: when run)

    claims = given.get("claims")
    if all(v is None for k, v in given.items() if k != "claims"):
        files = InputFiles.sample()
        log.info("no input files given: %s the sample county in %s", doing, files.titles.parent)
        return add_claims(files, claims)
    if given.get("titles") is None or given.get("imagery") is None:
        raise click.UsageError("--titles and --imagery are both needed with your own data")
    return InputFiles.from_paths(**{k: v for k, v in given.items() if v is not None})


def add_claims(files: InputFiles, claims: str | None) -> InputFiles:
    """``files`` with the claims file named by ``--claims`` (checked), or unchanged."""
    if claims is None:
        return files
    import dataclasses  # noqa: PLC0415

    from agrilend._paths import local_path  # noqa: PLC0415

    return dataclasses.replace(files, claims=local_path(claims, what="claims"))


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (dates and numpy numbers as plain values)."""
    from agrilend.outputs import json_default  # noqa: PLC0415

    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=json_default))


def is_quiet() -> bool:
    """True when the user asked for less output (``-q``)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("agrilend.quiet"))
