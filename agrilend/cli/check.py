"""``agrilend check``: validate titles, imagery, subsidy, weather and policy files."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from agrilend._paths import local_path
from agrilend.checks import InputCheck, check_inputs
from agrilend.cli._progress import progress_steps
from agrilend.cli.options import common_options, emit_json, input_options, json_option
from agrilend.inputs import InputFiles
from agrilend.outputs import terminal_safe

log = logging.getLogger(__name__)

#: Problems listed per input in the human output (all are in --json), after the counts.
MAX_SHOWN = 10
#: Examples shown per kind of problem.
PER_KIND = 3


_STYLE = {"ok": "green", "warning": "yellow", "error": "red", "skipped": "blue"}


def _print(results: list[InputCheck], *, quiet: bool) -> None:
    for r in results:
        head = click.style(f"{r.status.upper():8}", fg=_STYLE.get(r.status), bold=True)
        # file contents (parcel ids, names) are escaped: no control sequence reaches the terminal
        click.echo(f"{head} {r.input:<10} {terminal_safe(r.file)}  {terminal_safe(r.summary)}")
        if quiet:
            continue
        counts = r.counts()
        problems = [c for c in counts if c[0] in ("error", "warning")]
        if len(r.problems) > 1 and problems:  # counts per kind first: no kind hides behind another
            click.echo("    " + terminal_safe("; ".join(f"{n} {s} {k}" for s, k, n in problems)))
        shown = 0
        for s, k, _n in counts:
            examples = [p for p in r.problems if p["severity"] == s and p.get("kind", s) == k]
            for p in examples[: max(1, min(PER_KIND, MAX_SHOWN - shown))]:
                where = f"{p['where']}: " if p["where"] else ""
                click.echo(f"    {p['severity']:7} {terminal_safe(where + str(p['message']))}")
                shown += 1
        if len(r.problems) > shown:
            click.echo(f"    ... and {len(r.problems) - shown} more (see --json)")


@click.command(name="check")
@input_options("titles", "mapping", "imagery", "subsidies", "weather", "policy", "claims")
@click.option(
    "--layer", default=None, help="Layer of the titles file (or file in its zip) to check."
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@json_option
@common_options
def command(
    given: dict[str, str | None],
    layer: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Check input files and print what is wrong with each.

    Titles are read with their column mapping (--mapping, or a titles_mapping.toml beside
    them) and checked parcel by parcel, also against the imagery's extent when --imagery is
    given; subsidy records are matched to the titles. With no file given, the embedded sample
    county is checked. Exit code 0 when nothing is wrong, 1 when errors were found.

    \b
    Examples:
      agrilend check                                  # the sample county
      agrilend check --titles titles.gpkg --imagery cube.nc
      agrilend check --titles registry.zip --layer parcels_2024
      agrilend check --subsidies subsidies.csv --json | jq '.inputs[].status'
      agrilend check --titles t.gpkg --imagery cube.nc --claims drawn.geojson
    """
    mapping = given.pop("titles_mapping")
    names = given
    if all(v is None for v in names.values()) and mapping is None:
        sample = InputFiles.sample()
        files: dict[str, Path | None] = {
            k: getattr(sample, k) for k in ("titles", "imagery", "subsidies", "weather", "policy")
        }
        mapping_path: Path | str | None = sample.titles_mapping
        log.info("no file given: checking the sample county in %s", sample.titles.parent)
    else:
        files = {k: local_path(v, what=k) if v is not None else None for k, v in names.items()}
        mapping_path = local_path(mapping, what="titles mapping") if mapping else None
        if mapping_path is None and files["titles"] is not None:
            beside = files["titles"].with_name("titles_mapping.toml")
            mapping_path = beside if beside.exists() else None
    with progress_steps(sum(v is not None for v in files.values())) as step:
        results = check_inputs(files, mapping=mapping_path, layer=layer, step=step)
    failed = any(r.status == "error" for r in results) or (
        strict and any(r.status == "warning" for r in results)
    )
    if as_json:
        emit_json({"ok": not failed, "inputs": [r.as_dict() for r in results]})
    else:
        ctx = click.get_current_context()
        _print(results, quiet=bool(ctx.meta.get("agrilend.quiet")))
    if failed:
        raise SystemExit(1)


__all__ = ["command"]
