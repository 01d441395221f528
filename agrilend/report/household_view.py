"""The household's and its parcels' figures as the report shows them: the decision, the line's
limits, each parcel's row, its NDVI curve beside its peers'.

Key figures carry their raw number beside the shown text (``_figure``), so the page can carry
``data-value`` attributes that tests and scripts read without parsing formatted text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agrilend.glossary import crop_state, flags_text, term
from agrilend.report import figures, officer
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

if TYPE_CHECKING:  # only the type is needed; the page renders any object shaped like it
    from agrilend.assessment import Assessment

_TEXT_KEYS = set(labels("en"))


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


def household_view(hh: pd.Series | None, lang: Lang) -> dict[str, Any] | None:
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


def parcel_row(
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


def curve_uri(assessment: Assessment, i: int, row: pd.Series, lang: Lang) -> str | None:
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
