"""The event rules on hand-made series: each kind fires on its pattern, on time, and causally."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agrilend.monitor.events import EventRules, detect_events

TIMES = pd.date_range("2025-05-01", periods=20, freq="5D")
N = 12


def _book(crop: str = "maize") -> pd.DataFrame:
    return pd.DataFrame({
        "parcel_id": [f"P{i}" for i in range(N)], "owner_ref": [f"H-{i:012d}" for i in range(N)],
        "crop": crop, "level": 1.0, "x": np.arange(N) * 1000.0, "y": 0.0,
    })  # fmt: skip


def _curve() -> np.ndarray:
    doy = np.arange(len(TIMES), dtype=float)
    return 0.15 + 0.65 / (1 + np.exp(-(doy - 5) / 1.5))


def _season() -> np.ndarray:
    """Twelve maize fields greening from mid-May to a plateau of 0.8, a little noise."""
    rng = np.random.default_rng(0)
    return _curve()[None, :] + rng.normal(0, 0.01, (N, len(TIMES)))


def _normal() -> np.ndarray:
    """The normal amplitude: the same curve (NaN while it changes fast, as the real one)."""
    amp = np.tile(_curve() - 0.15, (N, 1))
    amp[:, :8] = np.nan
    return amp


def test_a_failed_field_among_green_peers_is_a_failure_within_a_week() -> None:
    x = _season()
    x[0, 12:] = 0.16  # the crop dies between image 11 and 12
    ev = detect_events(x, TIMES, _book(), normal=_normal())
    fail = ev[(ev["kind"] == "failure")]
    assert fail["parcel_id"].tolist() == ["P0"]
    assert pd.Timestamp(fail["date"].iloc[0]) == TIMES[12]  # bare soil needs one look
    assert fail["evidence"].iloc[0]["ratio_to_peers"] < 0.1


def test_a_dip_on_one_date_is_not_an_event() -> None:
    x = _season()
    x[3, 14] = 0.45  # a missed cloud edge: once
    ev = detect_events(x, TIMES, _book(), normal=_normal())
    assert "P3" not in set(ev["parcel_id"])


def test_drought_needs_dry_weather_and_low_vigour_against_normal() -> None:
    x = _season()
    x[:, 12:] = 0.15 + (x[:, 12:] - 0.15) * 0.6  # everyone 40 % below normal
    wet = detect_events(x, TIMES, _book(), normal=_normal(), dry=np.zeros(len(TIMES), bool))
    assert not (wet["kind"] == "drought").any()
    dry = np.arange(len(TIMES)) >= 10
    ev = detect_events(x, TIMES, _book(), normal=_normal(), dry=dry,
                       spi=np.where(dry, -2.0, 0.0))  # fmt: skip
    drought = ev[ev["kind"] == "drought"]
    assert len(drought) == N
    assert set(pd.to_datetime(drought["date"])) == {TIMES[12]}  # area-wide: one look suffices
    assert drought["evidence"].iloc[0]["spi_60d"] == pytest.approx(-2.0)


def test_late_sowing_and_hail_over_neighbours() -> None:
    x = _season()
    x[1, :10] = 0.16  # not green while peers are, then greens late
    x[1, 10:] = _season()[1, 4:14]
    x[4:7, 15:] = 0.15 + (x[4:7, 15:] - 0.15) * 0.4  # three neighbours lose 60 % at once
    book = _book()
    book.loc[4:6, "x"] = [0.0, 100.0, 200.0]
    book.loc[0:3, "x"] = [5000.0, 6000.0, 7000.0, 8000.0]
    ev = detect_events(x, TIMES, book, normal=_normal())
    late = ev[ev["kind"] == "late_sowing"]
    assert late["parcel_id"].tolist() == ["P1"]
    hail = ev[ev["kind"] == "hail"].sort_values("parcel_id")
    assert hail["parcel_id"].tolist() == ["P4", "P5", "P6"]
    assert set(hail["extent"]) == {"area"}
    assert set(pd.to_datetime(hail["date"])) == {TIMES[16]}  # confirmed by a second image


def test_events_are_causal_a_shorter_season_finds_the_same_early_events() -> None:
    x = _season()
    x[0, 12:] = 0.16
    x[2, 8:] = 0.15 + (x[2, 8:] - 0.15) * 0.4
    full = detect_events(x, TIMES, _book(), normal=_normal())
    part = detect_events(x[:, :15], TIMES[:15], _book(), normal=_normal()[:, :15])
    early = full[pd.to_datetime(full["date"]) <= TIMES[14]]
    cols = ["parcel_id", "kind", "date"]
    pd.testing.assert_frame_equal(
        part[cols].reset_index(drop=True), early[cols].reset_index(drop=True)
    )


def test_rules_thresholds_change_what_fires() -> None:
    x = _season()
    x[0, 12:] = 0.15 + (x[0, 12:] - 0.15) * 0.35  # a 65 % loss: not bare soil
    strict = detect_events(x, TIMES, _book(), normal=_normal(), rules=EventRules(failure_ratio=0.2))
    loose = detect_events(x, TIMES, _book(), normal=_normal(), rules=EventRules(failure_ratio=0.4))
    assert "failure" not in set(strict["kind"])
    assert loose.loc[loose["kind"] == "failure", "parcel_id"].tolist() == ["P0"]


def test_dates_the_weather_does_not_reach_fall_back_on_the_area_rule() -> None:
    x = _season()
    x[:, 12:] = 0.15 + (x[:, 12:] - 0.15) * 0.6
    unknown = np.full(len(TIMES), np.nan)
    ev = detect_events(x, TIMES, _book(), normal=_normal(), dry=unknown)
    assert (ev["kind"] == "drought").sum() == N  # everyone low at once: area-wide
    x2 = _season()
    x2[0, 12:] = 0.15 + (x2[0, 12:] - 0.15) * 0.6  # one field alone, weather unknown
    alone = detect_events(x2, TIMES, _book(), normal=_normal(), dry=unknown)
    assert not (alone["kind"] == "drought").any()
