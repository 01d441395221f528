"""The report's county-level sections: the season's weather, subsidies paid on the parcels, and
where the evidence came from (provenance)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agrilend import __version__
from agrilend.report import officer
from agrilend.report.i18n import (
    Lang,
    fmt_date,
    fmt_number,
    fmt_percent,
    is_missing,
    text,
    value_text,
)
from agrilend.vocabulary import MU_PER_HA

if TYPE_CHECKING:
    from agrilend.assessment import Assessment
    from agrilend.report.target import Target


#: Subsidy columns a report may show; anything else (raw owner ids, names) is never rendered.
SUBSIDY_COLUMNS = ("scheme", "year", "parcel_id", "area_mu", "area_ha", "amount_cny", "amount")

_WEATHER_LABELS: dict[str, tuple[str, str]] = {
    "prcp_mm": ("Rainfall (mm)", "降水（毫米）"),
    "prcp_anomaly": ("Rainfall against normal", "降水距平"),
    "gdd": ("Growing degree days", "积温（度日）"),
    "gdd_anomaly": ("Degree days against normal", "积温距平"),
    "heat_days": ("Days above 35 °C", "35°C 以上天数"),
    "frost_days": ("Frost days", "霜冻天数"),
    "dry_spell_days": ("Longest dry spell (days)", "最长连续无雨日数"),
    "tmean_c": ("Mean temperature (°C)", "平均气温（°C）"),
    "climate_risk": ("Climate risk", "气候风险"),
    "risk_score": ("Climate risk score (0-1)", "气候风险评分（0-1）"),
    "spi": ("Standardised precipitation index", "标准化降水指数"),
    "max_dry_spell_days": ("Longest dry spell (days)", "最长连续无雨日数"),
    "dry_spells_10d": ("Dry spells of 10+ days", "10天以上干旱期次数"),
    "drought_frequency": ("Drought frequency (years)", "历年干旱频率"),
    "heat_frequency": ("Heat-stress frequency (years)", "历年高温频率"),
    "prcp_cv": ("Rainfall variability (CV)", "降水变异系数"),
    "n_years": ("Years of record", "记录年数"),
    "n_days": ("Season days", "生长季天数"),
    "missing_fraction": ("Days without records", "缺测比例"),
    "season_start": ("Season start", "生长季开始"),
    "season_end": ("Season end", "生长季结束"),
}
#: Weather measures that are shares in 0..1 (shown as percentages).
_WEATHER_SHARES = {"drought_frequency", "heat_frequency", "missing_fraction"}


def _weather_value(col: str, val: Any, lang: Lang) -> str:  # noqa: PLR0911  (a table of cases)
    if isinstance(val, int | np.integer):
        return fmt_number(val)
    if isinstance(val, float | np.floating):
        if "anomaly" in col:
            return f"{100 * float(val):+.0f} %"
        if col in _WEATHER_SHARES:
            return fmt_percent(val, lang=lang)
        if float(val).is_integer():
            return fmt_number(val)
        return fmt_number(val, digits=2 if abs(float(val)) < 10 else 1)
    if isinstance(val, pd.Timestamp | np.datetime64 | dt.date):
        return fmt_date(val, lang=lang)
    return str(val)


def weather_rows(assessment: Assessment, owner: str | None, lang: Lang) -> list[dict[str, str]]:
    """One row per measure: this season's value and, where known, its normal."""
    sw = assessment.season_weather
    if sw is None or sw.empty:
        return []
    rows = sw
    if "owner_ref" in sw.columns:
        mine = sw[sw["owner_ref"].astype(str) == str(owner)]
        rows = mine if len(mine) else sw[sw["owner_ref"].isna()]
        if rows.empty:
            rows = sw
    row = rows.iloc[0]
    values = {str(k): v for k, v in row.items() if not is_missing(v)}

    def normal_of(col: str) -> str | None:
        for name in (f"{col}_normal", f"normal_{col}"):
            if name in values:
                return name
        if col.startswith("season_") and f"normal_{col[7:]}" in values:
            return f"normal_{col[7:]}"
        return None

    normals = {n for c in values if (n := normal_of(c)) is not None}
    out = []
    for col, val in values.items():
        if col in {"owner_ref", "parcel_id", "geometry"} or col in normals:
            continue
        label = _WEATHER_LABELS.get(col.removeprefix("season_"))
        name = (label[1] if lang == "zh" else label[0]) if label else col.replace("_", " ")
        ncol = normal_of(col)
        out.append(
            {
                "key": col,
                "label": name,
                "value": _weather_value(col, val, lang),
                "normal": _weather_value(col, values[ncol], lang) if ncol else "",
            }
        )
    return out


def weather_events(assessment: Assessment, owner: str | None, lang: Lang) -> list[str]:
    sw = assessment.season_weather
    if sw is None or sw.empty:
        return []
    rows = sw
    if "owner_ref" in sw.columns:
        mine = sw[sw["owner_ref"].astype(str) == str(owner)]
        rows = mine if len(mine) else sw
    return officer.weather_events(rows.iloc[0].to_dict(), lang)


def subsidy_rows(assessment: Assessment, target: Target) -> list[dict[str, str]]:
    subs = assessment.subsidies
    if subs is None or subs.empty:
        return []
    mask = pd.Series(False, index=subs.index)
    if "owner_ref" in subs.columns and target.owner_ref is not None:
        mask |= subs["owner_ref"].astype(str) == target.owner_ref
    if "parcel_id" in subs.columns:
        mask |= subs["parcel_id"].astype(str).isin(set(target.parcels["parcel_id"].astype(str)))
    if target.kind == "parcel" and "parcel_id" in subs.columns:
        mask &= subs["parcel_id"].astype(str) == target.target_id
    mine = subs[mask]
    rows = []
    for _, r in mine.iterrows():
        # read_subsidies gives area_ha and amount (+ currency); raw files say area_mu, amount_cny
        mu = r.get("area_mu")
        if is_missing(mu) and not is_missing(r.get("area_ha")):
            mu = float(r["area_ha"]) * MU_PER_HA
        amount: Any = r.get("amount_cny") if "amount_cny" in r else r.get("amount")
        how = r.get("matched_by", r.get("match"))
        rows.append(
            {
                "scheme": "" if is_missing(r.get("scheme")) else str(r.get("scheme")),
                "year": "" if is_missing(r.get("year")) else str(int(float(r["year"]))),
                "parcel_id": "" if is_missing(r.get("parcel_id")) else str(r.get("parcel_id")),
                "area_mu": fmt_number(mu, digits=1),
                "amount": fmt_number(amount, digits=0),
                "amount_raw": "" if is_missing(amount) else repr(float(amount)),
                "match": "" if is_missing(how) else str(how),
            }
        )
    return rows


def provenance_view(assessment: Assessment, target: Target, lang: Lang) -> dict[str, Any]:
    prov = dict(assessment.provenance or {})
    meta = dict(assessment.context.meta or {}) if assessment.context is not None else {}
    imagery = prov.get("imagery") or {}
    dates = list(imagery.get("dates") or [])
    if not dates and assessment.series is not None and "time" in assessment.series.coords:
        dates = [fmt_date(t) for t in assessment.series["time"].to_numpy()]
    cloud = imagery.get("cloud_cover")
    sel = target.parcels
    mean_cloud = (
        float(np.nanmean(sel["cloud_fraction"].to_numpy(dtype=float)))
        if "cloud_fraction" in sel and sel["cloud_fraction"].notna().any()
        else None
    )
    inputs = []
    for name, info in (prov.get("inputs") or meta.get("inputs") or {}).items():
        if isinstance(info, dict):
            inputs.append(
                {
                    "name": value_text("input", name, lang),
                    "file": str(info.get("file", "")),
                    "checksum": str(info.get("checksum", "")),
                }
            )
        else:
            inputs.append(
                {"name": value_text("input", name, lang), "file": "", "checksum": str(info)}
            )
    per_date = []
    if isinstance(cloud, list | tuple) and len(cloud) == len(dates):
        per_date = [
            {"date": fmt_date(d), "cloud": fmt_percent(c, lang=lang)}
            for d, c in zip(dates, cloud, strict=True)
        ]
    return {
        "n_dates": len(dates),
        "first_date": fmt_date(dates[0], lang=lang) if dates else text("missing", lang),
        "last_date": fmt_date(dates[-1], lang=lang) if dates else text("missing", lang),
        "per_date": per_date,
        "mean_cloud": fmt_percent(mean_cloud, lang=lang),
        "agrilend_version": str(
            prov.get("agrilend_version") or meta.get("agrilend_version") or __version__
        ),
        "report_version": __version__,
        "model_version": str(
            prov.get("model_version") or meta.get("model_version") or text("missing", lang)
        ),
        "policy_version": str(
            prov.get("policy_version") or meta.get("policy_version") or text("missing", lang)
        ),
        "inputs": inputs,
        "source": str(imagery.get("source") or prov.get("source") or ""),
    }
