"""``agrilend fetch``: imagery from Sentinel Hub or a STAC catalogue into a local cube file.

Credentials for Sentinel Hub are never options: they come from the environment (``SH_CLIENT_ID``,
``SH_CLIENT_SECRET``) or sentinelhub's own configuration (``--profile`` picks one of its profiles).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pyproj
import xarray as xr

from agrilend._paths import local_path
from agrilend.cli._progress import progress_bar
from agrilend.cli.options import (
    check_output,
    common_options,
    emit_json,
    is_quiet,
    json_option,
    overwrite_option,
)
from agrilend.errors import AgrilendError

CONTEXT = {"help_option_names": ["-h", "--help"]}


# --- option parsing ---------------------------------------------------------------------------


def _parse_bbox(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not four numbers minx,miny,maxx,maxy") from None
    if len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3]):
        raise click.BadParameter(f"{value!r} must be minx,miny,maxx,maxy with min < max")
    return parts


def _parse_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class _Request:
    """What both sources are asked: area, season, grid, bands, and where the cube goes."""

    bbox: tuple[float, ...] | None
    titles: Path | None
    crs: str | None
    start: datetime
    end: datetime
    resolution: float
    bands: tuple[str, ...]
    max_cloud: float | None
    out: Path
    overwrite: bool
    as_json: bool

    def area(self) -> tuple[tuple[float, ...], str]:
        """Check the output first (nothing is fetched for a refused write), then the area."""
        _check_suffix(self.out)
        check_output(self.out, overwrite=self.overwrite)
        return _resolve_area(self.bbox, self.titles, self.crs)

    def finish(self, cube: xr.Dataset, source: str) -> None:
        """Write the cube and report it."""
        _write_cube(cube, self.out, overwrite=self.overwrite)
        _report(_summary(cube, self.out, source), self.as_json)


def _area_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by both sources (area, season, grid, bands, output), given to the
    command as one :class:`_Request`, its first argument."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        req = _Request(**{f.name: kwargs.pop(f.name) for f in fields(_Request)})
        return func(req, **kwargs)

    opts = [
        click.option(
            "--bbox",
            callback=_parse_bbox,
            help="Area as minx,miny,maxx,maxy in --crs (lon/lat by default).",
        ),
        click.option(
            "--titles",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Take the area from the parcels of a titles file (GeoPackage, shapefile...).",
        ),
        click.option(
            "--crs", default=None, help="CRS of --bbox (default EPSG:4326) and of the output."
        ),
        click.option(
            "--start",
            required=True,
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="First date (YYYY-MM-DD).",
        ),
        click.option(
            "--end",
            required=True,
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="Last date, included.",
        ),
        click.option("--resolution", default=10.0, show_default=True, help="Pixel size in metres."),
        click.option(
            "--bands",
            default="B02,B03,B04,B08",
            show_default=True,
            callback=_parse_list,
            help="Reflectance bands, comma-separated.",
        ),
        click.option(
            "--max-cloud", type=click.FloatRange(0, 100), help="Skip scenes cloudier than this %."
        ),
        click.option(
            "--out",
            "-o",
            required=True,
            type=click.Path(path_type=Path),
            help="Output cube: .nc (NetCDF) or .zarr.",
        ),
        overwrite_option,
        json_option,
    ]
    decorated: Callable[..., Any] = wrapper
    for opt in reversed(opts):
        decorated = opt(decorated)
    return decorated


def _area_from_titles(path: Path, crs: str | None) -> tuple[tuple[float, ...], Any]:
    """(bounds, CRS) of a titles file's parcels; only geometries are read (no personal data)."""
    import geopandas as gpd  # noqa: PLC0415  (heavy; only this option needs it)

    from agrilend._gate import check_vector, configure_ogr  # noqa: PLC0415

    src = local_path(path, what="titles")
    configure_ogr()
    check_vector(src)  # the content gate, as for every titles file: no VRT, no CRS links
    try:
        parcels = gpd.read_file(src, columns=[])
    except Exception as exc:
        raise click.BadParameter(
            f"cannot read {str(src)!r}: {exc}", param_hint="--titles"
        ) from None
    if parcels.crs is None:
        raise click.BadParameter(f"{str(src)!r} has no CRS", param_hint="--titles")
    if crs is not None:
        parcels = parcels.to_crs(crs)
    return tuple(float(v) for v in parcels.total_bounds), parcels.crs


def _resolve_area(
    bbox: tuple[float, ...] | None, titles: Path | None, crs: str | None
) -> tuple[tuple[float, ...], str]:
    if (bbox is None) == (titles is None):
        raise click.UsageError("give the area with exactly one of --bbox or --titles")
    if titles is not None:
        bounds, tcrs = _area_from_titles(titles, crs)
        return bounds, str(tcrs.to_string())
    assert bbox is not None
    return bbox, crs or "EPSG:4326"


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in {".nc", ".zarr"}:
        raise click.BadParameter(f"{out.name!r}: use a .nc or .zarr file name", param_hint="--out")


# --- writing and reporting --------------------------------------------------------------------


def _write_cube(cube: xr.Dataset, out: Path, *, overwrite: bool) -> Path:
    from agrilend.outputs import write_cube  # noqa: PLC0415

    check_output(out, overwrite=overwrite)
    return write_cube(cube, out, overwrite=overwrite)


def _summary(cube: xr.Dataset, out: Path, source: str) -> dict[str, Any]:
    times = cube.indexes["time"]
    return {
        "out": str(out),
        "source": source,
        "dates": len(times),
        "first_date": str(times[0].date()) if len(times) else None,
        "last_date": str(times[-1].date()) if len(times) else None,
        "width": int(cube.sizes["x"]),
        "height": int(cube.sizes["y"]),
        "crs": str(cube.rio.crs),
        "bands": [str(v) for v in cube.data_vars if str(v).startswith("B")],
        "clear_fraction": round(float(cube["valid"].mean()), 4),
    }


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
    elif not is_quiet():
        click.echo(
            f"wrote {summary['out']}: {summary['dates']} dates "
            f"{summary['first_date']}..{summary['last_date']}, "
            f"{summary['width']} x {summary['height']} px, {summary['crs']}, "
            f"{100 * summary['clear_fraction']:.0f} % clear"
        )


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Library ValueErrors about arguments become usage errors (exit 2); agrilend's stay 1."""
    try:
        yield
    except AgrilendError:
        raise
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


# --- commands ---------------------------------------------------------------------------------


@click.group(name="fetch", context_settings=CONTEXT)
def command() -> None:
    """Download Sentinel-2 L2A imagery into a local cube (NetCDF or Zarr).

    \b
    Examples:
      agrilend fetch sentinelhub --bbox 117.01,36.60,117.03,36.62 \\
          --start 2024-03-01 --end 2024-11-30 --out county.nc
      agrilend fetch sentinelhub --titles titles.gpkg --start 2024-03-01 \\
          --end 2024-11-30 --max-cloud 60 --out county.zarr --json
      agrilend fetch stac --url https://earth-search.aws.element84.com/v1 \\
          --titles titles.gpkg --start 2024-03-01 --end 2024-11-30 --out county.nc
      agrilend fetch stac --catalog catalogue/catalog.json --start 2023-10-01 \\
          --end 2023-12-31 --bbox 3.86,51.29,3.87,51.30 --out cube.nc
    """


@command.command(name="sentinelhub", context_settings=CONTEXT)
@_area_options
@click.option(
    "--profile", help="Profile of sentinelhub's config.toml (default: $SH_PROFILE or default)."
)
@click.option(
    "--tile-size", default=1000, show_default=True, help="Largest request side in pixels."
)
@click.option("--no-cache", is_flag=True, help="Ask the service again even if cached.")
@common_options
def sentinelhub_cmd(
    req: _Request,
    *,
    profile: str | None,
    tile_size: int,
    no_cache: bool,
) -> None:
    """Fetch from the Sentinel Hub Process API (cached in AGRILEND_CACHE_DIR).

    Credentials: SH_CLIENT_ID and SH_CLIENT_SECRET in the environment, or sentinelhub's
    configuration (sentinelhub.config --sh_client_id ... --sh_client_secret ...).

    \b
    Examples:
      export SH_CLIENT_ID=... SH_CLIENT_SECRET=...
      agrilend fetch sentinelhub --bbox 500000,4000000,505000,4005000 --crs EPSG:32650 \\
          --start 2024-01-01 --end 2024-12-31 --resolution 10 --out cube.nc
    """
    from agrilend.remote_sensing.sources.sentinelhub import load_sentinelhub  # noqa: PLC0415

    area, area_crs = req.area()
    with _usage_errors(), progress_bar("Sentinel Hub tiles") as progress:
        cube = load_sentinelhub(
            area,
            crs=area_crs,
            time=(req.start, req.end),
            resolution=req.resolution,
            bands=req.bands,
            max_cloud=req.max_cloud,
            profile=profile,
            cache=not no_cache,
            max_tile_px=tile_size,
            progress=progress,
        )
    req.finish(cube, "sentinelhub")


@command.command(name="stac", context_settings=CONTEXT)
@_area_options
@click.option("--url", help="STAC API to search, e.g. https://earth-search.aws.element84.com/v1")
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A static STAC catalogue (catalog.json or collection.json) on disk.",
)
@click.option("--collection", default="sentinel-2-l2a", show_default=True)
@common_options
def stac_cmd(
    req: _Request,
    *,
    url: str | None,
    catalog: Path | None,
    collection: str,
) -> None:
    """Fetch from a STAC API (--url) or a static STAC catalogue (--catalog) with odc-stac.

    The output is in --crs when it is projected, else in the items' own CRS.

    \b
    Examples:
      agrilend fetch stac --url https://earth-search.aws.element84.com/v1 \\
          --bbox 117.01,36.60,117.03,36.62 --start 2024-05-01 --end 2024-09-30 \\
          --max-cloud 50 --out cube.nc
    """
    from agrilend.remote_sensing.sources.stac import load_stac  # noqa: PLC0415

    if (url is None) == (catalog is None):
        raise click.UsageError("give exactly one of --url (a STAC API) or --catalog (a file)")
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    area, area_crs = req.area()
    src_crs = pyproj.CRS.from_user_input(area_crs)
    to_ll = pyproj.Transformer.from_crs(src_crs, "EPSG:4326", always_xy=True)
    lonlat = to_ll.transform_bounds(area[0], area[1], area[2], area[3])
    out_crs = None if src_crs.is_geographic else src_crs.to_string()
    source: str | Path
    if url is not None:
        source = url
    else:
        assert catalog is not None
        source = local_path(catalog, what="STAC catalogue")
    with _usage_errors():
        cube = load_stac(
            source,
            bbox=lonlat,
            time=(req.start, req.end),
            collection=collection,
            bands=req.bands,
            resolution=req.resolution,
            crs=out_crs,
            max_cloud=req.max_cloud,
        )
    req.finish(cube, "stac")


__all__ = ["command"]
