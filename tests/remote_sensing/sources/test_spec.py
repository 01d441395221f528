"""Imagery TOML files: a STAC search described once, frozen, and opened window by window."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr

from agrilend.errors import ImageryReadError
from agrilend.remote_sensing import StacImagery, is_imagery_spec, read_imagery_spec
from agrilend.remote_sensing.sources.spec import titles_area
from tests.remote_sensing._fake_stac import FakeStacApi

CRS = "EPSG:32650"
#: The synthetic source's full extent (12 x 10 pixels of 10 m from 500000, 4000000).
EXTENT = shapely.box(500_000, 3_999_880, 500_100, 4_000_000)


def _spec_file(folder: Path, body: str) -> Path:
    path = folder / "imagery.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_relative_catalogue_is_read_from_the_files_folder(tmp_path: Path) -> None:
    path = _spec_file(
        tmp_path,
        '[stac]\ncatalogue = "stac/catalog.json"\nstart = 2024-05-01\nend = 2024-05-31\n'
        'bands = ["B04", "B08"]\nresolution = 20\n',
    )
    spec = read_imagery_spec(path)
    assert is_imagery_spec(path)
    assert not is_imagery_spec(tmp_path / "cube.zarr")
    assert spec.catalogue == str((tmp_path / "stac" / "catalog.json").resolve())
    assert (spec.start, spec.end, spec.bands, spec.resolution) == (
        "2024-05-01", "2024-05-31", ("B04", "B08"), 20.0,
    )  # fmt: skip
    assert spec.collection == "sentinel-2-l2a"
    assert spec.max_cloud is None


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[sentinelhub]\nstart = 2024-05-01\n', "one \\[stac\\] table.*agrilend fetch sentinelhub"),
        ('[stac]\ncatalogue = "x"\nstart = 2024-05-01\nend = 2024-05-02\ncloud = 3\n', "cloud"),
        ('[stac]\nstart = 2024-05-01\nend = 2024-05-02\n', "lacks 'catalogue'"),
        ('[stac]\ncatalogue = "x"\nstart = 2024-05-01\nend = 2024-05-02\nresolution = -1\n',
         "resolution must be positive"),
        ('[stac]\ncatalogue = "x"\nstart = 2024-05-01\nend = 2024-05-02\nmax_cloud = "lots"\n',
         "wrong type"),
        ("[stac\n", "cannot read imagery file"),
    ],
)  # fmt: skip
def test_a_wrong_imagery_file_is_named_with_its_problem(
    tmp_path: Path, body: str, match: str
) -> None:
    with pytest.raises(ImageryReadError, match=match) as err:
        read_imagery_spec(_spec_file(tmp_path, body))
    assert "imagery.toml" in str(err.value)


def test_frozen_items_give_the_searched_cube_and_windows_share_its_grid(
    catalog: Path, synthetic: xr.Dataset, tmp_path: Path
) -> None:
    spec = StacImagery(catalogue=str(catalog), start="2024-05-01", end="2024-05-31")
    frozen = spec.freeze(EXTENT, CRS, tmp_path / "scan" / "imagery_items.json")
    doc = json.loads(frozen.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == synthetic.sizes["time"]
    assert not list(frozen.parent.glob(".tmp-*"))
    whole = spec.open(EXTENT, CRS, items=frozen)
    searched = spec.open(EXTENT, CRS)
    xr.testing.assert_identical(whole, searched)
    np.testing.assert_allclose(whole["B04"].values, synthetic["B04"].values / 10000, atol=1e-6)
    # a worker opens the same items lazily and reads one window: the same pixels
    lazy = spec.open(EXTENT, CRS, items=frozen, chunks={"x": 4, "y": 4})
    window = lazy.isel(y=slice(3, 9), x=slice(2, 7)).compute()
    xr.testing.assert_allclose(window, whole.isel(y=slice(3, 9), x=slice(2, 7)))


def test_freeze_searches_the_api_once(catalog: Path, tmp_path: Path) -> None:
    with FakeStacApi(catalog) as api:
        spec = StacImagery(catalogue=api.url, start="2024-05-02", end="2024-05-31")
        frozen = spec.freeze(titles_area(EXTENT.bounds, 0.0), CRS, tmp_path / "items.json")
        searches = api.hits["/search"]
        cube = spec.open(EXTENT, CRS, items=frozen)
        assert api.hits["/search"] == searches  # opening frozen items searches nothing
    assert cube.sizes["time"] == 3  # 2024-05-01 is outside the season


def test_titles_area_adds_the_margin() -> None:
    assert titles_area((0.0, 10.0, 5.0, 20.0), 2.0).bounds == (-2.0, 8.0, 7.0, 22.0)
