"""Small seeded builders of cubes and titles for tests (like xarray's ``create_test_data``).

They cut a tiny county out of the same generator that makes ``sample_data/``
(:mod:`agrilend.synthetic`): a few dozen strips of real-looking crops, their imagery as a
contract cube, and their titles in the titles schema. The same ``seed`` and ``size_px`` give a
cube and titles that belong together.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr
from affine import Affine

from agrilend.remote_sensing.contract import make_cube
from agrilend.synthetic.county import SyntheticCounty, build_county
from agrilend.synthetic.imagery import BANDS, OFFSET_DN, QUANTIFICATION
from agrilend.vocabulary import HA_PER_MU, SCL_CLEAR

#: SCL classes a test cube counts as clear (vegetation, bare soil, water).
CLEAR_SCL = SCL_CLEAR


@lru_cache(maxsize=8)
def _county(seed: int, size_px: tuple[int, int], step_days: int, clouds: bool) -> SyntheticCounty:
    return build_county(
        seed=seed,
        size_px=size_px,
        revisit_days=step_days,
        weather_start="2024-01-01",
        with_clouds=clouds,
    )


def make_test_county(
    *,
    seed: int = 0,
    size_px: tuple[int, int] = (40, 40),
    step_days: int = 5,
    clouds: bool = True,
) -> SyntheticCounty:
    """A small synthetic county in memory (imagery in digital numbers, titles, truth, records).

    The result is cached per argument set; treat it as read-only (copy before changing).

    Examples
    --------
    >>> c = make_test_county(seed=1, size_px=(30, 30))
    >>> len(c.titles) == len(c.truth) > 0
    True
    """
    return _county(int(seed), (int(size_px[0]), int(size_px[1])), int(step_days), bool(clouds))


def make_test_cube(
    *,
    seed: int = 0,
    size_px: tuple[int, int] = (40, 40),
    n_dates: int | None = None,
    step_days: int = 5,
    clouds: bool = True,
    bands: tuple[str, ...] = BANDS,
) -> xr.Dataset:
    """A contract cube: float32 reflectance, ``SCL``, boolean ``valid``, EPSG:32650, 10 m.

    Parameters
    ----------
    seed
        Seed of the small county (same seed and size as :func:`make_test_titles` = same land).
    size_px
        ``(rows, columns)`` of 10 m pixels; 40 x 40 holds a few dozen strips.
    n_dates
        Keep only the first ``n_dates`` dates (default: the whole of 2024).
    step_days
        Days between dates.
    clouds
        With clouds, shadows, haze and swath edges (and an imperfect SCL) or a clear sky.
    bands
        Bands to keep among ``B02, B03, B04, B08``.

    Returns
    -------
    xarray.Dataset
        Dims ``(time, y, x)``; ``valid`` is True where SCL is 4, 5 or 6 and the pixel has data,
        so thin cloud that SCL misses stays "valid", as in real data.

    Examples
    --------
    >>> cube = make_test_cube(seed=1, size_px=(30, 30), n_dates=6, clouds=False)
    >>> dict(cube.sizes), str(cube.rio.crs), str(cube["B04"].dtype)
    ({'time': 6, 'y': 30, 'x': 30}, 'EPSG:32650', 'float32')
    """
    county = make_test_county(seed=seed, size_px=size_px, step_days=step_days, clouds=clouds)
    img = county.imagery
    if n_dates is not None:
        img = img.isel(time=slice(0, n_dates))
    scl = img["SCL"].to_numpy()
    data: dict[str, np.ndarray[Any, Any]] = {}
    has_data = np.ones(scl.shape, dtype=bool)
    for b in bands:
        dn = img[b].to_numpy()
        has_data &= dn > 0
        refl = (dn.astype(np.float32) - OFFSET_DN) / QUANTIFICATION
        data[b] = np.where(dn > 0, refl, np.float32(np.nan)).astype(np.float32)
    valid = has_data & np.isin(scl, CLEAR_SCL)
    return make_cube(
        data,
        times=list(img.indexes["time"]),
        transform=_transform(img),
        crs=img.rio.crs,
        valid=valid,
        quality={"SCL": scl},
        attrs={
            "source": "agrilend.testing",
            "processing_level": "L2A",
            "scene_ids": "",
            "seed": int(seed),
        },
    )


def _transform(img: xr.Dataset) -> Affine:
    # from the coordinates: rioxarray's own transform() warns under affine >= 2.5
    x, y = img["x"].to_numpy(), img["y"].to_numpy()
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    return Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)


def make_test_titles(
    *,
    seed: int = 0,
    size_px: tuple[int, int] = (40, 40),
    n_parcels: int | None = None,
    with_truth: bool = False,
) -> gpd.GeoDataFrame:
    """Titles in the agrilend schema for the small county of the same ``seed`` and ``size_px``.

    Columns ``parcel_id`` (the 19-digit DKBM), ``owner_ref`` (``"H-"`` + 12 hex, a fixed
    hash of the household code; not the keyed pseudonym of :mod:`agrilend.parcels`),
    ``declared_area_ha``, ``declared_crop``, ``geometry`` (EPSG:32650). With ``with_truth`` the
    truth columns ``true_crop``, ``true_cultivated_area_ha``, ``vigour_factor``, ``fallow``,
    ``misdeclared`` and ``over_declared`` are added.

    Examples
    --------
    >>> t = make_test_titles(seed=1, size_px=(30, 30), n_parcels=5)
    >>> list(t.columns), len(t), t.crs.to_epsg()
    (['parcel_id', 'owner_ref', 'declared_area_ha', 'declared_crop', 'geometry'], 5, 32650)
    """
    county = make_test_county(seed=seed, size_px=size_px)
    src = county.titles
    owner_ref = [
        "H-" + hashlib.sha256(str(c).encode()).hexdigest()[:12] for c in src["CBFBM"].to_numpy()
    ]
    out = gpd.GeoDataFrame(
        {
            "parcel_id": src["DKBM"].astype(str).to_numpy(),
            "owner_ref": owner_ref,
            "declared_area_ha": (src["HTMJM"].to_numpy() * HA_PER_MU).round(4),
            "declared_crop": src["ZZZW"].astype(str).to_numpy(),
        },
        geometry=src.geometry.to_numpy(),
        crs=src.crs,
    )
    if with_truth:
        truth = county.truth
        for col in (
            "true_crop",
            "true_cultivated_area_ha",
            "vigour_factor",
            "fallow",
            "misdeclared",
            "over_declared",
        ):
            out[col] = truth[col].to_numpy()
    if n_parcels is not None:
        out = out.iloc[:n_parcels].copy()
    return out


__all__ = ["CLEAR_SCL", "make_test_county", "make_test_cube", "make_test_titles"]
