"""Insurance: records matched like subsidies, corroborated against the imagery, relief capped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from agrilend.credit import (
    CreditExtras,
    insurance_by_household,
    load_policy,
    match_insurance,
    read_insurance,
    size_with_extras,
)
from tests.credit.builders import one_parcel

POLICY = load_policy()
AS_OF = date(2024, 6, 1)


def _rec(**kw: object) -> pd.DataFrame:
    base = {
        "year": 2024,
        "owner_ref": "",
        "parcel_id": "P00000",
        "crop": "maize",
        "insured_area_ha": 1.0,
        "sum_insured": 6000.0,
    }
    return pd.DataFrame([base | kw])


def test_corroborated_insurance_lowers_the_climate_haircut_capped() -> None:
    est = one_parcel()
    plain = size_with_extras(est, POLICY, CreditExtras(), as_of=AS_OF, climate=0.8)
    ins = size_with_extras(est, POLICY, CreditExtras(insurance=_rec()), as_of=AS_OF, climate=0.8)
    h0, h1 = plain.households.iloc[0], ins.households.iloc[0]
    relief = min(POLICY.insurance["climate_relief"] * 1.0, POLICY.insurance["max_relief"])
    assert h1.climate_haircut == pytest.approx(h0.climate_haircut * (1 - relief))
    assert h1.credit_line >= h0.credit_line
    assert "INSURED" in h1.reason_codes


def test_relief_scales_with_the_insured_share() -> None:
    est = pd.concat([one_parcel(), one_parcel(parcel_id="P2")], ignore_index=True)
    out = insurance_by_household(_rec(owner_ref=est.loc[0, "owner_ref"]), est, POLICY, year=2024)
    row = out.iloc[0]
    assert row.insured_share == pytest.approx(0.5)
    assert row.climate_relief == pytest.approx(POLICY.insurance["climate_relief"] * 0.5)


@pytest.mark.parametrize(
    "change", [{"crop": "cotton"}, {"insured_area_ha": 5.0}], ids=["other_crop", "far_more_area"]
)
def test_contradicting_records_give_no_relief_and_refer(change: dict) -> None:
    est = one_parcel()
    r = size_with_extras(
        est, POLICY, CreditExtras(insurance=_rec(**change)), as_of=AS_OF, climate=0.2
    )
    h = r.households.iloc[0]
    assert "INSURANCE_CONTRADICTS" in h.reason_codes
    assert h.decision == "refer"
    assert r.insurance.iloc[0].climate_relief == 0


def test_records_of_another_season_are_ignored() -> None:
    est = one_parcel()
    out = insurance_by_household(_rec(year=2021), est, POLICY, year=2024)
    assert out.empty


def test_matching_by_owner_when_no_parcel_is_given() -> None:
    est = one_parcel()
    rec = _rec(parcel_id="", owner_ref=est.loc[0, "owner_ref"])
    matched, unmatched = match_insurance(rec, est)
    assert matched["matched_by"].tolist() == ["owner_ref"]
    assert unmatched.empty
    out = insurance_by_household(matched, est, POLICY, year=2024)
    assert out.iloc[0].insured_area_ha == pytest.approx(1.0)


def test_reader_keeps_nothing_personal(tmp_path: Path) -> None:
    p = tmp_path / "i.csv"
    p.write_bytes(
        "保险单号,投保人,投保人编码,地块编码,保险标的,投保面积(亩),保险金额(元),年度,电话\n"
        "PICC-001,张三,130100,P1,maize,15,6000,2024,13800000000\n".encode("gbk")
    )
    r = read_insurance(p, key="k")
    text = r.to_csv()
    for personal in ("张三", "130100", "13800000000", "PICC-001"):
        assert personal not in text
    assert r.loc[0, "insured_area_ha"] == pytest.approx(1.0)
