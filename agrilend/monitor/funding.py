"""Funding by growth stage: when each household's costs fall due (sowing, fertiliser, harvest).

Each parcel's stage dates are its crop's calendar in the scan's season (the median start and
end of season of the parcels sized on that crop) moved to the monitored year, plus the delay
the season shows (late sowing); a failed parcel's later stages are dropped. The amounts are the
policy's production cost of the crop per hectare times the cultivated area, split by the
``[monitor]`` shares. Per household and stage: the date the first parcel needs it and the sum.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from agrilend.monitor.thresholds import MonitorPolicy

FUNDING_COLUMNS = ("owner_ref", "stage", "due", "amount", "n_parcels")
STAGES = ("sowing", "fertiliser", "harvest")


def crop_calendar(parcels: pd.DataFrame, year: int) -> pd.DataFrame:
    """Per crop: median ``sos`` and ``eos`` of the scan's season, moved to ``year``.

    Examples
    --------
    >>> p = pd.DataFrame({"crop": ["maize", "maize"],
    ...                   "sos": pd.to_datetime(["2024-05-01", "2024-05-11"]),
    ...                   "eos": pd.to_datetime(["2024-09-01", "2024-09-11"])})
    >>> crop_calendar(p, 2025).loc["maize", "sowing"].date().isoformat()
    '2025-05-06'
    """
    rows = {}
    plain = pd.DataFrame({c: parcels[c].to_numpy() for c in ("crop", "sos", "eos")})
    for crop, g in plain.groupby("crop"):
        sos = pd.to_datetime(g["sos"]).dropna()
        eos = pd.to_datetime(g["eos"]).dropna()
        if sos.empty or eos.empty:
            continue
        s, e = sos.median(), eos.median()
        shift = year - s.year
        rows[str(crop)] = {
            "sowing": s + pd.DateOffset(years=shift),
            "harvest": e + pd.DateOffset(years=shift),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def funding_calendar(
    households: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    year: int,
    mp: MonitorPolicy,
    delay_days: pd.Series | None = None,
    stopped: dict[str, pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """When each household's costs fall due: :data:`FUNDING_COLUMNS`, one row per stage."""
    cal = crop_calendar(parcels, year).to_dict("index")
    delay = delay_days if delay_days is not None else pd.Series(dtype=float)
    stop = stopped or {}
    shares = {"sowing": mp.sowing_share, "fertiliser": mp.fertiliser_share,
              "harvest": mp.harvest_share}  # fmt: skip
    rows: list[dict[str, Any]] = []
    crop_of = parcels.set_index(parcels["parcel_id"].astype(str))["crop"].astype(str)
    for hh in households.itertuples(index=False):
        limits = json.loads(hh.limits) if isinstance(hh.limits, str) and hh.limits else {}
        due: dict[str, list[tuple[pd.Timestamp, float]]] = {s: [] for s in STAGES}
        for p in limits.get("parcels", []):
            pid = str(p["parcel_id"])
            crop = crop_of.get(pid, p.get("crop", ""))
            if crop not in cal:
                continue
            shift = pd.Timedelta(days=float(delay.get(pid, 0.0) or 0.0))
            sow = cal[crop]["sowing"] + shift
            dates = {
                "sowing": sow,
                "fertiliser": sow + pd.Timedelta(days=mp.fertiliser_after_sowing_days),
                "harvest": cal[crop]["harvest"] + shift,
            }
            cost = float(p.get("area_ha", 0.0)) * float(p.get("cost_per_ha", 0.0))
            for stage in STAGES:
                if pid in stop and dates[stage] > stop[pid]:
                    continue
                due[stage].append((dates[stage], cost * shares[stage]))
        for stage in STAGES:
            if due[stage]:
                rows.append(
                    {
                        "owner_ref": hh.owner_ref, "stage": stage,
                        "due": min(d for d, _ in due[stage]).date().isoformat(),
                        "amount": round(sum(a for _, a in due[stage]), 2),
                        "n_parcels": len(due[stage]),
                    }
                )  # fmt: skip
    return pd.DataFrame(rows, columns=list(FUNDING_COLUMNS))


__all__ = ["FUNDING_COLUMNS", "STAGES", "crop_calendar", "funding_calendar"]
