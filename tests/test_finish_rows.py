"""The final rows' quality flags, number columns and nested cells are made column by column; they
must be what the obvious row-by-row rules give, for every kind of cell a county holds (None,
NaN, Arrow strings, bools, numbers stored as objects, lists)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from agrilend.outputs import json_default, tabular
from agrilend.pipeline import LOW_CLEAR_OBS, LOW_PIXELS, _finish_parcels, _numbers_as_numbers


def _flags_by_rows(frame: pd.DataFrame) -> list[list[str]]:
    """The rule, one row at a time."""
    out = []
    for _, r in frame.iterrows():
        f = [x for x in str(r.get("title_flags", "") or "").split(",") if x]
        if bool(r.get("crop_mismatch", False)):
            f.append("crop_mismatch")
        if str(r.get("area_flag", "ok")) not in {"ok", "unknown", "nan", "None"}:
            f.append(str(r.get("area_flag", "ok")))
        if r.get("status", "") != "error":
            if bool(r.get("early_season", False)):
                f.append("early_season")
            if (r.get("n_clear_obs", 0) or 0) < LOW_CLEAR_OBS:
                f.append("few_clear_observations")
            if (r.get("n_pixels", 0) or 0) < LOW_PIXELS:
                f.append("few_pixels")
        out.append(f)
    return out


def _county_rows(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda options: [options[i] for i in rng.integers(0, len(options), n)]  # noqa: E731
    frame = pd.DataFrame({
        "parcel_id": [f"P{i}" for i in range(n)],
        "title_flags": pd.Series(pick(["", None, "overlap", "overlap,tiny", ",sliver,"]),
                                 dtype="str"),
        "crop_mismatch": pick([True, False, None, np.nan]),
        "area_flag": pick(["ok", "unknown", None, np.nan, "over_declared", "under_declared"]),
        "status": pick(["ok", "error", "ok", "ok"]),
        "early_season": pick([False, True, None]),
        "n_clear_obs": pick([0, 3, 8, 12, None, np.nan]),
        "n_pixels": rng.integers(0, 20, n).astype(float),
    })  # fmt: skip
    return gpd.GeoDataFrame(frame, geometry=[box(i, 0, i + 1, 1) for i in range(n)],
                            crs="EPSG:32650")  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quality_flags_are_the_row_by_row_rule(seed: int) -> None:
    frame = _county_rows(300, seed)
    want = _flags_by_rows(frame)
    status = ["flagged" if s != "error" and f else s for s, f in zip(frame["status"], want,
                                                                       strict=True)]  # fmt: skip
    got = _finish_parcels(frame.copy())
    assert got["quality_flags"].tolist() == want
    assert got["status"].tolist() == status
    assert {"few_pixels", "crop_mismatch", "over_declared", "sliver"} <= {
        x for f in want for x in f
    }


def test_quality_flags_without_the_optional_columns() -> None:
    frame = gpd.GeoDataFrame({"status": ["ok", "error"]}, geometry=[box(0, 0, 1, 1)] * 2)
    got = _finish_parcels(frame)
    assert got["quality_flags"].tolist() == [["few_clear_observations", "few_pixels"], []]
    assert got["status"].tolist() == ["flagged", "error"]


def _numeric_by_cells(values: pd.Series) -> bool:
    kept = values.dropna()
    return bool(len(kept)) and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in kept
    )


CELLS: dict[str, list[Any]] = {
    "floats_and_none": [1.5, None, 2.0],
    "ints": [1, 2, np.int64(3)],
    "bools": [True, False, None],
    "bool_and_int": [True, 1, None],
    "bool_and_float": [True, 2.0, 3.0],
    "text_and_number": ["a", 1.0, None],
    "decimals": [Decimal("1.5"), None, Decimal(2)],
    "float32": [np.float32(1), None, 2.0],
    "all_missing": [None, np.nan, None],
    "lists": [[1], None, [2, 3]],
}


def test_number_columns_are_those_whose_every_cell_is_a_number() -> None:
    frame = gpd.GeoDataFrame({k: pd.Series(v, dtype=object) for k, v in CELLS.items()},
                             geometry=[box(0, 0, 1, 1)] * 3)  # fmt: skip
    want = {k: _numeric_by_cells(frame[k]) for k in CELLS}
    got = _numbers_as_numbers(frame.copy())
    for k in CELLS:
        assert (got[k].dtype == float) == want[k], k
    assert sum(want.values()) == 3  # floats_and_none, ints, float32


def test_tabular_writes_nested_cells_as_json_and_leaves_scalars() -> None:
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in CELLS.items()})
    frame["mixed_nested"] = pd.Series([1, {"a": np.int64(2)}, (3, "中")], dtype=object)
    frame["arrays"] = pd.Series([np.array([1.5]), None, "x"], dtype=object)
    got = tabular(frame)
    for col in frame.columns:
        nested = frame[col].map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any()
        if not nested:
            assert got[col].equals(frame[col]), col
    text = lambda col: [v if isinstance(v, str | int) else None for v in got[col]]  # noqa: E731
    assert text("lists") == ["[1]", None, "[2, 3]"]
    assert text("mixed_nested") == [1, '{"a": 2}', '[3, "中"]']
    assert text("arrays") == ["[1.5]", None, "x"]
    assert json.dumps({"a": np.int64(2)}, default=json_default) == '{"a": 2}'
