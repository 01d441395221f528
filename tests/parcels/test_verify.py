"""Claim verification and field delineation on a small scene whose truth is known."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from shapely.geometry import box

from agrilend.parcels.delineation import delineate, match_fields
from agrilend.parcels.verify import claims_as_titles, trust_haircut, verify_claims

X0, Y1 = 455_000.0, 4_152_000.0
OWNER_A, OWNER_B = "H-aaaaaaaaaaaa", "H-bbbbbbbbbbbb"
# columns in metres from X0: maize | wheat | road | maize
MAIZE_A = box(X0, Y1 - 300, X0 + 150, Y1)
WHEAT_B = box(X0 + 150, Y1 - 300, X0 + 250, Y1)
ROAD = box(X0 + 250, Y1 - 300, X0 + 270, Y1)
MAIZE_C = box(X0 + 270, Y1 - 300, X0 + 400, Y1)


def _scene() -> xr.DataArray:
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-02-01", periods=24, freq="12D")
    doy = t.day_of_year.to_numpy()[:, None, None]
    maize = 0.2 + 0.65 * np.exp(-(((doy - 215) / 30.0) ** 2))
    wheat = 0.2 + 0.6 * np.exp(-(((doy - 110) / 25.0) ** 2))
    col = np.arange(40) * 10 + 5
    kind = np.select([col < 150, col < 250, col < 270], [0, 1, 2], 3)[None, None, :]
    a = np.where(kind == 1, wheat, np.where(kind == 2, 0.08, maize)) * np.ones((24, 30, 40))
    a = a + rng.normal(0, 0.02, a.shape)
    a[rng.random(a.shape) < 0.1] = np.nan  # clouds
    da = xr.DataArray(
        a.astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": t, "y": Y1 - 5 - 10 * np.arange(30), "x": X0 + col},
    )
    return da.rio.write_crs("EPSG:32650")


def _claims(rows: list[tuple[str, str, Any]]) -> gpd.GeoDataFrame:
    n = len(rows)
    return gpd.GeoDataFrame(
        {
            "claim_id": [r[0] for r in rows],
            "owner_ref": [r[1] for r in rows],
            "claimed_crop": ["maize"] * n,
            "claimed_area_ha": [np.nan] * n,
            "repairs": [""] * n,
            "claim_status": ["ok"] * n,
            "claim_message": [""] * n,
            "drawn_wkt": [""] * n,
        },
        geometry=[r[2] for r in rows],
        crs="EPSG:32650",
    )


@pytest.fixture(scope="module")
def scene() -> xr.DataArray:
    return _scene()


def _iou(a: Any, b: Any) -> float:
    return float(a.intersection(b).area / a.union(b).area)


def test_delineation_finds_the_fields_and_the_road(scene: xr.DataArray) -> None:
    fields = delineate(scene)
    ref = gpd.GeoDataFrame(geometry=[MAIZE_A, WHEAT_B, MAIZE_C], crs="EPSG:32650")
    scores = match_fields(fields.polygons, ref)
    assert (scores["iou"] > 0.85).all(), scores
    assert (scores["n_fields"] == 1).all()
    assert fields.polygons["confidence"].between(0, 1).all()


def test_honest_claim_is_snapped_to_the_field_edge_and_not_flagged(scene: xr.DataArray) -> None:
    drawn = box(X0 + 12, Y1 - 288, X0 + 162, Y1 - 8)  # 12 m too far east, over the wheat
    v = verify_claims(_claims([("C-1", OWNER_A, drawn)]), scene)
    assert v.loc[0, "flags"] == ""
    assert _iou(v.geometry.iloc[0], MAIZE_A) > _iou(drawn, MAIZE_A) + 0.03
    east = v.geometry.iloc[0].bounds[2] - X0
    assert east == pytest.approx(150, abs=6)  # the maize-wheat edge, within about half a pixel


def test_claim_inflated_over_the_neighbours_field_is_flagged_and_trimmed(
    scene: xr.DataArray,
) -> None:
    drawn = box(X0 + 30, Y1 - 300, X0 + 250, Y1)  # 120 m own maize, the neighbour's 100 m wheat
    v = verify_claims(_claims([("C-2", OWNER_A, drawn)]), scene)
    assert "mixed_series" in v.loc[0, "flags"]
    assert v.loc[0, "mixed_share"] == pytest.approx(100 / 220, abs=0.1)
    assert v.loc[0, "mixed_depth"] > 20  # the wheat is drawn in whole: far deeper than noise
    assert _iou(v.geometry.iloc[0], drawn.intersection(MAIZE_A)) > 0.85


def test_claim_over_the_road_is_flagged_non_farmland(scene: xr.DataArray) -> None:
    drawn = box(X0 + 240, Y1 - 300, X0 + 330, Y1)  # the road and a strip either side
    v = verify_claims(_claims([("C-3", OWNER_A, drawn)]), scene)
    assert "non_farmland" in v.loc[0, "flags"]
    assert v.loc[0, "nonfarm_share"] > 0.15


def test_two_households_claiming_one_field_are_both_flagged(scene: xr.DataArray) -> None:
    a = box(X0 + 5, Y1 - 295, X0 + 145, Y1 - 5)
    b = box(X0 + 8, Y1 - 290, X0 + 150, Y1 - 2)
    c = box(X0 + 280, Y1 - 290, X0 + 390, Y1 - 10)  # a third, elsewhere
    v = verify_claims(_claims([("C-4", OWNER_A, a), ("C-5", OWNER_B, b), ("C-6", OWNER_B, c)]),
                      scene)  # fmt: skip
    v = v.set_index("claim_id")
    assert "claim_conflict" in v.loc["C-4", "flags"]
    assert "claim_conflict" in v.loc["C-5", "flags"]
    assert v.loc["C-4", "overlap_claims"] == "C-5"
    assert "claim_conflict" not in v.loc["C-6", "flags"]


def test_registry_titles_cross_check(scene: xr.DataArray) -> None:
    titles = gpd.GeoDataFrame(
        {"parcel_id": ["T-1", "T-2"], "owner_ref": [OWNER_A, OWNER_B],
         "declared_area_ha": [4.5, 3.9], "declared_crop": ["maize", "maize"]},
        geometry=[MAIZE_A, MAIZE_C], crs="EPSG:32650",
    )  # fmt: skip
    own = box(X0 + 5, Y1 - 295, X0 + 145, Y1 - 5)
    other = box(X0 + 280, Y1 - 295, X0 + 395, Y1 - 5)
    v = verify_claims(_claims([("C-7", OWNER_A, own), ("C-8", OWNER_A, other)]), scene,
                      titles=titles).set_index("claim_id")  # fmt: skip
    assert "titled" in v.loc["C-7", "flags"]
    assert "title_conflict" not in v.loc["C-7", "flags"]
    assert "title_conflict" in v.loc["C-8", "flags"]
    assert v.loc["C-8", "overlap_titles"] == "T-2"


def test_claims_become_title_rows_with_the_policy_haircuts(scene: xr.DataArray) -> None:
    drawn = box(X0 + 50, Y1 - 300, X0 + 250, Y1)
    v = verify_claims(_claims([("C-9", OWNER_A, drawn)]), scene)
    rows = claims_as_titles(v, haircuts={"base": 0.1, "mixed_series": 0.5})
    assert list(rows.columns[:4]) == ["parcel_id", "owner_ref", "declared_area_ha",
                                      "declared_crop"]  # fmt: skip
    assert rows.loc[0, "source"] == "claim"
    assert rows.loc[0, "trust_haircut"] == pytest.approx(1 - 0.9 * 0.5)
    assert rows.loc[0, "declared_area_ha"] == pytest.approx(drawn.area / 1e4)
    assert "mixed_series" in rows.loc[0, "trust_flags"]
    assert trust_haircut("titled", {"titled": 1.0}) == 1.0
