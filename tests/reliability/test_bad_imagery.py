"""Bad imagery, catalogued: each case must end in a typed error naming the input, or in rows.

Files: GeoTIFFs truncated at many offsets (tiled, striped, compressed; alone and inside a stack),
other formats under a ``.tif`` name, wrong dtypes, missing bands, no CRS. In-memory datasets:
empty axes, extra dims, degrees labelled on metre coordinates. Whole-path cases on the small
county: all cloud, no usable band, a single date, dates out of order or duplicated, a cube whose
CRS differs from the titles'.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning

from agrilend.errors import (
    AgrilendError,
    CRSError,
    ExtentMismatchError,
    ImageryReadError,
    InputPathError,
    MissingBandError,
    MissingCRSError,
    ModelError,
)
from agrilend.pipeline import assess
from agrilend.remote_sensing import open_cube
from tests.reliability._builders import DISGUISES, TIF_BANDS, disguised, dn_dataset, write_tif

DATE_NAME = "2024-05-01_S2.tif"
N_CUTS = 40
LAYOUTS = ("tiled", "striped", "deflate")


def _open_and_read(path: Path) -> xr.Dataset:
    # A cut through the georeferencing tags makes rasterio warn before we refuse the file for
    # having no CRS; the warning is rasterio's account of the damage, not a problem of ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        cube = open_cube(path)
        return cube.load()


def _layout_tif(path: Path, layout: str) -> Path:
    if layout == "tiled":
        return write_tif(path)
    if layout == "striped":
        return write_tif(path, tiled=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    src = write_tif(path.parent / "plain" / path.name)
    with rasterio.open(src) as s:
        profile = s.profile | {"compress": "deflate", "tiled": True}
        data = s.read()
        desc = s.descriptions
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, d in enumerate(desc, 1):
            dst.set_band_description(i, d)
    return path


@pytest.fixture(scope="module")
def tif_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("tifs")
    return {lay: _layout_tif(root / lay / DATE_NAME, lay).read_bytes() for lay in LAYOUTS}


def test_the_uncut_files_open(tif_sources: dict[str, bytes], tmp_path: Path) -> None:
    for layout, data in tif_sources.items():
        p = tmp_path / layout / DATE_NAME
        p.parent.mkdir()
        p.write_bytes(data)
        cube = _open_and_read(p)
        assert set(TIF_BANDS) <= set(cube.data_vars), layout


@pytest.mark.parametrize("cut", range(N_CUTS), ids=[f"cut{k:02d}of{N_CUTS}" for k in range(N_CUTS)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_geotiff(
    tif_sources: dict[str, bytes], tmp_path: Path, layout: str, cut: int
) -> None:
    data = tif_sources[layout]
    offset = (len(data) - 1) * cut // (N_CUTS - 1)  # from 0 bytes to one byte short
    p = tmp_path / DATE_NAME
    p.write_bytes(data[:offset])
    with pytest.raises((ImageryReadError, MissingCRSError)) as err:
        _open_and_read(p)
    assert DATE_NAME in str(err.value), (offset, str(err.value))


@pytest.mark.parametrize("which", range(3), ids=["first", "middle", "last"])
def test_truncated_file_inside_a_stack_names_it(tmp_path: Path, which: int) -> None:
    files = [write_tif(tmp_path / f"2024-05-{1 + 5 * k:02d}_S2.tif") for k in range(3)]
    bad = files[which]
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    with pytest.raises(ImageryReadError) as err:
        _open_and_read(tmp_path)
    assert bad.name in str(err.value)


@pytest.mark.parametrize("kind", DISGUISES)
def test_other_format_under_a_tif_name_is_refused(tmp_path: Path, kind: str) -> None:
    real = write_tif(tmp_path / "real" / DATE_NAME)
    fake = disguised(kind, tmp_path / "fake" / DATE_NAME, real_tif=real)
    with pytest.raises(ImageryReadError) as err:
        _open_and_read(fake)
    assert err.value.path == fake
    assert "GeoTIFF" in str(err.value)


@pytest.mark.parametrize("kind", ["vrt", "png", "text"])
def test_disguised_file_inside_a_stack_is_refused(tmp_path: Path, kind: str) -> None:
    real = write_tif(tmp_path / "2024-05-01_S2.tif")
    disguised(kind, tmp_path / "2024-05-06_S2.tif", real_tif=real)
    with pytest.raises(ImageryReadError, match=r"2024-05-06_S2\.tif"):
        _open_and_read(tmp_path)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_geotiff_is_refused(tmp_path: Path, dtype: str) -> None:
    values = np.full((4, 32, 32), 2000 + 1j, dtype=dtype)
    p = write_tif(tmp_path / DATE_NAME, dtype=dtype, values=values)
    with pytest.raises(ImageryReadError, match=f"dtype {dtype}"):
        open_cube(p)


@pytest.mark.parametrize(
    "dtype", ["complex64", "bool", "datetime64[ns]", "timedelta64[ns]", "<U4", "object"]
)
def test_band_of_a_wrong_dtype_is_refused(dtype: str) -> None:
    ds = dn_dataset()
    ds["B04"] = ds["B04"].astype(dtype)
    with pytest.raises(ImageryReadError, match=r"band B04 has dtype"):
        open_cube(ds)


def _no_spatial_ref(ds: xr.Dataset) -> xr.Dataset:
    return ds.drop_vars("spatial_ref")


#: In-memory datasets a reader could hand over: (builder, expected error, words of the message)
BAD_DATASETS: dict[str, tuple[Any, type[Exception], str]] = {
    "no_crs": (lambda: dn_dataset(crs=None), MissingCRSError, "no CRS"),
    "degrees_on_metres": (lambda: dn_dataset(crs="EPSG:4326"), CRSError, "metres labelled"),
    "degrees_on_metres_4490": (lambda: dn_dataset(crs="EPSG:4490"), CRSError, "metres labelled"),
    "only_scl": (lambda: dn_dataset(bands=()), ImageryReadError, "no Sentinel-2 band"),
    "unknown_band_names": (
        lambda: dn_dataset().rename({b: f"band_{b}" for b in TIF_BANDS}),
        ImageryReadError,
        "no Sentinel-2 band",
    ),
    "zero_width": (lambda: dn_dataset().isel(x=slice(0, 0)), ImageryReadError, "empty"),
    "zero_height": (lambda: dn_dataset().isel(y=slice(0, 0)), ImageryReadError, "empty"),
    "zero_dates": (lambda: dn_dataset().isel(time=slice(0, 0)), ImageryReadError, "empty"),
    "extra_band_dim": (
        lambda: dn_dataset().expand_dims(band=2),
        ImageryReadError,
        "extra dims",
    ),
    "no_time": (
        lambda: dn_dataset().isel(time=0, drop=True),
        ImageryReadError,
        "no time dim",
    ),
    "not_a_time": (
        lambda: dn_dataset(times=["2024-05-01", "NaT", "2024-05-11"]),
        ImageryReadError,
        "dates",
    ),
    "no_spatial_dims": (
        lambda: dn_dataset().rename({"x": "col", "y": "row"}),
        ImageryReadError,
        "spatial dims",
    ),
    "irregular_grid": (
        lambda: dn_dataset().assign_coords(x=500_000 + np.array([5, 15, 30, 35, 45, 55, 65, 75.0])),
        ImageryReadError,
        "regular grid",
    ),
    "one_pixel_no_transform": (lambda: dn_dataset(size=1), ImageryReadError, "single pixel"),
    "missing_requested_band": (
        lambda: dn_dataset(bands=("B02", "B04")),
        ImageryReadError,
        "lacks bands",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_DATASETS))
def test_bad_dataset(name: str) -> None:
    build, error, words = BAD_DATASETS[name]
    kwargs = {"bands": ["B04", "B08"]} if name == "missing_requested_band" else {}
    with pytest.raises(error, match=words):
        open_cube(build(), **kwargs)


#: Files that are not usable imagery for other reasons than damage.
def _tif_case(name: str, tmp_path: Path) -> Path:
    if name == "tif_no_crs":
        return write_tif(tmp_path / DATE_NAME, crs=None)
    if name == "tif_unnamed_bands":
        return write_tif(tmp_path / DATE_NAME, bands=("red", "nir"))
    if name == "tif_no_date":
        return write_tif(tmp_path / "scene.tif")
    if name == "stack_band_twice":
        write_tif(tmp_path / "2024-05-01_a.tif")
        return write_tif(tmp_path / "2024-05-01_b.tif").parent
    if name == "stack_band_missing_on_a_date":
        write_tif(tmp_path / "2024-05-01_S2.tif")
        return write_tif(tmp_path / "2024-05-06_S2.tif", bands=("B02", "B03", "B04")).parent
    if name == "stack_other_grid":
        write_tif(tmp_path / "2024-05-01_S2.tif")
        return write_tif(tmp_path / "2024-05-06_S2.tif", size=16).parent
    if name == "folder_without_tifs":
        (tmp_path / "notes.txt").write_text("nothing here")
        return tmp_path
    if name == "unsupported_suffix":
        p = tmp_path / "cube.grib"
        p.write_bytes(b"GRIB\x00\x00")
        return p
    if name == "netcdf_truncated":
        p = tmp_path / "cube.nc"
        dn_dataset().to_netcdf(p, engine="netcdf4")
        p.write_bytes(p.read_bytes()[:300])
        return p
    if name == "netcdf_garbage":
        p = tmp_path / "cube.nc"
        p.write_bytes(b"CDF\x01" + b"\xff" * 64)
        return p
    if name == "zarr_empty_folder":
        p = tmp_path / "cube.zarr"
        p.mkdir()
        return p
    raise ValueError(name)


FILE_CASES = {
    "tif_no_crs": MissingCRSError,
    "tif_unnamed_bands": ImageryReadError,
    "tif_no_date": ImageryReadError,
    "stack_band_twice": ImageryReadError,
    "stack_band_missing_on_a_date": ImageryReadError,
    "stack_other_grid": ImageryReadError,
    "folder_without_tifs": ImageryReadError,
    "unsupported_suffix": ImageryReadError,
    "netcdf_truncated": ImageryReadError,
    "netcdf_garbage": ImageryReadError,
    "zarr_empty_folder": ImageryReadError,
}


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_bad_imagery_file(tmp_path: Path, name: str) -> None:
    path = _tif_case(name, tmp_path)
    with pytest.raises(FILE_CASES[name]):
        _open_and_read(path)


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/https://example.org/cube.tif",
        "/vsis3/bucket/cube.tif",
        "/vsizip//tmp/a.zip/cube.tif",
        "/vsigs/bucket/cube.nc",
        "https://example.org/cube.nc",
        "s3://bucket/cube.zarr",
        "HTTP://EXAMPLE.ORG/cube.tif",
    ],
)
def test_remote_imagery_paths_are_refused(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGRILEND_ALLOW_REMOTE", raising=False)
    with pytest.raises(InputPathError, match="network"):
        open_cube(path)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=0, max_size=600), keep=st.integers(min_value=0, max_value=64))
def test_fuzz_geotiff_reader(tmp_path: Path, data: bytes, keep: int) -> None:
    """Random bytes, with or without a TIFF header in front, are refused with a typed error."""
    header = b"II*\x00\x08\x00\x00\x00"[: min(keep, 8)]
    p = tmp_path / DATE_NAME
    p.write_bytes(header + data)
    with pytest.raises(AgrilendError):
        _open_and_read(p)


# --- whole path: the cube is readable but wrong for the titles -----------------------------------


def _whole(cube: xr.Dataset, titles: Any, context: Any) -> Any:
    return assess(cube, titles, context=context)


IMAGERY_IN_ASSESS: dict[str, tuple[Any, Any]] = {
    # name: (change the cube or titles, what must happen: an error type or a row status)
    "all_cloud": (lambda c, t: (c.assign(valid=c["valid"] & False), t), "error"),
    "no_data_in_bands": (
        lambda c, t: (c.assign(B04=c["B04"] * np.nan, B08=c["B08"] * np.nan), t),
        "error",
    ),
    # titles that miss the imagery altogether stop the path before any model, naming both
    # extents and CRSs (issue 15); a title partly off the imagery is a row of its own
    "cube_in_another_utm_zone": (
        lambda c, t: (c.rio.write_crs("EPSG:32651"), t),
        ExtentMismatchError,
    ),
    "titles_shifted_a_degree": (
        lambda c, t: (
            c,
            t.to_crs("EPSG:4326").assign(geometry=lambda g: g.geometry.translate(1.0, 0.0)),
        ),
        ExtentMismatchError,
    ),
    "titles_labelled_another_zone": (
        lambda c, t: (c, t.set_crs("EPSG:32651", allow_override=True)),
        ExtentMismatchError,
    ),
    "single_date": (lambda c, t: (c.isel(time=[30]), t), ModelError),
    "two_dates": (lambda c, t: (c.isel(time=[30, 31]), t), ModelError),
    "dates_out_of_order": (lambda c, t: (c.isel(time=[3, 2, 1, 4, 5]), t), ImageryReadError),
    "dates_duplicated": (lambda c, t: (c.isel(time=[1, 1, 2, 3]), t), ImageryReadError),
    "no_nir_band": (lambda c, t: (c.drop_vars("B08"), t), MissingBandError),
    "no_red_band": (lambda c, t: (c.drop_vars("B04"), t), MissingBandError),
    "no_valid_mask": (lambda c, t: (c.drop_vars("valid"), t), ImageryReadError),
    "cube_without_crs": (lambda c, t: (c.drop_vars("spatial_ref"), t), ImageryReadError),
    "cube_with_unreadable_crs": (
        lambda c, t: (c.drop_vars("spatial_ref").assign_attrs(crs="not a crs"), t),
        ImageryReadError,
    ),
    "titles_without_crs": (
        lambda c, t: (c, t.set_crs(None, allow_override=True)),
        MissingCRSError,
    ),
}


@pytest.mark.parametrize("name", sorted(IMAGERY_IN_ASSESS))
def test_imagery_wrong_for_the_titles(
    name: str, small_cube: xr.Dataset, small_titles: Any, mixed_batch: Any
) -> None:
    change, expect = IMAGERY_IN_ASSESS[name]
    cube, titles = change(small_cube, small_titles.copy())
    context = mixed_batch[0].context
    if isinstance(expect, str):
        result = _whole(cube, titles, context)
        statuses = set(result.parcels["status"])
        assert statuses == {expect}, statuses
        assert (result.parcels["message"].astype(str).str.len() > 0).all()
        assert len(result.households) == result.parcels["owner_ref"].nunique()
    else:
        with pytest.raises(expect) as err:
            _whole(cube, titles, context)
        assert len(str(err.value)) > 20
