"""Real catalogues' item shapes: Earth Search v1, Planetary Computer, Copernicus Data Space.

The items under ``stac_items/`` are trimmed by hand from the shape of each catalogue's
``sentinel-2-l2a`` items (asset keys, where the CRS and the scale/offset live, the offset flags,
the processing baseline). Each test writes small local COGs (10 m bands, 20 m SCL) where the
item says the tile is, points the item's hrefs at them, and loads it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pystac
import pytest
import rasterio
import shapely
from affine import Affine

from agrilend.errors import ImageryValueError
from agrilend.remote_sensing import load_stac
from agrilend.remote_sensing.sources.stac import offset_rule
from tests.remote_sensing._sen2r import N10, field_scene

ITEMS = Path(__file__).parent / "stac_items"
BANDS = ("B02", "B03", "B04", "B08")
#: Asset keys of each catalogue, and the DN added to reflectance x 10000 in its files.
CATALOGUES: dict[str, tuple[dict[str, str], int]] = {
    # Earth Search v1 removed the offset already (earthsearch:boa_offset_applied: true)
    "earth_search_v1": (
        {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "SCL": "scl"},
        0,
    ),
    # Planetary Computer: baseline 05.11, no raster scale/offset: the +1000 is in the numbers
    "planetary_computer": ({b: b for b in (*BANDS, "SCL")}, 1000),
    # Copernicus Data Space: B04_10m keys, CRS and raster:scale/offset on the assets
    "cdse": ({**{b: f"{b}_10m" for b in BANDS}, "SCL": "SCL_20m"}, 1000),
}


def _item_dict(name: str) -> dict[str, Any]:
    return json.loads((ITEMS / f"{name}.json").read_text(encoding="utf-8"))


def _crs_of(d: dict[str, Any]) -> str:
    if "proj:epsg" in d["properties"]:
        return f"EPSG:{d['properties']['proj:epsg']}"
    return str(next(a["proj:code"] for a in d["assets"].values() if "proj:code" in a))


def _localised(name: str, root: Path, *, shift: int | None = None) -> tuple[pystac.Item, tuple]:
    """The catalogue's item with its hrefs on local COGs written at the tile's centre."""
    d = copy.deepcopy(_item_dict(name))
    keys, dn_shift = CATALOGUES[name]
    dn_shift = dn_shift if shift is None else shift
    crs = _crs_of(d)
    lon = (d["bbox"][0] + d["bbox"][2]) / 2
    lat = (d["bbox"][1] + d["bbox"][3]) / 2
    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    cx, cy = to_crs.transform(lon, lat)
    x0, y0 = 20 * np.floor(cx / 20), 20 * np.floor(cy / 20)
    scene = field_scene(3)
    for band, key in keys.items():
        res = 20.0 if band == "SCL" else 10.0
        arr = scene[band] if band == "SCL" else np.round(scene[band] * 10000) + dn_shift
        arr = arr.astype("uint8" if band == "SCL" else "uint16")
        transform = Affine(res, 0, x0, 0, -res, y0)
        path = root / name / f"{key}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            path, "w", driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
            dtype=arr.dtype, crs=crs, transform=transform, nodata=0,
        ) as dst:  # fmt: skip
            dst.write(arr, 1)
        asset = d["assets"][key]
        asset["href"] = str(path.resolve())
        asset["proj:shape"] = list(arr.shape)
        asset["proj:transform"] = list(transform)[:6]
        asset["type"] = "image/tiff; application=geotiff; profile=cloud-optimized"
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    ll = to_ll.transform_bounds(x0, y0 - 10 * N10, x0 + 10 * N10, y0)
    d["bbox"] = list(ll)
    d["geometry"] = shapely.geometry.mapping(shapely.box(*ll))
    inner = to_ll.transform_bounds(x0 + 15, y0 - 10 * N10 + 15, x0 + 10 * N10 - 15, y0 - 15)
    return pystac.Item.from_dict(d), (x0, y0, crs, inner)


def _truth_at(cube: Any, x0: float, y0: float, band: str) -> tuple[np.ndarray, np.ndarray]:
    """Loaded values and the written reflectance at the cube's pixel centres inside the tile."""
    cols = np.floor((cube["x"].values - x0) / 10).astype(int)
    rows = np.floor((y0 - cube["y"].values) / 10).astype(int)
    ok_c, ok_r = (cols >= 0) & (cols < N10), (rows >= 0) & (rows < N10)
    got = cube[band].values[0][np.ix_(ok_r, ok_c)]
    want = field_scene(3)[band][np.ix_(rows[ok_r], cols[ok_c])]
    return got, want


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_each_catalogues_item_loads_to_the_right_reflectance(name: str, tmp_path: Path) -> None:
    item, (x0, y0, crs, inner) = _localised(name, tmp_path)
    cube = load_stac([item], bbox=inner, resolution=10.0)
    assert cube.rio.crs.to_string() == crs  # the item's (or, for CDSE, the assets') CRS
    got, want = _truth_at(cube, x0, y0, "B04")
    assert got.size >= (N10 - 4) ** 2
    np.testing.assert_allclose(got, want, atol=2e-4)
    got_n, want_n = _truth_at(cube, x0, y0, "B08")
    np.testing.assert_allclose(got_n, want_n, atol=2e-4)
    scl = cube["SCL"].values[0]
    assert set(np.unique(scl[scl > 0])) <= {4, 5, 9}
    assert "value_check" in cube.attrs
    assert cube.attrs["boa_offset"]


def test_the_rule_each_catalogue_falls_under() -> None:
    es = pystac.Item.from_dict(_item_dict("earth_search_v1"))
    pc = pystac.Item.from_dict(_item_dict("planetary_computer"))
    cdse = pystac.Item.from_dict(_item_dict("cdse"))
    assert offset_rule(es, "red")[1] == 0.0  # flag wins over raster:bands' -0.1
    assert "boa_offset_applied" in offset_rule(es, "red")[3]
    assert offset_rule(pc, "B04")[1] == pytest.approx(-0.1)
    assert "05.11" in offset_rule(pc, "B04")[3]
    scale, off, nodata, why = offset_rule(cdse, "B04_10m")
    assert (scale, off, nodata) == (pytest.approx(1e-4), pytest.approx(-0.1), 0)
    assert "raster" in why
    # without the raster fields, the baseline is read from the CDSE id (_N0512_)
    bare = _item_dict("cdse")
    for a in bare["assets"].values():
        a.pop("raster:scale", None)
        a.pop("raster:offset", None)
    assert "05.12" in offset_rule(pystac.Item.from_dict(bare), "B04_10m")[3]


def test_earth_search_without_its_flag_would_apply_the_offset_twice_and_is_refused(
    tmp_path: Path,
) -> None:
    item, (_, _, _, inner) = _localised("earth_search_v1", tmp_path)
    item.properties.pop("earthsearch:boa_offset_applied")  # raster:bands' -0.1 then applies
    with pytest.raises(ImageryValueError, match="offset was applied twice"):
        load_stac([item], bbox=inner, resolution=10.0)
