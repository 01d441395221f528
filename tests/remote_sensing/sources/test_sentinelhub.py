"""Sentinel Hub Process and Statistical API paths against a fake service on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from rasterio.features import geometry_mask
from sentinelhub import SHConfig

from agrilend.errors import (
    CredentialsError,
    DuplicateParcelError,
    ImageryReadError,
    ServiceError,
)
from agrilend.parcels import zonal_series
from agrilend.remote_sensing.contract import validate_cube
from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.sources.sentinelhub import (
    SCL_CLEAR,
    load_sentinelhub,
    sentinelhub_config,
    sentinelhub_statistics,
)
from agrilend.remote_sensing.sources.sentinelhub.area import grid_tiles
from agrilend.remote_sensing.timeseries import clean_series
from tests.remote_sensing._fake_sentinelhub import (
    FakeSentinelHub,
    grid_transform,
    harmonised_source,
    seasonal_source,
    synthetic_source,
)

CLIENT_ID = "agrilend-test-client"
SECRET = "canary-3f9d2c71-never-log-me"
SYN_BBOX = (500_000.0, 3_999_880.0, 500_100.0, 4_000_000.0)  # the synthetic source's full grid
SYN_TIME = ("2024-05-01", "2024-05-31")
BE_BBOX = (587_880.0, 5_684_910.0, 588_340.0, 5_685_430.0)  # the Belgian cube's full grid
BE_TIME = ("2023-10-01", "2023-12-31")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sentinelhub's config file and agrilend's cache in tmp; credentials in the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AGRILEND_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    monkeypatch.delenv("SH_PROFILE", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeSentinelHub]:
    with FakeSentinelHub(synthetic_source(), client_id=CLIENT_ID, client_secret=SECRET) as f:
        yield f


@pytest.fixture(scope="module")
def belgium_source(shared_data: Path) -> xr.Dataset:
    path = shared_data / "imagery" / "belgium" / "belgium_l2a_scl_2023.nc"
    with xr.open_dataset(path, decode_coords="all") as ds:
        return harmonised_source(ds.load())


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# --- Process API -----------------------------------------------------------------------------


def test_process_cube_equals_source(fake: FakeSentinelHub) -> None:
    cube = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    validate_cube(cube)
    src = fake.source
    assert str(cube.rio.crs) == "EPSG:32650"
    assert grid_transform(cube) == grid_transform(src)
    np.testing.assert_array_equal(cube["time"].values, src["time"].values)
    for band in ("B02", "B03", "B04", "B08"):
        assert cube[band].dtype == np.float32
        np.testing.assert_allclose(cube[band].values, src[band].values / 10000, rtol=1e-6)
    np.testing.assert_array_equal(cube["SCL"].values, src["SCL"].values)
    np.testing.assert_array_equal(cube["valid"].values, np.isin(src["SCL"].values, SCL_CLEAR))
    assert not cube["valid"].values[1].all()  # the synthetic cloud patch is masked


def test_retries_429_then_500_then_success(fake: FakeSentinelHub) -> None:
    fake.script = [429, 500]
    cube = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    process = [s for p, s in fake.answers if p == "/api/v1/process"]
    assert process == [429, 500, 200]
    assert cube.sizes["time"] == fake.source.sizes["time"]


def test_persistent_500_is_a_service_error(fake: FakeSentinelHub) -> None:
    fake.script = [500] * 10
    cfg = sentinelhub_config(fake.config(), max_download_attempts=3, download_sleep_time=0.01)
    with pytest.raises(ServiceError, match="HTTP 500"):
        load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=cfg)
    assert fake.hits["/api/v1/process"] == 3


def test_second_call_is_served_from_cache(fake: FakeSentinelHub, tmp_path: Path) -> None:
    first = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    before = sum(fake.hits.values())
    second = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    assert sum(fake.hits.values()) == before  # neither a token nor a process request
    xr.testing.assert_identical(first, second)
    files = _files(tmp_path / "cache")
    assert any("tokens" in p.parts for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE((tmp_path / "cache" / "sentinelhub").stat().st_mode) == 0o700
    assert not [p for p in files if p.name.endswith(".part")]


def test_no_cache_asks_again(fake: FakeSentinelHub) -> None:
    load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config(), cache=False)
    load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config(), cache=False)
    assert fake.hits["/api/v1/process"] == 2


def test_tiles_assemble_to_the_same_cube(fake: FakeSentinelHub) -> None:
    whole = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    tiled = load_sentinelhub(
        SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config(), max_tile_px=4, cache=False
    )
    assert fake.hits["/api/v1/process"] == 1 + 9  # 12 x 10 px in tiles of 4 -> 3 x 3
    xr.testing.assert_identical(whole, tiled)


def test_time_windows_assemble_to_the_same_cube(fake: FakeSentinelHub) -> None:
    whole = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    split = load_sentinelhub(
        SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config(), max_days=7, cache=False
    )
    assert fake.hits["/api/v1/process"] == 1 + 5  # 31 days in windows of 7
    xr.testing.assert_identical(whole, split)


def test_rate_limit_and_bad_request_messages(fake: FakeSentinelHub) -> None:
    fake.script = [429] * 50
    cfg = fake.config(max_retries=3)
    with pytest.raises(ServiceError, match="429"):
        load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=cfg)
    fake.script = [400]
    with pytest.raises(ServiceError, match=r"rejected .* \(HTTP 400: .*scripted failure"):
        load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())


def test_geometry_masks_pixels_outside(fake: FakeSentinelHub) -> None:
    tri = shapely.Polygon([(500_000, 3_999_880), (500_100, 3_999_880), (500_000, 4_000_000)])
    cube = load_sentinelhub(geometry=tri, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    inside = ~geometry_mask([tri], out_shape=(12, 10), transform=grid_transform(cube))
    assert not cube["valid"].values[:, ~inside].any()
    assert np.isnan(cube["B04"].values[:, ~inside]).all()
    assert cube["valid"].values[0, inside].all()


def test_max_cloud_drops_cloudy_scenes(fake: FakeSentinelHub) -> None:
    cube = load_sentinelhub(
        SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config(), max_cloud=10
    )
    assert cube.sizes["time"] == fake.source.sizes["time"] - 1  # date 2 is 25 % cloud


def test_lonlat_bbox_is_fetched_in_utm(fake: FakeSentinelHub) -> None:
    to_ll = pyproj.Transformer.from_crs(32650, 4326, always_xy=True)
    lonlat = to_ll.transform_bounds(500_020, 3_999_900, 500_080, 3_999_980)
    cube = load_sentinelhub(lonlat, crs="EPSG:4326", time=SYN_TIME, config=fake.config())
    assert cube.rio.crs.to_epsg() == 32650
    x, y = cube["x"].values, cube["y"].values
    assert x.min() - 5 <= 500_020
    assert x.max() + 5 >= 500_080
    assert y.min() - 5 <= 3_999_900
    assert y.max() + 5 >= 3_999_980
    assert cube["valid"].values[0].all()


def test_empty_time_range_says_so(fake: FakeSentinelHub) -> None:
    with pytest.raises(ImageryReadError, match="no Sentinel-2 L2A scene"):
        load_sentinelhub(
            SYN_BBOX, crs="EPSG:32650", time=("2020-01-01", "2020-01-31"), config=fake.config()
        )


def test_bad_arguments_are_value_errors(fake: FakeSentinelHub) -> None:
    cfg = fake.config()
    with pytest.raises(ValueError, match="exactly one"):
        load_sentinelhub(time=SYN_TIME, config=cfg)
    with pytest.raises(ValueError, match="quality"):
        load_sentinelhub(SYN_BBOX, crs=32650, time=SYN_TIME, quality=("QA60",), config=cfg)
    with pytest.raises(ValueError, match="before it starts"):
        load_sentinelhub(SYN_BBOX, crs=32650, time=("2024-02-01", "2024-01-01"), config=cfg)


@settings(deadline=None, max_examples=60)  # a loaded shared machine: no per-example deadline
@given(
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    max_px=st.integers(1, 25),
)
def test_tiles_partition_the_grid(width: int, height: int, max_px: int) -> None:
    grid = GeoBox((height, width), Affine(10, 0, 500_000, 0, -10, 4_000_000), "EPSG:32650")
    cover = np.zeros((height, width), dtype=int)
    for r, c, tile in grid_tiles(grid, max_px):
        assert tile.width <= max_px
        assert tile.height <= max_px
        assert tile.affine @ (0, 0) == grid.affine @ (c, r)
        cover[r : r + tile.height, c : c + tile.width] += 1
    assert (cover == 1).all()


# --- credentials ------------------------------------------------------------------------------


def test_credentials_from_environment_and_profile(fake: FakeSentinelHub) -> None:
    SHConfig(use_defaults=True, sh_base_url=fake.url, sh_token_url=f"{fake.url}/oauth/token").save(
        "agrilend-fake"
    )
    cube = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, profile="agrilend-fake")
    assert cube.sizes["time"] == 4


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SH_CLIENT_SECRET")
    with pytest.raises(CredentialsError, match="SH_CLIENT_SECRET"):
        sentinelhub_config()
    with pytest.raises(CredentialsError, match="profile"):
        sentinelhub_config(profile="no-such-profile")


def test_rejected_credentials_never_echo_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        FakeSentinelHub(synthetic_source(), client_id=CLIENT_ID, client_secret="other") as f,
        pytest.raises(CredentialsError) as info,
    ):
        load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=f.config())
    assert "HTTP 401" in str(info.value)
    assert SECRET not in "".join(traceback.format_exception(info.value))


def test_canary_secret_appears_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG, a success, a rejected token, a failing service: no canary."""
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    old = {lg.name: lg.level for lg in loggers}
    texts: list[str] = []
    try:
        for lg in loggers:
            lg.setLevel(logging.DEBUG)
        caplog.set_level(logging.DEBUG)
        with FakeSentinelHub(synthetic_source(), client_id=CLIENT_ID, client_secret=SECRET) as f:
            cube = load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=f.config())
            cube.to_netcdf(tmp_path / "out.nc")
            fields = gpd.GeoDataFrame(
                {"parcel_id": ["a"]}, geometry=[shapely.box(*SYN_BBOX)], crs="EPSG:32650"
            )
            sentinelhub_statistics(fields, time=SYN_TIME, config=f.config())
            texts += [repr(f.config()), str(f.config())]
            f.script = [500] * 10
            with pytest.raises(ServiceError) as failed:
                load_sentinelhub(
                    SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=f.config(), cache=False
                )
            texts.append("".join(traceback.format_exception(failed.value)))
            token_posts = [b for b in f.bodies if "client_secret" in b]
        with FakeSentinelHub(synthetic_source(), client_id=CLIENT_ID, client_secret="x") as f:
            with pytest.raises(CredentialsError) as rejected:
                load_sentinelhub(
                    SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=f.config(), cache=False
                )
            texts.append("".join(traceback.format_exception(rejected.value)))
    finally:
        for lg in loggers:
            lg.setLevel(old[lg.name])
    assert token_posts, "the canary must have been used to fetch a token"
    assert SECRET in token_posts[0]
    assert "DEBUG" in caplog.text  # the capture did run at DEBUG
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert SECRET not in text
    for p in _files(tmp_path):
        assert SECRET.encode() not in p.read_bytes(), p


# --- Statistical API --------------------------------------------------------------------------


def test_statistics_follow_the_series_contract(fake: FakeSentinelHub) -> None:
    fields = gpd.GeoDataFrame(
        {"parcel_id": ["P-1", "P-2"]},
        geometry=[
            shapely.box(500_000, 3_999_900, 500_050, 4_000_000),  # holds the cloud patch
            shapely.box(500_050, 3_999_880, 500_100, 3_999_940),
        ],
        crs="EPSG:32650",
    )
    series = sentinelhub_statistics(fields, time=SYN_TIME, config=fake.config())
    assert series["NDVI_mean"].dims == ("parcel", "time")
    assert list(series["parcel"].values) == ["P-1", "P-2"]
    for name in ("NDVI_std", "NDVI_p10", "NDVI_p50", "NDVI_p90", "valid_fraction"):
        assert series[name].shape == (2, 4)
    np.testing.assert_array_equal(series["pixel_count"].values, [50, 30])
    np.testing.assert_allclose(series["coverage_area_ha"].values, [0.5, 0.3])
    vf = series["valid_fraction"].values
    assert vf[0, 1] == pytest.approx(20 / 50)  # the 5 x 6 px cloud patch lies inside P-1
    assert (vf[0, [0, 2, 3]] == 1).all()
    assert (vf[1] == 1).all()
    p10, p50, p90 = (series[f"NDVI_p{k}"].values for k in (10, 50, 90))
    assert (p10 <= p50).all()
    assert (p50 <= p90).all()


def test_statistics_refuse_duplicate_ids(fake: FakeSentinelHub) -> None:
    fields = gpd.GeoDataFrame(
        {"parcel_id": ["P-1", "P-1"]},
        geometry=[shapely.box(*SYN_BBOX), shapely.box(*SYN_BBOX)],
        crs="EPSG:32650",
    )
    with pytest.raises(DuplicateParcelError, match="P-1"):
        sentinelhub_statistics(fields, time=SYN_TIME, config=fake.config())
    assert not fake.hits  # refused before any request


@pytest.mark.realdata
def test_process_on_the_belgian_cube(belgium_source: xr.Dataset, shared_data: Path) -> None:
    with FakeSentinelHub(belgium_source, client_id=CLIENT_ID, client_secret=SECRET) as f:
        f.script = [429, 500]
        cube = load_sentinelhub(
            BE_BBOX, crs="EPSG:32631", time=BE_TIME, config=f.config(), max_tile_px=20, max_days=92
        )
        assert f.hits["/api/v1/process"] == 9 + 2  # 46 x 52 px in tiles of 20, two retries
    raw = xr.open_dataset(shared_data / "imagery/belgium/belgium_l2a_scl_2023.nc")
    red = raw["S2-L2A-B04"].values.astype("float64")
    scl = raw["S2-L2A-SCL"].values
    has = red > 0
    days_with_data = has.reshape(len(red), -1).any(axis=1)
    assert cube.sizes["time"] == days_with_data.sum()
    expected = np.where(has, (red - 1000).clip(1) / 10000, np.nan)[days_with_data]
    np.testing.assert_allclose(cube["B04"].values, expected, rtol=1e-6)
    np.testing.assert_array_equal(
        cube["valid"].values, (has & np.isin(scl, SCL_CLEAR))[days_with_data]
    )


@pytest.mark.realdata
def test_statistics_agree_with_the_cube(belgium_source: xr.Dataset) -> None:
    fields = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B", "C"]},
        geometry=[
            shapely.box(587_900, 5_685_200, 588_100, 5_685_400),
            shapely.Polygon([(588_100, 5_685_000), (588_300, 5_685_000), (588_100, 5_685_200)]),
            shapely.box(588_200, 5_685_250, 588_330, 5_685_420),
        ],
        crs="EPSG:32631",
    )
    with FakeSentinelHub(belgium_source, client_id=CLIENT_ID, client_secret=SECRET) as f:
        series = sentinelhub_statistics(fields, time=BE_TIME, config=f.config(), stats=("mean",))
        cube = load_sentinelhub(BE_BBOX, crs="EPSG:32631", time=BE_TIME, config=f.config())
    ndvi = ((cube["B08"] - cube["B04"]) / (cube["B08"] + cube["B04"])).where(cube["valid"])
    shape = (cube.sizes["y"], cube.sizes["x"])
    for pid, geom in zip(fields["parcel_id"], fields.geometry, strict=True):
        inside = ~geometry_mask([geom], out_shape=shape, transform=grid_transform(cube))
        expected = ndvi.values[:, inside]
        got = series["NDVI_mean"].sel(parcel=pid).reindex(time=cube["time"]).values
        with np.errstate(invalid="ignore"):
            clear = np.isfinite(expected).any(axis=1)
        np.testing.assert_allclose(got[clear], np.nanmean(expected[clear], axis=1), rtol=1e-5)
        assert np.isnan(got[~clear]).all()
        frac = series["valid_fraction"].sel(parcel=pid).reindex(time=cube["time"]).values
        np.testing.assert_allclose(frac[clear], np.isfinite(expected[clear]).mean(axis=1))


def test_cache_dir_is_private(fake: FakeSentinelHub, tmp_path: Path) -> None:
    load_sentinelhub(SYN_BBOX, crs="EPSG:32650", time=SYN_TIME, config=fake.config())
    for d in (tmp_path / "cache" / "sentinelhub").rglob("*"):
        if d.is_dir():
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert os.environ["SH_CLIENT_SECRET"] == SECRET  # the environment was the only source


def test_season_and_phenology_in_a_few_lines_from_the_statistical_api() -> None:
    """The issue's 'ten lines': smoothed NDVI series and phenology of these fields, this season."""
    fields = gpd.GeoDataFrame(
        {"parcel_id": ["P-1", "P-2"]},
        geometry=[shapely.box(500_000, 3_999_900, 500_050, 4_000_000), shapely.box(*SYN_BBOX)],
        crs="EPSG:32650",
    )
    with FakeSentinelHub(seasonal_source(), client_id=CLIENT_ID, client_secret=SECRET) as f:
        series = sentinelhub_statistics(
            fields, time=("2024-03-01", "2024-11-30"), config=f.config()
        )
        ndvi, dates = clean_series(series["NDVI_mean"].values, series.indexes["time"])
        table = phenology_table(ndvi, dates, index=series.indexes["parcel"])
    assert list(table.index) == ["P-1", "P-2"]
    assert (table["n_seasons"] == 1).all()
    peak_offset = (pd.to_datetime(table["s1_pos"]) - pd.Timestamp("2024-07-01")).dt.days.abs()
    assert (peak_offset <= 10).all()
    assert table["s1_peak"].between(0.7, 0.85).all()


def test_season_and_phenology_in_a_few_lines_from_the_process_api() -> None:

    fields = gpd.GeoDataFrame(
        {"parcel_id": ["P-1"]},
        geometry=[shapely.box(500_010, 3_999_890, 500_090, 3_999_990)],
        crs="EPSG:32650",
    )
    with FakeSentinelHub(seasonal_source(), client_id=CLIENT_ID, client_secret=SECRET) as f:
        cube = load_sentinelhub(
            geometry=fields, time=("2024-03-01", "2024-11-30"), config=f.config()
        )
    series = zonal_series(cube, fields)
    ndvi, dates = clean_series(series["NDVI_mean"].values, series.indexes["time"])
    table = phenology_table(ndvi, dates, index=series.indexes["parcel"])
    assert table.loc["P-1", "n_seasons"] == 1
    assert abs((table.loc["P-1", "s1_pos"] - pd.Timestamp("2024-07-01")).days) <= 10
