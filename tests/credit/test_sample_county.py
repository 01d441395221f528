"""The sample county end to end through the credit layer, with estimates taken from its truth.

The pipeline never reads ``truth.csv``; this test does, to stand in for perfect parcel estimates
and to score the subsidy matching and flags against what the generator planted.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrilend.credit import load_policy, match_subsidies, read_subsidies, size_households
from agrilend.parcels import pseudonymize, read_titles
from tests.credit.builders import estimates_from_truth

AS_OF = date(2025, 3, 1)


@pytest.fixture(scope="module")
def county(sample_data: Path) -> dict[str, pd.DataFrame]:
    titles = read_titles(sample_data / "titles.gpkg", mapping=sample_data / "titles_mapping.toml")
    subsidies = read_subsidies(sample_data / "subsidies.csv")
    truth = pd.read_csv(sample_data / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    households = pd.read_csv(sample_data / "truth_households.csv", dtype={"owner_id": str})
    households["owner_ref"] = pseudonymize(households["owner_id"])
    truth_subsidies = pd.read_csv(sample_data / "truth_subsidies.csv")
    return {
        "titles": titles,
        "subsidies": subsidies,
        "truth": truth,
        "households": households,
        "truth_subsidies": truth_subsidies,
        "yields": pd.read_csv(sample_data / "county_yields.csv"),
    }


def _perfect_estimates(truth: pd.DataFrame) -> pd.DataFrame:
    est = estimates_from_truth(truth, n_clear_obs=30, status="ok")
    double = (truth["true_crop"] == "winter_wheat_maize").to_numpy()
    # the per-harvest columns of yield_models.estimate_yield
    est["harvest_s1"] = np.where(double, "winter_wheat", truth["true_crop"])
    est["yield_s1_t_ha"] = truth["true_yield_s1_t_ha"]
    est["harvest_s2"] = np.where(double, "summer_maize", "")
    est["yield_s2_t_ha"] = truth["true_yield_s2_t_ha"]
    return est


def test_subsidy_records_match_the_titles_as_planted(county: dict[str, pd.DataFrame]) -> None:
    m = match_subsidies(county["subsidies"], county["titles"])
    planted = county["truth_subsidies"]
    assert len(m.unmatched) == int((~planted["matches_registry"]).sum())
    assert len(m.matched) == int(planted["matches_registry"].sum())
    assert (m.unmatched["reason"] != "").all()


def test_every_household_gets_a_checkable_decision(county: dict[str, pd.DataFrame]) -> None:
    policy = load_policy(Path(__file__).resolve().parents[2] / "sample_data" / "policy.toml")
    m = match_subsidies(county["subsidies"], county["titles"])
    y = county["yields"]
    refs = dict(
        zip(y.loc[y["year"] == 2024, "crop"], y.loc[y["year"] == 2024, "yield_t_ha"], strict=True)
    )
    est = _perfect_estimates(county["truth"])
    out = size_households(est, policy, subsidies=m, climate=0.2, as_of=AS_OF, reference_yields=refs)
    assert len(out) == county["truth"]["owner_id"].nunique()
    assert set(out["decision"]) <= {"approve", "refer", "decline"}
    assert out["reason_codes"].map(lambda s: len(json.loads(s)) >= 1).all()
    approved = out[out["decision"] == "approve"]
    assert (approved["credit_line"] >= policy.decision["min_line"]).all()
    assert approved["tenor_months"].notna().all()
    for row in out.itertuples():
        lim = json.loads(row.limits)
        raw = min(lim["limits"].values()) * lim["climate_factor"]
        assert raw == pytest.approx(lim["line_before_rounding"], abs=0.05)

    # subsidised area far above what is cultivated: flagged where the generator planted it
    hh = county["households"].set_index("owner_ref").reindex(out["owner_ref"])
    flagged = out["reason_codes"].str.contains("SUBSIDY_OVER_AREA").to_numpy()
    planted = hh["subsidised_over_cultivated"].to_numpy(dtype=bool)
    assert (flagged & planted).sum() >= 0.9 * planted.sum()
    assert (flagged & ~planted).sum() <= 0.1 * max(flagged.sum(), 1)
    assert (out.loc[flagged, "decision"] != "approve").all()

    # households with a parcel declared far larger than cultivated are told so
    over = county["truth"].loc[county["truth"]["over_declared"], "owner_id"]
    told = out.set_index("owner_ref").loc[np.unique(pseudonymize(over)), "reason_codes"]
    area_codes = ("AREA_BELOW_DECLARED", "AREA_MISMATCH", "LOW_AREA_RATIO", "SUBSIDY_OVER_AREA")
    said = told.map(lambda codes: any(c in codes for c in area_codes))
    assert said.mean() >= 0.8
