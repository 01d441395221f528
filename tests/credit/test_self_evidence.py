"""The farmer's own evidence: photos placed in their parcel and season, receipts, contradictions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import box

from agrilend.credit import CreditExtras, load_policy, read_own_evidence, size_with_extras
from tests.credit.builders import one_parcel

POLICY = load_policy()
AS_OF = date(2024, 10, 1)
CRS = "EPSG:32650"


def _parcels() -> gpd.GeoDataFrame:
    est = one_parcel(cultivated_area_ha=2.0, declared_area_ha=2.0)
    return gpd.GeoDataFrame(est, geometry=[box(500_000, 4_200_000, 500_100, 4_200_200)], crs=CRS)


def _dms(v: float) -> tuple[float, float, float]:
    d = int(v)
    m = int((v - d) * 60)
    return (float(d), float(m), round((v - d - m / 60) * 3600, 4))


def _photo(path: Path, x: float, y: float, stamp: str) -> None:
    pt = gpd.GeoSeries(gpd.points_from_xy([x], [y]), crs=CRS).to_crs("EPSG:4326").iloc[0]
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: _dms(pt.y), 3: "E", 4: _dms(pt.x)}
    exif[306] = stamp
    exif[0x010F] = "PhoneMaker"  # camera make: never read
    exif[0x013B] = "Zhang San"  # the artist's name: never read
    Image.new("RGB", (8, 8), (int(x) % 255, 90, 40)).save(path, exif=exif)


def _manifest(tmp_path: Path, rows: list[str]) -> Path:
    p = tmp_path / "evidence.csv"
    p.write_text("owner_id,kind,parcel_id,date,crop,amount,file\n" + "\n".join(rows) + "\n")
    return p


def _size(parcels: gpd.GeoDataFrame, evidence: pd.DataFrame | None) -> pd.Series:
    r = size_with_extras(parcels, POLICY, CreditExtras(evidence=evidence), as_of=AS_OF)
    return r.households.iloc[0]


def test_photo_inside_its_parcel_in_season_raises_the_line(tmp_path: Path) -> None:
    gdf = _parcels()
    owner = gdf.loc[0, "owner_ref"]
    _photo(tmp_path / "a.jpg", 500_050, 4_200_100, "2024:07:15 09:00:00")
    ev = read_own_evidence(_manifest(tmp_path, [f"{owner},photo,P00000,,,,a.jpg"]))
    base, raised = _size(gdf, None), _size(gdf, ev)
    share = POLICY.evidence["photo_raise"]
    assert raised.credit_line >= base.credit_line
    lim = json.loads(raised.limits)
    assert lim["evidence_raise"] == pytest.approx(share)
    assert lim["evidence_items"][0]["verdict"] == "verified"
    assert "OWN_EVIDENCE" in raised.reason_codes or raised.credit_line - base.credit_line < 100


@pytest.mark.parametrize(
    ("x", "stamp", "counter"),
    [(500_400, "2024:07:15 09:00:00", "outside"), (500_050, "2022:07:15 09:00:00", "season")],
)
def test_contradicting_photo_lowers_trust_and_refers(
    tmp_path: Path, x: float, stamp: str, counter: str
) -> None:
    gdf = _parcels()
    owner = gdf.loc[0, "owner_ref"]
    _photo(tmp_path / "a.jpg", x, 4_200_100, stamp)
    ev = read_own_evidence(_manifest(tmp_path, [f"{owner},photo,P00000,,,,a.jpg"]))
    base, cut = _size(gdf, None), _size(gdf, ev)
    assert cut.credit_line < base.credit_line
    assert cut.decision == "refer"
    assert "OWN_EVIDENCE_CONTRADICTS" in cut.reason_codes
    assert json.loads(cut.limits)["evidence_cut"] == pytest.approx(
        POLICY.evidence["contradiction_cut"]
    )
    assert counter in cut.reasons_en


def test_receipts_raise_in_proportion_capped_and_wrong_crop_contradicts(tmp_path: Path) -> None:
    gdf = _parcels()
    owner = gdf.loc[0, "owner_ref"]
    small = read_own_evidence(_manifest(tmp_path, [f"{owner},receipt,,2023-10-05,maize,1000,"]))
    huge = read_own_evidence(_manifest(tmp_path, [f"{owner},receipt,,2023-10-05,maize,900000,"]))
    wrong = read_own_evidence(_manifest(tmp_path, [f"{owner},receipt,,2023-10-05,cotton,1000,"]))
    base = _size(gdf, None)
    lim_small, lim_huge = (json.loads(_size(gdf, e).limits) for e in (small, huge))
    expected = POLICY.evidence["receipt_share"] * 1000 / base.credit_line
    assert lim_small["evidence_raise"] == pytest.approx(expected, abs=1e-4)  # the JSON keeps 4
    assert lim_huge["evidence_raise"] == pytest.approx(POLICY.evidence["receipt_max"])
    assert _size(gdf, wrong).decision == "refer"


def test_all_raises_together_are_capped(tmp_path: Path) -> None:
    gdf = _parcels()
    owner = gdf.loc[0, "owner_ref"]
    rows = [
        f"{owner},receipt,,2023-10-05,maize,900000,",
        f"{owner},contract,,2024-05-05,maize,900000,",
        f"{owner},loan_repaid,,2023-12-01,,,",
    ]
    lim = json.loads(_size(gdf, read_own_evidence(_manifest(tmp_path, rows))).limits)
    assert lim["evidence_raise"] == pytest.approx(POLICY.evidence["max_total_raise"])


def test_nothing_that_identifies_a_person_is_kept(tmp_path: Path) -> None:
    gdf = _parcels()
    _photo(tmp_path / "a.jpg", 500_050, 4_200_100, "2024:07:15 09:00:00")
    ev = read_own_evidence(
        _manifest(tmp_path, ["130100199001010011,photo,P00000,,,,a.jpg"]), key="k"
    )
    r = size_with_extras(gdf, POLICY, CreditExtras(evidence=ev), as_of=AS_OF)
    text = ev.to_csv() + r.households.to_csv() + r.evidence_items.to_csv()
    for personal in ("130100199001010011", "Zhang San", "PhoneMaker"):
        assert personal not in text
    assert set(ev.columns) == {
        "owner_ref",
        "kind",
        "parcel_id",
        "crop",
        "amount",
        "date",
        "lat",
        "lon",
        "digest",
    }
