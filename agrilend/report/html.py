"""Turn one household's (or parcel's) part of an :class:`~agrilend.pipeline.Assessment` into HTML.

:func:`report_context` gathers what the template shows (numbers formatted, figures drawn) and
:func:`render_html` fills ``templates/report.html.j2``. The page is self-contained: styles are
inline and every image is a ``data:`` URI, so it opens offline and can be mailed as one file.

Key figures carry ``data-figure`` (name) and ``data-value`` (the raw number) attributes, so tests
and scripts can read them from the page without parsing formatted text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend import __version__
from agrilend.errors import UnknownTargetError
from agrilend.glossary import crop_state, flags_text, term
from agrilend.report import figures, maps, officer
from agrilend.report._templates import environment
from agrilend.report.credit_beyond import credit_beyond_view
from agrilend.report.i18n import (
    Lang,
    fmt_area,
    fmt_date,
    fmt_money,
    fmt_number,
    fmt_percent,
    is_missing,
    labels,
    text,
    value_text,
)
from agrilend.vocabulary import MU_PER_HA

if TYPE_CHECKING:  # only the type is needed; the page renders any object shaped like it
    from agrilend.assessment import Assessment

log = logging.getLogger(__name__)
_TEXT_KEYS = set(labels("en"))

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


def _as_list(value: Any) -> list[Any]:
    if is_missing(value) if not isinstance(value, list | tuple | np.ndarray) else False:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value] if value else []
        return parsed if isinstance(parsed, list) else [parsed]
    return list(value)


def _limits(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"limit": value}
        return parsed if isinstance(parsed, dict) else {"limit": parsed}
    return {}


_LIMIT_KEYS = ("climate_factor", "line_before_rounding", "revenue_share", "cap_per_ha")


def _limit_rows(limits: dict[str, Any], currency: str, lang: Lang) -> list[dict[str, Any]]:
    """The limits the policy put on the line, the binding one marked; the formula last.

    ``limits`` is the household's ``limits`` JSON (credit sizing): a ``limits`` table of caps
    by name and the ``binding`` one, plus the factors applied. Other shapes are shown as
    plain key-value rows.
    """
    rows: list[dict[str, Any]] = []
    caps = limits.get("limits")
    if not isinstance(caps, dict):
        return [
            {"label": str(k), "value": fmt_number(v, digits=2) if isinstance(v, float) else str(v),
             "binding": False, "code": True}
            for k, v in limits.items()
            if not isinstance(v, dict | list)
        ]  # fmt: skip
    binding = str(limits.get("binding", ""))
    for name, value in caps.items():
        key = f"limit_{name}"
        label = text(key, lang) if key in _TEXT_KEYS else str(name)
        shown = fmt_money(value, currency, lang=lang)
        rows.append({"label": label, "value": shown, "binding": name == binding, "code": False})
    for key in _LIMIT_KEYS:
        if key not in limits or is_missing(limits[key]):
            continue
        v = limits[key]
        if key in {"line_before_rounding", "cap_per_ha"}:
            shown = fmt_money(v, currency, lang=lang)
        elif key == "revenue_share":
            shown = fmt_percent(v, lang=lang)
        else:
            shown = fmt_number(v, digits=3)
        rows.append({"label": text(key, lang), "value": shown, "binding": False, "code": False})
    if limits.get("formula"):
        rows.append({"label": "", "value": str(limits["formula"]), "binding": False, "code": True})
    return rows


def _figure(name: str, raw: Any, shown: str) -> dict[str, Any]:
    """A key figure: its name, the raw value for machines, the text for people."""
    if is_missing(raw):
        raw_s = ""
    elif isinstance(raw, float | np.floating):
        raw_s = repr(float(raw))
    else:
        raw_s = str(raw)
    return {"name": name, "value": raw_s, "text": shown}


def _household_view(hh: pd.Series | None, lang: Lang) -> dict[str, Any] | None:
    if hh is None:
        return None
    cur = str(hh.get("currency", "CNY") or "CNY")
    reasons = [str(r) for r in _as_list(hh.get("reasons_zh" if lang == "zh" else "reasons_en"))]
    codes = [str(c) for c in _as_list(hh.get("reason_codes"))]
    decision = str(hh.get("decision", ""))
    tenor: Any = hh.get("tenor_months")
    tenor_text = (
        text("missing", lang)
        if is_missing(tenor)
        else f"{int(float(tenor))} {text('months', lang)}"
    )
    raw_limits = _limits(hh.get("limits"))
    limits = _limit_rows(raw_limits, cur, lang)
    haircut = hh.get("climate_haircut")
    ordered = officer.ordered_reasons(codes, reasons)
    triggers = [(c, t) for c, t in ordered if c in officer.TRIGGER_CODES]
    params = officer.reason_params(raw_limits)
    changes = [
        w
        for c, _ in triggers
        if (w := officer.what_would_change(c, params.get(c, {}), lang, currency=cur))
    ]
    return {
        "decision": decision,
        "decision_text": value_text("decision", decision, lang),
        "headline": officer.headline(decision, triggers[0][1] if triggers else None, lang),
        "proposed": decision == "refer",
        "credit_line": _figure(
            "credit_line", hh.get("credit_line"), fmt_money(hh.get("credit_line"), cur, lang=lang)
        ),
        "tenor": _figure("tenor_months", tenor, tenor_text),
        "n_parcels": _figure("n_parcels", hh.get("n_parcels"), fmt_number(hh.get("n_parcels"))),
        "declared_area": _figure(
            "declared_area_ha",
            hh.get("declared_area_ha"),
            fmt_area(hh.get("declared_area_ha"), lang=lang),
        ),
        "cultivated_area": _figure(
            "cultivated_area_ha",
            hh.get("cultivated_area_ha"),
            fmt_area(hh.get("cultivated_area_ha"), lang=lang),
        ),
        "money": [
            _figure(k, hh.get(k), fmt_money(hh.get(k), cur, lang=lang))
            for k in ("expected_revenue", "input_cost", "subsidy_income")
        ]
        + [_figure("climate_haircut", haircut, fmt_percent(haircut, lang=lang))],
        "reasons": [
            {
                "code": c,
                "text": t,
                "name": term("reason", c, lang) if c else "",
                "trigger": c in officer.TRIGGER_CODES,
            }
            for c, t in ordered
        ],
        "changes": changes if decision in {"refer", "decline"} else [],
        "limits": limits,
    }


def _area_figure(name: str, hectares: Any, lang: Lang) -> dict[str, Any]:
    fig = _figure(name, hectares, fmt_area(hectares, lang=lang))
    # the table shows hectares on one line and mu under it, so columns stay narrow in print
    head, _, tail = fig["text"].partition(" (" if lang == "en" else "（")
    fig["main"] = head
    fig["sub"] = tail.rstrip(")）")
    return fig


def _message(value: Any, lang: Lang) -> str:
    """A parcel's note: a list of flag codes becomes words; other text is shown as it is."""
    if is_missing(value) or not str(value).strip():
        return ""
    tokens = [t.strip() for t in str(value).split(",") if t.strip()]
    if tokens and all(" " not in t for t in tokens):
        return flags_text(tokens, lang)
    return str(value)


def _parcel_row(
    i: int, row: pd.Series, lang: Lang, county_yields: dict[str, float] | None = None
) -> dict[str, Any]:
    conf = row.get("crop_confidence")
    ylow, yhigh = row.get("yield_low"), row.get("yield_high")
    interval = (
        f"{officer.yield_text(ylow, lang).split()[0]}–{officer.yield_text(yhigh, lang)}"
        if not (is_missing(ylow) or is_missing(yhigh))
        else ""
    )
    vig = row.get("vigour")
    state = crop_state(
        row.get("declared_crop"), row.get("crop"), row.get("crop_mismatch"), conf,
        p_declared=row.get("p_declared"),
    )  # fmt: skip
    return {
        "n": i + 1,
        "parcel_id": str(row["parcel_id"]),
        "name": officer.field_name(row.to_dict()),
        "declared_crop": value_text("crop", row.get("declared_crop", ""), lang),
        "crop": value_text("crop", row.get("crop"), lang),
        "crop_fig": _figure("crop_confidence", conf, fmt_percent(conf, lang=lang)),
        "crop_state": state,
        "crop_state_text": term("crop_state", state, lang),
        "early_season": bool(row.get("early_season"))
        if not is_missing(row.get("early_season"))
        else False,
        "mismatch": state == "differs_flagged",
        "declared_area": _area_figure("declared_area_ha", row.get("declared_area_ha"), lang),
        "cultivated_area": _area_figure("cultivated_area_ha", row.get("cultivated_area_ha"), lang),
        "area_ratio": _figure(
            "area_ratio", row.get("area_ratio"), fmt_percent(row.get("area_ratio"), lang=lang)
        ),
        "area_flag": value_text("area_flag", row.get("area_flag"), lang),
        "area_ok": str(row.get("area_flag", "ok")) in {"ok", "nan", "None", "", "unknown"},
        "vigour": _figure("vigour", vig, officer.vigour_text(vig, lang)),
        "vigour_class": value_text("vigour_class", row.get("vigour_class"), lang),
        "yield": _figure(
            "yield_t_ha", row.get("yield_t_ha"), officer.yield_text(row.get("yield_t_ha"), lang)
        ),
        "yield_parts": officer.yield_parts(row.to_dict(), county_yields, lang),
        "yield_interval": interval,
        "status": str(row.get("status", "")),
        "status_text": value_text("status", row.get("status"), lang),
        "message": _message(row.get("message"), lang),
        "sos": fmt_date(row.get("sos"), lang=lang),
        "pos": fmt_date(row.get("pos"), lang=lang),
        "eos": fmt_date(row.get("eos"), lang=lang),
        "season_length": fmt_number(row.get("season_length_days"), lang=lang),
        "peak_ndvi": fmt_number(row.get("peak_ndvi"), digits=2, lang=lang),
        "n_clear_obs": fmt_number(row.get("n_clear_obs"), lang=lang),
        "cloud_fraction": fmt_percent(row.get("cloud_fraction"), lang=lang),
        "n_pixels": fmt_number(row.get("n_pixels"), lang=lang),
        "quality_flags": flags_text(_as_list(row.get("quality_flags")), lang),
    }


def _peer(assessment: Assessment, crop: Any) -> tuple[Any, ...] | None:
    pc = assessment.context.peer_curves if assessment.context is not None else None
    if pc is None or is_missing(crop) or "crop" not in pc.coords:
        return None
    if str(crop) not in set(pc["crop"].to_numpy().astype(str)):
        return None
    sel = pc.sel(crop=str(crop))
    if not all(k in sel for k in ("p10", "p50", "p90")):
        return None
    t = pd.DatetimeIndex(sel["time"].to_numpy())
    return t, sel["p10"].to_numpy(), sel["p50"].to_numpy(), sel["p90"].to_numpy()


def _curve_uri(assessment: Assessment, i: int, row: pd.Series, lang: Lang) -> str | None:
    series = assessment.series
    pid = str(row["parcel_id"])
    if series is None or "parcel" not in series.coords:
        return None
    if pid not in set(series["parcel"].to_numpy().astype(str)):
        return None
    one = series.sel(
        parcel=series["parcel"].to_numpy()[list(series["parcel"].to_numpy().astype(str)).index(pid)]
    )
    times = pd.DatetimeIndex(one["time"].to_numpy())
    raw = one["NDVI_mean"].to_numpy() if "NDVI_mean" in one else np.full(len(times), np.nan)
    clear = one["NDVI_clear"].to_numpy().astype(bool) if "NDVI_clear" in one else None
    smooth = one["NDVI_smooth"].to_numpy() if "NDVI_smooth" in one else None
    name = officer.field_name(row.to_dict())
    if not name.isascii() and figures.cjk_font() is None:  # no font to draw it with
        name = ""
    crop = value_text("crop", row.get("crop"), figures.figure_lang(lang))
    title = f"{i + 1}. {name + ' · ' if name else ''}{pid} — {crop}"
    return figures.ndvi_curve(
        times,
        raw,
        clear=clear,
        smooth=smooth,
        peer=_peer(assessment, row.get("crop")),
        phenology={k: row.get(k) for k in ("sos", "pos", "eos")},
        title=title,
        lang=lang,
    )


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


def _weather_rows(assessment: Assessment, owner: str | None, lang: Lang) -> list[dict[str, str]]:
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


def _weather_events(assessment: Assessment, owner: str | None, lang: Lang) -> list[str]:
    sw = assessment.season_weather
    if sw is None or sw.empty:
        return []
    rows = sw
    if "owner_ref" in sw.columns:
        mine = sw[sw["owner_ref"].astype(str) == str(owner)]
        rows = mine if len(mine) else sw
    return officer.weather_events(rows.iloc[0].to_dict(), lang)


def _subsidy_rows(assessment: Assessment, target: Target) -> list[dict[str, str]]:
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


def _provenance(assessment: Assessment, target: Target, lang: Lang) -> dict[str, Any]:
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


#: Metres around the target within which the overview map draws a county's other titles.
NEIGHBOURHOOD_M = 1500.0


def _near(titles: gpd.GeoDataFrame, target: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The titles within :data:`NEIGHBOURHOOD_M` of the target's bounding box."""
    if not len(target) or not len(titles):
        return titles.iloc[:0]
    minx, miny, maxx, maxy = target.to_crs(titles.crs).total_bounds
    d = NEIGHBOURHOOD_M
    return titles.cx[minx - d : maxx + d, miny - d : maxy + d]


def report_context(
    assessment: Assessment,
    target_id: str,
    *,
    cube: xr.Dataset | None = None,
    lang: Lang = "en",
    generated: dt.datetime | None = None,
    neighbours: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Everything the report template shows for ``target_id``, formatted in ``lang``.

    ``neighbours`` are titles to draw around the target in the overview map, instead of the
    assessment's parcels: those within :data:`NEIGHBOURHOOD_M` of it (a household decided alone
    from a scan's context is shown among the county's titles near it).

    Raises
    ------
    UnknownTargetError
        When ``target_id`` is neither a household pseudonym nor a parcel id of ``assessment``.
    """
    target = resolve_target(assessment, target_id)
    sel = target.parcels.reset_index(drop=True)
    hh_parcels = (
        assessment.parcels[assessment.parcels["owner_ref"].astype(str) == target.owner_ref]
        if target.owner_ref is not None
        else target.parcels
    )
    scene = maps.pick_clear_scene(cube, sel) if cube is not None else None
    detail: list[dict[str, Any]] = []
    if scene is not None and cube is not None:
        for group in maps.parcel_groups(sel):
            numbers = [i + 1 for i in group]
            rgb, ndvi = maps.parcel_maps(
                cube, sel.iloc[group], scene=scene, lang=lang, numbers=numbers
            )
            detail.append({"rgb": rgb, "ndvi": ndvi, "numbers": ", ".join(map(str, numbers))})
    overview_uri = maps.overview_map(
        assessment.parcels if neighbours is None else _near(neighbours, sel),
        hh_parcels if target.kind == "household" else sel,
        cube=cube,
        lang=lang,
    )
    county_yields = (
        dict(assessment.context.county_yields) if assessment.context is not None else None
    )
    parcel_rows = [
        _parcel_row(i, row, lang, county_yields) for i, (_, row) in enumerate(sel.iterrows())
    ]
    for i, (_, row) in enumerate(sel.iterrows()):
        parcel_rows[i]["curve"] = _curve_uri(assessment, i, row, lang)
    weather = _weather_rows(assessment, target.owner_ref, lang)
    when = generated or dt.datetime.now(dt.UTC)
    return {
        "lang": lang,
        "t": labels(lang),
        "kind": target.kind,
        "target_id": target.target_id,
        "owner_ref": target.owner_ref,
        "title": text("title_household" if target.kind == "household" else "title_parcel", lang),
        "generated": when.strftime("%Y-%m-%d %H:%M UTC"),
        "household": _household_view(target.household, lang),
        "parcels": parcel_rows,
        "visits": officer.visit_cards(sel, lang),
        "maps": {
            "detail": detail,
            "overview": overview_uri,
            "date": fmt_date(scene.time) if scene else None,
            "clear_share": fmt_percent(scene.clear_fraction, lang=lang) if scene else None,
        },
        "weather": weather,
        "weather_events": _weather_events(assessment, target.owner_ref, lang),
        "subsidies": _subsidy_rows(assessment, target),
        "credit_beyond": credit_beyond_view(assessment, target.owner_ref, lang),
        "provenance": _provenance(assessment, target, lang),
        "monitoring": [],
    }


def render_html(context: dict[str, Any]) -> str:
    """Fill the report template with a :func:`report_context`."""
    return environment().get_template("report.html.j2").render(**context)


__all__ = ["SUBSIDY_COLUMNS", "Target", "render_html", "report_context", "resolve_target"]
