"""Chunk windows on the storage's block grid: a tiled GeoTIFF cube (16 x 16 px tiles) is read in
windows that start on their cell's blocks, decode fewer blocks, and give the same evidence as the
unaligned windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from agrilend.pipeline import gather_evidence
from agrilend.remote_sensing import open_cube
from agrilend.scan.parts import (
    Chunk,
    CubeSource,
    cell_size,
    decoded_pixels,
    partition,
    storage_blocks,
)
from agrilend.testing import make_test_county, make_test_titles

SIZE = (32, 40)
SEED = 3
BLOCK = 16


@pytest.fixture(scope="module")
def tiled_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test county as one tiled GeoTIFF per date (16 x 16 px blocks, bands described)."""
    county = make_test_county(seed=SEED, size_px=SIZE, step_days=15)
    img = county.imagery
    x, y = img["x"].to_numpy(), img["y"].to_numpy()
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    transform = Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)
    folder = tmp_path_factory.mktemp("tiled") / "stack"
    folder.mkdir()
    bands = ("B02", "B03", "B04", "B08", "SCL")
    for i, t in enumerate(pd.DatetimeIndex(img.indexes["time"])):
        profile = {
            "driver": "GTiff", "height": SIZE[0], "width": SIZE[1], "count": len(bands),
            "dtype": "uint16", "crs": str(img.rio.crs), "transform": transform, "tiled": True,
            "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate", "nodata": 0,
        }  # fmt: skip
        with rasterio.open(folder / f"S2_{t:%Y%m%d}.tif", "w", **profile) as dst:
            for k, band in enumerate(bands, start=1):
                dst.write(img[band].to_numpy()[i].astype("uint16"), k)
                dst.set_band_description(k, band)
    return folder


def _evidence(windows: list[Any], titles: gpd.GeoDataFrame, chunks: list[Chunk]) -> pd.DataFrame:
    """Every chunk's evidence from its window, by parcel id."""
    frames = [
        gather_evidence(w, titles.iloc[list(c.rows)]).parcels
        for w, c in zip(windows, chunks, strict=True)
    ]
    out = pd.concat(frames).set_index("parcel_id").sort_index()
    return pd.DataFrame(out.drop(columns="geometry"))


def test_tiled_geotiff_windows_align_and_give_the_same_evidence(tiled_stack: Path) -> None:
    assert storage_blocks(tiled_stack) == (BLOCK, BLOCK)
    cube = open_cube(tiled_stack, chunks={})
    titles = make_test_titles(seed=SEED, size_px=SIZE)
    transform, shape = cube.rio.transform(), (cube.sizes["y"], cube.sizes["x"])
    plain = partition(titles, transform=transform, shape=shape, chunk_size_px=BLOCK)
    aligned = partition(titles, transform=transform, shape=shape, chunk_size_px=BLOCK,
                        block=(BLOCK, BLOCK))  # fmt: skip
    assert sorted(r for c in aligned for r in c.rows) == list(range(len(titles)))
    for c in aligned:
        cell_r, cell_c = int(c.id[1:5]), int(c.id[6:10])
        r0, r1, c0, c1 = c.window
        # the window starts on its own cell's blocks and reaches at most one block further
        assert r0 // BLOCK == cell_r
        assert c0 // BLOCK == cell_c
        assert (r1 - 1) // BLOCK <= cell_r + 1
        assert (c1 - 1) // BLOCK <= cell_c + 1
    decoded_plain, _ = decoded_pixels(plain, (BLOCK, BLOCK), shape)
    decoded_aligned, _ = decoded_pixels(aligned, (BLOCK, BLOCK), shape)
    assert decoded_aligned < decoded_plain
    # the scan's reader gives each aligned window as the cube has it
    whole = cube.load()
    source = CubeSource(str(tiled_stack))
    read = [source.window(c.window[:2], c.window[2:]) for c in aligned]
    for w, c in zip(read, aligned, strict=True):
        expected = whole.isel(y=slice(*c.window[:2]), x=slice(*c.window[2:]))
        # but for the value check's diagnostics: the scan checked the file, its workers do not
        expected.attrs = {k: v for k, v in expected.attrs.items() if k != "value_check"}
        xr.testing.assert_identical(w, expected)
    # and the same parcels' evidence, whichever windows they were read in
    a = _evidence(read, titles, aligned)
    b = _evidence([whole.isel(y=slice(*c.window[:2]), x=slice(*c.window[2:])) for c in plain],
                  titles, plain)  # fmt: skip
    assert len(a) == len(titles)
    assert (a["status"] != "error").any()
    pd.testing.assert_frame_equal(a, b.loc[a.index], check_exact=False, rtol=1e-9)


def test_a_worker_does_not_check_the_values_the_scan_checked(
    tiled_stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan refuses implausible imagery before any chunk (its client opens the cube with the
    value check); a worker opening the same file for its windows does not sample it again."""
    from agrilend.remote_sensing import sanity  # noqa: PLC0415
    from agrilend.scan import parts  # noqa: PLC0415

    calls = []
    real = sanity.check_values
    monkeypatch.setattr(sanity, "check_values", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(parts, "_OPENED", {})  # as in a new worker process
    open_cube(tiled_stack, chunks={})
    assert len(calls) == 1  # the scan's own open is checked
    CubeSource(str(tiled_stack)).window((0, BLOCK), (0, BLOCK))
    assert len(calls) == 1


def test_storage_blocks_of_unknown_layouts_is_none(tmp_path: Path) -> None:
    assert storage_blocks(tmp_path / "absent.nc") is None
    assert storage_blocks(tmp_path / "imagery.toml") is None


def test_cell_size_is_a_whole_number_of_blocks_near_the_chunk_size() -> None:
    assert cell_size(256, 256) == 256
    assert cell_size(256, 100) == 300
    assert cell_size(300, 256) == 256
    assert cell_size(40, 64) == 64
    assert cell_size(100, 512) == 100  # a block far larger than a chunk is not aligned to
    assert cell_size(100, None) == 100


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60),
    chunk=st.integers(1, 50),
    block=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_aligned_partition_holds_every_parcel_and_decodes_at_most_one_more_block(
    n: int, chunk: int, block: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, 900, n), rng.uniform(0, 900, n)
    w, h = rng.uniform(5, 90, n), rng.uniform(5, 90, n)
    geoms = [box(a, b, a + c, b + d) for a, b, c, d in zip(x0, y0, w, h, strict=True)]
    titles = gpd.GeoDataFrame({"parcel_id": [f"P{i}" for i in range(n)]}, geometry=geoms)
    transform = Affine(10.0, 0, 0, 0, -10.0, 1000.0)
    chunks = partition(titles, transform=transform, shape=(100, 100), chunk_size_px=chunk,
                       block=(block, block))  # fmt: skip
    assert sorted(r for c in chunks for r in c.rows) == list(range(n))
    cell = cell_size(chunk, block)
    for c in chunks:
        r0, r1, c0, c1 = c.window
        window = box(c0 * 10.0, 1000.0 - r1 * 10.0, c1 * 10.0, 1000.0 - r0 * 10.0)
        assert all(window.buffer(1e-6).contains(geoms[r]) for r in c.rows)
        if cell % block == 0:  # aligned: the window starts in its own cell (margins stop)
            assert r0 // cell == int(c.id[1:5])
            assert c0 // cell == int(c.id[6:10])
    if cell % block:  # blocks far larger than the chunk: the plain partition
        plain = partition(titles, transform=transform, shape=(100, 100), chunk_size_px=chunk)
        assert plain == chunks
