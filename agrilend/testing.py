"""Test helpers: seeded builders of cubes, titles and assessments, and the contracts' checks.

The builders (like xarray's ``create_test_data``) cut a tiny county out of the same generator
that makes ``sample_data/`` (:mod:`agrilend.synthetic`): a few dozen strips of real-looking
crops, their imagery as a contract cube, and their titles in the titles schema. The same
``seed`` and ``size_px`` give a cube and titles that belong together.

The checks (``assert_cube``, ``assert_titles``, ``assert_series``, ``validate_estimates`` /
``assert_estimates``, ``assert_decisions``) say whether an object follows the data contracts of
DEVELOPERS.md, so a test of any layer, or a user's own extension, can check its output in one
line.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
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


if TYPE_CHECKING:
    from agrilend.assessment import Assessment


def make_test_assessment(
    *, seed: int = 0, size_px: tuple[int, int] = (80, 80)
) -> tuple[Assessment, xr.Dataset]:
    """The whole pipeline run on the small test county: ``(assessment, cube)``.

    The county must hold two crops with five declarations or more (the default size does);
    cached per argument set; treat the result as read-only.

    Examples
    --------
    >>> a, cube = make_test_assessment(seed=3)
    >>> assert_estimates(a.parcels); assert_decisions(a.households)
    >>> set(a.households["decision"]) <= {"approve", "refer", "decline"}
    True
    """
    return _assessment(int(seed), (int(size_px[0]), int(size_px[1])))


@lru_cache(maxsize=4)
def _assessment(seed: int, size_px: tuple[int, int]) -> tuple[Assessment, xr.Dataset]:
    from agrilend.pipeline import assess  # noqa: PLC0415  (the top layer; tests only)

    cube = make_test_cube(seed=seed, size_px=size_px)
    titles = make_test_titles(seed=seed, size_px=size_px)
    return assess(cube, titles), cube  # no weather: the test county has no climate history


# --- the contracts' checks ------------------------------------------------------------------


def _fail(what: str, problems: list[str]) -> None:
    if problems:
        raise AssertionError(f"{what} breaks its contract: " + "; ".join(problems))


def assert_cube(cube: xr.Dataset) -> None:
    """Raise AssertionError unless ``cube`` follows the cube contract.

    Dims ``time, y, x``; sorted unique times; bands float32 reflectance (or integers with
    scale attributes); a boolean ``valid``; a CRS.

    Examples
    --------
    >>> assert_cube(make_test_cube(seed=1, size_px=(20, 20), n_dates=3))
    """
    from agrilend.errors import ImageryReadError  # noqa: PLC0415
    from agrilend.remote_sensing.contract import band_names, validate_cube  # noqa: PLC0415

    try:
        validate_cube(cube)
    except ImageryReadError as exc:
        raise AssertionError(f"the cube breaks its contract: {exc}") from None
    problems = []
    t = cube.indexes["time"]
    if not (t.is_monotonic_increasing and t.is_unique):
        problems.append("times are not sorted and unique")
    for b in band_names(cube):
        dt = cube[b].dtype
        if not (
            dt == np.float32 or (np.issubdtype(dt, np.integer) and "scale_factor" in cube[b].attrs)
        ):
            problems.append(f"band {b} is {dt}, not float32 reflectance")
    _fail("the cube", problems)


def assert_titles(titles: gpd.GeoDataFrame) -> None:
    """Raise AssertionError unless ``titles`` follow the titles contract.

    Examples
    --------
    >>> assert_titles(make_test_titles(seed=1, size_px=(30, 30)))
    """
    import re  # noqa: PLC0415

    from agrilend.vocabulary import CROPS  # noqa: PLC0415

    problems = []
    need = ["parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry"]
    missing = [c for c in need if c not in titles.columns]
    if missing:
        _fail("the titles", [f"columns {missing} are missing"])
    if titles.crs is None or not titles.crs.is_projected:
        problems.append(f"CRS {titles.crs} is not projected")
    ids = titles["parcel_id"]
    if not ids.map(lambda v: isinstance(v, str)).all():
        problems.append("parcel_id is not text")
    if not ids.is_unique:
        problems.append("parcel_id is not unique")
    refs = titles["owner_ref"].astype(str)
    bad = refs[~refs.map(lambda r: bool(re.fullmatch(r"H-[0-9a-f]{12}", r)))]
    if len(bad):
        problems.append(
            f"{len(bad)} owner_ref are not pseudonyms (H- and 12 hex), e.g. {bad.iloc[0]!r}"
        )
    if not pd.api.types.is_float_dtype(titles["declared_area_ha"]):
        problems.append("declared_area_ha is not float")
    crops = set(titles["declared_crop"].astype(str)) - {*CROPS, ""}
    if crops:
        problems.append(
            f"declared_crop holds names outside the canonical list: {sorted(crops)[:5]}"
        )
    _fail("the titles", problems)


def assert_series(series: xr.Dataset) -> None:
    """Raise AssertionError unless ``series`` follows the parcel-series contract.

    Examples
    --------
    >>> from agrilend.parcels import zonal_series
    >>> cube = make_test_cube(seed=1, size_px=(30, 30), n_dates=4)
    >>> assert_series(zonal_series(cube, make_test_titles(seed=1, size_px=(30, 30))))
    """
    problems = []
    if tuple(series["NDVI_mean"].dims) != ("parcel", "time"):
        problems.append(f"NDVI_mean dims are {series['NDVI_mean'].dims}, not (parcel, time)")
    for v in ("valid_fraction", "pixel_count"):
        if v not in series:
            problems.append(f"{v} is missing")
    if "valid_fraction" in series:
        vf = series["valid_fraction"].to_numpy()
        if np.any((vf < 0) | (vf > 1 + 1e-6)):
            problems.append("valid_fraction outside [0, 1]")
    ndvi = series["NDVI_mean"].to_numpy()
    finite = ndvi[np.isfinite(ndvi)]
    if finite.size and (finite.min() < -1 - 1e-6 or finite.max() > 1 + 1e-6):
        problems.append("NDVI_mean outside [-1, 1]")
    if not pd.Index(series["parcel"].to_numpy()).is_unique:
        problems.append("parcel ids are not unique")
    _fail("the parcel series", problems)


def validate_estimates(parcels: pd.DataFrame) -> list[str]:
    """What breaks the parcel-estimates contract in ``parcels`` (empty when nothing).

    Checks the columns (:data:`agrilend.pipeline.ESTIMATE_COLUMNS`), that numeric columns hold
    numbers (not text), the status values, a message on every error row, confidences in
    [0, 1], yields inside their interval and non-negative areas.

    Examples
    --------
    >>> a, _ = make_test_assessment(seed=3)
    >>> validate_estimates(a.parcels)
    []
    >>> validate_estimates(a.parcels.assign(crop_confidence="0.9"))[0]
    'crop_confidence holds text, not numbers'
    """
    from agrilend.assessment import ESTIMATE_COLUMNS, NUMERIC_ESTIMATE_COLUMNS  # noqa: PLC0415

    missing = [c for c in ESTIMATE_COLUMNS if c not in parcels.columns]
    if missing:
        return [f"columns {missing} are missing"]
    problems = []
    for c in NUMERIC_ESTIMATE_COLUMNS:
        if not (
            pd.api.types.is_numeric_dtype(parcels[c]) or pd.api.types.is_bool_dtype(parcels[c])
        ):
            problems.append(f"{c} holds text, not numbers")
    if problems:
        return problems
    if not parcels["parcel_id"].is_unique:
        problems.append("parcel_id is not unique")
    status = set(parcels["status"])
    if not status <= {"ok", "flagged", "error"}:
        problems.append(f"unknown status values {sorted(status - {'ok', 'flagged', 'error'})}")
    err = parcels[parcels["status"] == "error"]
    if (err["message"].astype(str).str.len() == 0).any():
        problems.append("an error row has no message")
    conf = parcels["crop_confidence"].to_numpy(float)
    if np.any((conf < 0) | (conf > 1)):
        problems.append("crop_confidence outside [0, 1]")
    y, lo, hi = (parcels[c].to_numpy(float) for c in ("yield_t_ha", "yield_low", "yield_high"))
    known = np.isfinite(y) & np.isfinite(lo) & np.isfinite(hi)
    if np.any((lo[known] > y[known] + 1e-9) | (y[known] > hi[known] + 1e-9)):
        problems.append("yield_t_ha outside [yield_low, yield_high]")
    for c in ("cultivated_area_ha", "declared_area_ha"):
        v = parcels[c].to_numpy(float)
        if np.any(v[np.isfinite(v)] < 0):
            problems.append(f"{c} is negative")
    return problems


def assert_estimates(parcels: pd.DataFrame) -> None:
    """Raise AssertionError listing what :func:`validate_estimates` finds."""
    _fail("the parcel estimates", validate_estimates(parcels))


def assert_decisions(households: pd.DataFrame) -> None:
    """Raise AssertionError unless ``households`` follow the household-decisions contract.

    Examples
    --------
    >>> a, _ = make_test_assessment(seed=3)
    >>> assert_decisions(a.households)
    """
    import json  # noqa: PLC0415

    from agrilend.credit.sizing import DECISION_COLUMNS  # noqa: PLC0415

    missing = [c for c in DECISION_COLUMNS if c not in households.columns]
    if missing:
        _fail("the household decisions", [f"columns {missing} are missing"])
    problems = []
    if not households["owner_ref"].is_unique:
        problems.append("owner_ref is not unique")
    if not set(households["decision"]) <= {"approve", "refer", "decline"}:
        problems.append(f"unknown decisions {sorted(set(households['decision']))}")
    line = households["credit_line"].to_numpy(float)
    if np.any(line < 0):
        problems.append("a credit line is negative")
    approved = (households["decision"] == "approve").to_numpy()
    if np.any(line[approved] <= 0):
        problems.append("an approved household has no credit line")
    for codes, en, zh in households[["reason_codes", "reasons_en", "reasons_zh"]].itertuples(
        index=False
    ):
        c, e, z = (json.loads(x) if isinstance(x, str) else list(x) for x in (codes, en, zh))
        if not (len(c) == len(e) == len(z) >= 1):
            problems.append("reasons are not one en and one zh text per code")
            break
    _fail("the household decisions", problems)


__all__ = [  # noqa: RUF022  (grouped by kind)
    # builders
    "CLEAR_SCL",
    "make_test_assessment",
    "make_test_county",
    "make_test_cube",
    "make_test_titles",
    # the contracts' checks
    "assert_cube",
    "assert_decisions",
    "assert_estimates",
    "assert_series",
    "assert_titles",
    "validate_estimates",
]
