"""Rented land: titles move to tenants, rent is a cost, claims from both sides are flagged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from agrilend.credit import (
    CreditExtras,
    apply_transfers,
    load_policy,
    read_transfers,
    size_households,
    size_with_extras,
)
from agrilend.parcels.pseudonym import pseudonymize
from tests.credit.builders import make_estimates

AS_OF = date(2024, 6, 1)


def _contract(pid: str, holder: str, tenant: str, rent: float = 1200.0, **kw: object) -> dict:
    return {
        "parcel_id": pid,
        "holder_ref": holder,
        "tenant_ref": tenant,
        "rent_per_year": rent,
        "start": kw.get("start", date(2024, 1, 1)),
        "end": kw.get("end", date(2026, 12, 31)),
    }


def test_land_moves_to_the_tenant_and_its_rent_is_a_cost() -> None:
    est = make_estimates(2, 2, seed=3)
    holder, tenant = est["owner_ref"].iloc[0], est["owner_ref"].iloc[2]
    tr = pd.DataFrame([_contract(est["parcel_id"].iloc[0], holder, tenant)])
    before = est.copy()
    moved, flags = apply_transfers(est, tr, as_of=AS_OF)
    pd.testing.assert_frame_equal(est, before)  # input unchanged
    assert flags.empty
    assert moved.loc[0, "owner_ref"] == tenant
    assert moved.loc[0, "rented"]
    assert moved.loc[0, "transferred_from"] == holder
    policy = load_policy()
    old = size_households(est, policy, as_of=AS_OF).set_index("owner_ref")
    new = size_households(moved, policy, as_of=AS_OF).set_index("owner_ref")
    assert new.loc[holder, "n_parcels"] == 1
    assert new.loc[tenant, "n_parcels"] == 3
    lim = json.loads(new.loc[tenant, "limits"])
    assert lim["rent"] == pytest.approx(1200.0)
    assert "RENTED_LAND" in new.loc[tenant, "reason_codes"]
    assert new.loc[holder, "cultivated_area_ha"] < old.loc[holder, "cultivated_area_ha"]


def test_expired_or_future_contracts_do_not_move_land() -> None:
    est = make_estimates(2, 1, seed=3)
    h, t = est["owner_ref"]
    tr = pd.DataFrame(
        [
            _contract("P00000", h, t, start=date(2020, 1, 1), end=date(2023, 12, 31)),
            _contract("P00000", h, t, start=date(2025, 1, 1), end=date(2027, 12, 31)),
        ]
    )
    moved, flags = apply_transfers(est, tr, as_of=AS_OF)
    assert moved["owner_ref"].tolist() == est["owner_ref"].tolist()
    assert flags.empty


@pytest.mark.parametrize("case", ["two_tenants", "wrong_holder", "holder_still_claims"])
def test_titles_claimed_by_both_sides_are_flagged_on_both_households(case: str) -> None:
    est = make_estimates(3, 2, seed=4)
    a, b, c = est["owner_ref"].unique()
    pid = est.loc[est["owner_ref"] == a, "parcel_id"].iloc[0]
    contracts = [_contract(pid, a, b)]
    claims = None
    if case == "two_tenants":
        contracts.append(_contract(pid, a, c))
    elif case == "wrong_holder":
        contracts = [_contract(pid, c, b)]
    else:
        claims = pd.DataFrame({"owner_ref": [a], "parcel_id": [pid]})
    _moved, flags = apply_transfers(est, pd.DataFrame(contracts), as_of=AS_OF, claims=claims)
    assert flags["parcel_id"].tolist() == [pid]
    ins = None
    if claims is not None:  # the holder's own insurance record is the claim
        ins = pd.DataFrame(
            {
                "year": [2024],
                "owner_ref": [a],
                "parcel_id": [pid],
                "crop": ["maize"],
                "insured_area_ha": [0.5],
                "sum_insured": [100.0],
            }
        )
    r = size_with_extras(
        est,
        load_policy(),
        CreditExtras(transfers=pd.DataFrame(contracts), insurance=ins),
        as_of=AS_OF,
    )
    out = r.households.set_index("owner_ref")
    for side in (a, b):
        assert "TRANSFER_CONFLICT" in out.loc[side, "reason_codes"], case
        assert out.loc[side, "decision"] != "approve"


def test_reader_pseudonymises_both_sides_and_converts_rent_per_mu(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(
        "地块编码,转出方编码,转入方编码,每亩租金,流转面积(亩),起始日期,终止日期\n"
        "P1,130100,130200,800,4.5,2023年10月1日,2028年9月30日\n".encode("gbk")
    )
    t = read_transfers(p, key="k")
    assert t.loc[0, "rent_per_year"] == pytest.approx(3600.0)
    assert t.loc[0, "holder_ref"] == pseudonymize(["130100"], key="k")[0]
    assert "130100" not in t.to_csv()
    assert "130200" not in t.to_csv()
    assert t.loc[0, "start"] == date(2023, 10, 1)
