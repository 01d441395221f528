"""A small hand-built Assessment (and the cube behind it), shaped exactly like the contract.

Used by the report tests until (and beside) the real ``assess`` on sample_data: 3 households,
8 parcels on a 10 m grid in EPSG:32650, 36 dates over 2024 with a few cloudy ones.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from shapely.geometry import box

from agrilend.pipeline import Assessment, CountyContext
from agrilend.remote_sensing.contract import make_cube

X0, Y0, PX = 500_000.0, 4_000_000.0, 10.0
NX, NY = 96, 80
CROPS = [
    "winter_wheat_maize",
    "maize",
    "soybean",
    "maize",
    "winter_wheat_maize",
    "cotton",
    "maize",
    "fallow",
]
OWNERS = [
    "H-0a1b2c3d4e5f",
    "H-0a1b2c3d4e5f",
    "H-0a1b2c3d4e5f",
    "H-99887766aabb",
    "H-99887766aabb",
    "H-99887766aabb",
    "H-123456abcdef",
    "H-123456abcdef",
]
#: A raw registry owner code that must never reach a report (only the pseudonym may).
RAW_OWNER_ID = "370101199001011234"


def _curve(crop: str, doy: np.ndarray) -> np.ndarray:
    def bump(peak: float, width: float, amp: float) -> np.ndarray:
        return amp * np.exp(-0.5 * ((doy - peak) / width) ** 2)

    base = 0.15
    if crop == "winter_wheat_maize":
        return base + bump(110, 28, 0.65) + bump(230, 22, 0.6)
    if crop == "fallow":
        return base + bump(150, 60, 0.08)
    if crop == "cotton":
        return base + bump(215, 30, 0.55)
    return base + bump(210, 25, 0.68)


def build(seed: int = 0) -> tuple[Assessment, xr.Dataset]:
    """The fixture assessment and its cube."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-03", periods=36, freq="10D")
    doy = times.day_of_year.to_numpy().astype(float)

    # parcels: a 4 x 2 grid of rectangles of different sizes
    geoms = []
    for i in range(8):
        col, row = i % 4, i // 4
        x0 = X0 + 40 + col * 220
        y1 = Y0 - 60 - row * 360
        w = 140 + 20 * (i % 3)
        h = 200 + 30 * (i % 2)
        geoms.append(box(x0, y1 - h, x0 + w, y1))
    ids = [f"3701021042010000{i:03d}" for i in range(8)]
    cloud_dates = rng.choice(len(times), size=7, replace=False)

    nt = len(times)
    ndvi_true = np.stack([_curve(c, doy) for c in CROPS])  # (parcel, time)
    ndvi_true[6] *= 0.8  # a weak maize parcel
    obs = ndvi_true + rng.normal(0, 0.02, ndvi_true.shape)
    clear = np.ones_like(obs, dtype=bool)
    clear[:, cloud_dates] = False
    obs_seen = np.where(clear, obs, obs * 0.4)  # cloudy dates read low
    obs_seen[:, cloud_dates[:2]] = np.nan  # two dates with nothing usable at all

    # cube: background NDVI 0.2, parcels their own value per date, clouds bright and invalid
    xs = X0 + PX * (np.arange(NX) + 0.5)
    ys = Y0 - PX * (np.arange(NY) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    ndvi_img = np.full((nt, NY, NX), 0.2) + rng.normal(0, 0.03, (nt, NY, NX))
    for i, g in enumerate(geoms):
        minx, miny, maxx, maxy = g.bounds
        inside = (gx > minx) & (gx < maxx) & (gy > miny) & (gy < maxy)
        ndvi_img[:, inside] = ndvi_true[i][:, None]
    nir = np.full_like(ndvi_img, 0.32)
    red = nir * (1 - ndvi_img) / (1 + ndvi_img)
    green = red * 1.1 + 0.02
    blue = red * 0.8 + 0.02
    valid = np.ones_like(ndvi_img, dtype=bool)
    for t in cloud_dates:
        valid[t] = False
        for arr in (red, green, blue, nir):
            arr[t] = 0.45
    cube = make_cube(
        {"B02": blue, "B03": green, "B04": red, "B08": nir},
        times=times,
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        crs="EPSG:32650",
        valid=valid,
        attrs={"source": "test fixture", "processing_level": "L2A"},
    )

    smooth = ndvi_true.copy()
    series = xr.Dataset(
        {
            "NDVI_mean": (("parcel", "time"), obs_seen),
            "NDVI_std": (("parcel", "time"), np.full(obs.shape, 0.03)),
            "NDVI_p10": (("parcel", "time"), obs_seen - 0.05),
            "NDVI_p50": (("parcel", "time"), obs_seen),
            "NDVI_p90": (("parcel", "time"), obs_seen + 0.05),
            "valid_fraction": (("parcel", "time"), clear.astype(float)),
            "NDVI_smooth": (("parcel", "time"), smooth),
            "NDVI_clear": (("parcel", "time"), clear),
            "pixel_count": (("parcel",), np.array([int(g.area / 100) for g in geoms])),
            "coverage_area_ha": (("parcel",), np.array([g.area / 1e4 for g in geoms])),
        },
        coords={"parcel": ids, "time": times},
    )

    crops_seen = list(CROPS)
    crops_seen[3] = "soybean"  # declared maize, seen soybean
    declared_ha = np.array([g.area / 1e4 for g in geoms])
    declared_ha[4] *= 1.4  # over-declared
    cultivated = np.array([g.area / 1e4 for g in geoms])
    cultivated[7] = 0.0
    yld = np.array([13.1, 8.9, 3.0, 2.9, 12.2, 4.1, 6.6, 0.0])
    pos_doy = [110, 210, 210, 210, 110, 215, 210, np.nan]
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": ids,
            "owner_ref": OWNERS,
            "declared_crop": CROPS,
            "declared_area_ha": declared_ha,
            "crop": crops_seen,
            "crop_confidence": [0.93, 0.88, 0.81, 0.64, 0.95, 0.72, 0.86, 0.9],
            "crop_mismatch": [c != s for c, s in zip(CROPS, crops_seen, strict=True)],
            "cultivated_area_ha": cultivated,
            "area_ratio": cultivated / declared_ha,
            "area_flag": ["ok", "ok", "ok", "ok", "over_declared", "ok", "ok", "not_cultivated"],
            "vigour": [0.4, 0.1, -0.2, 0.0, 0.3, -0.1, -1.3, np.nan],
            "vigour_class": [
                "normal",
                "normal",
                "normal",
                "normal",
                "normal",
                "normal",
                "low",
                "unknown",
            ],
            "sos": [
                pd.Timestamp("2024-01-01") + pd.Timedelta(days=p - 45) if p == p else pd.NaT
                for p in pos_doy
            ],
            "pos": [
                pd.Timestamp("2024-01-01") + pd.Timedelta(days=p) if p == p else pd.NaT
                for p in pos_doy
            ],
            "eos": [
                pd.Timestamp("2024-01-01") + pd.Timedelta(days=p + 45) if p == p else pd.NaT
                for p in pos_doy
            ],
            "season_length_days": [90, 90, 90, 90, 90, 90, 90, np.nan],
            "season_integral": [40.0, 38.0, 37.0, 36.0, 41.0, 30.0, 29.0, np.nan],
            "peak_ndvi": smooth.max(axis=1),
            "yield_t_ha": yld,
            "yield_low": yld * 0.85,
            "yield_high": yld * 1.15,
            "n_clear_obs": clear.sum(axis=1),
            "cloud_fraction": 1 - clear.mean(axis=1),
            "n_pixels": series["pixel_count"].to_numpy(),
            "quality_flags": ["", "", "", "", "", "", "", "few_pixels"],
            "status": ["ok", "ok", "ok", "flagged", "flagged", "ok", "ok", "flagged"],
            "message": [
                "",
                "",
                "",
                "crop seen differs from declared",
                "cultivated area below declared",
                "",
                "",
                "no crop seen",
            ],
        },
        geometry=geoms,
        crs="EPSG:32650",
    )

    hh_rows = []
    for k, owner in enumerate(dict.fromkeys(OWNERS)):
        sel = parcels[parcels["owner_ref"] == owner]
        line = [48000.0, 0.0, 12000.0][k]
        hh_rows.append(
            {
                "owner_ref": owner,
                "n_parcels": len(sel),
                "parcel_ids": list(sel["parcel_id"]),
                "declared_area_ha": float(sel["declared_area_ha"].sum()),
                "cultivated_area_ha": float(sel["cultivated_area_ha"].sum()),
                "expected_revenue": [61000.0, 30500.0, 15800.0][k],
                "input_cost": [18000.0, 12000.0, 7000.0][k],
                "subsidy_income": [1450.0, 900.0, 300.0][k],
                "climate_haircut": [0.05, 0.05, 0.1][k],
                "credit_line": line,
                "currency": "CNY",
                "tenor_months": [12, 0, 9][k],
                "decision": ["approve", "decline", "refer"][k],
                "reason_codes": [["REVENUE_CAP", "SUBSIDY_OK"], ["OVER_DECLARED"], ["LOW_VIGOUR"]][
                    k
                ],
                "reasons_en": [
                    [
                        "Line capped at 40 % of expected revenue (CNY 61,000).",
                        "Subsidy records confirm 1.2 ha of declared land.",
                    ],
                    ["Declared area is 40 % above the area seen cultivated (0.39 ha)."],
                    ["Parcel vigour is 1.3 standard deviations below its peers."],
                ][k],
                "reasons_zh": [
                    ["额度上限为预期收入（61,000 元）的 40%。", "补贴记录证实 1.2 公顷登记耕地。"],
                    ["登记面积比实际耕种面积（0.39 公顷）多 40%。"],
                    ["地块长势比同作物地块低 1.3 个标准差。"],
                ][k],
                "limits": json.dumps(
                    {
                        "formula": "line = floor(min(limits) * climate_factor / 100) * 100",
                        "limits": {
                            "revenue": line / 0.95,
                            "input": 2 * line + 1000.0,
                            "household": 200000.0,
                        },
                        "binding": "revenue",
                        "climate_factor": 0.95,
                        "line_before_rounding": line + 40.0,
                        "revenue_share": 0.4,
                    }
                ),
            }
        )
    households = pd.DataFrame(hh_rows)

    peer_crops = sorted(set(crops_seen))
    p50 = np.stack([_curve(c, doy) for c in peer_crops])
    peer_curves = xr.Dataset(
        {
            "p10": (("crop", "time"), p50 - 0.1),
            "p50": (("crop", "time"), p50),
            "p90": (("crop", "time"), p50 + 0.08),
        },
        coords={"crop": peer_crops, "time": times},
    )
    context = CountyContext(
        peer_curves=peer_curves,
        meta={"model_version": "crop-rf 0.1 (test)", "policy_version": "test-county 2024.1"},
    )
    subsidies = pd.DataFrame(
        {
            "scheme": ["耕地地力保护补贴", "玉米生产者补贴"],
            "year": [2024, 2024],
            "owner_id": [RAW_OWNER_ID, RAW_OWNER_ID],
            "owner_ref": [OWNERS[0], OWNERS[0]],
            "parcel_id": [ids[0], ids[1]],
            "area_mu": [6.2, 4.5],
            "amount_cny": [620.0, 830.0],
        }
    )
    season_weather = pd.DataFrame(
        {
            "owner_ref": [None],
            "prcp_mm": [412.0],
            "prcp_mm_normal": [505.0],
            "prcp_anomaly": [-0.18],
            "gdd": [2950.0],
            "gdd_normal": [2870.0],
            "heat_days": [6],
            "spi": [-0.8],
            "risk_score": [0.31],
        }
    )
    provenance = {
        "agrilend_version": "0.1.0",
        "imagery": {
            "dates": [str(t.date()) for t in times],
            "cloud_cover": [float(1 - valid[t].mean()) for t in range(nt)],
        },
        "model_version": "crop-rf 0.1 (test)",
        "policy_version": "test-county 2024.1",
        "inputs": {
            "titles": {"file": "titles.gpkg", "checksum": "sha256:" + "ab" * 32},
            "imagery": {"file": "imagery.nc", "checksum": "sha256:" + "cd" * 32},
        },
    }
    assessment = Assessment(
        parcels=parcels,
        households=households,
        series=series,
        context=context,
        subsidies=subsidies,
        season_weather=season_weather,
        provenance=provenance,
    )
    return assessment, cube
