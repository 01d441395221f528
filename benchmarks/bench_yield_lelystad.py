"""Yield estimates: error against the sample county's truth, response direction on Lelystad.

Run: ``python benchmarks/bench_yield_lelystad.py`` (about a minute).

1. Sample county (``sample_data/``): the full pipeline (:func:`agrilend.pipeline.assess`) gives
   each parcel a county-calibrated yield with a 90 % interval; it is scored against the
   generator's truth (``truth.csv``, read here only): bias, MAE, MAPE, interval coverage, and
   how well vigour tracks the true vigour factor. Scored on parcels whose predicted crop is the
   true one (crop errors are the crop classifier's, reported separately).
2. Lelystad potato field (real, 2020, 7 samplings): does more canopy (LAI, biomass) go with more
   tuber yield? Spearman rank correlations and the sign of :class:`YieldModel`'s coefficient.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AGRILEND_SHARED_DATA", REPO.parent / "shared" / "data"))


def sample_county() -> None:
    from agrilend.inputs import InputFiles, load_inputs  # noqa: PLC0415
    from agrilend.pipeline import assess  # noqa: PLC0415

    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = assess(load_inputs(InputFiles.sample()))
    truth = pd.read_csv(REPO / "sample_data" / "truth.csv", dtype={"parcel_id": str})
    est = pd.DataFrame(result.parcels.drop(columns="geometry")).merge(truth, on="parcel_id")
    print(f"sample county: {len(est)} parcels assessed in {time.time() - t:.0f} s")
    crop_ok = est["crop"] == est["true_crop"]
    print(f"  predicted crop = true crop: {crop_ok.mean():.1%}")
    scored = est[crop_ok & est["yield_t_ha"].notna() & (est["true_crop"] != "fallow")]
    err = scored["yield_t_ha"] - scored["true_yield_t_ha"]
    rel = err / scored["true_yield_t_ha"]
    width = ((scored["yield_high"] - scored["yield_low"]) / scored["yield_t_ha"]).mean()
    inside = (scored["true_yield_t_ha"] >= scored["yield_low"]) & (
        scored["true_yield_t_ha"] <= scored["yield_high"]
    )
    print(
        f"  yield ({len(scored)} parcels): bias {rel.mean():+.1%}, MAPE {rel.abs().mean():.1%}, "
        f"median APE {rel.abs().median():.1%}, 90 % interval coverage {inside.mean():.1%}, "
        f"mean relative width {width:.0%}"
    )
    print(f"  {'crop':20s} {'n':>4s} {'bias':>7s} {'MAPE':>6s} {'cover':>6s}")
    for crop, g in scored.groupby("true_crop"):
        r = (g["yield_t_ha"] - g["true_yield_t_ha"]) / g["true_yield_t_ha"]
        c = (
            (g["true_yield_t_ha"] >= g["yield_low"]) & (g["true_yield_t_ha"] <= g["yield_high"])
        ).mean()
        print(f"  {crop:20s} {len(g):4d} {r.mean():+7.1%} {r.abs().mean():6.1%} {c:6.0%}")
    v = scored[["vigour", "vigour_factor"]].dropna()
    rho = stats.spearmanr(v["vigour"], v["vigour_factor"]).statistic
    print(f"  vigour vs true vigour factor: Spearman {rho:.2f} (n={len(v)})")
    poor = scored["poor_vigour"].astype(bool)
    flagged = scored["vigour_class"].isin(["poor", "below_normal"])
    if poor.any():
        print(
            f"  truly poor parcels classed poor/below normal: {flagged[poor].mean():.0%} "
            f"({int(poor.sum())}); healthy ones classed so: {flagged[~poor].mean():.0%}"
        )
    shifted = scored["sowing_shift_days"].abs() >= 15
    if shifted.any():
        print(
            f"  late/early sown (|shift| >= 15 d, not poor): classed poor "
            f"{(scored.loc[shifted & ~poor, 'vigour_class'] == 'poor').mean():.0%} "
            f"of {int((shifted & ~poor).sum())}"
        )


def lelystad() -> None:
    from agrilend.yield_models import YieldModel  # noqa: PLC0415

    obs = pd.read_excel(DATA / "yield" / "lelystad_potato_2020_observations.xlsx")
    obs = obs.sort_values("DateMeas")
    days = (obs["DateMeas"] - obs["DateMeas"].min()).dt.days.to_numpy(dtype=float)
    lai = obs["LAI"].interpolate(limit_area="inside").to_numpy(dtype=float)
    # cumulative LAI-days (the canopy's integral, what the NDVI season integral stands for)
    lai_days = np.concatenate([[0.0], np.cumsum(np.diff(days) * (lai[1:] + lai[:-1]) / 2)])
    y = obs["TuberFM"].to_numpy(dtype=float) / 1000.0  # kg/ha -> t/ha
    ok = np.isfinite(y) & np.isfinite(lai_days) & (y > 0)
    print(f"\nLelystad potato 2020: {int(ok.sum())} samplings with tuber yield")
    for name, x in (("LAI-days", lai_days), ("total dry matter", obs["TotalDM"].to_numpy(float))):
        m = ok & np.isfinite(x)
        r = stats.spearmanr(x[m], y[m]).statistic
        print(f"  tuber fresh yield vs {name}: Spearman {r:+.2f} (n={int(m.sum())})")
    model = YieldModel(cv=3).fit(lai_days[ok, None], y[ok])
    lo, hi = model.predict_interval([[float(np.nanmax(lai_days))]])
    print(
        f"  YieldModel on LAI-days: coefficient {model.coef_[0]:+.3f} (log t/ha per s.d.); "
        f"at the season's LAI-days: {model.predict([[float(np.nanmax(lai_days))]])[0]:.0f} t/ha "
        f"[{lo[0]:.0f}, {hi[0]:.0f}] vs observed final {np.nanmax(y):.0f} t/ha"
    )
    print("  (one field, seven dates: a check of direction, not a calibration)")


def main() -> int:
    if (REPO / "sample_data" / "truth.csv").exists():
        sample_county()
    if (DATA / "yield").is_dir():
        lelystad()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
