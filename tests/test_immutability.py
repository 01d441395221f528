"""Functions never change their inputs: each public function of the pipeline's path is called on
inputs that are compared, afterwards, with untouched copies (xarray objects identical, frames
equal, arrays equal bit for bit: nothing is computed twice, so SIMD paths do not matter)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrilend import credit, parcels, pipeline, remote_sensing, yield_models
from agrilend.inputs import InputFiles, load_inputs
from agrilend.testing import make_test_county, make_test_cube, make_test_titles

SIZE = (80, 80)


def _same(before: Any, after: Any) -> None:
    if isinstance(before, xr.Dataset | xr.DataArray):
        xr.testing.assert_identical(before, after)
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    elif isinstance(before, pd.Series):
        pd.testing.assert_series_equal(before, after)
    elif isinstance(before, pd.Index):
        pd.testing.assert_index_equal(before, after)
    elif isinstance(before, np.ndarray):
        np.testing.assert_array_equal(before, after)
    else:
        assert before == after


def _unchanged(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` and assert that none of its arguments changed."""
    snapshots = [copy.deepcopy(a) for a in args]
    kw_snapshots = {k: copy.deepcopy(v) for k, v in kwargs.items()}
    out = fn(*args, **kwargs)
    for before, after in zip(snapshots, args, strict=True):
        _same(before, after)
    for k, before in kw_snapshots.items():
        _same(before, kwargs[k])
    return out


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    return make_test_cube(seed=3, size_px=SIZE)


@pytest.fixture(scope="module")
def titles():  # type: ignore[no-untyped-def]
    return make_test_titles(seed=3, size_px=SIZE)


@pytest.fixture(scope="module")
def evidence(cube, titles):  # type: ignore[no-untyped-def]
    return pipeline.gather_evidence(cube, titles)


def test_remote_sensing_functions(cube: xr.Dataset) -> None:
    raw = make_test_county(seed=3, size_px=SIZE).imagery
    _unchanged(remote_sensing.harmonize, raw)
    _unchanged(remote_sensing.mask_clouds, cube)
    _unchanged(remote_sensing.compute_index, cube, "NDVI")
    _unchanged(remote_sensing.validate_cube, cube)
    ndvi = remote_sensing.ndvi(cube).mean(("y", "x")).to_numpy()[None, :].astype(float)
    times = cube.indexes["time"]
    _unchanged(remote_sensing.regularize, ndvi, times)
    smooth, grid = _unchanged(remote_sensing.clean_series, ndvi, times)
    _unchanged(remote_sensing.despike, ndvi)
    _unchanged(remote_sensing.whittaker, np.nan_to_num(ndvi, nan=0.3))
    _unchanged(remote_sensing.phenology_table, smooth, grid)


def test_parcels_functions(cube: xr.Dataset, titles) -> None:  # type: ignore[no-untyped-def]
    _unchanged(parcels.validate_titles, titles, imagery_bounds=cube)
    _unchanged(parcels.zonal_series, cube, titles)
    _unchanged(parcels.cultivated_area, cube, titles)


def test_yield_model_functions(evidence) -> None:  # type: ignore[no-untyped-def]
    ok = (evidence.parcels["status"] != "error").to_numpy()
    X, times = evidence.ndvi[ok], evidence.times
    declared = evidence.parcels.loc[ok, "declared_crop"].astype(str).to_numpy()
    _unchanged(yield_models.series_features, X, times)
    _unchanged(yield_models.predict_out_of_fold, X, declared)
    metrics = _unchanged(yield_models.season_metrics, X, times)
    metrics = metrics.assign(crop=declared)
    peers = _unchanged(yield_models.peer_statistics, metrics)
    _unchanged(yield_models.vigour_scores, metrics, peers=peers)
    _unchanged(yield_models.estimate_yield, metrics, county_yields={"winter_wheat_maize": 13.0,
                                                                    "maize": 7.5})  # fmt: skip


def test_weather_functions(sample_inputs) -> None:  # type: ignore[no-untyped-def]
    weather = sample_inputs.weather
    _unchanged(yield_models.weather_normals, weather)
    _unchanged(yield_models.season_weather, weather, "2024-03-01", "2024-10-31")
    _unchanged(yield_models.climate_risk, weather, season=("2024-03-01", "2024-10-31"))


def test_credit_and_pipeline_functions(sample_inputs, sample_assessment) -> None:  # type: ignore[no-untyped-def]
    subsidies = sample_inputs.subsidies
    _unchanged(credit.normalise_subsidies, subsidies)
    _unchanged(credit.match_subsidies, subsidies, sample_inputs.titles)
    estimates = sample_assessment.parcels
    _unchanged(credit.size_households, estimates, sample_inputs.policy)


def test_gather_evidence_and_decide(cube: xr.Dataset, titles, evidence) -> None:  # type: ignore[no-untyped-def]
    _unchanged(pipeline.gather_evidence, cube, titles)
    parcels_before = evidence.parcels.copy()
    series_before = evidence.series.copy(deep=True)
    ndvi_before = evidence.ndvi.copy()
    pipeline.decide(evidence)
    pd.testing.assert_frame_equal(parcels_before, evidence.parcels)
    xr.testing.assert_identical(series_before, evidence.series)
    np.testing.assert_array_equal(ndvi_before, evidence.ndvi)


def test_sample_inputs_are_not_changed_by_assess(sample_inputs, sample_assessment) -> None:  # type: ignore[no-untyped-def]
    """The session's sample assessment was made from ``sample_inputs``: they are still what a
    fresh read gives."""
    assert sample_assessment.parcels is not sample_inputs.titles
    fresh = load_inputs(InputFiles.sample())
    for name in ("titles", "weather", "subsidies"):
        _same(getattr(fresh, name), getattr(sample_inputs, name))
    xr.testing.assert_identical(fresh.cube, sample_inputs.cube)
