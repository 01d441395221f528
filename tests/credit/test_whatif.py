"""What would raise the line: every suggestion, made real, gives the line it promised."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from agrilend.credit import CreditExtras, load_policy, size_with_extras, what_would_raise
from tests.credit.builders import make_estimates

POLICY = load_policy()
AS_OF = date(2024, 10, 1)
CLIMATE = 0.6


def _book() -> tuple[pd.DataFrame, object]:
    est = make_estimates(4, 2, seed=11)
    return est, size_with_extras(est, POLICY, CreditExtras(), as_of=AS_OF, climate=CLIMATE)


def test_suggestions_raise_and_are_sorted() -> None:
    _, r = _book()
    w = what_would_raise(r, as_of=AS_OF, climate=CLIMATE)
    assert len(w) > 0
    assert (w["raise"] > 0).all()
    for _, g in w.groupby("owner_ref"):
        assert g["raise"].is_monotonic_decreasing
    assert w["text_en"].str.contains(r": \+[\d,]+ CNY$").all()
    assert w["text_zh"].str.contains(r"：\+[\d,]+元$").all()


def test_insuring_as_suggested_gives_the_promised_line() -> None:
    est, r = _book()
    w = what_would_raise(r, as_of=AS_OF, climate=CLIMATE)
    row = w[w["action"].str.startswith("insure:")].iloc[0]
    crop = row.action.split(":", 1)[1]
    mine = est[(est["owner_ref"] == row.owner_ref) & (est["crop"] == crop)]
    records = pd.DataFrame(
        {
            "year": 2024,
            "owner_ref": row.owner_ref,
            "parcel_id": mine["parcel_id"],
            "crop": crop,
            "insured_area_ha": mine["cultivated_area_ha"],
            "sum_insured": 1000.0,
        }
    )
    real = size_with_extras(
        est, POLICY, CreditExtras(insurance=records), as_of=AS_OF, climate=CLIMATE
    )
    line = real.households.set_index("owner_ref").loc[row.owner_ref, "credit_line"]
    assert line == pytest.approx(row.new_line)


def test_showing_sales_as_suggested_gives_the_promised_line() -> None:
    est, r = _book()
    w = what_would_raise(r, as_of=AS_OF, climate=CLIMATE)
    row = w[w["action"] == "sales"].iloc[0]
    hh = r.households.set_index("owner_ref").loc[row.owner_ref]
    revenue = json.loads(hh.limits)["revenue"]
    crop = (
        est[est["owner_ref"] == row.owner_ref].groupby("crop")["cultivated_area_ha"].sum().idxmax()
    )
    receipt = pd.DataFrame(
        {
            "owner_ref": [row.owner_ref],
            "kind": ["receipt"],
            "parcel_id": [""],
            "crop": [crop],
            "amount": [revenue],
            "date": [date(2023, 10, 1)],
            "lat": [float("nan")],
            "lon": [float("nan")],
            "digest": [""],
        }
    )
    real = size_with_extras(
        est, POLICY, CreditExtras(evidence=receipt), as_of=AS_OF, climate=CLIMATE
    )
    line = real.households.set_index("owner_ref").loc[row.owner_ref, "credit_line"]
    assert line == pytest.approx(row.new_line)


def test_own_evidence_is_not_offered_where_a_cap_holds_the_line() -> None:
    """Evidence raises the revenue-based limits only; insurance still lightens the climate cut."""
    est = make_estimates(1, 2, seed=2)
    capped = POLICY.with_changes({"caps": {"household": 2500}})
    r = size_with_extras(est, capped, CreditExtras(), as_of=AS_OF, climate=CLIMATE)
    assert json.loads(r.households.loc[0, "limits"])["binding"] == "household"
    w = what_would_raise(r, as_of=AS_OF, climate=CLIMATE)
    assert w["action"].str.startswith("insure:").all()
    assert len(w) > 0
    no_risk = size_with_extras(est, capped, CreditExtras(), as_of=AS_OF, climate=0.0)
    assert what_would_raise(no_risk, as_of=AS_OF, climate=0.0).empty
