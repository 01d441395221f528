"""Season coverage: a crop season the imagery cannot see makes a parcel early-season, and the
policy decides what it gets (refer, or a haircut), never a confident line."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from agrilend.credit import load_policy, size_households
from agrilend.credit.season import imagery_seasons, season_coverage
from agrilend.errors import PolicyError
from tests.credit.builders import one_parcel

POLICY = load_policy()
AS_OF = date(2024, 5, 1)
JAN_APR = pd.date_range("2024-01-03", "2024-04-28", freq="5D")
FULL = pd.date_range("2024-01-03", "2024-12-28", freq="5D")


def test_a_january_to_april_cube_cannot_see_the_summer_seasons() -> None:
    clear = np.ones((3, len(JAN_APR)), bool)
    early, unseen = season_coverage(JAN_APR, clear, POLICY)
    assert early.all()
    for text in unseen:
        assert "summer_maize (Jul-Oct)" in text
        assert "winter_wheat" not in text  # green-up (March) and April are seen
    assert "summer_maize" in imagery_seasons(JAN_APR, np.ones(len(JAN_APR)), POLICY)


def test_a_full_season_is_seen_unless_clouds_hide_it() -> None:
    clear = np.ones((2, len(FULL)), bool)
    summer = (FULL.month >= 7) & (FULL.month <= 10)
    clear[1, summer] = False  # a parcel under cloud all summer
    early, unseen = season_coverage(FULL, clear, POLICY)
    assert early.tolist() == [False, True]
    assert unseen[0] == ""
    assert "summer_maize" in unseen[1]


def test_min_clear_obs_is_the_policys() -> None:
    clear = np.zeros((1, len(FULL)), bool)
    for h in {h for hs in POLICY.crops.values() for h in hs}:
        months = POLICY.harvests[h].season_months
        clear[0, np.flatnonzero(np.isin(FULL.month, months))[:1]] = True  # one per season
    assert season_coverage(FULL, clear, POLICY)[0][0]  # 1 < min_clear_obs = 2
    lenient = POLICY.with_changes({"season": {"min_clear_obs": 1}})
    assert not season_coverage(FULL, clear, lenient)[0][0]


def test_the_season_table_is_validated() -> None:
    assert POLICY.season["early_season"] == "refer"
    with pytest.raises(PolicyError, match=r"season\.early_season"):
        POLICY.with_changes({"season": {"early_season": "approve"}})
    with pytest.raises(PolicyError, match=r"season\.early_season_haircut"):
        POLICY.with_changes({"season": {"early_season_haircut": 1.5}})
    with pytest.raises(PolicyError, match="season_start_month"):
        POLICY.with_changes({"harvests": {"maize": {"season_start_month": 13}}})


def test_refer_policy_refers_an_early_season_household_with_its_reason() -> None:
    seen = size_households(one_parcel(), POLICY, as_of=AS_OF).iloc[0]
    assert seen.decision == "approve"
    early = size_households(one_parcel(early_season=True), POLICY, as_of=AS_OF).iloc[0]
    assert early.decision == "refer"
    assert "EARLY_SEASON_REFER" in json.loads(early.reason_codes)
    assert any("作物生长季" in r for r in json.loads(early.reasons_zh))
    assert early.credit_line == seen.credit_line  # the proposal is kept for the person


def test_haircut_policy_cuts_the_early_season_value() -> None:
    policy = POLICY.with_changes(
        {"season": {"early_season": "haircut", "early_season_haircut": 0.5}}
    )
    # 3 ha: half the line stays above the minimum line under the margin limit (issue 20)
    big = {"cultivated_area_ha": 3.0, "declared_area_ha": 3.0}
    seen = size_households(one_parcel(**big), policy, as_of=AS_OF).iloc[0]
    early = size_households(one_parcel(early_season=True, **big), policy, as_of=AS_OF).iloc[0]
    assert early.credit_line < seen.credit_line
    assert early.credit_line == pytest.approx(0.5 * seen.credit_line, abs=policy.round_down_to)
    assert "EARLY_SEASON" in json.loads(early.reason_codes)
