"""The report's parcel maps show a claim's outline as drawn (dashed) beside the verified one."""

from __future__ import annotations

import base64
import io

import numpy as np
import shapely
import xarray as xr
from PIL import Image

from agrilend.pipeline import Assessment
from agrilend.report import maps


def _png(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def test_the_drawn_outline_is_drawn_beside_the_verified_one(
    built: tuple[Assessment, xr.Dataset],
) -> None:
    assessment, cube = built
    mine = assessment.parcels.iloc[:1].copy()
    scene = maps.pick_clear_scene(cube, mine)
    assert scene is not None
    mine["drawn_wkt"] = ""
    plain, _ = maps.parcel_maps(cube, mine, scene=scene)
    # the farmer drew the plot 15 m off to the east
    drawn = mine.copy()
    drawn["drawn_wkt"] = [shapely.affinity.translate(mine.geometry.iloc[0], xoff=15.0).wkt]
    with_drawn, _ = maps.parcel_maps(cube, drawn, scene=scene)
    a, b = _png(plain), _png(with_drawn)
    assert a.shape == b.shape
    changed = np.abs(a - b).sum(axis=2) > 60
    assert changed.mean() > 0.002  # the dashed outline adds visible pixels
