"""Map helpers: scale bar lengths, the date picked for the maps, the drawings."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from agrilend.pipeline import Assessment
from agrilend.report import figures, maps


@given(st.floats(min_value=1.0, max_value=1e7))
def test_scale_bar_is_a_round_length_under_a_quarter(span: float) -> None:
    length = maps.nice_length(span)
    mantissa = length / 10 ** math.floor(math.log10(length) + 1e-9)
    assert round(mantissa, 6) in {1.0, 2.0, 5.0}
    assert length <= span / 4 * (1 + 1e-9)
    assert length > span / 4 / 2.5 * (1 - 1e-9)  # the next round length would be too long


def test_clear_scene_is_cloud_free_and_green(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, cube = built
    mine = assessment.parcels.iloc[:3]
    scene = maps.pick_clear_scene(cube, mine)
    assert scene is not None
    assert scene.clear_fraction == 1.0
    chosen = cube["valid"].sel(time=scene.time)
    assert bool(chosen.all())
    # the greenest of the clear dates
    clear = cube.isel(time=np.flatnonzero(cube["valid"].all(dim=("y", "x")).to_numpy()))
    red, nir = clear["B04"], clear["B08"]
    green = ((nir - red) / (nir + red)).quantile(0.75, dim=("y", "x"))
    assert float(green.sel(time=scene.time)) == pytest.approx(float(green.max()), abs=0.02)


def test_no_scene_outside_the_cube(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, cube = built
    far = assessment.parcels.iloc[:1].copy()
    far["geometry"] = far.translate(xoff=1e6)
    assert maps.pick_clear_scene(cube, far) is None


def _png(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_maps_are_drawn(built: tuple[Assessment, xr.Dataset], lang: str) -> None:
    assessment, cube = built
    mine = assessment.parcels.iloc[:3]
    scene = maps.pick_clear_scene(cube, mine)
    assert scene is not None
    rgb, ndvi = maps.parcel_maps(cube, mine, scene=scene, lang=lang)  # type: ignore[arg-type]
    overview = maps.overview_map(assessment.parcels, mine, cube=cube, lang=lang)  # type: ignore[arg-type]
    for uri in (rgb, ndvi, overview):
        img = _png(uri)
        assert min(img.shape[:2]) > 300
        assert img.std() > 10
    # the household is drawn in the accent colour on the overview
    over = _png(overview)
    accent = np.array([0xC6, 0x28, 0x28], dtype=float)
    assert (np.abs(over - accent).sum(axis=2) < 30).mean() > 0.01


def test_chinese_figures_have_a_cjk_font() -> None:
    if figures.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    assert figures.figure_lang("zh") == "zh"
