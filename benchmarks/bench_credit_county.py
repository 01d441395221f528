"""The sample county through credit beyond the crop: lines, reasons, what-ifs and portfolio stress.

Run: ``python benchmarks/bench_credit_county.py [CHART.svg]`` (about a minute; writes the stress
chart to CHART.svg, default a temporary file, and prints where).

The county is assessed once (``assess(load_inputs(InputFiles.sample()))``); its parcel estimates
are then sized four ways, each a policy a lender could run:

1. today's policy: no margin limit, the policy's fixed prices;
2. the margin limit (the default policy);
3. the margin limit with the market's prudent prices;
4. everything: prices, rented land, insurance and the farmers' own evidence (what ``assess``
   now does with the sample's files).

Then the portfolio stress of the book sized by 4 (price shock per crop, a drought year, both),
and the what-ifs of every household with a line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from agrilend.credit import (
    CreditExtras,
    apply_prices,
    policy_from_dict,
    prudent_prices,
    size_households,
    size_with_extras,
    stress_chart,
    stress_portfolio,
    what_would_raise,
)
from agrilend.inputs import InputFiles, load_inputs
from agrilend.pipeline import assess


def main(argv: list[str]) -> int:
    chart = Path(argv[0]) if argv else Path(tempfile.mkdtemp()) / "stress.svg"
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    inputs = load_inputs(InputFiles.sample())
    a = assess(inputs, credit_extras=CreditExtras())  # the estimates, sized as before
    est, policy = a.parcels, inputs.policy
    kw = {
        "subsidies": a.subsidies if len(a.subsidies) else None,
        "climate": float(json.loads(a.households.loc[0, "limits"])["climate_risk"]),
        "as_of": pd.Timestamp(json.loads(a.households.loc[0, "limits"])["tenor"]["as_of"]).date(),
        "reference_yields": a.context.county_yields or None,
    }
    today = policy_from_dict({k: v for k, v in policy.to_dict().items() if k != "margin"})
    extras = inputs.credit_extras
    prices = apply_prices(policy, prudent_prices(extras.prices, policy, as_of=kw["as_of"]))
    runs = {
        "today (no margin limit, fixed prices)": size_households(est, today, **kw),
        "margin limit": size_households(est, policy, **kw),
        "margin limit + market prices": size_households(est, prices, **kw),
    }
    full = size_with_extras(est, policy, extras, **kw)
    runs["+ rented land, insurance, own evidence"] = full.households
    rows = []
    for name, hh in runs.items():
        codes = hh["reason_codes"].map(json.loads)
        rows.append(
            {
                "sizing": name,
                "lines CNY": f"{hh['credit_line'].sum():,.0f}",
                "approve": int((hh["decision"] == "approve").sum()),
                "refer": int((hh["decision"] == "refer").sum()),
                "decline": int((hh["decision"] == "decline").sum()),
                "margin binds": int(codes.map(lambda c: "MARGIN_LIMIT" in c).sum()),
            }
        )
    print(f"sample county: {len(full.households)} households (after transfers)")
    print(pd.DataFrame(rows).to_string(index=False))
    ev = full.price_evidence[
        [
            "harvest",
            "n_months",
            "quantile_price",
            "trend_price",
            "vol_haircut",
            "prudent_price",
            "policy_price",
            "shock_price",
        ]
    ]
    print("\nprice evidence (CNY/t)")
    print(ev.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(
        f"\ntransfer flags: {len(full.transfer_flags)}; insurance: "
        f"{int((full.insurance['climate_relief'] > 0).sum())} households relieved, "
        f"{int((full.insurance['insurance_contradictions'] > 0).sum())} contradicting; own "
        f"evidence: {full.evidence_items['verdict'].value_counts().to_dict()}"
    )
    lined = list(full.households.loc[full.households["credit_line"] > 0, "owner_ref"])
    w = what_would_raise(full, households=lined)
    top = w.groupby("owner_ref").head(1)
    print(
        f"\nwhat would raise the line: {w['owner_ref'].nunique()} of {len(lined)} households with"
        f" a line have a step of their own; first steps: "
        f"{top['action'].str.split(':').str[0].value_counts().to_dict()}; median first raise "
        f"{top['raise'].median():,.0f} CNY"
    )
    for r in top.head(3).itertuples():
        print(f"  {r.owner_ref}: {r.text_en}")
    table = stress_portfolio(
        full.parcels,
        full.policy,
        as_of=kw["as_of"],
        climate=kw["climate"],
        subsidies=kw["subsidies"],
        reference_yields=kw["reference_yields"],
        adjustments=full.adjustments.reset_index(),
    )
    print("\nportfolio stress (book = the lines of the full sizing)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"chart: {stress_chart(table, chart)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
