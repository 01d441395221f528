"""Proof against reality: household sizing on 1,026 real Indonesian rice farm-seasons.

Run: ``python benchmarks/bench_indonesia.py`` (reads ``../shared/data/farm_economics/
indonesia_rice_farms.csv``, or ``$AGRILEND_SHARED_DATA/farm_economics/...``).

Each farm-season is treated as a household with one rice parcel. Its expected revenue and input
cost are built exactly as :func:`agrilend.credit.size_households` builds them (cultivated area x
yield at the prudent quantile x price; area x cost per ha), from a policy that knows only what a
lender would know before the season: the price, cost per ha and yield spread of farms in the
OTHER five villages in the same season (out-of-fold, so no farm informs its own prediction).
Three kinds of yield evidence are compared:

- ``peer``   no evidence on the farm: the other villages' yields (p5, p50, p95) that season;
- ``noisy``  the farm's own yield with a 20 % log-normal error and a matching 90 % interval
             (roughly what a satellite yield estimate achieves);
- ``oracle`` the farm's own realised yield, exactly (isolates price and cost errors).

Reported: how well predicted revenue (at the median and at the prudent quantile) and cost match
the real output value and real cash cost (MAPE, median absolute percentage error, correlation,
median ratio), and the share of farms whose credit line is larger than what their real season
could repay: the net season value ``net output x price - cash cost`` (net output is output after
the harvesters' share paid in rice; cash cost is seed, fertiliser, pesticide and hired labour;
family labour is left out, as in the policy's production costs), by policy settings.

Columns used: size (ha), seed/urea/phosphate (kg) with prices pseed/purea/pphosph (Rp/kg),
pesticide (Rp), hiredlabor (hours) x wage (Rp/hour), goutput/noutput (kg of rough rice), price
(Rp/kg), region (village). Rows of one farm id are its six seasons in order.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from agrilend.credit import CreditPolicy, load_policy, policy_from_dict, size_households

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AGRILEND_SHARED_DATA", REPO.parent / "shared" / "data"))
CSV = DATA / "farm_economics" / "indonesia_rice_farms.csv"
NOISE_SIGMA = 0.20
SEED = 20240601
AS_OF = date(2024, 1, 15)


def load_farms(path: Path = CSV) -> pd.DataFrame:
    """The farm-seasons with real yield, output value, cash cost and net season value."""
    d = pd.read_csv(path)
    d["season"] = d.groupby("id").cumcount()
    area = d["size"]
    d["yield_t_ha"] = d["goutput"] / area / 1000.0
    d["output_value"] = d["goutput"] * d["price"]
    d["cash_cost"] = (
        d["seed"] * d["pseed"]
        + d["urea"] * d["purea"]
        + d["phosphate"] * d["pphosph"]
        + d["pesticide"]
        + d["hiredlabor"] * d["wage"]
    )
    d["net_value"] = d["noutput"] * d["price"] - d["cash_cost"]
    d["household"] = [f"F{i}-S{s}" for i, s in zip(d["id"], d["season"], strict=True)]
    return d


def fold_policy(
    peers: pd.DataFrame, *, revenue_share: float, quantile: float, input_cover: float = 1.0
) -> CreditPolicy:
    """A rice-only IDR policy from the peers' median price and cash cost per ha."""
    base = load_policy().to_dict()
    base.pop("crops")
    base.pop("harvests")
    return policy_from_dict(
        base
        | {
            "policy": {
                "name": "Indonesia rice check (out-of-fold)",
                "version": "1",
                "currency": "IDR",
            },
            "lending": base["lending"]
            | {
                "revenue_share": revenue_share,
                "yield_quantile": quantile,
                "input_cover": input_cover,
                "round_down_to": 0,
            },
            "caps": {"household": 1e12, "per_area": 1e12, "per_area_unit": "IDR/ha"},
            "decision": base["decision"] | {"min_line": 0.0},
            "crops": {"rice": {"harvests": ["rice"]}},
            "harvests": {
                "rice": {
                    "price": float(peers["price"].median()),
                    "price_unit": "IDR/kg",
                    "cost": float((peers["cash_cost"] / peers["size"]).median()),
                    "cost_unit": "IDR/ha",
                    "harvest_month": 4,
                    "reference_yield_t_ha": float(peers["yield_t_ha"].median()),
                }
            },
        }
    )


def estimates(farms: pd.DataFrame, peers: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Parcel estimates, one rice parcel per farm-season, with the chosen yield evidence."""
    n = len(farms)
    if mode == "peer":
        q = peers["yield_t_ha"].quantile([0.05, 0.5, 0.95]).to_numpy()  # the policy's 90 %
        mid, low, high = np.full(n, q[1]), np.full(n, q[0]), np.full(n, q[2])
    elif mode == "noisy":
        rng = np.random.default_rng(SEED + int(farms.index[0]))
        mid = farms["yield_t_ha"].to_numpy() * np.exp(rng.normal(0, NOISE_SIGMA, n))
        z = 1.6449  # the policy's 90 % interval, as yield_models.estimate_yield gives it
        low, high = mid * np.exp(-z * NOISE_SIGMA), mid * np.exp(z * NOISE_SIGMA)
    else:
        mid = low = high = farms["yield_t_ha"].to_numpy()
    return pd.DataFrame(
        {
            "parcel_id": farms["household"].to_numpy(),
            "owner_ref": farms["household"].to_numpy(),
            "declared_crop": "rice",
            "declared_area_ha": farms["size"].to_numpy(),
            "crop": "rice",
            "cultivated_area_ha": farms["size"].to_numpy(),
            "yield_t_ha": mid,
            "yield_low": low,
            "yield_high": high,
            "vigour_class": "normal",
            "n_clear_obs": 30,
            "n_pixels": 1000,
            "status": "ok",
        }
    )


_RUNS: dict[tuple[str, float, float, float], pd.DataFrame] = {}


def size_all(
    farms: pd.DataFrame,
    mode: str,
    *,
    revenue_share: float,
    quantile: float,
    input_cover: float = 1.0,
) -> pd.DataFrame:
    """Size every farm-season with its out-of-fold policy; one row per farm-season."""
    key = (mode, revenue_share, quantile, input_cover)
    if key in _RUNS:
        return _RUNS[key]
    parts = []
    for (region, season), group in farms.groupby(["region", "season"]):
        peers = farms[(farms["region"] != region) & (farms["season"] == season)]
        policy = fold_policy(
            peers, revenue_share=revenue_share, quantile=quantile, input_cover=input_cover
        )
        out = size_households(estimates(group, peers, mode), policy, as_of=AS_OF)
        parts.append(out.set_index("owner_ref"))
    _RUNS[key] = pd.concat(parts).reindex(farms["household"])
    return _RUNS[key]


def errors(pred: np.ndarray, real: np.ndarray) -> dict[str, float]:
    ape = np.abs(pred - real) / real
    return {
        "MAPE %": 100 * float(np.mean(ape)),
        "median APE %": 100 * float(np.median(ape)),
        "r": float(np.corrcoef(pred, real)[0, 1]),
        "r log": float(np.corrcoef(np.log(pred), np.log(real))[0, 1]),
        "median pred/real": float(np.median(pred / real)),
    }


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    if not CSV.exists():
        print(f"{CSV} not found; set AGRILEND_SHARED_DATA to the shared data folder")
        return 1
    t0 = time.perf_counter()
    farms = load_farms()
    real_value = farms["output_value"].to_numpy()
    real_cost = farms["cash_cost"].to_numpy()
    net = farms["net_value"].to_numpy()
    net_output = (farms["noutput"] * farms["price"]).to_numpy()
    print(
        f"Indonesian rice farm-seasons: {len(farms)} ({farms['id'].nunique()} farms x 6 seasons,"
        f" {farms['region'].nunique()} villages); median area {farms['size'].median():.2f} ha"
    )
    print(
        f"real output value median {np.median(real_value):,.0f} Rp, cash cost median "
        f"{np.median(real_cost):,.0f} Rp, net season value median {np.median(net):,.0f} Rp "
        f"(negative for {100 * np.mean(net < 0):.1f} %)\n"
    )

    print("Prediction error against the real season (out-of-fold by village)")
    rows = []
    for mode in ("peer", "noisy", "oracle"):
        central = size_all(farms, mode, revenue_share=0.5, quantile=0.5)
        prudent = size_all(farms, mode, revenue_share=0.5, quantile=0.25)
        for what, pred, real in (
            ("revenue at median", central["expected_revenue"], real_value),
            ("revenue at q=0.25", prudent["expected_revenue"], real_value),
            ("input cost", central["input_cost"], real_cost),
        ):
            if mode != "peer" and what == "input cost":
                continue  # the cost prediction does not depend on the yield evidence
            rows.append(
                {"yield evidence": mode, "prediction": what}
                | errors(pred.to_numpy(dtype=float), real)
            )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))

    print("\nShare of farms whose line exceeds what the real season could repay")
    grid = [
        ("noisy", sh, q, c) for sh in (0.3, 0.5, 0.7) for c in (0.5, 1.0) for q in (0.1, 0.25, 0.5)
    ]
    grid += [(m, sh, 0.25, c) for m in ("peer", "oracle") for sh in (0.3, 0.5) for c in (0.5, 1.0)]
    rows = []
    for mode, share, q, cover in grid:
        out = size_all(farms, mode, revenue_share=share, quantile=q, input_cover=cover)
        line = out["credit_line"].to_numpy(dtype=float)
        binding = out["limits"].map(lambda s: s.split('"binding": "')[1].split('"')[0])
        rows.append(
            {
                "evidence": mode,
                "revenue_share": f"{share:.2f}",
                "input_cover": f"{cover:.2f}",
                "yield_quantile": f"{q:.2f}",
                "median line Rp": f"{np.median(line):,.0f}",
                "line/net value": f"{np.median(line / net):.2f}",
                "line > net value %": f"{100 * np.mean(line > net):.1f}",
                "line > net output %": f"{100 * np.mean(line > net_output):.1f}",
                "revenue limit binds %": f"{100 * np.mean(binding == 'revenue'):.0f}",
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"\n(elapsed {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
