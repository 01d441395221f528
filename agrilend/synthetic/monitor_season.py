"""The season after the sample county's decision: new imagery with in-season shocks, and truth.

The sample county is decided on 2024's imagery (decision date 2024-12-27). This module draws
the 2025 growing season of the same land (same parcels, crops and farmers: the county is
rebuilt from its seed) with shocks after the decision date, for :mod:`agrilend.monitor` to find:

========== ================================================================================
kind       what happens (truth date)
========== ================================================================================
drought    an area drought: no rain from 20 May, heat; rain-fed spring crops (maize, cotton,
           peanut) lose 30-50 % of their green amplitude over two weeks from 20 June
hail       a hail cell (radius about 160 m) on 22 July: fields under it lose 50-65 % at once
failure    about 5 % of cropped fields die or are abandoned after emergence (May-July)
switch     about 4 % of spring-crop fields grow another spring crop than the one sized
late       about 5 % of spring-crop fields are sown 22-35 days late
========== ================================================================================

Files (new, beside the county's; the county's own files are not touched):
``monitor_imagery.nc`` (B04, B08, SCL every 5 days, 2025-03-02 .. 2025-09-28),
``monitor_weather.csv`` (daily 2025-01-01 .. 2025-09-30) and ``truth_monitor_events.csv``
(``parcel_id, owner_id, kind, date, crop_sized, crop_grown, severity``).
Its random draws come from their own seed (``shock_seed``): the county's files are unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from rasterio.transform import Affine

from agrilend._paths import local_path
from agrilend.errors import OutputExistsError
from agrilend.synthetic.county import CRS, ORIGIN, PIXEL, county_land
from agrilend.synthetic.crops import SOIL_NDVI
from agrilend.synthetic.imagery import make_sky, make_zones, observe, render_surface
from agrilend.synthetic.weather import make_weather

log = logging.getLogger(__name__)

#: Files written by :func:`generate_monitor_season`.
MONITOR_FILES = ("monitor_imagery.nc", "monitor_weather.csv", "truth_monitor_events.csv")
DROUGHT_CROPS = ("maize", "cotton", "peanut")
SPRING_CROPS = ("maize", "cotton", "peanut")
_DRY = ("2025-05-20", "2025-07-15")
_DROUGHT_ONSET = "2025-06-20"
_HAIL_DATE = "2025-07-22"
#: When each crop is green in 2025 (first day, days): a failure is drawn in one of them.
_GREEN = {
    "winter_wheat_maize": (("2025-04-20", 35), ("2025-07-25", 25)),
    "maize": (("2025-06-25", 35),),
    "cotton": (("2025-06-28", 35),),
    "peanut": (("2025-06-28", 35),),
    "soybean": (("2025-07-25", 25),),
    "rice": (("2025-07-20", 30),),
}
_N_KINDS = 6  # zones before the parcels in make_zones: verge, road, trees, canal, pond, village


def _county_land(seed: int, size_px: tuple[int, int]) -> tuple[Any, ...]:
    """The county's parcels, truth and features, drawn exactly as :func:`build_county` does."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    parcels, truth, idle_w, feats, _titles = county_land(streams, size_px)
    return parcels, truth, idle_w, feats


def _draw_shocks(truth: pd.DataFrame, parcels: list[Any], rng: np.random.Generator) -> pd.DataFrame:
    """One row per shocked parcel: kind, date, the crop grown, severity (a parcel has one)."""
    crop = truth["true_crop"].astype(str).to_numpy()
    cropped = np.flatnonzero(~np.isin(crop, ("fallow", "greenhouse", "orchard")))
    spring = np.flatnonzero(np.isin(crop, SPRING_CROPS))
    taken: set[int] = set()
    rows: list[dict[str, Any]] = []

    def pick(pool: np.ndarray[Any, Any], n: int) -> list[int]:
        free = np.array([i for i in pool if i not in taken], dtype=int)
        got = sorted(rng.choice(free, size=min(n, len(free)), replace=False).tolist())
        taken.update(got)
        return got

    cx = np.array([p.centroid.x for p in parcels])
    cy = np.array([p.centroid.y for p in parcels])
    centre = int(rng.choice(cropped))
    dist = np.hypot(cx - cx[centre], cy - cy[centre])
    for i in np.flatnonzero(dist <= 160.0):
        if crop[i] in ("fallow", "greenhouse"):
            continue
        taken.add(int(i))
        rows.append({"i": int(i), "kind": "hail", "date": _HAIL_DATE, "grown": crop[i],
                     "severity": round(float(rng.uniform(0.5, 0.65)), 3)})  # fmt: skip
    for i in pick(cropped, round(0.05 * len(cropped))):  # type: ignore[assignment]
        windows = _GREEN[crop[i]]
        first, days = windows[int(rng.integers(0, len(windows)))]
        day = pd.Timestamp(first) + pd.Timedelta(days=int(rng.integers(0, days)))
        rows.append({"i": i, "kind": "failure", "date": day.strftime("%Y-%m-%d"),
                     "grown": crop[i], "severity": 1.0})  # fmt: skip
    for i in pick(spring, max(3, round(0.12 * len(spring)))):  # type: ignore[assignment]
        other = [c for c in SPRING_CROPS if c != crop[i]]
        grown = str(rng.choice(other))
        rows.append({"i": i, "kind": "switch", "date": "2025-06-25", "grown": grown,
                     "severity": 0.5})  # fmt: skip
    for i in pick(spring, max(3, round(0.12 * len(spring)))):  # type: ignore[assignment]
        late = int(rng.integers(22, 36))
        rows.append({"i": i, "kind": "late", "date": "2025-06-15", "grown": crop[i],
                     "severity": float(late)})  # fmt: skip
    hail = {r["i"] for r in rows if r["kind"] == "hail"}
    for i in np.flatnonzero(np.isin(crop, DROUGHT_CROPS)):
        if int(i) in taken and int(i) not in hail:  # hail falls on drought-hit fields too
            continue
        rows.append({"i": int(i), "kind": "drought", "date": _DROUGHT_ONSET, "grown": crop[i],
                     "severity": round(float(rng.uniform(0.3, 0.5)), 3)})  # fmt: skip
    return pd.DataFrame(rows)


def _damage(doy: np.ndarray[Any, Any], shock: Any) -> Any:
    """Factor (per date) on a field's green amplitude for one shock."""
    day = float(pd.Timestamp(shock.date).day_of_year)
    if shock.kind == "failure":  # the crop dies over about a week and is not replaced
        return np.clip(1.0 - (doy - day) / 7.0, 0.0, 1.0) * 0.9 + 0.1 * (doy < day)
    if shock.kind == "hail":  # at once, with a little regrowth
        loss = float(shock.severity)
        regrow = np.clip((doy - day) / 40.0, 0.0, 1.0) * 0.15
        return np.where(doy < day, 1.0, 1.0 - loss + regrow)
    if shock.kind == "drought":  # over two weeks
        ramp = np.clip((doy - day) / 14.0, 0.0, 1.0)
        return 1.0 - float(shock.severity) * ramp
    return np.ones_like(doy)


def build_monitor_season(
    *,
    seed: int = 20240601,
    size_px: tuple[int, int] = (180, 180),
    shock_seed: int = 20250301,
    start: str = "2025-03-02",
    end: str = "2025-09-28",
    revisit_days: int = 5,
    fine: int = 4,
) -> tuple[xr.Dataset, pd.DataFrame, pd.DataFrame]:
    """The 2025 season of the county of ``seed``: imagery, weather to date, shock truth.

    Examples
    --------
    >>> cube, weather, truth = build_monitor_season(size_px=(40, 40), seed=1,
    ...                                             end="2025-03-20")  # doctest: +SKIP
    """
    parcels, truth, idle, feats = _county_land(seed, size_px)
    r_shock, r_zone, r_surf, r_sky, r_obs, r_wx = (
        np.random.default_rng(s) for s in np.random.SeedSequence(shock_seed).spawn(6)
    )
    shocks = _draw_shocks(truth, parcels, r_shock)
    season = truth.copy()
    season["sowing_shift_days"] = np.clip(r_shock.normal(0.0, 2.5, len(season)), -5, 5)
    for s in shocks.itertuples():
        if s.kind == "switch":
            season.loc[s.i, "true_crop"] = s.grown
        elif s.kind == "late":
            season.loc[s.i, "sowing_shift_days"] = float(s.severity)  # type: ignore[arg-type]

    weather = make_weather(start="2025-01-01", end="2025-09-30", rng=r_wx)
    dates = pd.DatetimeIndex(pd.to_datetime(weather["date"]))
    dry = (dates >= pd.Timestamp(_DRY[0])) & (dates <= pd.Timestamp(_DRY[1]))
    weather.loc[dry, "prcp_mm"] = 0.0
    hot = (dates >= pd.Timestamp("2025-06-10")) & (dates <= pd.Timestamp(_DRY[1]))
    weather.loc[hot, "tmax_c"] = weather.loc[hot, "tmax_c"] + 3.0

    times = pd.date_range(start, end, freq=f"{revisit_days}D")
    doy = np.asarray(times.day_of_year, dtype=np.float64)
    ny, nx = size_px
    fine_tr = Affine(PIXEL / fine, 0.0, ORIGIN[0], 0.0, -PIXEL / fine, ORIGIN[1])
    zones = make_zones(
        parcels, season, idle, feats, times=times, shape=(ny * fine, nx * fine),
        transform=fine_tr, rng=r_zone,
    )  # fmt: skip
    for s in shocks.itertuples():
        z = _N_KINDS + int(s.i)  # type: ignore[arg-type]
        zones.ndvi[:, z] = SOIL_NDVI + (zones.ndvi[:, z] - SOIL_NDVI) * _damage(doy, s)
    prcp = weather.set_index("date")["prcp_mm"]
    rain = np.array([prcp.get(t.strftime("%Y-%m-%d"), 0.0) >= 1.0 for t in times])
    recent = prcp.rolling(3, min_periods=1).sum()
    wet = np.array([min(1.0, recent.get(t.strftime("%Y-%m-%d"), 0.0) / 10.0) for t in times])
    surface = render_surface(zones, factor=fine, rng=r_surf, wetness=wet)
    sky = make_sky(times, (ny, nx), rng=r_sky, rain_days=rain)
    plastic = zones.plastic[zones.label].astype(np.float32)
    dn, scl = observe(
        surface, sky, plastic_share=plastic.reshape(ny, fine, nx, fine).mean(axis=(1, 3)),
        rng=r_obs,
    )  # fmt: skip
    cube = _as_cube(dn, scl, times)
    events = pd.DataFrame(
        {
            "parcel_id": truth["parcel_id"].to_numpy()[shocks["i"].to_numpy()],
            "owner_id": truth["owner_id"].to_numpy()[shocks["i"].to_numpy()],
            "kind": shocks["kind"].to_numpy(),
            "date": shocks["date"].to_numpy(),
            "crop_sized": truth["true_crop"].to_numpy()[shocks["i"].to_numpy()],
            "crop_grown": shocks["grown"].to_numpy(),
            "severity": shocks["severity"].to_numpy(),
        }
    ).sort_values(["kind", "parcel_id"], kind="stable", ignore_index=True)
    log.info("monitor season: %d dates, %d shocked parcels", len(times), len(events))
    return cube, weather, events


def _as_cube(dn: np.ndarray[Any, Any], scl: np.ndarray[Any, Any], times: Any) -> xr.Dataset:
    _, _, ny, nx = dn.shape
    tr = Affine(PIXEL, 0, ORIGIN[0], 0, -PIXEL, ORIGIN[1])
    xs = tr.c + tr.a * (np.arange(nx) + 0.5)
    ys = tr.f + tr.e * (np.arange(ny) + 0.5)
    data = {
        "B04": (("time", "y", "x"), dn[:, 2], {"long_name": "Sentinel-2 L2A B04 digital number",
                                               "nodata": 0}),
        "B08": (("time", "y", "x"), dn[:, 3], {"long_name": "Sentinel-2 L2A B08 digital number",
                                               "nodata": 0}),
        "SCL": (("time", "y", "x"), scl, {"long_name": "Sentinel-2 scene classification",
                                          "nodata": 0}),
    }  # fmt: skip
    ds = xr.Dataset(
        data,
        coords={"time": times, "y": ys, "x": xs},
        attrs={
            "processing_level": "L2A",
            "processing_baseline": "05.11",
            "boa_add_offset": -1000,
            "boa_quantification_value": 10000,
            "source": "agrilend synthetic county, monitoring season",
            "title": "Synthetic Sentinel-2 L2A-like cube (not real observations)",
        },
    )
    ds["x"].attrs.update(units="m", standard_name="projection_x_coordinate")
    ds["y"].attrs.update(units="m", standard_name="projection_y_coordinate")
    return ds.rio.write_crs(CRS).rio.write_transform(tr)


def generate_monitor_season(
    out_dir: str | Path, *, overwrite: bool = False, **options: Any
) -> dict[str, Path]:
    """Write :data:`MONITOR_FILES` into ``out_dir``.

    From the shell: ``python -m agrilend.synthetic.monitor_season sample_data --overwrite``.

    Raises
    ------
    OutputExistsError
        When a file exists and ``overwrite`` is False.
    """
    out = local_path(out_dir, must_exist=False, what="output folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in MONITOR_FILES}
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{existing[0]} exists; pass overwrite=True (or --overwrite) to regenerate it",
            path=existing[0],
        )
    cube, weather, events = build_monitor_season(**options)
    ny, nx = cube.sizes["y"], cube.sizes["x"]
    ds = cube.copy()
    for name in ("B04", "B08", "SCL"):
        ds[name].encoding.update(
            {"zlib": True, "complevel": 9, "shuffle": True, "chunksizes": (1, ny, nx),
             "_FillValue": None}
        )  # fmt: skip
    ds["time"].encoding.update(
        {"units": "days since 2000-01-01", "calendar": "proleptic_gregorian"}
    )
    paths["monitor_imagery.nc"].unlink(missing_ok=True)
    ds.to_netcdf(paths["monitor_imagery.nc"], engine="netcdf4")
    weather.to_csv(paths["monitor_weather.csv"], index=False, encoding="utf-8")
    events.to_csv(paths["truth_monitor_events.csv"], index=False)
    return paths


#: Truth kinds -> the monitor's event kinds.
EVENT_KIND = {"failure": "failure", "drought": "drought", "hail": "hail",
              "switch": "crop_switch", "late": "late_sowing"}  # fmt: skip


def score_monitor_events(
    events: pd.DataFrame, truth: pd.DataFrame, *, parcels: list[str] | None = None
) -> pd.DataFrame:
    """Per kind: truth parcels, alerts, precision, recall and median days from shock to alert.

    ``parcels`` limits the scoring to the parcels the monitor watched (the loan book's).

    Examples
    --------
    >>> t = pd.DataFrame({"parcel_id": ["a", "b"], "kind": ["failure"] * 2,
    ...                   "date": ["2025-06-01"] * 2})
    >>> e = pd.DataFrame({"parcel_id": ["a", "c"], "kind": ["failure"] * 2,
    ...                   "date": ["2025-06-11", "2025-06-01"]})
    >>> s = score_monitor_events(e, t).loc["failure"]
    >>> float(s["precision"]), float(s["recall"]), float(s["median_lead_days"])
    (0.5, 0.5, 10.0)
    """
    truth = truth.assign(kind=truth["kind"].map(EVENT_KIND).fillna(truth["kind"]))
    if parcels is not None:
        keep = set(map(str, parcels))
        truth = truth[truth["parcel_id"].astype(str).isin(keep)]
        events = events[events["parcel_id"].astype(str).isin(keep)]
    rows = {}
    for kind in EVENT_KIND.values():
        t = truth[truth["kind"] == kind].drop_duplicates("parcel_id")
        e = events[events["kind"] == kind].drop_duplicates("parcel_id")
        hit = e.merge(t, on="parcel_id", suffixes=("", "_truth"))
        lead = (pd.to_datetime(hit["date"]) - pd.to_datetime(hit["date_truth"])).dt.days
        rows[kind] = {
            "truth": len(t),
            "alerts": len(e),
            "precision": len(hit) / len(e) if len(e) else float("nan"),
            "recall": len(hit) / len(t) if len(t) else float("nan"),
            "median_lead_days": float(lead.median()) if len(lead) else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


__all__ = [
    "EVENT_KIND",
    "MONITOR_FILES",
    "build_monitor_season",
    "generate_monitor_season",
    "score_monitor_events",
]


if __name__ == "__main__":  # pragma: no cover
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "sample_data"
    for name, path in generate_monitor_season(target, overwrite="--overwrite" in sys.argv).items():
        print(f"{name:28s} {path.stat().st_size / 1e3:8.1f} kB")
