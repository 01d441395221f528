"""Credit records beyond the crop for the sample county: prices, transfers, insurance, own evidence.

Drawn with their own seeded generator (:data:`SEED`) from the titles and truth the county
generator already wrote, so the county's other files are unchanged. Written by
:func:`write_credit_records`:

- ``prices.csv``: monthly farm-gate prices 2019-01 .. 2024-12 of every harvest of the default
  policy at two markets, around the policy's price with a harvest-season dip, a slow trend and
  noise (maize drifts down, as it did after 2021);
- ``transfers.csv``: land-transfer contracts (rent per mu, five-year terms): tenants that hold
  titles of their own, two tenants that hold none (rented land only), an expired contract, a
  title let to two tenants at once, and a title whose holder still insures it;
- ``insurance.csv``: crop-insurance records for about 40 % of households, per parcel, as
  declared; misdeclared parcels are insured as declared (they contradict the imagery) and a few
  households insure 2.5 times their area;
- ``own_evidence/evidence.csv`` with geotagged JPEGs (16 x 16 px): photos inside their parcel in
  the season, two outside their parcel, one of an earlier season; sales receipts, purchase
  contracts (one for a crop not grown), earlier loans repaid;
- ``truth_credit_records.csv``: per planted case, the file, the parcel or household and the kind.

Owner codes are the registry's (synthetic) codes, as in ``subsidies.csv``: the readers replace
them with pseudonyms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.credit.policy import load_policy

#: Seed of these records' own generator (the county's other files do not use it).
SEED = 20241215
#: Files :func:`write_credit_records` writes (photos besides).
CREDIT_FILES = (
    "prices.csv",
    "transfers.csv",
    "insurance.csv",
    "own_evidence/evidence.csv",
    "truth_credit_records.csv",
)
_MARKETS = ("石家庄", "衡水")
_TREND = {"maize": -0.04, "summer_maize": -0.04, "winter_wheat": -0.01, "soybean": -0.02}


def make_prices(rng: np.random.Generator) -> pd.DataFrame:
    """Monthly prices per harvest and market, in the policy's units (CNY/kg)."""
    policy = load_policy()
    months = pd.date_range("2019-01-01", "2024-12-01", freq="MS")
    rows: list[dict[str, Any]] = []
    for name, h in policy.harvests.items():
        base = h.price_per_t / 1000.0
        dist = np.minimum(
            (months.month - h.harvest_month) % 12, (h.harvest_month - months.month) % 12
        )
        dip = np.where(dist <= 1, -0.04, 0.0)  # sold at harvest: the cheapest months
        years = (months - pd.Timestamp("2024-06-01")).days.to_numpy() / 365.25
        trend = _TREND.get(name, 0.0) * years
        for k, market in enumerate(_MARKETS):
            noise = rng.normal(0, 0.05, len(months))
            price = base * np.exp(trend + dip + noise + 0.01 * k)
            rows += [
                {
                    "harvest": name,
                    "market": market,
                    "month": m.strftime("%Y-%m"),
                    "price": round(float(p), 2),
                    "unit": "CNY/kg",
                }
                for m, p in zip(months, price, strict=True)
            ]
    return pd.DataFrame(rows)


def make_transfers(
    titles: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict[str, str]], str]:
    """Contracts, their planted cases and the parcel whose holder still insures it."""
    owners = titles["CBFBM"].astype(str)
    counts = owners.value_counts()
    holders = sorted(counts[counts >= 2].index)
    picked = rng.choice(holders, size=min(12, len(holders)), replace=False)
    tenants_big = [o for o in sorted(counts.index) if o not in set(picked)]
    outsiders = ["131199109900010001", "131199109900010002"]  # hold no title: rented land only
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, str]] = []
    for k, holder in enumerate(picked):
        pid = str(titles.loc[owners == holder, "DKBM"].iloc[0])
        mu = float(titles.loc[titles["DKBM"] == pid, "HTMJM"].iloc[0])
        tenant = outsiders[k] if k < 2 else str(tenants_big[int(rng.integers(len(tenants_big)))])
        start, end = "2022-10-01", "2027-09-30"
        kind = "rented_out"
        if k == 2:
            start, end, kind = "2018-10-01", "2023-09-30", "expired"
        rows.append(
            {
                "parcel_id": pid,
                "holder_id": holder,
                "tenant_id": tenant,
                "rent_per_mu": int(rng.integers(6, 11)) * 100,
                "area_mu": mu,
                "start": start,
                "end": end,
            }
        )
        if k == 3:  # the same title let to a second tenant
            other = str(tenants_big[int(rng.integers(len(tenants_big)))])
            rows.append({**rows[-1], "tenant_id": other, "start": "2023-10-01"})
            kind = "two_tenants"
        truth.append(
            {
                "file": "transfers.csv",
                "parcel_id": pid,
                "holder_id": holder,
                "case": kind if k != 4 else "holder_still_insures",
            }
        )
    still_insured = truth[4]["parcel_id"] if len(truth) > 4 else ""
    return pd.DataFrame(rows), truth, still_insured


def make_insurance(
    titles: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    rng: np.random.Generator,
    still_insured: str,
    let_out: set[str],
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Per-parcel insurance records of about 40 % of households, as declared.

    Titles let out (``let_out``) are not insured by their holders, but for ``still_insured``.
    """
    owners = sorted(titles["CBFBM"].astype(str).unique())
    insured = set(rng.choice(owners, size=int(0.4 * len(owners)), replace=False).tolist())
    double = set(rng.choice(sorted(insured), size=min(3, len(insured)), replace=False).tolist())
    t = truth.set_index(truth["parcel_id"].astype(str))
    rows: list[dict[str, Any]] = []
    cases: list[dict[str, str]] = []
    for r in titles.itertuples():
        owner, pid = str(r.CBFBM), str(r.DKBM)
        if pid != still_insured and (owner not in insured or pid in let_out):
            continue
        if r.ZZZW in ("fallow", "greenhouse"):
            continue
        mu = float(r.HTMJM) * (2.5 if owner in double else 1.0)
        rows.append(
            {
                "year": 2024,
                "owner_id": owner,
                "parcel_id": pid,
                "crop": str(r.ZZZW),
                "insured_area_mu": round(mu, 2),
                "sum_insured": round(mu * 500, 2),
            }
        )
        if bool(t.loc[pid, "misdeclared"]):
            cases.append(
                {
                    "file": "insurance.csv",
                    "parcel_id": pid,
                    "holder_id": owner,
                    "case": "insured_as_declared_not_as_grown",
                }
            )
    cases += [
        {
            "file": "insurance.csv",
            "parcel_id": "",
            "holder_id": o,
            "case": "insured_2.5_times_the_area",
        }
        for o in sorted(double)
    ]
    return pd.DataFrame(rows), cases


def _photo(path: Path, lon: float, lat: float, stamp: str, shade: int) -> None:
    from PIL import Image  # noqa: PLC0415

    def dms(v: float) -> tuple[float, float, float]:
        d = int(v)
        m = int((v - d) * 60)
        return (float(d), float(m), round((v - d - m / 60) * 3600, 3))

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    exif[306] = stamp
    Image.new("RGB", (16, 16), (60, 100 + shade % 100, 40)).save(path, exif=exif, quality=70)


def make_own_evidence(
    titles: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    rng: np.random.Generator,
    folder: Path,
    holders: set[str],
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The evidence manifest, writing its photos into ``folder``; ``holders`` (who let land
    out) present none."""
    folder.mkdir(parents=True, exist_ok=True)
    grown = truth.set_index(truth["parcel_id"].astype(str))
    owners = sorted(set(titles["CBFBM"].astype(str)) - holders)
    chosen = rng.choice(owners, size=min(16, len(owners)), replace=False)
    cent = titles.geometry.centroid
    wgs = gpd.GeoSeries(cent, crs=titles.crs).to_crs("EPSG:4326")
    rows: list[dict[str, Any]] = []
    cases: list[dict[str, str]] = []
    for k, owner in enumerate(chosen):
        mine = np.flatnonzero(titles["CBFBM"].astype(str).to_numpy() == owner)
        for j in mine[:2]:
            pid = str(titles["DKBM"].iloc[j])
            lon, lat, stamp, case = (
                wgs.iloc[j].x,
                wgs.iloc[j].y,
                f"2024:07:1{k % 9} 09:30:00",
                "photo_in_parcel",
            )
            if k in (0, 1) and j == mine[0]:
                lat += 0.004  # about 440 m north: not this parcel
                case = "photo_outside_parcel"
            if k == 2 and j == mine[0]:
                stamp, case = "2021:07:12 09:30:00", "photo_out_of_season"
            name = f"p{k:02d}_{int(j):03d}.jpg"
            _photo(folder / name, lon, lat, stamp, shade=k * 7 + int(j))
            rows.append(
                {
                    "owner_id": owner,
                    "kind": "photo",
                    "parcel_id": pid,
                    "date": "",
                    "crop": "",
                    "amount": "",
                    "file": name,
                }
            )
            cases.append(
                {"file": f"own_evidence/{name}", "parcel_id": pid, "holder_id": owner, "case": case}
            )
        crop = str(grown.loc[str(titles["DKBM"].iloc[mine[0]]), "true_crop"])
        harvest = {"winter_wheat_maize": "winter_wheat"}.get(crop, crop)
        if crop == "fallow":
            continue
        area = float(titles["HTMJM"].iloc[mine].sum()) / 15.0
        if k % 2 == 0:
            rows.append(
                {
                    "owner_id": owner,
                    "kind": "receipt",
                    "parcel_id": "",
                    "date": "2023-10-08",
                    "crop": harvest,
                    "amount": round(area * 9000 * rng.uniform(0.8, 1.1), -1),
                    "file": "",
                }
            )
        if k % 3 == 0:
            wrong = "cotton" if crop != "cotton" else "peanut"
            c = wrong if k == 3 else harvest
            rows.append(
                {
                    "owner_id": owner,
                    "kind": "contract",
                    "parcel_id": "",
                    "date": "2024-04-20",
                    "crop": c,
                    "amount": round(area * 8000, -1),
                    "file": "",
                }
            )
            if k == 3:
                cases.append(
                    {
                        "file": "own_evidence/evidence.csv",
                        "parcel_id": "",
                        "holder_id": owner,
                        "case": "contract_for_a_crop_not_grown",
                    }
                )
        if k % 4 == 1:
            rows.append(
                {
                    "owner_id": owner,
                    "kind": "loan_repaid",
                    "parcel_id": "",
                    "date": "2023-12-15",
                    "crop": "",
                    "amount": "",
                    "file": "",
                }
            )
    return pd.DataFrame(rows), cases


def write_credit_records(out_dir: str | Path, *, seed: int = SEED) -> dict[str, Path]:
    """Write the credit records of the county in ``out_dir`` (its titles and truth must exist).

    Returns the written files by name (photos not listed).
    """
    out = Path(out_dir)
    titles = gpd.read_file(out / "titles.gpkg")
    truth = pd.read_csv(out / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    rng = np.random.default_rng(seed)
    prices = make_prices(rng)
    transfers, t_cases, still = make_transfers(titles, rng)
    let_out = set(transfers["parcel_id"].astype(str))
    insurance, i_cases = make_insurance(titles, truth, rng, still, let_out)
    holders = set(transfers["holder_id"].astype(str))
    evidence, e_cases = make_own_evidence(titles, truth, rng, out / "own_evidence", holders)
    paths = {name: out / name for name in CREDIT_FILES}
    prices.to_csv(paths["prices.csv"], index=False, encoding="utf-8")
    transfers.to_csv(paths["transfers.csv"], index=False, encoding="gbk")
    insurance.to_csv(paths["insurance.csv"], index=False, encoding="gbk")
    evidence.to_csv(paths["own_evidence/evidence.csv"], index=False, encoding="utf-8")
    pd.DataFrame(t_cases + i_cases + e_cases).to_csv(
        paths["truth_credit_records.csv"], index=False, encoding="utf-8"
    )
    return paths


__all__ = ["CREDIT_FILES", "SEED", "make_prices", "write_credit_records"]
