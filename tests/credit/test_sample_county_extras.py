"""The sample county's records beyond the crop, read and sized with estimates from its truth.

Like test_sample_county.py, the truth stands in for perfect parcel estimates (and the titles give
the geometry photos are placed in); the planted cases of ``truth_credit_records.csv`` are scored.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from agrilend.credit import (
    CreditExtras,
    load_policy,
    read_insurance,
    read_own_evidence,
    read_prices,
    read_transfers,
    size_with_extras,
    stress_portfolio,
    what_would_raise,
)
from agrilend.inputs import InputFiles
from agrilend.parcels import pseudonymize, read_titles
from tests.credit.test_sample_county import _perfect_estimates

AS_OF = date(2024, 12, 27)  # the day after the sample imagery's last date, as assess decides


@pytest.fixture(scope="module")
def sized(sample_data: Path) -> dict[str, object]:
    policy = load_policy(sample_data / "policy.toml")
    titles = read_titles(sample_data / "titles.gpkg", mapping=sample_data / "titles_mapping.toml")
    truth = pd.read_csv(sample_data / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    est = _perfect_estimates(truth)
    est["crop_confidence"] = 0.9
    geo = titles.set_index("parcel_id").geometry.reindex(est["parcel_id"]).to_numpy()
    est = gpd.GeoDataFrame(est, geometry=geo, crs=titles.crs)
    extras = CreditExtras(
        prices=read_prices(sample_data / "prices.csv", harvests=tuple(policy.harvests)),
        transfers=read_transfers(sample_data / "transfers.csv"),
        insurance=read_insurance(sample_data / "insurance.csv"),
        evidence=read_own_evidence(sample_data / "own_evidence" / "evidence.csv"),
    )
    result = size_with_extras(est, policy, extras, as_of=AS_OF, climate=0.3)
    cases = pd.read_csv(sample_data / "truth_credit_records.csv", dtype=str).fillna("")
    return {"policy": policy, "est": est, "result": result, "cases": cases}


def test_the_sample_bundle_names_the_new_files() -> None:
    files = InputFiles.sample()
    for name in ("prices", "transfers", "insurance", "own_evidence"):
        assert getattr(files, name) is not None
        assert getattr(files, name).exists()


def test_prices_come_from_the_market_table(sized: dict) -> None:
    ev = sized["result"].price_evidence
    assert (ev["source"] == "market").all()
    assert (ev["prudent_price"] < ev["policy_price"] * 1.05).all()
    assert (ev["n_months"] >= 10).all()


def test_planted_transfer_cases_are_found(sized: dict) -> None:
    r, cases = sized["result"], sized["cases"]
    flagged = set(r.transfer_flags["parcel_id"])
    planted = set(
        cases.loc[cases["case"].isin(["two_tenants", "holder_still_insures"]), "parcel_id"]
    )
    assert flagged == planted
    moved = r.parcels[r.parcels["rented"]]
    rented_out = set(cases.loc[cases["case"] == "rented_out", "parcel_id"])
    assert rented_out <= set(moved["parcel_id"])
    expired = set(cases.loc[cases["case"] == "expired", "parcel_id"])
    assert not expired & set(moved["parcel_id"])
    # a tenant without a title of its own gets a line from rented land alone
    own = set(pseudonymize(pd.read_csv(Path(__file__).parents[2] / "sample_data" / "truth.csv",
                                       dtype=str)["owner_id"]))  # fmt: skip
    outsiders = set(moved["owner_ref"]) - own
    assert len(outsiders) == 2
    assert set(r.households["owner_ref"]) >= outsiders


def test_planted_insurance_contradictions_are_found(sized: dict) -> None:
    r, cases = sized["result"], sized["cases"]
    ins = r.insurance
    flagged = set(ins.index[ins["insurance_contradictions"] > 0])
    double = set(pseudonymize(cases.loc[cases["case"].str.startswith("insured_2.5"), "holder_id"]))
    assert double <= flagged
    wrong = cases[cases["case"] == "insured_as_declared_not_as_grown"]
    hit = [p in ",".join(ins["insurance_contradiction_parcels"]) for p in wrong["parcel_id"]]
    assert np.mean(hit) >= 0.8  # a misdeclared crop that is insured as declared
    assert (ins["climate_relief"] <= sized["policy"].insurance["max_relief"] + 1e-12).all()
    assert (ins.loc[~ins.index.isin(flagged), "climate_relief"] > 0).mean() > 0.9


def test_planted_photo_contradictions_are_found(sized: dict) -> None:
    r, cases = sized["result"], sized["cases"]
    items = r.evidence_items
    photos = items[items["kind"] == "photo"]
    bad = cases[cases["case"].isin(["photo_outside_parcel", "photo_out_of_season"])]
    flagged = photos[photos["verdict"] == "contradicts"]
    assert set(flagged["parcel_id"]) == set(bad["parcel_id"])
    good = photos[photos["verdict"] == "verified"]
    assert len(good) >= 20
    hh = r.households.set_index("owner_ref")
    for owner in set(flagged["owner_ref"]):
        assert hh.loc[owner, "decision"] != "approve"
        assert json.loads(hh.loc[owner, "limits"])["evidence_cut"] > 0


def test_what_if_and_stress_on_the_sample(sized: dict) -> None:
    r = sized["result"]
    some = list(r.households.loc[r.households["credit_line"] > 0, "owner_ref"][:5])
    w = what_would_raise(r, as_of=AS_OF, households=some, climate=0.3)
    assert set(w["owner_ref"]) <= set(some)
    assert (w["raise"] > 0).all()
    t = stress_portfolio(r.parcels, r.policy, as_of=AS_OF, climate=0.3,
                         adjustments=r.adjustments.reset_index()).set_index("scenario")  # fmt: skip
    assert t.loc["price shock + drought", "expected_loss"] >= t.loc["baseline", "expected_loss"]
