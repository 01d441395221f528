"""What a report is about: a household pseudonym or a parcel id, found in an assessment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from agrilend.errors import UnknownTargetError

if TYPE_CHECKING:  # only the type is needed; the page renders any object shaped like it
    from agrilend.assessment import Assessment


@dataclass(frozen=True)
class Target:
    """What a report is about: the household, and the parcels shown."""

    kind: str  # "household" or "parcel"
    target_id: str
    owner_ref: str | None
    parcels: gpd.GeoDataFrame
    household: pd.Series | None


def resolve_target(assessment: Assessment, target_id: str) -> Target:
    """Find a household pseudonym (``H-...``) or a parcel id in ``assessment``.

    Raises
    ------
    UnknownTargetError
        When neither a household nor a parcel carries ``target_id``.
    """
    parcels = assessment.parcels
    households = assessment.households
    tid = str(target_id).strip()
    hh_ids = households["owner_ref"].astype(str) if "owner_ref" in households else pd.Series([])
    if tid in set(parcels["owner_ref"].astype(str)) or tid in set(hh_ids):
        sel = parcels[parcels["owner_ref"].astype(str) == tid]
        hh = households[hh_ids == tid]
        return Target("household", tid, tid, sel, hh.iloc[0] if len(hh) else None)
    pid = parcels["parcel_id"].astype(str)
    if tid in set(pid):
        sel = parcels[pid == tid]
        owner = str(sel["owner_ref"].iloc[0])
        hh = households[hh_ids == owner]
        return Target("parcel", tid, owner, sel, hh.iloc[0] if len(hh) else None)
    examples_h = sorted(set(hh_ids) | set(parcels["owner_ref"].astype(str)))[:3]
    examples_p = list(pid[:2])
    raise UnknownTargetError(
        f"no household or parcel {tid!r} in this assessment ({len(parcels)} parcels, "
        f"{len(set(parcels['owner_ref']))} households); give a household pseudonym such as "
        f"{', '.join(examples_h) or '-'} or a parcel id such as {', '.join(examples_p) or '-'} "
        "(`agrilend demo --json` or `agrilend scan` lists them all)",
        target_id=tid,
    )


__all__ = ["Target", "resolve_target"]
