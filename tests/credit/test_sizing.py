"""Household credit lines: arithmetic by hand, decisions, reasons, and the monotone properties."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.credit import (
    DECISION_COLUMNS,
    REASONS,
    CreditPolicy,
    load_policy,
    policy_from_dict,
    prudent_yield,
    size_households,
)
from agrilend.errors import PolicyError, TableReadError
from tests.credit.builders import make_estimates, one_parcel

AS_OF = date(2024, 3, 1)
POLICY = load_policy()
#: The default policy without its margin limit: for the tests of the other mechanics.
NO_MARGIN = policy_from_dict({k: v for k, v in POLICY.to_dict().items() if k != "margin"})


def _size(est: pd.DataFrame, policy: CreditPolicy = POLICY, **kw: object) -> pd.DataFrame:
    return size_households(est, policy, as_of=AS_OF, **kw)  # type: ignore[arg-type]


def test_one_parcel_line_recomputed_by_hand() -> None:
    est = one_parcel()
    row = _size(est).iloc[0]
    maize = POLICY.harvests["maize"]
    y = float(
        prudent_yield(7.0, 5.0, 9.0, quantile=POLICY.yield_quantile, interval=POLICY.yield_interval)
    )
    revenue = 1.0 * y * maize.price_per_t
    margin = revenue - (1 + POLICY.margin["cost_uncertainty"]) * maize.cost_per_ha
    limits = [
        POLICY.revenue_share * revenue,
        POLICY.margin["share"] * margin,
        POLICY.input_cover * maize.cost_per_ha,
        POLICY.cap_per_ha * 1.0,
        POLICY.cap_household,
    ]
    step = POLICY.round_down_to
    assert row.expected_revenue == pytest.approx(revenue)
    assert row.input_cost == pytest.approx(maize.cost_per_ha)
    assert row.credit_line == math.floor(min(limits) / step) * step
    assert row.decision == "approve"
    months = (maize.harvest_month - AS_OF.month) % 12
    assert row.tenor_months == months + POLICY.grace_months
    assert row.currency == "CNY"


def test_columns_and_types() -> None:
    out = _size(make_estimates(4, 3))
    assert tuple(out.columns) == DECISION_COLUMNS
    assert out["owner_ref"].is_unique
    assert out["owner_ref"].is_monotonic_increasing
    assert str(out["tenor_months"].dtype) == "Int64"
    assert (out["n_parcels"] == 3).all()


def test_limits_json_lets_a_reader_redo_the_line() -> None:
    est = make_estimates(8, 3, seed=5)
    est.loc[[1, 5], "vigour_class"] = "poor"
    est.loc[[2], "n_clear_obs"] = 3
    est.loc[[4], "crop_mismatch"] = True
    out = _size(est, climate=0.3)
    for row in out.itertuples():
        lim = json.loads(row.limits)
        assert lim["limits"]["revenue"] == pytest.approx(
            lim["revenue_share"] * lim["revenue_after_haircuts"]
            + lim["subsidy_share"] * lim["subsidy_income"],
            abs=0.02,
        )
        assert lim["limits"]["input"] == pytest.approx(
            lim["input_cover"] * lim["input_cost_after_haircuts"], abs=0.02
        )
        raw = min(lim["limits"].values()) * lim["climate_factor"]
        assert raw == pytest.approx(lim["line_before_rounding"], abs=0.05)
        tenor = None if pd.isna(row.tenor_months) else int(row.tenor_months)
        assert lim["tenor"]["months"] == tenor
        assert lim["tenor"]["as_of"] == AS_OF.isoformat()
        if row.decision != "decline":
            step = lim["round_down_to"]
            assert row.credit_line == math.floor(lim["line_before_rounding"] / step) * step
        # the per-parcel numbers add up to the household's
        parts = [p for p in lim["parcels"] if "area_ha" in p]
        revenue = sum(p["area_ha"] * p["revenue_per_ha"] for p in parts)
        assert revenue == pytest.approx(lim["revenue"], rel=1e-3)
        cut = sum(p["area_ha"] * p["revenue_per_ha"] * p["haircut_factor"] for p in parts)
        assert cut == pytest.approx(lim["revenue_after_haircuts"], rel=1e-3)


def test_reasons_are_at_most_four_ordered_by_cut_in_two_languages() -> None:
    est = make_estimates(10, 4, seed=7)
    est.loc[::3, "vigour_class"] = "poor"
    est.loc[::5, "n_pixels"] = 2
    est.loc[::4, "cultivated_area_ha"] *= 0.5
    out = _size(est, climate=0.5)
    for row in out.itertuples():
        codes = json.loads(row.reason_codes)
        assert 1 <= len(codes) <= 4
        assert all(c in REASONS for c in codes)
        assert len(json.loads(row.reasons_en)) == len(codes)
        assert len(json.loads(row.reasons_zh)) == len(codes)
        cuts = [r["cut"] for r in json.loads(row.limits)["reasons"]]
        decisive = [REASONS[c].kind == "decision" for c in codes]
        plain = [c for c, d in zip(cuts, decisive, strict=True) if not d]
        assert plain == sorted(plain, reverse=True)


def test_area_reason_says_observed_of_declared() -> None:
    est = one_parcel(cultivated_area_ha=0.62, declared_area_ha=1.0)
    row = _size(est).iloc[0]
    assert "AREA_BELOW_DECLARED" in row.reason_codes
    assert "observed cultivated area 0.62 ha of 1.0 ha declared" in row.reasons_en
    assert "观测耕种面积 0.62 公顷" in row.reasons_zh


def test_no_usable_evidence_is_refer_never_a_silent_zero() -> None:
    est = make_estimates(1, 2, status="error")
    row = _size(est).iloc[0]
    assert row.decision == "refer"
    assert row.credit_line == 0
    assert json.loads(row.reason_codes) == ["NO_EVIDENCE"]
    assert "estimate failed" in row.reasons_en
    assert "人工" in row.reasons_zh
    assert pd.isna(row.tenor_months)


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("crop", None, "no crop estimate"),
        ("crop", "potato", "not in the policy"),
        ("yield_t_ha", np.nan, "no yield estimate"),
        ("cultivated_area_ha", np.nan, "no cultivated area"),
        ("cultivated_area_ha", -1.0, "negative cultivated area"),
        ("yield_t_ha", -2.0, "negative yield estimate"),
    ],
)
def test_each_missing_estimate_is_named(column: str, value: object, why: str) -> None:
    row = _size(one_parcel(**{column: value})).iloc[0]
    assert row.decision == "refer"
    assert why in row.reasons_en


def test_partial_evidence_counts_only_usable_parcels() -> None:
    est = make_estimates(1, 4, seed=2)
    full = _size(est).iloc[0]
    est.loc[0, "status"] = "error"
    part = _size(est).iloc[0]
    assert part.credit_line <= full.credit_line
    assert "PARTIAL_EVIDENCE" in part.reason_codes
    assert part.cultivated_area_ha == pytest.approx(est["cultivated_area_ha"][1:].sum())


def test_small_line_is_declined_with_its_reason() -> None:
    row = _size(one_parcel(cultivated_area_ha=0.05, declared_area_ha=0.05), NO_MARGIN).iloc[0]
    assert row.decision == "decline"
    assert row.credit_line == 0
    assert json.loads(row.reason_codes)[0] == "LINE_BELOW_MINIMUM"
    assert "below the minimum line 2,000 CNY" in row.reasons_en


def test_fallow_household_gets_no_line() -> None:
    row = _size(one_parcel(crop="fallow", declared_crop="fallow")).iloc[0]
    assert row.expected_revenue == 0
    assert row.decision == "decline"


def test_large_haircuts_are_referred() -> None:
    est = one_parcel(vigour_class="poor", n_clear_obs=2, crop_mismatch=True)
    row = _size(est, NO_MARGIN).iloc[0]
    assert row.decision == "refer"
    assert "LARGE_HAIRCUT" in row.reason_codes
    assert row.credit_line > 0  # the line stays as the proposal a person reviews


def test_double_crop_uses_per_harvest_yields_when_given() -> None:
    base = one_parcel(crop="winter_wheat_maize", declared_crop="winter_wheat_maize")
    base[["yield_t_ha", "yield_low", "yield_high"]] = [12.0, 9.0, 15.0]
    split = _size(base).iloc[0]
    wheat, maize = POLICY.harvests["winter_wheat"], POLICY.harvests["summer_maize"]
    share = wheat.reference_yield_t_ha / (wheat.reference_yield_t_ha + maize.reference_yield_t_ha)
    q, level = POLICY.yield_quantile, POLICY.yield_interval
    y = float(prudent_yield(12.0, 9.0, 15.0, quantile=q, interval=level))
    by_ref = y * (share * wheat.price_per_t + (1 - share) * maize.price_per_t)
    assert split.expected_revenue == pytest.approx(by_ref)
    # the columns of yield_models.estimate_yield: each harvest's own yield, the total's interval
    given_ = base.assign(
        harvest_s1="winter_wheat", yield_s1_t_ha=5.0, harvest_s2="summer_maize", yield_s2_t_ha=7.0
    )
    own = _size(given_).iloc[0]
    y1 = float(prudent_yield(5.0, 5.0 * 9 / 12, 5.0 * 15 / 12, quantile=q, interval=level))
    y2 = float(prudent_yield(7.0, 7.0 * 9 / 12, 7.0 * 15 / 12, quantile=q, interval=level))
    assert own.expected_revenue == pytest.approx(y1 * wheat.price_per_t + y2 * maize.price_per_t)
    assert own.input_cost == pytest.approx(wheat.cost_per_ha + maize.cost_per_ha)


@pytest.mark.parametrize(("month", "day"), [(1, 10), (3, 1), (6, 15), (7, 1), (11, 30)])
def test_tenor_runs_to_the_last_harvest_plus_grace(month: int, day: int) -> None:
    est = one_parcel(crop="winter_wheat_maize", declared_crop="winter_wheat_maize")
    est[["yield_t_ha", "yield_low", "yield_high"]] = [13.0, 11.0, 15.0]
    as_of = date(2024, month, day)
    row = size_households(est, POLICY, as_of=as_of).iloc[0]
    ahead = [
        ((h.harvest_month - month) % 12) or 12 for h in POLICY.harvests_of("winter_wheat_maize")
    ]
    expected = min(max(max(ahead) + POLICY.grace_months, POLICY.min_months), POLICY.max_months)
    assert row.tenor_months == expected


def test_subsidy_income_raises_a_revenue_bound_line_and_over_area_refers() -> None:
    est = one_parcel()
    owner = est.loc[0, "owner_ref"]
    subs = pd.DataFrame(
        {
            "scheme": ["耕地地力保护补贴"],
            "year": [2024],
            "owner_ref": [owner],
            "parcel_id": [est.loc[0, "parcel_id"]],
            "area_ha": [1.0],
            "amount": [1500.0],
            "currency": ["CNY"],
        }
    )
    without, with_ = _size(est).iloc[0], _size(est, subsidies=subs).iloc[0]
    assert with_.subsidy_income == 1500.0
    assert with_.credit_line >= without.credit_line
    assert json.loads(with_.limits)["limits"]["revenue"] == pytest.approx(
        json.loads(without.limits)["limits"]["revenue"] + POLICY.subsidy_share * 1500.0, abs=0.02
    )
    over = _size(est, subsidies=subs.assign(area_ha=3.0)).iloc[0]
    assert over.decision == "refer"
    assert "SUBSIDY_OVER_AREA" in over.reason_codes
    assert "3.0 ha is 3.00 times the observed cultivated area 1.0 ha" in over.reasons_en
    future = _size(est, subsidies=subs.assign(year=2025)).iloc[0]  # paid after as_of
    assert future.subsidy_income == 0
    with pytest.raises(TableReadError, match="USD"):
        _size(est, subsidies=subs.assign(currency="USD"))


def test_climate_per_household_and_out_of_range() -> None:
    est = make_estimates(3, 2)
    owners = sorted(est["owner_ref"].unique())
    out = _size(est, climate={owners[0]: 0.0, owners[1]: 1.0})
    assert out["climate_haircut"].tolist() == pytest.approx(
        [0.0, POLICY.haircuts["climate"], POLICY.haircuts["climate"]]  # missing -> the highest
    )
    whole = _size(est, climate={"risk_score": 0.5, "spi": -1.2})
    assert whole["climate_haircut"].tolist() == pytest.approx(
        [0.5 * POLICY.haircuts["climate"]] * 3
    )
    for bad in (1.5, -0.1, {owners[0]: 2.0}, {"risk_score": 1.2}):
        with pytest.raises(PolicyError, match="climate"):
            _size(est, climate=bad)  # type: ignore[arg-type]


def test_missing_columns_and_empty_input() -> None:
    with pytest.raises(TableReadError, match="cultivated_area_ha"):
        _size(make_estimates(1, 1).drop(columns="cultivated_area_ha"))
    empty = _size(make_estimates(1, 1).iloc[:0])
    assert empty.empty
    assert tuple(empty.columns) == DECISION_COLUMNS


def test_a_trust_haircut_without_its_flags_is_named_not_a_key_error() -> None:
    est = make_estimates(2, 2)
    est["trust_haircut"] = 0.3
    with pytest.raises(TableReadError, match="trust_flags"):
        _size(est)
    est["trust_flags"] = "claim_conflict"
    sized = _size(est)  # with both columns, the haircut's reason names its flags
    assert sized["reasons_en"].str.contains("claim_conflict").any()


def test_same_inputs_same_output_whatever_the_row_order() -> None:
    est = make_estimates(6, 3, seed=11)
    est.loc[2, "vigour_class"] = "poor"
    a = _size(est, climate=0.2)
    b = _size(est.sample(frac=1.0, random_state=3), climate=0.2)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, _size(est, climate=0.2))


# --- properties ---------------------------------------------------------------------------------

HOUSEHOLDS = st.integers(min_value=0, max_value=10_000)
FACTOR = st.floats(min_value=0.0, max_value=1.0)


def _lines(est: pd.DataFrame, policy: CreditPolicy = POLICY, **kw: object) -> np.ndarray:
    return _size(est, policy, **kw)["credit_line"].to_numpy(dtype=float)


def _raw_lines(est: pd.DataFrame, policy: CreditPolicy = POLICY, **kw: object) -> np.ndarray:
    out = _size(est, policy, **kw)
    return np.array([json.loads(s)["line_before_rounding"] for s in out["limits"]])


def _estimates(seed: int) -> pd.DataFrame:
    est = make_estimates(3, 3, seed=seed)
    rng = np.random.default_rng(seed)
    est["vigour_class"] = rng.choice(["poor", "normal", "good"], size=len(est))
    est["n_clear_obs"] = rng.integers(0, 30, size=len(est))
    est["crop_mismatch"] = rng.random(len(est)) < 0.2
    return est


@given(seed=HOUSEHOLDS, r1=FACTOR, r2=FACTOR)
@settings(max_examples=25, deadline=None)
def test_line_never_rises_when_risk_rises(seed: int, r1: float, r2: float) -> None:
    lo, hi = sorted((r1, r2))
    est = _estimates(seed)
    assert np.all(_lines(est, climate=hi) <= _lines(est, climate=lo))


@given(seed=HOUSEHOLDS, row=st.integers(0, 8), k=FACTOR)
@settings(max_examples=25, deadline=None)
def test_line_never_rises_when_area_falls(seed: int, row: int, k: float) -> None:
    """Always without the margin limit; with it, unless the parcel runs at a prudent loss.

    A parcel whose prudent cost exceeds its prudent revenue takes from the household's margin
    in proportion to its area: less of it leaves more margin (the loss is not incurred).
    """
    est = _estimates(seed)
    smaller = est.copy()
    smaller.loc[row, "cultivated_area_ha"] *= k
    assert np.all(_lines(smaller, NO_MARGIN) <= _lines(est, NO_MARGIN))
    out = _size(est)
    entry = {p["parcel_id"]: p for lim in out["limits"] for p in json.loads(lim)["parcels"]}[
        est.loc[row, "parcel_id"]
    ]
    if entry.get("revenue_per_ha", 0.0) >= entry.get("prudent_cost_per_ha", 0.0):
        assert np.all(_lines(smaller) <= out["credit_line"].to_numpy(dtype=float))


@given(seed=HOUSEHOLDS, row=st.integers(0, 8), k=FACTOR)
@settings(max_examples=25, deadline=None)
def test_line_never_rises_when_yield_falls(seed: int, row: int, k: float) -> None:
    est = _estimates(seed)
    lower = est.copy()
    lower.loc[row, ["yield_t_ha", "yield_low", "yield_high"]] *= k
    assert np.all(_lines(lower) <= _lines(est))


@given(
    seed=HOUSEHOLDS,
    key=st.sampled_from(
        [
            ("caps", "household"),
            ("caps", "per_area"),
            ("lending", "revenue_share"),
            ("lending", "input_cover"),
            ("subsidy", "share"),
        ]
    ),
    k=FACTOR,
)
@settings(max_examples=25, deadline=None)
def test_line_never_rises_when_a_cap_tightens(seed: int, key: tuple[str, str], k: float) -> None:
    section, name = key
    value = POLICY.to_dict()[section][name]
    tighter = POLICY.with_changes({section: {name: value * k}})
    est = _estimates(seed)
    assert np.all(_lines(est, tighter) <= _lines(est))


@given(seed=HOUSEHOLDS, k=st.floats(min_value=0.9, max_value=1.1))
@settings(max_examples=25, deadline=None)
def test_a_ten_percent_yield_error_moves_the_line_at_most_ten_percent(seed: int, k: float) -> None:
    """Without the margin limit; the margin (revenue less cost) moves more: see the next test."""
    est = _estimates(seed)
    off = est.copy()
    off[["yield_t_ha", "yield_low", "yield_high"]] *= k
    raw, raw_off = _raw_lines(est, NO_MARGIN), _raw_lines(off, NO_MARGIN)
    assert np.all(raw_off <= raw * max(1.0, k) + 0.02)  # the JSON keeps cents
    assert np.all(raw_off >= raw * min(1.0, k) - 0.02)
    # the final line: the same bound on the raw line plus one rounding step (each line is its
    # raw line rounded down, so within a step below it), unless min_line is crossed; the bound
    # is on the raw line, not the rounded one (found by a draw: 19,697.80 -> 20,902.25 raw at
    # k = 1.0611 rounds 19,600 -> 20,900, 1,300 apart, more than 6.11 % of 19,600 plus 100)
    line, line_off = _lines(est, NO_MARGIN), _lines(off, NO_MARGIN)
    crossed = (line == 0) != (line_off == 0)
    step = NO_MARGIN.round_down_to
    assert np.all(crossed | (np.abs(line_off - line) <= abs(k - 1) * raw + step + 0.02))


@given(seed=HOUSEHOLDS, risk=FACTOR)
@settings(max_examples=10, deadline=None)
def test_same_inputs_same_line_and_reasons(seed: int, risk: float) -> None:
    est = _estimates(seed)
    pd.testing.assert_frame_equal(_size(est, climate=risk), _size(est.copy(), climate=risk))


def test_low_yield_compares_the_central_estimate_with_the_reference() -> None:
    ref = POLICY.harvests["maize"].reference_yield_t_ha
    normal = _size(one_parcel(yield_t_ha=ref, yield_low=0.6 * ref, yield_high=1.4 * ref)).iloc[0]
    assert "LOW_YIELD" not in normal.reason_codes  # a wide interval alone is no low yield
    low = 0.5 * ref
    row = _size(one_parcel(yield_t_ha=low, yield_low=0.8 * low, yield_high=1.2 * low)).iloc[0]
    assert "LOW_YIELD" in row.reason_codes
    assert (
        f"expected maize yield {low:.1f} t/ha is 50% below the county reference" in row.reasons_en
    )
    county = _size(
        one_parcel(yield_t_ha=low, yield_low=0.8 * low, yield_high=1.2 * low),
        reference_yields={"maize": low},
    ).iloc[0]
    assert "LOW_YIELD" not in county.reason_codes


@given(seed=HOUSEHOLDS, k=st.floats(min_value=0.9, max_value=1.1))
@settings(max_examples=25, deadline=None)
def test_with_the_margin_limit_a_yield_error_moves_the_line_the_same_way(
    seed: int, k: float
) -> None:
    """The margin limit is leveraged (revenue less cost), but never moves against the yields."""
    est = _estimates(seed)
    off = est.copy()
    off[["yield_t_ha", "yield_low", "yield_high"]] *= k
    raw, raw_off = _raw_lines(est), _raw_lines(off)
    if k >= 1:
        assert np.all(raw_off >= raw - 0.02)
    else:
        assert np.all(raw_off <= raw + 0.02)


def test_margin_limit_binds_where_costs_eat_the_revenue() -> None:
    est = one_parcel()
    cheap = _size(est.assign(cost_per_ha=4000.0)).iloc[0]
    dear = _size(est.assign(cost_per_ha=7000.0)).iloc[0]
    assert json.loads(dear.limits)["binding"] == "margin"
    assert dear.credit_line < cheap.credit_line
    assert "MARGIN_LIMIT" in dear.reason_codes
    # a cost model's own prudent cost replaces (1 + cost_uncertainty) x cost
    own = _size(est.assign(cost_per_ha=7000.0, cost_high_per_ha=7000.0)).iloc[0]
    lim = json.loads(own.limits)
    assert lim["prudent_cost_after_haircuts"] == pytest.approx(7000.0)


def test_rent_is_a_cost_of_the_margin() -> None:
    est = one_parcel()
    free = json.loads(_size(est).iloc[0].limits)
    rented = _size(est.assign(rented=True, rent_per_year=1500.0)).iloc[0]
    lim = json.loads(rented.limits)
    expected = free["limits"]["margin"] - POLICY.margin["share"] * 1500.0
    assert lim["limits"]["margin"] == pytest.approx(expected, abs=0.02)
    assert "RENTED_LAND" in rented.reason_codes
