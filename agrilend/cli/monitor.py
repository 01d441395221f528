"""``agrilend monitor``: a scanned loan book watched on every new image (贷中监测)."""

from __future__ import annotations

import logging
from typing import Any

import click

from agrilend._paths import local_path
from agrilend.cli._progress import progress_bar
from agrilend.cli.options import common_options, emit_json, is_quiet, json_option

log = logging.getLogger(__name__)


@click.command(name="monitor")
@click.argument("scan_dir", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--imagery", type=click.Path(exists=True), required=True,
    help="Newer imagery: a local cube on the scan's grid (dates after the decision date).",
)  # fmt: skip
@click.option(
    "--weather", type=click.Path(exists=True, dir_okay=False),
    help="Daily weather of the season to date (the scan's weather file is the history).",
)  # fmt: skip
@click.option(
    "--until", metavar="DATE", help="Read only image dates up to DATE (what has arrived)."
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True,
    help="Local Dask worker processes; 0 = in this process.",
)  # fmt: skip
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="A running Dask scheduler.")
@click.option(
    "--chunk-size", "chunk_size", type=click.IntRange(min=8), default=256, show_default=True,
    help="Side of a spatial chunk in imagery pixels.",
)  # fmt: skip
@json_option
@common_options
def command(  # noqa: PLR0917  (click passes every option by keyword)
    scan_dir: str,
    imagery: str,
    weather: str | None,
    until: str | None,
    workers: int,
    scheduler: str | None,
    chunk_size: int,
    as_json: bool,
) -> None:
    """Append the new image dates to a scanned loan book and judge the season.

    Only dates after those already monitored are read, chunk by chunk (on Dask with
    --workers/--scheduler), and appended to SCAN_DIR/monitor/ (append-only; a killed run is
    resumed by running the command again; with no new date nothing is written). Each run writes
    SCAN_DIR/monitor/runs/NNNN/: events.parquet (per parcel: failure, no crop, drought, hail,
    crop switch, late sowing, harvest after the loan is due, with date, severity, evidence),
    households.parquet (revenue and capacity now, the proposed action: keep, reduce_undrawn,
    extend_tenor, visit, with reasons in English and Chinese), funding.parquet (costs due by
    growth stage), summary.json and summary.en.html / summary.zh.html (exposure at risk by
    village and crop, events, a map, the history of runs).

    \b
    Examples:
      agrilend monitor scan-sample --imagery sample_data/monitor_imagery.nc \\
          --weather sample_data/monitor_weather.csv --until 2025-06-30
      agrilend monitor scan-sample --imagery new.nc --workers 4 --json -q | jq .summary.actions
    """
    from agrilend.monitor import monitor  # noqa: PLC0415  (heavy)

    with progress_bar("reading new dates", unit="parcels") as progress:
        result = monitor(
            local_path(scan_dir, what="scan results folder"), local_path(imagery, what="imagery"),
            weather=weather, until=until, workers=workers, scheduler=scheduler,
            chunk_size_px=chunk_size, progress=progress,
        )  # fmt: skip
    payload: dict[str, Any] = {
        "run": result.run,
        "written": result.written,
        "dates": [d[:10] for d in result.dates],
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "summary": result.summary,
    }
    if as_json:
        emit_json(payload)
    elif not is_quiet():
        _print(payload, scan_dir)


def _print(payload: dict[str, Any], scan_dir: str) -> None:
    if not payload["written"]:
        click.echo("no new image date: nothing written")
        return
    s = payload["summary"]
    click.echo(f"run {payload['run']}: {len(payload['dates'])} new date(s) "
               f"{payload['dates'][0]} .. {payload['dates'][-1]}")  # fmt: skip
    click.echo("events: " + (", ".join(f"{k} {v}" for k, v in s["events_by_kind"].items())
                             or "none"))  # fmt: skip
    click.echo("actions: " + ", ".join(f"{k} {v}" for k, v in sorted(s["actions"].items())))
    click.echo(f"exposure at risk: {s['exposure_at_risk']:,.0f} of {s['credit_book']:,.0f} "
               f"{s['currency']}")  # fmt: skip
    click.echo(f"outputs in {scan_dir}/monitor/runs/{payload['run']:04d}/")


__all__ = ["command"]
