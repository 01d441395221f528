"""``agrilend scan``: every parcel of a county, on Dask, resumable, into a results folder."""

from __future__ import annotations

import logging
from typing import Any

import click

from agrilend._paths import local_path
from agrilend.cli._crop_model import with_crop_model
from agrilend.cli._progress import progress_bar
from agrilend.cli.options import (
    common_options,
    emit_json,
    input_files,
    input_options,
    is_quiet,
    json_option,
    overwrite_option,
)

log = logging.getLogger(__name__)

#: The scan's peer tile side when --peer-tile-px is not given (a test keeps it equal to
#: :data:`agrilend.scan.county_step.PEER_TILE_PX`; not imported here: ``--help`` stays light).
DEFAULT_PEER_TILE_PX = 1024


class PeerTile(click.ParamType):
    """``--peer-tile-px``: a positive number of pixels, or ``0``/``none`` for county peers
    only (converted to 0).

    Examples
    --------
    >>> PeerTile().convert("2048", None, None), PeerTile().convert("None", None, None)
    (2048, 0)
    """

    name = "N|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        text = str(value).strip().lower()
        if text in {"none", "0"}:
            return 0
        if not text.isdigit():
            self.fail(
                f"{value!r} is not a tile side: give a positive whole number of pixels (e.g. "
                "1024), or 0 or none to compare each parcel with the county's parcels of its "
                "crop only", param, ctx,
            )  # fmt: skip
        return int(text)


@click.command(name="scan")
@input_options()
@click.option(
    "--out", type=click.Path(file_okay=False), required=True, help="Results folder."
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=0), default=None,
    help="Local Dask worker processes [default: CPU count, at most 8]; 0 = in this process.",
)  # fmt: skip
@click.option(
    "--scheduler", metavar="tcp://HOST:PORT",
    help="Address of a running Dask scheduler (its workers must see the files and --out).",
)  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue the scan in --out where it stopped.")
@click.option(
    "--retry-quarantined", "retry_quarantined", is_flag=True,
    help="Resume, and compute the quarantined chunks again (3 more attempts); finished chunks "
    "are kept, a finished scan with quarantined chunks is re-opened.",
)  # fmt: skip
@click.option(
    "--chunk-size", "chunk_size", type=click.IntRange(min=8), default=None,
    help="Side of a spatial chunk in imagery pixels [default: 256].",
)  # fmt: skip
@click.option(
    "--context", type=click.Path(file_okay=False),
    help="County context of an earlier scan: use its crop model instead of training one.",
)  # fmt: skip
@click.option(
    "--peer-tile-px", "peer_tile_px", type=PeerTile(), default=None,
    help="Vigour peers by tile: each parcel is compared with the parcels of its crop in its "
    "square tile of N imagery pixels (the county's where the tile holds fewer than 30); 0 or "
    f"none: the county's parcels only [default: {DEFAULT_PEER_TILE_PX}, about 10 km at 10 m].",
)  # fmt: skip
@click.option(
    "--model", type=click.Path(dir_okay=False),
    help="Crop model file from `agrilend train`: used instead of training one on the county.",
)  # fmt: skip
@overwrite_option
@json_option
@common_options
def command(  # noqa: PLR0917  (click passes every option by keyword)
    given: dict[str, str | None],
    out: str,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    retry_quarantined: bool,
    chunk_size: int | None,
    context: str | None,
    peer_tile_px: int | None,
    model: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Scan every parcel of a county into a results folder.

    Parcels are grouped into spatial chunks (imagery windows) computed in parallel on Dask;
    each chunk's result is written atomically, so a killed scan continues with --resume and a
    finished one is left untouched. A chunk that fails three times is quarantined (its parcels
    are rows with status error) and the scan goes on; --retry-quarantined computes such chunks
    again. Then the county's crop model is trained on the declared
    crops (out of fold), households are sized, and OUT receives parcels.parquet and .gpkg,
    households.parquet, summary.json and summary.html (county map), households.html (the
    index of the household pages in households/, with a search), manifest.json and
    context/ (what `agrilend report --context` reuses). With no input files the embedded
    sample county is scanned.

    \b
    Examples:
      agrilend scan --out scan-sample                      # the sample county
      agrilend scan --titles t.gpkg --imagery cube.zarr --weather w.csv --out county/ --workers 8
      agrilend scan ... --out county/ --resume             # after a crash or a kill
      agrilend scan ... --out county/ --retry-quarantined  # chunks that failed 3 times
      agrilend scan ... --out county/ --scheduler tcp://10.0.0.5:8786
      agrilend scan ... --out county/ --model crops.agm   # a model from `agrilend train`
      agrilend scan ... --out county/ --peer-tile-px 2048  # vigour peers in ~20 km tiles
      agrilend scan ... --out county/ --peer-tile-px none  # vigour peers: the whole county
      agrilend scan --out scan-sample --json -q | jq .summary.decisions
    """
    from agrilend.scan import DEFAULT_CHUNK_PX, load_context, scan  # noqa: PLC0415  (heavy)

    files = input_files(given, doing="scanning")
    tiles: dict[str, Any] = {}  # not given: the scan's own default
    if peer_tile_px is not None:
        tiles["peer_tile_px"] = peer_tile_px or None  # 0: county peers only
    out_dir = local_path(out, what="results folder", must_exist=False)
    county = load_context(local_path(context, what="scan context")) if context else None
    if model:
        county = with_crop_model(county, local_path(model, what="crop model"))
    if tiles and county is not None and county.peer_stats is not None:
        log.warning(
            "--peer-tile-px is not used: the peers of the context given with --context judge "
            "every parcel (as that scan judged them)"
        )
    with progress_bar("scanning parcels", unit="parcels") as progress:
        result = scan(
            files, out_dir, chunk_size_px=chunk_size or DEFAULT_CHUNK_PX, workers=workers,
            scheduler=scheduler, resume=resume, overwrite=overwrite,
            retry_quarantined=retry_quarantined, context=county, progress=progress, **tiles,
        )  # fmt: skip
    payload: dict[str, Any] = {
        "out": str(result.out_dir),
        "written": result.written,
        "chunks": result.chunks,
        "computed_chunks": result.computed,
        "quarantined_chunks": result.quarantined,
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "summary": result.summary,
    }
    if as_json:
        emit_json(payload)
    elif not is_quiet():
        _print(payload)


def _print(payload: dict[str, Any]) -> None:
    s = payload["summary"]
    if not payload["written"]:
        click.echo(f"scan in {payload['out']} was already finished; nothing written")
    click.echo(
        f"{s['parcels']} parcels, {s['households']} households in {payload['chunks']} chunks "
        f"({len(payload['quarantined_chunks'])} quarantined)"
    )
    click.echo("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(s["decisions"].items())))
    click.echo(
        f"credit approved: {s['credit_total']:,.0f} {s['currency']}; proposed for referred "
        f"households (a person decides): {s.get('credit_referred', 0.0):,.0f} {s['currency']}"
    )
    click.echo(
        f"outputs in {payload['out']} (summary.html, households.html, parcels.parquet, "
        "households.parquet)"
    )


__all__ = ["command"]
