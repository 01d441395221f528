"""A January-April cube of the sample county approves nothing confidently (issue 15)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agrilend.pipeline import assess


@pytest.fixture(scope="module")
def early(sample_inputs):
    """The whole path on 60 titles of the sample county, with imagery of January-April only."""
    titles = sample_inputs.titles.iloc[:60]
    x0, y0, x1, y1 = titles.to_crs(sample_inputs.cube.rio.crs).total_bounds
    cube = sample_inputs.cube.sel(time=slice("2024-01-01", "2024-04-30"))
    cube = cube.rio.clip_box(x0 - 50, y0 - 50, x1 + 50, y1 + 50)
    return assess(
        cube,
        titles,
        weather=sample_inputs.weather,
        subsidies=sample_inputs.subsidies,
        policy=sample_inputs.policy,
        county_yields=sample_inputs.county_yields,
    )


def test_every_usable_parcel_is_early_season_without_a_confident_crop(early) -> None:
    parcels = early.parcels
    usable = parcels["status"] != "error"
    assert usable.sum() > 30
    assert parcels.loc[usable, "early_season"].all()
    assert parcels.loc[usable, "crop_confidence"].isna().all()
    assert all("early_season" in f for f in parcels.loc[usable, "quality_flags"])
    assert parcels.loc[usable, "unseen_seasons"].str.contains("summer_maize").all()


def test_no_household_is_approved(early) -> None:
    households = early.households
    assert len(households) > 5
    assert "approve" not in set(households["decision"])
    referred = households[households["decision"] == "refer"]
    assert len(referred) > 0
    codes = [set(json.loads(c)) for c in referred["reason_codes"]]
    with_lines = referred["credit_line"].to_numpy() > 0
    assert all("EARLY_SEASON_REFER" in c for c, w in zip(codes, with_lines, strict=True) if w)
    assert np.isfinite(households["credit_line"]).all()


@pytest.mark.parametrize(
    ("lang", "badge", "reason"),
    [("en", "early season", "crop season"), ("zh", "早季", "作物生长季")],
)
def test_the_report_shows_badge_and_reason(early, lang: str, badge: str, reason: str) -> None:
    from agrilend.report import render_report  # noqa: PLC0415  (heavy; only this test)

    owner = str(early.households.loc[early.households["decision"] == "refer", "owner_ref"].iloc[0])
    html = str(render_report(early, owner, lang=lang))  # type: ignore[arg-type]
    assert 'data-flag="early_season"' in html
    assert badge in html
    assert reason in html
