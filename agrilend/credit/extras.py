"""Credit beyond the crop: market prices, rented land, insurance and the farmer's own evidence.

:func:`size_with_extras` sizes households as :func:`agrilend.credit.size_households` does, with
whatever of these inputs is given (:class:`CreditExtras`), in this order:

1. prices: the policy's prices become the prudent prices of the price table
   (:mod:`agrilend.credit.prices`);
2. rented land: titles under active transfer contracts move to their tenants, the rent becomes
   their cost, titles both sides claim are flagged (:mod:`agrilend.credit.transfers`);
3. insurance: matched, corroborated, and turned into climate relief
   (:mod:`agrilend.credit.insurance`);
4. own evidence: checked against the parcels; its raises are shares of the line sized without
   it (a first sizing), its contradictions cut (:mod:`agrilend.credit.self_evidence`);
5. the final sizing with all of it.

Every step returns new objects; the inputs are not changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd

from agrilend.credit.insurance import insurance_by_household, match_insurance
from agrilend.credit.policy import CreditPolicy
from agrilend.credit.prices import apply_prices, prudent_prices
from agrilend.credit.self_evidence import check_own_evidence
from agrilend.credit.sizing import size_households
from agrilend.credit.subsidy import SubsidyMatch
from agrilend.credit.transfers import apply_transfers, conflict_households


@dataclass(frozen=True)
class CreditExtras:
    """The inputs beyond the crop, each optional (``None``: not given).

    Attributes
    ----------
    prices
        :func:`agrilend.credit.prices.read_prices`.
    transfers
        :func:`agrilend.credit.transfers.read_transfers`.
    insurance
        :func:`agrilend.credit.insurance.read_insurance`.
    evidence
        :func:`agrilend.credit.self_evidence.read_own_evidence`.
    """

    prices: pd.DataFrame | None = None
    transfers: pd.DataFrame | None = None
    insurance: pd.DataFrame | None = None
    evidence: pd.DataFrame | None = None

    def with_records(self, **more: pd.DataFrame) -> CreditExtras:
        """New extras with ``more`` records appended to each named table (for what-ifs)."""
        changes: dict[str, pd.DataFrame] = {}
        for name, rows in more.items():
            old = getattr(self, name)
            changes[name] = (
                rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True)
            )
        return replace(self, **changes)

    def is_empty(self) -> bool:
        """True when nothing is given."""
        return all(
            getattr(self, n) is None for n in ("prices", "transfers", "insurance", "evidence")
        )


@dataclass(frozen=True)
class ExtrasResult:
    """What :func:`size_with_extras` decided and the evidence behind it.

    Attributes
    ----------
    households
        The decisions table (:data:`agrilend.credit.DECISION_COLUMNS`).
    parcels
        The parcels as sized (tenants in place of holders, ``rent_per_year``...).
    policy
        The policy as applied (prudent prices in place).
    price_evidence
        :func:`agrilend.credit.prices.prudent_prices` (empty without prices).
    transfer_flags
        Titles both sides claim.
    insurance
        Per household: corroborated area and climate relief.
    evidence_items
        Each own-evidence item with its verdict.
    adjustments
        Per household, what sizing was given.
    sizing
        The other arguments sizing was given (``subsidies``, ``climate``, ``as_of``,
        ``reference_yields``), so a what-if re-sizes exactly as the decision did.
    """

    households: pd.DataFrame
    parcels: pd.DataFrame
    policy: CreditPolicy
    price_evidence: pd.DataFrame = field(default_factory=pd.DataFrame)
    transfer_flags: pd.DataFrame = field(default_factory=pd.DataFrame)
    insurance: pd.DataFrame = field(default_factory=pd.DataFrame)
    evidence_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    adjustments: pd.DataFrame = field(default_factory=pd.DataFrame)
    sizing: Mapping[str, Any] = field(default_factory=dict)


def size_with_extras(
    parcels: pd.DataFrame,
    policy: CreditPolicy,
    extras: CreditExtras,
    *,
    as_of: date,
    subsidies: SubsidyMatch | pd.DataFrame | None = None,
    climate: float | Mapping[str, float] | pd.Series | None = None,
    reference_yields: Mapping[str, float] | None = None,
) -> ExtrasResult:
    """Size households with prices, rented land, insurance and own evidence.

    Parameters
    ----------
    parcels
        Parcel estimates (as for :func:`agrilend.credit.size_households`); a ``geometry``
        column (a GeoDataFrame) lets photos be placed.
    policy
        The credit policy (its optional tables ``[prices]``, ``[insurance]``, ``[evidence]``,
        ``[transfers]`` set the rules).
    extras
        The records.
    as_of, subsidies, climate, reference_yields
        As for :func:`agrilend.credit.size_households`.

    Returns
    -------
    ExtrasResult

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> est = pd.DataFrame({"parcel_id": ["P1"], "owner_ref": ["H-a"], "declared_area_ha": [1.0],
    ...     "crop": ["maize"], "cultivated_area_ha": [1.0], "yield_t_ha": [7.0],
    ...     "yield_low": [5.2], "yield_high": [8.8]})
    >>> ins = pd.DataFrame({"year": [2024], "owner_ref": ["H-a"], "parcel_id": ["P1"],
    ...     "crop": ["maize"], "insured_area_ha": [1.0], "sum_insured": [6000.0]})
    >>> r = size_with_extras(est, load_policy(), CreditExtras(insurance=ins),
    ...                      as_of=date(2024, 3, 1), climate=0.5)
    >>> round(float(r.households.loc[0, "climate_haircut"]), 3)  # 0.3 x 0.5 x (1 - 0.5)
    0.075
    """
    pol, price_ev = priced_policy(policy, extras, as_of=as_of)
    est = parcels
    flags = pd.DataFrame(columns=["parcel_id", "holder_ref", "tenant_ref", "why"])
    if extras.transfers is not None and len(extras.transfers):
        est, flags = apply_transfers(
            parcels, extras.transfers, as_of=as_of, claims=transfer_claims(extras)
        )
    return size_transferred(
        est, pol, extras, flags=flags, as_of=as_of, price_evidence=price_ev,
        subsidies=subsidies, climate=climate, reference_yields=reference_yields,
    )  # fmt: skip


def priced_policy(
    policy: CreditPolicy, extras: CreditExtras, *, as_of: date
) -> tuple[CreditPolicy, pd.DataFrame]:
    """Step 1 of :func:`size_with_extras`: the policy with the prudent prices of the price
    table in place (the policy itself without prices or a ``[prices]`` table), and the price
    evidence (empty without)."""
    if extras.prices is not None and len(extras.prices) and policy.prices:
        evidence = prudent_prices(extras.prices, policy, as_of=as_of)
        return apply_prices(policy, evidence), evidence
    return policy, pd.DataFrame()


def size_transferred(
    est: pd.DataFrame,
    policy: CreditPolicy,
    extras: CreditExtras,
    *,
    flags: pd.DataFrame,
    as_of: date,
    price_evidence: pd.DataFrame | None = None,
    counted_photos: Collection[str] = (),
    subsidies: SubsidyMatch | pd.DataFrame | None = None,
    climate: float | Mapping[str, float] | pd.Series | None = None,
    reference_yields: Mapping[str, float] | None = None,
) -> ExtrasResult:
    """Steps 3 to 5 of :func:`size_with_extras`, on parcels whose transfers are applied.

    ``est`` as :func:`agrilend.credit.transfers.apply_transfers` returns it (or the parcels,
    without transfers), ``policy`` priced (:func:`priced_policy`) and ``flags`` the titles both
    sides claim. A part of a county can be sized alone (a scan's partition of households):
    ``est`` holds whole households, ``extras`` the insurance and own evidence records that match
    them, ``flags`` every flag naming one of them, and ``counted_photos`` the digests of photos
    counted before these records elsewhere in the county (a photo counts once).
    """
    pol = policy
    adj = pd.DataFrame(index=pd.Index(sorted(set(est["owner_ref"].astype(str))), name="owner_ref"))
    ins = pd.DataFrame()
    if extras.insurance is not None and len(extras.insurance):
        matched, _ = match_insurance(extras.insurance, est)
        ins = insurance_by_household(matched, est, pol, year=_season_year(est, as_of))
        adj = adj.join(ins, how="left")
    disputed = conflict_households(flags)
    adj["transfer_conflict_parcels"] = [",".join(disputed.get(o, [])) for o in adj.index]

    kw: dict[str, Any] = {
        "subsidies": subsidies,
        "climate": climate,
        "as_of": as_of,
        "reference_yields": reference_yields,
    }
    items = pd.DataFrame()
    if extras.evidence is not None and len(extras.evidence) and pol.evidence:
        first = size_households(est, pol, adjustments=adj.reset_index(), **kw)
        lines = first.set_index("owner_ref")["credit_line"]
        items, raises = check_own_evidence(
            extras.evidence, est, pol, as_of=as_of, lines=lines, counted=counted_photos
        )
        adj = adj.join(raises, how="left")
    households = size_households(est, pol, adjustments=adj.reset_index(), **kw)
    return ExtrasResult(
        households=households,
        parcels=est,
        policy=pol,
        price_evidence=price_evidence if price_evidence is not None else pd.DataFrame(),
        transfer_flags=flags,
        insurance=ins,
        evidence_items=items,
        adjustments=adj,
        sizing=kw,
    )


def _season_year(parcels: pd.DataFrame, as_of: date) -> int:
    """The season decided: the year of ``as_of`` (a decision early in a year is for that year)."""
    return as_of.year if as_of.month >= 3 else as_of.year - 1


def transfer_claims(extras: CreditExtras) -> pd.DataFrame:
    """The records a household presents for a title this season (insurance and own evidence:
    ``owner_ref``, ``parcel_id``): a holder claiming a title it has let is a conflict."""
    parts = []
    for t in (extras.insurance, extras.evidence):
        if t is not None and len(t) and {"owner_ref", "parcel_id"} <= set(t.columns):
            parts.append(t.loc[t["parcel_id"].astype(str) != "", ["owner_ref", "parcel_id"]])
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["owner_ref", "parcel_id"])
    )


__all__ = [
    "CreditExtras",
    "ExtrasResult",
    "priced_policy",
    "size_transferred",
    "size_with_extras",
    "transfer_claims",
]
