"""Put the synthetic county together and write it to disk (``sample_data/``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from rasterio.transform import Affine

from agrilend._paths import local_path
from agrilend.errors import OutputExistsError
from agrilend.synthetic.fields import plan_fields
from agrilend.synthetic.imagery import (
    BANDS,
    OFFSET_DN,
    QUANTIFICATION,
    make_sky,
    make_zones,
    observe,
    render_surface,
    sky_truth,
)
from agrilend.synthetic.layout import assign_households, make_land
from agrilend.synthetic.records import (
    FERTILITY_SCHEME,
    make_county_yields,
    make_registry,
    make_subsidies,
)
from agrilend.synthetic.weather import make_weather, weather_events
from agrilend.vocabulary import HA_PER_MU

log = logging.getLogger(__name__)

CRS = "EPSG:32650"
#: Top-left corner of the county in UTM 50N (about 116.5 E, 37.5 N, a Hebei plain county).
ORIGIN = (455_000.0, 4_152_000.0)
PIXEL = 10.0
#: Files written by :func:`generate_county`.
FILES = (
    "imagery.nc",
    "titles.gpkg",
    "weather.csv",
    "subsidies.csv",
    "county_yields.csv",
    "truth.csv",
    "truth_households.csv",
    "truth_subsidies.csv",
    "truth_events.csv",
    "truth_dates.csv",
)


@dataclass
class SyntheticCounty:
    """A synthetic county in memory (what :func:`generate_county` writes)."""

    imagery: xr.Dataset
    titles: gpd.GeoDataFrame
    truth: pd.DataFrame
    truth_households: pd.DataFrame
    weather: pd.DataFrame
    subsidies: pd.DataFrame
    truth_subsidies: pd.DataFrame
    county_yields: pd.DataFrame
    events: pd.DataFrame
    truth_dates: pd.DataFrame


def county_land(
    streams: list[np.random.Generator], size_px: tuple[int, int]
) -> tuple[list[Any], pd.DataFrame, list[Any], list[Any], gpd.GeoDataFrame]:
    """The county's land: parcels, their truth, idle strips, features and the registry.

    Drawn from the first three of the county's eight random streams (land, plan, registry), so
    other generators of the same county (its next season, its claims) draw the same land.
    Returns ``(parcels, truth, idle, features, titles)`` in world coordinates.
    """
    r_land, r_plan, r_reg = streams[:3]
    ny, nx = size_px
    land = make_land(nx * PIXEL, ny * PIXEL, rng=r_land)
    truth, idle = plan_fields(land.parcels, row=land.row, near_water=land.near_water, rng=r_plan)

    # villagers' groups own contiguous runs of blocks; households hold land of their group only
    n_blocks = int(land.block.max()) + 1 if len(land.block) else 1
    n_groups = int(np.clip(n_blocks // 3, 1, 6))
    group = 1 + land.block * n_groups // n_blocks
    household = np.zeros(len(land.parcels), dtype=np.int64)
    offset = 0
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        hh = assign_households(len(sel), rng=r_reg)
        household[sel] = hh + offset
        offset += int(hh.max()) + 1

    to_world = [1.0, 0.0, 0.0, -1.0, ORIGIN[0], ORIGIN[1]]
    parcels = [shapely.affinity.affine_transform(p, to_world) for p in land.parcels]
    idle_w = [None if g is None else shapely.affinity.affine_transform(g, to_world) for g in idle]
    feats = [(k, shapely.affinity.affine_transform(g, to_world)) for k, g in land.features]
    titles, _households = make_registry(
        parcels, truth, group=group, household=household, block=land.block, crs=CRS, rng=r_reg
    )
    truth.insert(0, "parcel_id", titles["DKBM"].to_numpy())
    truth.insert(1, "owner_id", titles["CBFBM"].to_numpy())
    return parcels, truth, idle_w, feats, titles


def build_county(
    *,
    seed: int = 20240601,
    size_px: tuple[int, int] = (180, 180),
    year: int = 2024,
    revisit_days: int = 5,
    fine: int = 4,
    weather_start: str = "1994-01-01",
    with_clouds: bool = True,
) -> SyntheticCounty:
    """Generate the synthetic county in memory.

    Parameters
    ----------
    seed
        Seed of every random draw; the same seed gives the same county.
    size_px
        ``(rows, columns)`` of 10 m pixels (180 x 180 = 1.8 x 1.8 km).
    year
        The imagery year (calendars are 2024's).
    revisit_days
        Days between acquisitions.
    fine
        Sub-pixels per 10 m pixel side used to render mixed edge pixels (4 = 2.5 m).
    weather_start
        First day of the daily weather record (ends on 31 December of ``year``).
    with_clouds
        False gives a cloud-free, haze-free cube (useful in small tests).

    Examples
    --------
    >>> c = build_county(seed=1, size_px=(40, 40), weather_start="2024-01-01")
    >>> c.imagery.sizes["time"], c.titles.crs.to_epsg(), len(c.titles) == len(c.truth)
    (73, 32650, True)
    """
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    _r_land, _r_plan, _r_reg, r_zone, r_surf, r_sky, r_obs, r_rec = streams
    ny, nx = size_px
    parcels, truth, idle_w, feats, titles = county_land(streams, size_px)

    weather = make_weather(start=weather_start, end=f"{year}-12-31", rng=r_rec)
    times = pd.date_range(f"{year}-01-01", periods=365 // revisit_days, freq=f"{revisit_days}D")
    prcp = weather.set_index("date")["prcp_mm"]
    rain = np.array([prcp.get(t.strftime("%Y-%m-%d"), 0.0) >= 1.0 for t in times])
    # soil wetness: rain of the last three days, saturating at 10 mm
    recent = prcp.rolling(3, min_periods=1).sum()
    wet = np.array([min(1.0, recent.get(t.strftime("%Y-%m-%d"), 0.0) / 10.0) for t in times])

    fine_tr = Affine(PIXEL / fine, 0.0, ORIGIN[0], 0.0, -PIXEL / fine, ORIGIN[1])
    zones = make_zones(
        parcels, truth, idle_w, feats, times=times, shape=(ny * fine, nx * fine),
        transform=fine_tr, rng=r_zone,
    )  # fmt: skip
    surface = render_surface(zones, factor=fine, rng=r_surf, wetness=wet)
    sky = make_sky(times, (ny, nx), rng=r_sky, rain_days=rain)
    if not with_clouds:
        sky.cloud[:] = 0
        sky.shadow[:] = 0
        sky.cirrus[:] = 0
        sky.haze[:] = 0
        sky.faint[:] = False
        sky.nodata[:] = False
    plastic = zones.plastic[zones.label].astype(np.float32)
    plastic_share = plastic.reshape(ny, fine, nx, fine).mean(axis=(1, 3))
    dn, scl = observe(surface, sky, plastic_share=plastic_share, rng=r_obs)
    dates_truth = sky_truth(sky, scl, times)
    imagery = _as_dataset(dn, scl, times, Affine(PIXEL, 0, ORIGIN[0], 0, -PIXEL, ORIGIN[1]))

    subsidies, sub_truth = make_subsidies(titles, truth, rng=r_rec)
    county_yields = make_county_yields(truth, rng=r_rec, year=year)
    hh_truth = _household_truth(truth, sub_truth, year)
    log.info("synthetic county: %d parcels, %d households", len(titles), len(hh_truth))
    return SyntheticCounty(
        imagery=imagery,
        titles=titles,
        truth=truth,
        truth_households=hh_truth,
        weather=weather,
        subsidies=subsidies,
        truth_subsidies=sub_truth,
        county_yields=county_yields,
        events=weather_events(),
        truth_dates=dates_truth,
    )


def _as_dataset(
    dn: np.ndarray[Any, Any], scl: np.ndarray[Any, Any], times: pd.DatetimeIndex, transform: Affine
) -> xr.Dataset:
    _, _, ny, nx = dn.shape
    xs = transform.c + transform.a * (np.arange(nx) + 0.5)
    ys = transform.f + transform.e * (np.arange(ny) + 0.5)
    data: dict[str, Any] = {}
    for k, b in enumerate(BANDS):
        attrs = {"long_name": f"Sentinel-2 L2A {b} digital number", "units": "1", "nodata": 0}
        data[b] = (("time", "y", "x"), dn[:, k], attrs)
    data["SCL"] = (("time", "y", "x"), scl, {"long_name": "Sentinel-2 scene classification",
                                             "nodata": 0})  # fmt: skip
    ds = xr.Dataset(
        data,
        coords={"time": times, "y": ys, "x": xs},
        attrs={
            "processing_level": "L2A",
            "processing_baseline": "05.10",
            "boa_add_offset": -OFFSET_DN,
            "boa_quantification_value": QUANTIFICATION,
            "source": "agrilend synthetic county",
            "title": "Synthetic Sentinel-2 L2A-like cube (not real observations)",
        },
    )
    ds["x"].attrs.update(units="m", standard_name="projection_x_coordinate")
    ds["y"].attrs.update(units="m", standard_name="projection_y_coordinate")
    return ds.rio.write_crs(CRS).rio.write_transform(transform)


def _household_truth(truth: pd.DataFrame, subs: pd.DataFrame, year: int) -> pd.DataFrame:
    g = truth.groupby("owner_id", sort=True)
    out = pd.DataFrame(
        {
            "n_parcels": g.size(),
            "declared_area_ha": g["declared_area_ha"].sum().round(4),
            "true_cultivated_area_ha": g["true_cultivated_area_ha"].sum().round(4),
            "true_production_t": g["true_production_t"].sum().round(3),
        }
    )
    sel = (subs["year"] == year) & (subs["scheme"] == FERTILITY_SCHEME) & subs["matches_registry"]
    paid = subs[sel].groupby("owner_id")
    out["subsidy_area_mu"] = paid["area_mu"].sum().reindex(out.index).fillna(0.0).round(2)
    out["subsidy_inflated"] = paid["inflated_area"].any().reindex(out.index).fillna(False)
    out["subsidised_over_cultivated"] = out["subsidy_area_mu"] * HA_PER_MU > 1.5 * out[
        "true_cultivated_area_ha"
    ].clip(lower=1e-9)
    return out.reset_index()


def write_county(
    county: SyntheticCounty, out_dir: str | Path, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write a county's files into ``out_dir``; return their paths by name."""
    out = local_path(out_dir, must_exist=False, what="output folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in FILES}
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{existing[0]} exists; pass overwrite=True (or --overwrite) to regenerate it",
            path=existing[0],
        )
    ny, nx = county.imagery.sizes["y"], county.imagery.sizes["x"]
    enc: dict[str, dict[str, Any]] = {
        v: {"zlib": True, "complevel": 6, "shuffle": True, "chunksizes": (1, ny, nx),
            "_FillValue": None}
        for v in [*BANDS, "SCL"]
    }  # fmt: skip
    enc["time"] = {"units": "days since 2000-01-01", "calendar": "proleptic_gregorian"}
    paths["imagery.nc"].unlink(missing_ok=True)
    ds = county.imagery.copy()
    for name, e in enc.items():
        # set on the variables: an explicit encoding= would drop rioxarray's grid_mapping
        ds[name].encoding.update(e)
    ds.to_netcdf(paths["imagery.nc"], engine="netcdf4")
    paths["titles.gpkg"].unlink(missing_ok=True)
    _write_gpkg(county.titles, paths["titles.gpkg"])
    county.weather.to_csv(paths["weather.csv"], index=False, encoding="utf-8")
    county.subsidies.to_csv(paths["subsidies.csv"], index=False, encoding="gbk")
    county.county_yields.to_csv(paths["county_yields.csv"], index=False)
    county.truth.to_csv(paths["truth.csv"], index=False)
    county.truth_households.to_csv(paths["truth_households.csv"], index=False)
    county.truth_subsidies.to_csv(paths["truth_subsidies.csv"], index=False, encoding="utf-8")
    county.events.to_csv(paths["truth_events.csv"], index=False, encoding="utf-8")
    county.truth_dates.to_csv(paths["truth_dates.csv"], index=False)
    return paths


def _write_gpkg(titles: gpd.GeoDataFrame, path: Path) -> None:
    """Write the titles layer with a fixed GeoPackage timestamp, so the bytes are reproducible."""
    import pyogrio  # noqa: PLC0415  (only the writer needs it)

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-12-31T00:00:00Z"})
    try:
        titles.to_file(path, layer="titles", driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def generate_county(
    out_dir: str | Path,
    *,
    seed: int = 20240601,
    size_px: tuple[int, int] = (180, 180),
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Path]:
    """Generate the synthetic county and write its files into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed).
    seed
        Seed of every random draw; the same seed gives the same county.
    size_px
        ``(rows, columns)`` of 10 m pixels.
    overwrite
        Replace existing files.
    **options
        Passed to :func:`build_county` (``revisit_days``, ``fine``, ``weather_start``...).

    Returns
    -------
    dict
        File name to path, for every file written.

    Raises
    ------
    OutputExistsError
        When a file exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = generate_county(d, seed=3, size_px=(30, 30), weather_start="2024-01-01")
    ...     sorted(paths)[:3]
    ['county_yields.csv', 'imagery.nc', 'insurance.csv']
    """
    from agrilend.synthetic.credit_records import write_credit_records  # noqa: PLC0415

    county = build_county(seed=seed, size_px=size_px, **options)
    paths = write_county(county, out_dir, overwrite=overwrite)
    # prices, transfers, insurance and own evidence: their own seeded generator (issue 20)
    return paths | write_credit_records(out_dir)


__all__ = [
    "CRS",
    "FILES",
    "ORIGIN",
    "SyntheticCounty",
    "build_county",
    "generate_county",
    "write_county",
]
