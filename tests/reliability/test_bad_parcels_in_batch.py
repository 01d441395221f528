"""One batch, many bad parcels mixed into good ones: every bad one is a row, the batch goes on.

The small seeded county (35 titles) gets empty, non-finite, off-imagery, sub-pixel, sliver,
self-intersecting, 3D, mixed and non-polygonal geometries, duplicate ids and odd attributes
interleaved with its good titles; :func:`agrilend.pipeline.assess` must never raise, give each bad
parcel the status its defect calls for with a message, and still estimate the good parcels.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability._builders import bad_parcels

_BOUNDS = (0.0, 0.0, 600.0, 600.0)  # only the names matter at collection time
BAD_IDS = [f"BAD-{n}" for n in bad_parcels(_BOUNDS)] + [
    "BAD-duplicate_id",
    "BAD-negative_declared_area",
    "BAD-nan_declared_area",
    "BAD-absurd_declared_area",
    "BAD-unknown_declared_crop",
    "BAD-empty_owner",
]


def test_every_title_is_a_row(mixed_batch: Any) -> None:
    result, titles, _ = mixed_batch
    assert len(result.parcels) == len(titles)
    assert list(result.parcels["parcel_id"]) == list(titles["parcel_id"])
    assert set(result.parcels["status"]) <= {"ok", "flagged", "error"}


@pytest.mark.parametrize("pid", BAD_IDS)
def test_bad_parcel_gets_a_status_and_a_message(mixed_batch: Any, pid: str) -> None:
    result, _, expected = mixed_batch
    rows = result.parcels[result.parcels["parcel_id"] == pid]
    assert len(rows) >= 1
    for row in rows.itertuples(index=False):
        assert row.status in expected[pid], (pid, row.status, row.message)
        if row.status != "ok":
            assert str(row.message).strip(), pid
        if row.status == "error":
            # an unusable parcel never carries an estimate
            assert row.yield_t_ha != row.yield_t_ha or row.yield_t_ha is None  # NaN or None


def test_good_parcels_get_estimates(mixed_batch: Any) -> None:
    result, _, _ = mixed_batch
    good = result.parcels[~result.parcels["parcel_id"].astype(str).str.startswith("BAD-")]
    assert len(good) > 0
    assert (good["status"] != "error").all()
    assert good["crop"].notna().all()
    assert good["cultivated_area_ha"].notna().all()
    assert good["yield_t_ha"].notna().mean() >= 0.9


def test_every_household_gets_a_decision(mixed_batch: Any) -> None:
    result, titles, _ = mixed_batch
    hh = result.households
    assert set(hh["owner_ref"]) >= set(titles["owner_ref"]) - {""}
    assert set(hh["decision"]) <= {"approve", "refer", "decline"}
    # the household holding only bad parcels is not approved on no evidence
    bad_only = hh[hh["owner_ref"] == "H-bad000000000"]
    assert len(bad_only) == 1
    assert bad_only["decision"].iloc[0] != "approve"
