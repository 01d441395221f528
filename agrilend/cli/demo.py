"""``agrilend demo``: the whole path on the embedded sample county."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from agrilend.cli._progress import progress_steps
from agrilend.cli.options import (
    check_output,
    common_options,
    emit_json,
    is_quiet,
    json_option,
    overwrite_option,
)

log = logging.getLogger(__name__)

#: Steps reported by :func:`agrilend.pipeline.assess`, plus loading and writing.
_STEPS = 14


@click.command(name="demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="agrilend-out",
    show_default=True,
    help="Folder for the outputs.",
)
@click.option(
    "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
    help="Language of the example report.",
)  # fmt: skip
@overwrite_option
@json_option
@common_options
def command(out: str, lang: str, overwrite: bool, as_json: bool) -> None:
    """Run the whole path on the embedded sample county and write its outputs.

    Opens the synthetic county in sample_data/ (imagery, titles, subsidies, weather, policy),
    runs every layer (cloud mask, NDVI, parcel series, crop type, cultivated area, vigour,
    yield, credit lines), then writes to OUT: parcels.parquet (GeoParquet), households.csv
    and .parquet, manifest.json, and one household's HTML report; and prints a summary.

    \b
    Examples:
      agrilend demo
      agrilend demo --out /tmp/demo --overwrite --lang zh
      agrilend demo --json -q | jq .decisions
    """
    from agrilend.demo import run_demo  # noqa: PLC0415  (heavy imports only when run)

    out_dir = check_output(Path(out), overwrite=overwrite)
    with progress_steps(_STEPS) as step:

        def progress(name: str) -> None:
            step.advance(name)

        summary = run_demo(out_dir, lang="zh" if lang == "zh" else "en", progress=progress)
    if as_json:
        emit_json(summary)
    elif not is_quiet():
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    """The demo's summary for a person: every code in words (the glossary's)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from agrilend.glossary import term  # noqa: PLC0415

    console = Console()
    table = Table(title="agrilend demo — synthetic sample county", show_header=False)
    table.add_row("parcels", f"{summary['parcels']} ({summary['parcels_with_error']} unusable)")
    table.add_row("households", str(summary["households"]))
    table.add_row(
        "decisions",
        ", ".join(f"{term('decision', k)} {v}" for k, v in sorted(summary["decisions"].items())),
    )
    table.add_row("credit approved", f"{summary['total_credit']:,.0f} {summary['currency']}")
    table.add_row(
        "proposed for referred",
        f"{summary.get('referred_credit', 0.0):,.0f} {summary['currency']}",
    )
    table.add_row("crop mismatches flagged", str(summary["crop_mismatches"]))
    table.add_row(
        "area flags",
        ", ".join(f"{term('area_flag', k)} {v}" for k, v in summary["area_flags"].items()),
    )
    if "truth" in summary:
        t = summary["truth"]
        table.add_row("crop accuracy (vs generator truth)", f"{t['crop_accuracy']:.1%}")
        table.add_row("mis-declared crops caught", f"{t['misdeclared_caught']:.1%}")
        table.add_row("area error (mean abs.)", f"{t['area_mae_ha']:.3f} ha")
    console.print(table)
    console.print(f"outputs in [bold]{summary['out']}[/bold]; example report: {summary['report']}")
