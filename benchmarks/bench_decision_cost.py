"""Cost per decision: CPU-seconds per household for a county scan and for one decision, in money.

Run: ``python benchmarks/bench_decision_cost.py`` (about a minute on the sample county);
``--sizing-only`` runs only the last figure, ``--before DIR`` adds the code of another checkout.

Measured on the embedded sample county (164 households, 484 titles, 73 dates, 180 x 180 px):

- **scan**: ``agrilend.scan.scan(InputFiles.sample(), ..., workers=0)``, the whole county in this
  process (evidence, crop model, peers, sizing, outputs); CPU time of this process (all threads)
  divided by the number of households;
- **one decision**: ``agrilend.scan.decide_household`` from the scan's county context (what
  ``agrilend report --context`` does): the household's window read, its parcels decided;
  the mean over 10 households;
- **beyond the crop**: ``agrilend.credit.size_with_extras`` over the county with the sample's
  prices, transfers, insurance and own evidence, and ``what_would_raise`` for one household.

- **size_households, microseconds per household**: the final ``size_households`` call of
  ``size_with_extras`` (prices, transfers, insurance and own evidence applied) on the sample county,
  and on a synthetic county of about 30,000 households made by repeating the sample county's
  parcel estimates, adjustments and subsidy records under new owner and parcel ids. Each timing is
  a fresh Python process (CPU time of that process, best of three), so ``--before DIR`` can time
  another checkout's code (e.g. ``git archive c2d6b6e | tar -x -C DIR``, main before issue 18's
  speed-up of the household step) on the same inputs in the same run; the two frames are compared
  and must be identical.

CPU-seconds become money at a stated cloud price, :data:`CNY_PER_VCPU_HOUR`, beside MYbank's
published figure of 2.3 CNY per loan (its whole operating cost per loan, not compute alone: the
comparison bounds what compute can take of it). The load average is printed: other work on the
machine inflates wall time, and CPU time less so.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from agrilend.credit import size_households, size_with_extras, what_would_raise
from agrilend.credit.subsidy import SubsidyMatch
from agrilend.inputs import InputFiles, load_inputs
from agrilend.pipeline import assess
from agrilend.scan import decide_household, load_context, scan

#: AWS EC2 c7i on-demand (us-east-1) list price, $0.08925 per hour for 2 vCPU, at 7.2 CNY/USD.
CNY_PER_VCPU_HOUR = 0.08925 / 2 * 7.2
#: MYbank's reported operating cost per loan (CNY), the industry benchmark the issue names.
MYBANK_CNY_PER_LOAN = 2.3
#: Copies of the sample county (166 households after transfers) in the synthetic county.
SYNTHETIC_COPIES = 181
REPO = Path(__file__).resolve().parents[1]

# run in a fresh process with the code under test first on sys.path: size the pickled inputs,
# print the CPU seconds of the call, write the frame beside the inputs
_TIMER = """
import pickle, sys, time
sys.path.insert(0, sys.argv[1])
from agrilend.credit import size_households
parcels, policy, kw = pickle.load(open(sys.argv[2], "rb"))
size_households(parcels.iloc[:50], policy, **kw)  # warm-up: imports, caches
c0 = time.process_time()
out = size_households(parcels, policy, **kw)
print(time.process_time() - c0)
out.to_pickle(sys.argv[3])
"""


def _cpu() -> float:
    return time.process_time()


def _repeat(parcels: pd.DataFrame, kw: dict[str, Any], k: int) -> tuple[pd.DataFrame, dict]:
    """``k`` copies of a county, each under new owner and parcel ids (suffix ``-0000``...)."""

    def rep(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
        parts = []
        for j in range(k):
            d = pd.DataFrame(df).copy()
            d.attrs = {}
            for c in cols:
                if c in d.columns:
                    d[c] = d[c].astype(str) + f"-{j:04d}"
            parts.append(d)
        return pd.concat(parts, ignore_index=True)

    out = dict(kw)
    if isinstance(kw.get("adjustments"), pd.DataFrame):
        out["adjustments"] = rep(kw["adjustments"], ("owner_ref",))
    sub = kw.get("subsidies")
    if isinstance(sub, SubsidyMatch):
        out["subsidies"] = SubsidyMatch(matched=rep(sub.matched, ("owner_ref", "parcel_id")))
    elif isinstance(sub, pd.DataFrame):
        out["subsidies"] = rep(sub, ("owner_ref", "parcel_id"))
    return rep(parcels, ("owner_ref", "parcel_id")), out


def _time_sizing(code: Path, inputs: Path, frame: Path, runs: int = 3) -> float:
    """Best CPU seconds of ``size_households`` over ``runs`` fresh processes running ``code``."""
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _TIMER, str(code), str(inputs), str(frame)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(code)},
        )
        best = min(best, float(done.stdout.strip().splitlines()[-1]))
    return best


def sizing_per_household(before: Path | None) -> None:
    """``size_households`` in microseconds of CPU per household, this code and ``before``."""
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores, shared)")
    inputs = load_inputs(InputFiles.sample(), chunks={})
    a = assess(inputs)
    ex = size_with_extras(a.parcels, inputs.policy, inputs.credit_extras, **a.credit_extras.sizing)
    kw = dict(ex.sizing) | {"adjustments": ex.adjustments.reset_index()}
    parcels = pd.DataFrame(ex.parcels.drop(columns="geometry", errors="ignore"))
    counties = {
        "sample county": (parcels, kw),
        "synthetic county": _repeat(parcels, kw, SYNTHETIC_COPIES),
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench-sizing-"))
    codes = {"this code": REPO} | ({"before": before} if before is not None else {})
    head = " ".join(f"{c:>12}" for c in codes)
    print(f"{'county':<18} {'households':>10} {head}  (µs CPU per household)")
    for name, (est, kw_c) in counties.items():
        path = tmp / f"{name.split()[0]}.pkl"
        with path.open("wb") as f:
            pickle.dump((est, ex.policy, kw_c), f)
        n_hh = est["owner_ref"].nunique()
        us = {c: 1e6 * _time_sizing(d, path, tmp / f"{c}.pkl") / n_hh for c, d in codes.items()}
        line = f"{name:<18} {n_hh:>10} " + " ".join(f"{us[c]:12.0f}" for c in codes)
        if before is not None:
            same = pd.read_pickle(tmp / "this code.pkl").equals(pd.read_pickle(tmp / "before.pkl"))
            line += f"  before/this {us['before'] / us['this code']:.2f}x, frames identical: {same}"
        print(line)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} after")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizing-only", action="store_true", help="only the last figure")
    parser.add_argument(
        "--before", type=Path, help="a source tree (e.g. git archive) to time beside this one"
    )
    args = parser.parse_args()
    if args.sizing_only:
        sizing_per_household(args.before)
        return 0

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores, shared)")
    files = InputFiles.sample()
    out = Path(tempfile.mkdtemp(prefix="bench-cost-")) / "scan"
    c0, w0 = _cpu(), time.perf_counter()
    result = scan(files, out, workers=0)
    scan_cpu, scan_wall = _cpu() - c0, time.perf_counter() - w0
    households = result.households if hasattr(result, "households") else None
    hh = pd.read_parquet(out / "households.parquet") if households is None else households
    n_hh = len(hh)

    inputs = load_inputs(files, chunks={})
    ctx = load_context(out / "context")
    owners = list(hh["owner_ref"].astype(str)[:10])
    decide_household(
        inputs.cube,
        inputs.titles,
        owners[0],
        context=ctx,
        weather=inputs.weather,
        subsidies=inputs.subsidies,
        policy=inputs.policy,
    )  # warm-up
    c0 = _cpu()
    for o in owners:
        decide_household(
            inputs.cube,
            inputs.titles,
            o,
            context=ctx,
            weather=inputs.weather,
            subsidies=inputs.subsidies,
            policy=inputs.policy,
        )
    one_cpu = (_cpu() - c0) / len(owners)

    a = assess(inputs)
    ex = a.credit_extras
    kw = dict(ex.sizing)
    c0 = _cpu()
    plain = size_households(a.parcels, inputs.policy, **kw)
    plain_cpu = _cpu() - c0
    c0 = _cpu()
    size_with_extras(a.parcels, inputs.policy, inputs.credit_extras, **kw)
    extras_cpu = _cpu() - c0
    c0 = _cpu()
    what_would_raise(ex, households=list(plain.loc[plain["credit_line"] > 0, "owner_ref"][:10]))
    whatif_cpu = (_cpu() - c0) / 10

    per_s = CNY_PER_VCPU_HOUR / 3600
    rows = [
        ("scan, per household", scan_cpu / n_hh),
        ("one decision (report --context)", one_cpu),
        ("sizing only, per household", plain_cpu / n_hh),
        ("sizing beyond the crop, per household", extras_cpu / n_hh),
        ("what would raise the line, one household", whatif_cpu),
    ]
    print(f"sample county: {n_hh} households; scan {scan_cpu:.1f} CPU-s ({scan_wall:.1f} s wall)")
    print(f"cloud price {CNY_PER_VCPU_HOUR:.3f} CNY per vCPU-hour (AWS c7i on-demand, 7.2 CNY/USD)")
    print(f"{'step':<42} {'CPU-s':>8} {'CNY':>10} {'of 2.3 CNY':>11}")
    for name, s in rows:
        cny = s * per_s
        print(f"{name:<42} {s:8.3f} {cny:10.6f} {100 * cny / MYBANK_CNY_PER_LOAN:10.4f}%")
    total = (scan_cpu / n_hh + extras_cpu / n_hh + whatif_cpu) * per_s
    print(
        f"a decision costs {total:.5f} CNY of compute in a county scan (with credit beyond the "
        f"crop and one what-if), {one_cpu * per_s:.5f} CNY alone; MYbank: "
        f"{MYBANK_CNY_PER_LOAN} CNY per loan"
    )
    sizing_per_household(args.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
