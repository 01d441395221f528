"""Cost per decision: CPU-seconds per household for a county scan and for one decision, in money.

Run: ``python benchmarks/bench_decision_cost.py`` (about a minute on the sample county).

Measured on the embedded sample county (164 households, 484 titles, 73 dates, 180 x 180 px):

- **scan**: ``agrilend.scan.scan(InputFiles.sample(), ..., workers=0)``, the whole county in this
  process (evidence, crop model, peers, sizing, outputs); CPU time of this process (all threads)
  divided by the number of households;
- **one decision**: ``agrilend.scan.decide_household`` from the scan's county context (what
  ``agrilend report --context`` does): the household's window read, its parcels decided;
  the mean over 10 households;
- **beyond the crop**: ``agrilend.credit.size_with_extras`` over the county with the sample's
  prices, transfers, insurance and own evidence, and ``what_would_raise`` for one household.

CPU-seconds become money at a stated cloud price, :data:`CNY_PER_VCPU_HOUR`, beside MYbank's
published figure of 2.3 CNY per loan (its whole operating cost per loan, not compute alone: the
comparison bounds what compute can take of it). The load average is printed: other work on the
machine inflates wall time, and CPU time less so.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from agrilend.credit import size_households, size_with_extras, what_would_raise
from agrilend.inputs import InputFiles, load_inputs
from agrilend.pipeline import assess
from agrilend.scan import decide_household, load_context, scan

#: AWS EC2 c7i on-demand (us-east-1) list price, $0.08925 per hour for 2 vCPU, at 7.2 CNY/USD.
CNY_PER_VCPU_HOUR = 0.08925 / 2 * 7.2
#: MYbank's reported operating cost per loan (CNY), the industry benchmark the issue names.
MYBANK_CNY_PER_LOAN = 2.3


def _cpu() -> float:
    return time.process_time()


def main() -> int:

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
