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

The margin limit (issue 20). "Today" is the policy without ``[margin]`` and with the peers'
median cost per ha; "now" is the default policy's ``[margin]`` with the cost of
:class:`agrilend.credit.CostModel` (region, season, log area, the farm's own cost per ha in its
previous season when it has one), predicted out of fold: grouped 5-fold by farm, and the prudent
cost (the 75th percentile of real/predicted cost) measured by an inner grouped cross-validation on
the training farms only (:func:`agrilend.credit.out_of_fold_costs`). Yield evidence: ``noisy``.
A farm "could repay" today's line when its net season value is at least that line; the lending
kept is the sum of the new lines over those farms against the sum of today's. The margin share of
the default policy was chosen on these farms; its leave-one-village-out check (the share picked
on five villages, applied to the sixth) is printed too. The last line is the issue's figure.
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
    peers: pd.DataFrame,
    *,
    revenue_share: float,
    quantile: float,
    input_cover: float = 1.0,
    margin: dict[str, float] | None = None,
) -> CreditPolicy:
    """A rice-only IDR policy from the peers' median price and cash cost per ha.

    ``margin``: the ``[margin]`` table; ``None`` is today's policy (no margin limit).
    """
    base = load_policy().to_dict()
    base.pop("crops")
    base.pop("harvests")
    base.pop("margin", None)
    if margin is not None:
        base["margin"] = dict(margin)
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
COST_FEATURES = ("region", "season")


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


def cost_inputs(farms: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """What a lender knows before the season, and the real cash cost per ha."""
    per_ha = farms["cash_cost"] / farms["size"]
    X = pd.DataFrame(
        {
            "area_ha": farms["size"],
            "region": farms["region"],
            "season": farms["season"].astype(str),
            # the farm's own previous season (an earlier loan's records); none in its first
            "prior_cost_per_ha": per_ha.groupby(farms["id"]).shift(1),
        }
    )
    return X, per_ha.to_numpy(dtype=float)


def margin_lines(
    farms: pd.DataFrame, costs: pd.DataFrame, margin: dict[str, float] | None
) -> np.ndarray:
    """Lines at the default shares, noisy yields; with ``margin``, the model's costs too."""
    parts = []
    for (region, season), group in farms.groupby(["region", "season"]):
        peers = farms[(farms["region"] != region) & (farms["season"] == season)]
        policy = fold_policy(peers, revenue_share=0.5, quantile=0.25, margin=margin)
        est = estimates(group, peers, "noisy")
        if margin is not None:
            est["cost_per_ha"] = costs.loc[group.index, "cost_per_ha"].to_numpy()
            est["cost_high_per_ha"] = costs.loc[group.index, "cost_high_per_ha"].to_numpy()
        out = size_households(est, policy, as_of=AS_OF).set_index("owner_ref")
        parts.append(out)
    return pd.concat(parts).reindex(farms["household"])["credit_line"].to_numpy(dtype=float)


def margin_section(farms: pd.DataFrame) -> tuple[float, float, float]:
    """The margin limit on the farms: cost error, frontier, LOVO check; the issue's figures."""
    from agrilend.credit import CostModel, out_of_fold_costs  # noqa: PLC0415

    X, per_ha = cost_inputs(farms)
    costs, err = out_of_fold_costs(
        CostModel(categorical=COST_FEATURES), X, per_ha, groups=farms["id"], quantile=0.75
    )
    peer_ape = []
    for (region, season), group in farms.groupby(["region", "season"]):
        peers = farms[(farms["region"] != region) & (farms["season"] == season)]
        pred = float((peers["cash_cost"] / peers["size"]).median())
        peer_ape += list(np.abs(pred - per_ha[group.index]) / per_ha[group.index])
    print("\nThe margin limit (issue 20)")
    print(f"cost per ha, peers' median (today): MAPE {100 * np.mean(peer_ape):.0f} %")
    print(f"cost per ha, CostModel out of fold:  {err.describe()}")
    net = farms["net_value"].to_numpy()
    today = margin_lines(farms, costs, None)
    could = today <= net
    default = load_policy().margin
    rows = []
    lines_by_share = {}
    for share in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
        new = margin_lines(
            farms, costs, {"share": share, "cost_uncertainty": default["cost_uncertainty"]}
        )
        lines_by_share[share] = new
        rows.append(
            {
                "margin share": f"{share:.1f}"
                + (" (default)" if share == default["share"] else ""),
                "over-lent %": f"{100 * np.mean(new > net):.1f}",
                "lending to repaying farms % of today": (
                    f"{100 * new[could].sum() / today[could].sum():.0f}"
                ),
                "median line Rp": f"{np.median(new):,.0f}",
            }
        )
    print(f"today: over-lent {100 * np.mean(today > net):.1f} % of {len(farms)} farm-seasons")
    print(pd.DataFrame(rows).to_string(index=False))
    # leave one village out: the share is picked on five villages, used on the sixth
    picked_lines = np.zeros(len(farms))
    picks = []
    for village in sorted(farms["region"].unique()):
        train = (farms["region"] != village).to_numpy()
        best = min(lines_by_share)
        for share, new in sorted(lines_by_share.items()):
            if np.mean(new[train] > net[train]) <= 0.01:
                best = share
        picks.append(best)
        picked_lines[~train] = lines_by_share[best][~train]
    print(
        f"leave one village out: shares picked {picks}; over-lent "
        f"{100 * np.mean(picked_lines > net):.1f} %, lending to repaying farms "
        f"{100 * picked_lines[could].sum() / today[could].sum():.0f} % of today"
    )
    new = lines_by_share[default["share"]]
    return (
        100 * float(np.mean(new > net)),
        100 * float(new[could].sum() / today[could].sum()),
        100 * err.mape,
    )


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
    over, kept, mape = margin_section(farms)
    print(f"\n(elapsed {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.2f})")
    print(
        f"over-lent share {over:.1f} % at the default policy; lending to repaying farms "
        f"{kept:.0f} % of before; cost MAPE {mape:.0f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
