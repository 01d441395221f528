"""The claimed-vs-observed crop check sits at the pipeline level; the parcels layer never
imports the crop models."""

from __future__ import annotations

import ast
from pathlib import Path

import geopandas as gpd
import numpy as np

from agrilend.claim_crops import check_claimed_crops
from agrilend.parcels.verify import verify_claims
from agrilend.testing import make_test_cube, make_test_titles

PARCELS = Path(__file__).resolve().parents[1] / "agrilend" / "parcels"
HIGHER = ("agrilend.yield_models", "agrilend.credit", "agrilend.pipeline", "agrilend.scan",
          "agrilend.claim_crops", "agrilend.inputs")  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_parcels_layer_imports_no_layer_above_it() -> None:
    files = sorted(PARCELS.glob("*.py"))
    assert any(f.name == "verify.py" for f in files)
    bad = {f.name: sorted(n for n in _imports(f) if n.startswith(HIGHER)) for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_a_claimed_crop_the_imagery_contradicts_is_flagged() -> None:
    cube = make_test_cube(seed=2, size_px=(60, 60), clouds=False, step_days=10)
    titles = make_test_titles(seed=2, size_px=(60, 60), with_truth=True)
    titles = titles[titles["declared_crop"] == titles["true_crop"]]
    teach = titles[["parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry"]]
    # claims over the wheat-maize fields: half claim what they grow, half claim orchard
    wwm = titles[titles["true_crop"] == "winter_wheat_maize"].iloc[:12]
    n = len(wwm)
    wrong = np.arange(n) % 2 == 1
    claimed = np.where(wrong, "orchard", "winter_wheat_maize")
    claims = gpd.GeoDataFrame(
        {"claim_id": [f"C-{i}" for i in range(n)], "owner_ref": list(wwm["owner_ref"]),
         "claimed_crop": claimed, "claimed_area_ha": [np.nan] * n, "repairs": [""] * n,
         "claim_status": ["ok"] * n, "claim_message": [""] * n, "drawn_wkt": [""] * n},
        geometry=list(wwm.geometry.buffer(-2)), crs=titles.crs,
    )  # fmt: skip
    verified = verify_claims(claims, cube)
    before = verified.copy()
    checked = check_claimed_crops(verified, cube, teach)
    flagged = checked["flags"].str.contains("crop_mismatch").to_numpy()
    assert flagged[wrong].mean() >= 0.8
    assert flagged[~wrong].mean() <= 0.2
    assert (checked["observed_crop"][~wrong] == "winter_wheat_maize").mean() >= 0.8
    # the verified claims are left as they were; the other flags are kept
    assert verified.equals(before)
    assert list(checked["claim_id"]) == list(verified["claim_id"])


def test_the_crop_check_needs_titles_that_can_teach() -> None:
    cube = make_test_cube(seed=2, size_px=(40, 40), clouds=False, step_days=10)
    titles = make_test_titles(seed=2, size_px=(40, 40)).iloc[:3]
    claims = gpd.GeoDataFrame(
        {"claim_id": ["C-1"], "owner_ref": list(titles["owner_ref"].iloc[:1]),
         "claimed_crop": ["maize"], "claimed_area_ha": [np.nan], "repairs": [""],
         "claim_status": ["ok"], "claim_message": [""], "drawn_wkt": [""]},
        geometry=[titles.geometry.iloc[0].buffer(-2)], crs=titles.crs,
    )  # fmt: skip
    three = titles.assign(declared_crop="maize")  # one crop: nothing to tell apart
    checked = check_claimed_crops(verify_claims(claims, cube), cube, three)
    assert checked.loc[0, "observed_crop"] == ""
    assert "crop_mismatch" not in checked.loc[0, "flags"]


def test_claims_in_error_are_not_checked() -> None:
    cube = make_test_cube(seed=2, size_px=(40, 40), clouds=False, step_days=10)
    titles = make_test_titles(seed=2, size_px=(40, 40))
    claims = gpd.GeoDataFrame(
        {"claim_id": ["C-1"], "owner_ref": ["H-0123456789ab"], "claimed_crop": ["maize"],
         "claimed_area_ha": [np.nan], "repairs": [""], "claim_status": ["error"],
         "claim_message": ["too few points"], "drawn_wkt": [""]},
        geometry=[None], crs=titles.crs,
    )  # fmt: skip
    checked = check_claimed_crops(verify_claims(claims, cube), cube, titles)
    assert checked.loc[0, "observed_crop"] == ""
