"""What a field officer acts on: the trigger of a refer or decline, a visit checklist per
flagged parcel, what would change a decline, and the officer's own units.

Every function here returns words for people in ``en`` or ``zh``; codes come through
:mod:`agrilend.glossary`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np

from agrilend.glossary import crop_state, term
from agrilend.report.i18n import Lang, fmt_money, fmt_number, fmt_percent, is_missing

#: Kilograms per mu in one tonne per hectare (1 ha = 15 mu).
KG_MU_PER_T_HA = 1000.0 / 15.0
#: The harvests of a double crop, in the order of the season.
DOUBLE_CROP = {"winter_wheat_maize": ("winter_wheat", "summer_maize")}

#: Reason codes that decide a refer or a decline (the trigger), in the order they are shown.
TRIGGER_CODES = (
    "NO_EVIDENCE",
    "EARLY_SEASON_REFER",
    "LINE_BELOW_MINIMUM",
    "LOW_AREA_RATIO",
    "LOW_EVIDENCE_SHARE",
    "LARGE_HAIRCUT",
    "SUBSIDY_OVER_AREA",
    "OWN_EVIDENCE_CONTRADICTS",
    "INSURANCE_CONTRADICTS",
    "TRANSFER_CONFLICT",
)

_HEADLINE = {
    "approve": ("Approved", "批准"),
    "refer": ("Referred because", "转人工复核，原因："),
    "decline": ("Declined because", "拒绝，原因："),
}

#: For a decline or refer trigger: what would change the decision (templates over its params).
_CHANGE: Mapping[str, tuple[str, str]] = {
    "LINE_BELOW_MINIMUM": (
        (
            "The line reaches the minimum of {min_line} once the evidence supports {gap} more: "
            "more cultivated area confirmed, better yields shown, or the flagged parcels cleared "
            "in the field."
        ),
        (
            "若证据再支持 {gap}，额度即可达到最低额度 {min_line}："
            "确认更多耕种面积、显示更好的单产，或经实地核查解除地块标记。"
        ),
    ),
    "NO_EVIDENCE": (
        (
            "Any usable evidence on a parcel lets the line be sized: a field visit with photos of "
            "each parcel, or a clear satellite view later in the season."
        ),
        "任一地块有可用证据即可测算额度：实地走访并拍摄每块地，或本季稍后取得无云卫星影像。",
    ),
    "LOW_AREA_RATIO": (
        (
            "If the visit finds at least {min_ratio} of the declared area cultivated "
            "(now {ratio}), the household no longer needs review."
        ),
        "若实地核查确认耕种面积达到申报面积的 {min_ratio}（目前为 {ratio}），即无需复核。",
    ),
    "LOW_EVIDENCE_SHARE": (
        "Evidence on at least {min_share} of the declared area (now {share}) removes the review.",
        "证据覆盖申报面积达到 {min_share}（目前为 {share}）即无需复核。",
    ),
    "LARGE_HAIRCUT": (
        (
            "Clearing the flagged parcels in the field lifts their cuts ({cut} of the line now, "
            "{max_cut} allowed without review)."
        ),
        "经实地核查解除地块标记后，相应扣减取消（目前扣减额度 {cut}，无需复核上限 {max_cut}）。",
    ),
    "EARLY_SEASON_REFER": (
        (
            "Once the imagery covers the crop's season (or a visit confirms the crop), the "
            "line is sized without review."
        ),
        "影像覆盖作物生长季后（或经实地核查确认作物），即可不经复核测算额度。",
    ),
    "SUBSIDY_OVER_AREA": (
        (
            "If the subsidised area is found cultivated, or the subsidy record is corrected, the "
            "household no longer needs review."
        ),
        "若实地确认补贴面积确有耕种，或补贴记录得到更正，即无需复核。",
    ),
}

_LOOK: Mapping[str, tuple[str, str, str, str]] = {
    # flag: (what to look at and photograph, en / zh; which answer changes the decision, en / zh)
    "crop_mismatch": (
        (
            "Which crop stands in the field? Photograph the crop close up and the whole field "
            "from a corner."
        ),
        "地里种的是什么作物？近拍作物，并从地角拍摄整块地。",
        "If the declared crop stands there, the crop cut on this parcel is lifted.",
        "若地里确为申报作物，该地块的作物扣减取消。",
    ),
    "differs_uncertain": (
        "Which crop stands in the field? The satellite is unsure. Photograph the crop close up.",
        "地里种的是什么作物？卫星识别把握不大，请近拍作物。",
        "If it is not the declared crop, the parcel is flagged and its value cut.",
        "若不是申报作物，该地块将被标记并扣减价值。",
    ),
    "not_cultivated": (
        "Is the field cultivated at all? Photograph it from each corner.",
        "该地块是否有耕种？从各个地角拍照。",
        "If it is cultivated, its area counts again.",
        "若确有耕种，其面积重新计入。",
    ),
    "partly_abandoned": (
        "Which part lies uncultivated (abandoned)? Photograph the bare part and its edge.",
        "哪一部分撂荒未种？拍摄撂荒部分及其边界。",
        "If the whole field is cultivated, its full area counts.",
        "若整块地均有耕种，按全部面积计入。",
    ),
    "partly_cultivated": (
        "Which part is cultivated? Photograph the bare part and its edge.",
        "哪一部分有耕种？拍摄未种部分及其边界。",
        "If the whole field is cultivated, its full area counts.",
        "若整块地均有耕种，按全部面积计入。",
    ),
    "over_declared": (
        "Walk the boundary: is the field as large as declared? Photograph the corner stakes.",
        "沿边界步行核实：地块是否有申报的那么大？拍摄界桩。",
        "If the declared area is confirmed, the area cut is lifted.",
        "若申报面积得到确认，面积扣减取消。",
    ),
    "area_mismatch": (
        "Walk the boundary: is the field as large as declared? Photograph the corner stakes.",
        "沿边界步行核实：地块是否有申报的那么大？拍摄界桩。",
        "If the declared area is confirmed, the area cut is lifted.",
        "若申报面积得到确认，面积扣减取消。",
    ),
    "poor_vigour": (
        "How does the crop look against the neighbours' fields? Photograph leaves and stand.",
        "作物长势与邻近地块相比如何？拍摄叶片和群体长势。",
        "If the crop is normal, the vigour cut on this parcel is lifted.",
        "若长势正常，该地块的长势扣减取消。",
    ),
    "few_pixels": (
        "The field is small for the satellite. Photograph the crop and the whole field.",
        "地块较小，卫星像元少。请拍摄作物和整块地。",
        "Photos of a cultivated crop let the parcel count as evidence.",
        "若照片显示正常耕种，该地块可计为证据。",
    ),
    "few_clear_observations": (
        "The satellite saw this field rarely. Photograph the crop and the whole field.",
        "卫星对该地块的有效观测很少。请拍摄作物和整块地。",
        "Photos of a cultivated crop let the parcel count as evidence.",
        "若照片显示正常耕种，该地块可计为证据。",
    ),
}


def _pair(p: tuple[str, str], lang: Lang) -> str:
    return p[1] if lang == "zh" else p[0]


# --- the decision ----------------------------------------------------------------------------


def ordered_reasons(codes: Sequence[str], texts: Sequence[str]) -> list[tuple[str, str]]:
    """``(code, text)`` pairs with the triggers of a refer or decline first.

    Examples
    --------
    >>> ordered_reasons(["CLIMATE_RISK", "LOW_AREA_RATIO"], ["a", "b"])
    [('LOW_AREA_RATIO', 'b'), ('CLIMATE_RISK', 'a')]
    """
    pairs = [(codes[i] if i < len(codes) else "", str(t)) for i, t in enumerate(texts)]
    rank = {c: k for k, c in enumerate(TRIGGER_CODES)}
    return sorted(pairs, key=lambda p: rank.get(p[0], len(rank)))


def headline(decision: str, trigger: str | None, lang: Lang) -> str:
    """The decision in one line, its trigger first: "Referred because ...".

    Examples
    --------
    >>> headline("refer", "observed area is only 40% of the declared area", "en")
    'Referred because observed area is only 40% of the declared area'
    >>> headline("approve", None, "zh")
    '批准'
    """
    pair = _HEADLINE.get(decision)
    if pair is None:
        return term("decision", decision, lang)
    if decision == "approve":
        return _pair(pair, lang)
    if not trigger:
        return term("decision", decision, lang)
    head = _pair(pair, lang)
    return f"{head}{trigger}" if lang == "zh" else f"{head} {trigger}"


def reason_params(limits: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each reason code's parameters, from the household's ``limits`` (credit sizing)."""
    out: dict[str, dict[str, Any]] = {}
    for r in limits.get("reasons", []) or []:
        if isinstance(r, dict) and "code" in r:
            out[str(r["code"])] = dict(r.get("params") or {})
    return out


def what_would_change(
    code: str, params: Mapping[str, Any], lang: Lang, *, currency: str = "CNY"
) -> str | None:
    """What would change a refer's or decline's trigger ``code``, or None when nothing is known.

    Examples
    --------
    >>> what_would_change("LINE_BELOW_MINIMUM", {"line": 1800, "min_line": 3000}, "en")[:48]
    'The line reaches the minimum of CNY 3,000 once t'
    """
    pair = _CHANGE.get(code)
    if pair is None:
        return None
    fields: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            if key in {"line", "min_line"}:
                fields[key] = fmt_money(value, currency, lang=lang)
            elif key in {"ratio", "min_ratio", "share", "min_share", "cut", "max_cut"}:
                fields[key] = fmt_percent(value, lang=lang)
    if code == "LINE_BELOW_MINIMUM":
        gap = float(params.get("min_line", 0) or 0) - float(params.get("line", 0) or 0)
        fields["gap"] = fmt_money(max(gap, 0.0), currency, lang=lang)
    try:
        return _pair(pair, lang).format(**fields)
    except KeyError:  # a field missing from the params: the sentence without its numbers
        return None


# --- units -------------------------------------------------------------------------------------


def yield_text(t_ha: Any, lang: Lang) -> str:
    """A yield in the officer's unit: t/ha in English, 公斤/亩 (kg/mu) in Chinese.

    Examples
    --------
    >>> yield_text(7.5, "en"), yield_text(7.5, "zh")
    ('7.5 t/ha', '500 公斤/亩')
    """
    if is_missing(t_ha):
        return "–"
    if lang == "zh":
        return f"{float(t_ha) * KG_MU_PER_T_HA:,.0f} 公斤/亩"
    return f"{float(t_ha):,.1f} t/ha"


def yield_parts(
    row: Mapping[Any, Any], county_yields: Mapping[str, float] | None, lang: Lang
) -> list[dict[str, str]]:
    """The yield of each harvest: wheat and maize apart for the double crop.

    The pipeline's yield of each harvest (``harvest_s1``/``yield_s1_t_ha`` and ``_s2``) is
    used when the row has two; else per-harvest columns (``yield_<harvest>_t_ha``); otherwise
    the parcel's yield is split by the county's reference yields of its harvests (as the
    credit sizing splits it).
    """
    crop = str(row.get("crop", ""))
    total = row.get("yield_t_ha")
    seasons = [(str(row.get(f"harvest_s{k}") or ""), row.get(f"yield_s{k}_t_ha")) for k in (1, 2)]
    seasons = [(h, v) for h, v in seasons if h and not is_missing(v)]
    if len(seasons) == 2:  # the pipeline's own yield of each harvest (wheat, then maize)
        return [{"harvest": term("crop", h, lang), "text": yield_text(v, lang)} for h, v in seasons]
    harvests = DOUBLE_CROP.get(crop)
    if harvests is None:
        return [{"harvest": term("crop", crop, lang), "text": yield_text(total, lang)}]
    own = [row.get(f"yield_{h}_t_ha") for h in harvests]
    if all(not is_missing(v) for v in own):
        values = [float(v) for v in own if v is not None]
    elif is_missing(total):
        values = [math.nan, math.nan]
    else:
        refs = [float((county_yields or {}).get(h, math.nan)) for h in harvests]
        shares = [r / sum(refs) for r in refs] if all(r > 0 for r in refs) else [0.5, 0.5]
        values = [float(total or 0.0) * s for s in shares]
    return [
        {"harvest": term("crop", h, lang), "text": yield_text(v, lang)}
        for h, v in zip(harvests, values, strict=True)
    ]


def vigour_text(vigour: Any, lang: Lang) -> str:
    """Vigour (a ratio to similar fields, 1.0 = typical) as a percentage against them.

    Examples
    --------
    >>> vigour_text(1.08, "en"), vigour_text(0.83, "zh")
    ('+8 % against similar fields', '比同类地块低 17%')
    """
    if is_missing(vigour):
        return "–"
    pct = round(100 * (float(vigour) - 1.0))
    if lang == "zh":
        if pct == 0:
            return "与同类地块相当"
        return f"比同类地块{'高' if pct > 0 else '低'} {abs(pct)}%"
    return f"{pct:+d} % against similar fields" if pct else "as similar fields"


def area_mu(hectares: Any) -> str:
    """An area in mu (one decimal)."""
    return fmt_number(None if is_missing(hectares) else float(hectares) * 15.0, digits=1)


def weather_events(season: Mapping[Any, Any], lang: Lang) -> list[str]:
    """The season's weather as named events (heat wave, frost, dry spell, drought, wet season).

    Examples
    --------
    >>> weather_events({"heat_days": 13, "heat_days_normal": 1.2, "spi": 0.6}, "en")
    ['Heat wave: 13 days above 35 °C (normal 1)']
    """

    def num(key: str) -> float | None:
        v = season.get(key)
        return None if v is None or is_missing(v) else float(v)

    out: list[str] = []
    heat, heat_n = num("heat_days"), num("heat_days_normal")
    if heat is not None and heat >= 3 and (heat_n is None or heat > heat_n + 2):
        normal = "" if heat_n is None else (
            f"（常年 {heat_n:.0f} 天）" if lang == "zh" else f" (normal {heat_n:.0f})"
        )  # fmt: skip
        out.append(
            f"高温热害：{heat:.0f} 天最高气温超过 35°C{normal}"
            if lang == "zh"
            else f"Heat wave: {heat:.0f} days above 35 °C{normal}"
        )
    dry = num("max_dry_spell_days")
    if dry is not None and dry >= 20:
        out.append(
            f"持续干旱：连续 {dry:.0f} 天无有效降水"
            if lang == "zh"
            else f"Dry spell: {dry:.0f} days in a row without useful rain"
        )
    spi = num("spi")
    if spi is not None and spi <= -1.0:
        out.append(
            f"季节性干旱：标准化降水指数 {spi:.1f}"
            if lang == "zh"
            else f"Drought season: standardised precipitation index {spi:.1f}"
        )
    elif spi is not None and spi >= 1.5:
        out.append(
            f"多雨涝渍风险：标准化降水指数 {spi:.1f}"
            if lang == "zh"
            else f"Wet season (waterlogging risk): standardised precipitation index {spi:.1f}"
        )
    return out


# --- the visit ---------------------------------------------------------------------------------

#: Columns that may hold a parcel's field name (地块名称) in a registry.
FIELD_NAME_COLUMNS = ("field_name", "DKMC", "dkmc", "name", "parcel_name")


def field_name(row: Mapping[Any, Any]) -> str:
    """The parcel's field name from the registry (e.g. 北坑3号), or ``""``."""
    for col in FIELD_NAME_COLUMNS:
        v = row.get(col)
        if v is not None and not is_missing(v) and str(v).strip():
            return str(v).strip()
    return ""


def qr_svg(data: str) -> str:
    """``data`` as an inline SVG QR code (segno), for a phone to scan.

    Examples
    --------
    >>> qr_svg("geo:36.5,114.5").startswith("<svg")
    True
    """
    import segno  # noqa: PLC0415  (only when a visit list is drawn)

    qr = segno.make(data, error="m", micro=False)
    svg: str = qr.svg_inline(scale=3, border=2, dark="#263238", light="#ffffff")
    return svg


def lonlat(parcels: gpd.GeoDataFrame) -> list[tuple[float, float] | None]:
    """Each parcel's point inside it, as ``(lon, lat)`` in WGS 84 (None without a geometry)."""
    geoms = parcels.geometry
    usable = geoms.notna() & ~geoms.is_empty
    out: list[tuple[float, float] | None] = [None] * len(parcels)
    if not usable.any():
        return out
    pts = geoms[usable].representative_point()
    if parcels.crs is not None:
        pts = pts.to_crs(4326)
    for i, p in zip(np.flatnonzero(usable.to_numpy()), pts, strict=True):
        out[int(i)] = (float(p.x), float(p.y))
    return out


def visit_flags(row: Mapping[Any, Any]) -> list[str]:
    """What an officer checks on this parcel: its flags (and an unsure crop), in visit order."""
    flags: list[str] = []
    quality = row.get("quality_flags")
    if isinstance(quality, str):
        try:
            quality = json.loads(quality) if quality.startswith("[") else quality.split(",")
        except ValueError:
            quality = [quality]
    area_flag = row.get("area_flag")
    raised = list(quality if quality is not None and not is_missing(quality) else [])
    for f in [*raised, "" if is_missing(area_flag) else str(area_flag)]:
        if f and str(f) in _LOOK:
            flags.append(str(f))
    state = crop_state(
        row.get("declared_crop"), row.get("crop"), row.get("crop_mismatch"),
        row.get("crop_confidence"),
    )  # fmt: skip
    if state == "differs_uncertain":
        flags.append("differs_uncertain")
    elif state == "differs_flagged":
        flags.insert(0, "crop_mismatch")
    if str(row.get("vigour_class", "")) in {"poor", "very_poor", "low", "very_low"}:
        flags.append("poor_vigour")
    return list(dict.fromkeys(flags))


def visit_card(
    n: int, row: Mapping[Any, Any], where: tuple[float, float] | None, lang: Lang
) -> dict[str, Any] | None:
    """One flagged parcel's visit: name, place (coordinates, map link, QR), what to check.

    ``where`` is the parcel's ``(lon, lat)`` in WGS 84. Returns None for a parcel with nothing
    to check.
    """
    flags = visit_flags(row)
    if not flags:
        return None
    geo = osm = qr = coords = ""
    if where is not None:
        lon, lat = where
        coords = f"{lat:.5f}, {lon:.5f}"
        geo = f"geo:{lat:.6f},{lon:.6f}"
        osm = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.5f}/{lon:.5f}"
        qr = qr_svg(geo)
    checks = [
        {
            "flag": _pair(_SPECIAL[f], lang) if f in _SPECIAL else term("flag", f, lang),
            "look": _LOOK[f][1 if lang == "zh" else 0],
            "changes": _LOOK[f][3 if lang == "zh" else 2],
        }
        for f in flags
    ]
    return {
        "n": n,
        "parcel_id": str(row.get("parcel_id", "")),
        "name": field_name(row),
        "area_mu": area_mu(row.get("declared_area_ha")),
        "coords": coords,
        "geo": geo,
        "osm": osm,
        "qr": qr,
        "checks": checks,
    }


_SPECIAL: Mapping[str, tuple[str, str]] = {
    "differs_uncertain": ("crop unsure", "作物识别存疑"),
    "poor_vigour": ("poor vigour", "长势差"),
}


def visit_cards(parcels: gpd.GeoDataFrame, lang: Lang) -> list[dict[str, Any]]:
    """The visit checklist of a household: one card per parcel with something to check."""
    cards = []
    places = lonlat(parcels)
    for i, (_, row) in enumerate(parcels.iterrows()):
        if not visit_flags(row.to_dict()):
            continue
        card = visit_card(i + 1, row.to_dict(), places[i], lang)
        if card is not None:
            cards.append(card)
    return cards


def as_dict(value: Any) -> dict[str, Any]:
    """A ``limits`` cell (JSON text or dict) as a dict."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


__all__ = [
    "DOUBLE_CROP",
    "FIELD_NAME_COLUMNS",
    "KG_MU_PER_T_HA",
    "TRIGGER_CODES",
    "area_mu",
    "as_dict",
    "field_name",
    "headline",
    "lonlat",
    "ordered_reasons",
    "qr_svg",
    "reason_params",
    "vigour_text",
    "visit_card",
    "visit_cards",
    "visit_flags",
    "weather_events",
    "what_would_change",
    "yield_parts",
    "yield_text",
]
