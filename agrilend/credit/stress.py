"""Portfolio stress: county-wide price and yield shocks, the lines they give and the losses.

:func:`stress_portfolio` takes the loan book as sized (the baseline lines) and, per scenario,

- re-sizes every household under the shock (the line a decision taken in that world would give);
- computes what each household's season could repay in that world: the central revenue (median
  yields x shocked prices, each harvest) less its cost and rent, plus subsidy income counted as
  the policy counts it; the shortfall of a baseline line is ``max(line - max(capacity, 0), 0)``;
- sums them: the book's lines, the expected loss (shortfall x ``loss_given_default``; shortfall
  is the unrepaid part of the season, before any recovery) and the households short.

Default scenarios: the baseline; each crop's price shock (``[prices] shock`` or a harvest's
``price_shock``, 20 % by default); a drought year (yields x 0.7, climate risk 1); both at once.
:func:`stress_chart` draws the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.policy import CreditPolicy
from agrilend.credit.sizing import size_households
from agrilend.credit.subsidy import SubsidyMatch, household_subsidies

_YIELD_COLS = ("yield_t_ha", "yield_low", "yield_high", "yield_s1_t_ha", "yield_s2_t_ha")


@dataclass(frozen=True)
class Scenario:
    """One shock: price and yield factors (1 = unchanged) and the climate risk to apply."""

    name: str
    price_factor: float | None = 1.0  # None: each harvest's own price shock
    yield_factor: float = 1.0
    climate: float | None = None  # None: the baseline's climate


#: The default scenarios.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("baseline"),
    Scenario("price shock", price_factor=None),
    Scenario("drought year", yield_factor=0.7, climate=1.0),
    Scenario("price shock + drought", price_factor=None, yield_factor=0.7, climate=1.0),
)


def _shocked_policy(policy: CreditPolicy, s: Scenario) -> CreditPolicy:
    if s.price_factor == 1.0:
        return policy
    default = float(policy.prices.get("shock", 0.2)) if policy.prices else 0.2
    changes = {}
    for name, h in policy.harvests.items():
        shock = (
            (h.price_shock if h.price_shock is not None else default)
            if s.price_factor is None
            else 1 - s.price_factor
        )
        per = {"kg": 1000.0, "t": 1.0}[h.price_unit.partition("/")[2].strip()]
        changes[name] = {"price": h.price_per_t * (1 - shock) / per}
    return policy.with_changes({"harvests": changes})


def _capacity(parcels: pd.DataFrame, policy: CreditPolicy, subsidy: pd.Series) -> pd.Series:
    """What each household's season could repay at central yields and the policy's prices."""
    ok = parcels.get("status", pd.Series("ok", index=parcels.index)).astype(str) != "error"
    d = parcels[ok.to_numpy() & parcels["crop"].isin(list(policy.crops)).to_numpy()]
    value = np.zeros(len(d))
    area = pd.to_numeric(d["cultivated_area_ha"], errors="coerce").fillna(0.0).to_numpy()
    y = pd.to_numeric(d["yield_t_ha"], errors="coerce").fillna(0.0).to_numpy()
    own_cost = pd.to_numeric(
        d.get("cost_per_ha", pd.Series(np.nan, index=d.index)), errors="coerce"
    ).to_numpy()
    for i, crop in enumerate(d["crop"].astype(str)):
        hs = policy.harvests_of(crop)
        ref = sum(h.reference_yield_t_ha for h in hs) or 1.0
        rev = sum(
            y[i] * (h.reference_yield_t_ha / ref if len(hs) > 1 else 1.0) * h.price_per_t
            for h in hs
        )
        cost = own_cost[i] if np.isfinite(own_cost[i]) else sum(h.cost_per_ha for h in hs)
        value[i] = area[i] * (rev - cost)
    rent = pd.to_numeric(
        d.get("rent_per_year", pd.Series(0.0, index=d.index)), errors="coerce"
    ).fillna(0.0)
    cap = (
        pd.Series(value - rent.to_numpy(), index=d.index).groupby(d["owner_ref"].astype(str)).sum()
    )
    return cap.add(policy.subsidy_share * subsidy, fill_value=0.0)


def stress_portfolio(
    parcels: pd.DataFrame,
    policy: CreditPolicy,
    *,
    as_of: date,
    lines: pd.Series | None = None,
    scenarios: Sequence[Scenario] = SCENARIOS,
    subsidies: SubsidyMatch | pd.DataFrame | None = None,
    climate: float | None = None,
    reference_yields: Mapping[str, float] | None = None,
    adjustments: pd.DataFrame | None = None,
    loss_given_default: float = 1.0,
) -> pd.DataFrame:
    """Lines and expected losses of the book under county-wide shocks.

    Parameters
    ----------
    parcels, policy, as_of, subsidies, reference_yields, adjustments
        As for :func:`agrilend.credit.size_households` (the prudent-price policy and the
        parcels after transfers, when :func:`agrilend.credit.size_with_extras` sized the book).
    lines
        The book (``owner_ref`` -> line); default: the baseline sizing's lines.
    scenarios
        The shocks (:data:`SCENARIOS`).
    climate
        The baseline's county climate risk.
    loss_given_default
        Share of a shortfall lost.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario, price_factor, yield_factor, climate, lines_total,
        n_approved, book_total, n_short, shortfall, expected_loss, loss_rate``.

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> est = pd.DataFrame({"parcel_id": ["P1", "P2"], "owner_ref": ["H-a", "H-b"],
    ...     "declared_area_ha": [2.0, 2.0], "crop": ["maize", "maize"],
    ...     "cultivated_area_ha": [2.0, 2.0], "yield_t_ha": [7.0, 4.5],
    ...     "yield_low": [5.6, 3.6], "yield_high": [8.4, 5.4]})
    >>> t = stress_portfolio(est, load_policy(), as_of=date(2024, 3, 1)).set_index("scenario")
    >>> bool(t.loc["drought year", "lines_total"] < t.loc["baseline", "lines_total"])
    True
    >>> bool(t.loc["price shock + drought", "expected_loss"] >= t.loc["baseline", "expected_loss"])
    True
    """
    kw: dict[str, Any] = {
        "subsidies": subsidies,
        "as_of": as_of,
        "reference_yields": reference_yields,
        "adjustments": adjustments,
    }
    base = size_households(parcels, policy, climate=climate, **kw).set_index("owner_ref")
    book = lines if lines is not None else base["credit_line"]
    sub = pd.Series(dtype=float)
    if subsidies is not None:
        table = household_subsidies(subsidies, as_of_year=as_of.year, currency=policy.currency)
        sub = table["subsidy_income"] if len(table) else sub
    rows = []
    for s in scenarios:
        pol = _shocked_policy(policy, s)
        est = parcels.copy()
        for c in _YIELD_COLS:
            if c in est.columns:
                est[c] = pd.to_numeric(est[c], errors="coerce") * s.yield_factor
        risk = s.climate if s.climate is not None else climate
        out = size_households(est, pol, climate=risk, **kw)
        cap = _capacity(est, pol, sub).reindex(book.index).fillna(0.0)
        short = np.maximum(book.to_numpy(dtype=float) - np.maximum(cap.to_numpy(), 0.0), 0.0)
        total = float(book.sum())
        rows.append(
            {
                "scenario": s.name,
                "price_factor": s.price_factor if s.price_factor is not None else "per crop",
                "yield_factor": s.yield_factor,
                "climate": risk if risk is not None else 0.0,
                "lines_total": float(out["credit_line"].sum()),
                "n_approved": int((out["decision"] == "approve").sum()),
                "book_total": total,
                "n_short": int((short > 0).sum()),
                "shortfall": float(short.sum()),
                "expected_loss": float(short.sum()) * loss_given_default,
                "loss_rate": float(short.sum()) * loss_given_default / total if total > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def stress_chart(table: pd.DataFrame, path: str | Path, *, currency: str = "CNY") -> Path:
    """A bar chart of the stress table: lines a new decision would give and expected losses.

    Written as SVG or PNG by the suffix of ``path``; returns the path.
    """
    import matplotlib  # noqa: PLC0415  (heavy, only for the chart)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    p = Path(path)
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(
        x - 0.2, table["lines_total"], width=0.4, label=f"lines a new decision gives ({currency})"
    )
    ax.bar(
        x + 0.2, table["expected_loss"], width=0.4, label=f"expected loss on the book ({currency})"
    )
    ax.set_xticks(x, list(table["scenario"]), fontsize=8)
    ax.ticklabel_format(axis="y", style="plain")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Portfolio stress", fontsize=9)
    fig.tight_layout()
    fig.savefig(p, metadata={"Date": None} if p.suffix == ".svg" else None)
    plt.close(fig)
    return p


__all__ = ["SCENARIOS", "Scenario", "stress_chart", "stress_portfolio"]
