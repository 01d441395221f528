"""The tiled synthetic county (agrilend/synthetic/tiled.py): a quick check at a tiny size."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr

from agrilend.errors import InputPathError, OutputExistsError
from agrilend.inputs import InputFiles
from agrilend.synthetic.tiled import tile_county, tile_grid


def test_tile_grid_is_near_square_and_holds_enough() -> None:
    for n, per in [(1, 10), (10, 10), (11, 10), (10_000, 2_188), (1_000_000, 2_188)]:
        rows, cols, tiles = tile_grid(n, per)
        assert tiles * per >= n > (tiles - 1) * per
        assert rows * cols >= tiles
        assert abs(rows - cols) <= 1
    with pytest.raises(ValueError, match="at least one parcel"):
        tile_grid(0, 10)


def test_tiled_county_copies_the_base(tmp_path: Path) -> None:
    base = InputFiles.sample().titles.parent
    files = tile_county(base, tmp_path / "big", 600)
    titles = gpd.read_file(files["titles.gpkg"])
    base_titles = gpd.read_file(base / "titles.gpkg")
    n_base = len(base_titles)
    assert len(titles) == 600
    assert titles["DKBM"].is_unique
    assert titles["DKBM"].str.len().eq(19).all()
    # the second copy's titles are the base's, moved one base width to the right
    width = float(xr.open_dataset(base / "imagery.nc").x.size * 10.0)
    second = titles.iloc[n_base:600].reset_index(drop=True)
    moved = base_titles.geometry.iloc[: 600 - n_base].translate(width, 0).reset_index(drop=True)
    assert second.geometry.geom_equals_exact(moved, tolerance=1e-6).all()
    assert set(second["CBFBM"]).isdisjoint(titles["CBFBM"].iloc[:n_base])
    with (
        xr.open_zarr(files["imagery.zarr"]) as cube,
        xr.open_dataset(base / "imagery.nc") as raw,
    ):
        nx = raw.sizes["x"]
        ny = raw.sizes["y"]
        assert cube.sizes["x"] == 2 * nx
        assert cube.sizes["y"] == ny
        assert cube["B08"].encoding["chunks"] == (raw.sizes["time"], min(256, ny), 256)
        np.testing.assert_array_equal(cube["B08"][:, :, nx:].to_numpy(), raw["B08"].to_numpy())
        assert float(cube.x[nx] - cube.x[0]) == pytest.approx(width)
    assert {"weather.csv", "policy.toml", "titles_mapping.toml"} <= set(files)
    with pytest.raises(OutputExistsError, match="overwrite"):
        tile_county(base, tmp_path / "big", 600)
    with pytest.raises(InputPathError, match=r"no imagery\.nc"):
        tile_county(tmp_path, tmp_path / "other", 10)
