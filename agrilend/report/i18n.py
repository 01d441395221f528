"""The report's words in English and Chinese, and how numbers, areas and dates are written.

Both languages carry the same content: only labels change. Values that come from the data (crop
names, decisions, flags) are translated through small tables; an unknown value is shown as it is,
so a new code never disappears from a report.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pandas as pd

from agrilend.vocabulary import M2_PER_MU, MU_PER_HA

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

#: Square metres per mu (亩), the unit Chinese registries and field officers use.

_TEXT: dict[str, tuple[str, str]] = {
    # page
    "title_household": ("Household credit report", "农户授信报告"),
    "title_parcel": ("Parcel credit report", "地块授信报告"),
    "household": ("Household", "农户"),
    "parcel": ("Parcel", "地块"),
    "generated": ("Generated", "生成时间"),
    "pseudonym_note": (
        "Owners appear only as pseudonyms; no names or identity numbers are kept.",
        "农户仅以化名标识，报告不含姓名或身份证号。",
    ),
    "parcel_of_household": ("This parcel belongs to household", "该地块属于农户"),
    # summary
    "summary": ("Summary", "概要"),
    "credit_line": ("Credit line", "授信额度"),
    "tenor": ("Tenor", "期限"),
    "months": ("months", "个月"),
    "decision": ("Decision", "决定"),
    "parcels": ("Parcels", "地块数"),
    "declared_area": ("Declared area", "登记面积"),
    "cultivated_area": ("Cultivated area", "实际耕种面积"),
    "expected_revenue": ("Expected revenue", "预期收入"),
    "input_cost": ("Input cost", "投入成本"),
    "subsidy_income": ("Subsidy income", "补贴收入"),
    "climate_haircut": ("Climate haircut", "气候风险折扣"),
    "reasons": ("Why this decision", "决定依据"),
    "limits": ("What bounds the line", "额度约束"),
    "binding": ("binding", "起约束作用"),
    "limit_revenue": ("Revenue limit", "收入上限"),
    "limit_input": ("Input-cost limit", "投入成本上限"),
    "limit_area": ("Area limit", "面积上限"),
    "limit_household": ("Household limit", "单户上限"),
    "climate_factor": ("Climate factor", "气候系数"),
    "line_before_rounding": ("Line before rounding", "取整前额度"),
    "revenue_share": ("Share of revenue lent", "收入授信比例"),
    "cap_per_ha": ("Limit per hectare", "每公顷上限"),
    "no_reasons": ("No reasons were recorded.", "未记录原因。"),
    "no_household": (
        "No credit decision was made for this household.",
        "该农户没有授信决定。",
    ),
    # maps
    "maps": ("Where the parcels are", "地块位置"),
    "true_colour": ("True colour", "真彩色影像"),
    "ndvi_map": ("NDVI (vegetation)", "NDVI（植被指数）"),
    "overview": ("Overview of the county", "全县概览"),
    "map_date": ("Image of", "影像日期"),
    "clear_share": ("clear", "无云"),
    "no_imagery": (
        "No imagery was given, so only the outline map is shown.",
        "未提供影像，仅显示地块轮廓图。",
    ),
    "north": ("N", "北"),
    "this_household": ("this household", "本农户"),
    "other_parcels": ("other parcels", "其他地块"),
    "map_extent": ("detail map", "详图范围"),
    # parcels
    "parcel_table": ("Parcels at a glance", "地块一览"),
    "parcel_id": ("Parcel", "地块编码"),
    "declared_crop": ("Declared crop", "登记作物"),
    "crop": ("Crop seen", "识别作物"),
    "confidence": ("confidence", "置信度"),
    "area_ratio": ("Cultivated / declared", "实种/登记"),
    "vigour": ("Vigour", "长势"),
    "yield": ("Yield", "单产"),
    "yield_interval": ("interval", "区间"),
    "status": ("Status", "状态"),
    "crop_mismatch": ("differs from the declared crop", "与登记作物不符"),
    "matches_declared": ("matches the declared crop", "与登记作物一致"),
    "ndvi_curves": ("Crop growth through the season", "作物季节生长曲线"),
    "phenology": ("Season", "物候期"),
    "sos": ("Start of season", "生长季开始"),
    "pos": ("Peak", "生长高峰"),
    "eos": ("End of season", "生长季结束"),
    "sos_short": ("start", "始"),
    "pos_short": ("peak", "峰"),
    "eos_short": ("end", "末"),
    "season_length": ("Season length", "生长季长度"),
    "days": ("days", "天"),
    "peak_ndvi": ("Peak NDVI", "峰值NDVI"),
    "observations": ("Clear observations", "无云观测"),
    "cloud_fraction": ("Cloudy share", "云覆盖比例"),
    "pixels": ("Pixels", "像元数"),
    "quality_flags": ("Data quality", "数据质量"),
    "early_season": ("early season", "早季"),
    "early_season_note": (
        "the imagery does not yet cover this crop season: crop not confirmed",
        "影像尚未覆盖该作物生长季：作物未经确认",
    ),
    "message": ("Note", "说明"),
    # curve legend
    "ndvi": ("NDVI", "NDVI"),
    "obs_clear": ("observed (clear)", "观测值（无云）"),
    "obs_cloud": ("observed (cloud-masked)", "观测值（云遮挡）"),
    "obs_none": ("no clear view", "无有效观测"),
    "smoothed": ("smoothed curve", "平滑曲线"),
    "peer_band": ("peers of the same crop (10-90 %)", "同作物地块（10-90%）"),
    "peer_median": ("peer median", "同作物中位数"),
    # weather and subsidies
    "weather": ("Season weather against normal", "生长季天气与常年对比"),
    "no_weather": ("No weather records were given.", "未提供气象数据。"),
    "measure": ("Measure", "指标"),
    "value": ("Value", "数值"),
    "this_season": ("This season", "本季"),
    "normal": ("Normal", "常年"),
    "subsidies": ("Subsidy records", "补贴记录"),
    "no_subsidies": ("No subsidy records match this household.", "未找到该农户的补贴记录。"),
    "scheme": ("Scheme", "补贴项目"),
    "year": ("Year", "年份"),
    "area_mu": ("Area (mu)", "面积（亩）"),
    "amount": ("Amount", "金额"),
    "match": ("Matched by", "匹配方式"),
    # provenance
    "provenance": ("How this report was made", "数据来源与可复现信息"),
    "imagery_dates": ("Imagery dates", "影像日期"),
    "n_dates": ("dates", "景"),
    "mean_cloud": ("Mean cloud cover over the parcels", "地块平均云覆盖"),
    "agrilend_version": ("agrilend version", "agrilend 版本"),
    "model_version": ("Crop model", "作物模型"),
    "policy_version": ("Credit policy", "授信政策"),
    "inputs": ("Inputs", "输入数据"),
    "file": ("File", "文件"),
    "checksum": ("Checksum (SHA-256)", "校验和（SHA-256）"),
    "attribution": (
        "Contains modified Copernicus Sentinel data.",
        "包含经处理的哥白尼 Sentinel 卫星数据。",
    ),
    "disclaimer": (
        "The decision is a recommendation from satellite evidence; a person can override it.",
        "本决定为基于卫星证据的建议，可由人工复核更改。",
    ),
    "missing": ("–", "–"),
}

_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "crop": {
        "winter_wheat_maize": ("winter wheat + summer maize", "冬小麦-夏玉米"),
        "winter_wheat": ("winter wheat", "冬小麦"),
        "summer_maize": ("summer maize", "夏玉米"),
        "maize": ("maize", "玉米"),
        "rice": ("rice", "水稻"),
        "soybean": ("soybean", "大豆"),
        "cotton": ("cotton", "棉花"),
        "peanut": ("peanut", "花生"),
        "orchard": ("orchard", "果园"),
        "greenhouse": ("greenhouse", "大棚"),
        "fallow": ("fallow", "撂荒"),
        "": ("not declared", "未登记"),
    },
    "decision": {
        "approve": ("approve", "批准"),
        "refer": ("refer to an officer", "转人工复核"),
        "decline": ("decline", "拒绝"),
    },
    "status": {
        "ok": ("ok", "正常"),
        "flagged": ("flagged", "需关注"),
        "error": ("error", "错误"),
    },
    "vigour_class": {
        "very_poor": ("very poor", "很差"),
        "poor": ("poor", "差"),
        "very_low": ("very low", "很差"),
        "low": ("low", "偏差"),
        "below_normal": ("below normal", "偏弱"),
        "normal": ("normal", "正常"),
        "average": ("average", "正常"),
        "above_normal": ("above normal", "偏好"),
        "good": ("good", "良好"),
        "high": ("high", "良好"),
        "very_good": ("very good", "很好"),
        "very_high": ("very high", "很好"),
        "unknown": ("unknown", "未知"),
    },
    "input": {
        "titles": ("land titles", "土地确权数据"),
        "imagery": ("satellite imagery", "卫星影像"),
        "weather": ("weather", "气象数据"),
        "subsidies": ("subsidy records", "补贴记录"),
        "policy": ("credit policy", "授信政策"),
        "county_yields": ("county yields", "县级单产统计"),
        "titles_mapping": ("titles column mapping", "确权数据字段映射"),
    },
    "area_flag": {
        "ok": ("as declared", "与登记相符"),
        "over_declared": ("over-declared", "登记面积偏大"),
        "under_declared": ("under-declared", "登记面积偏小"),
        "partly_cultivated": ("partly cultivated", "部分耕种"),
        "partly_abandoned": ("partly abandoned", "部分撂荒"),
        "not_cultivated": ("not cultivated", "未耕种"),
        "unknown": ("unknown", "未知"),
    },
}


def text(key: str, lang: Lang) -> str:
    """The label ``key`` in ``lang``.

    Examples
    --------
    >>> text("credit_line", "en"), text("credit_line", "zh")
    ('Credit line', '授信额度')
    """
    en, zh = _TEXT[key]
    return zh if lang == "zh" else en


def labels(lang: Lang) -> dict[str, str]:
    """Every label in ``lang``, keyed as in :func:`text` (what the template receives)."""
    return {key: text(key, lang) for key in _TEXT}


def value_text(kind: str, value: Any, lang: Lang) -> str:
    """A data value (crop, decision, status, ...) in words; unknown values are returned as given.

    Examples
    --------
    >>> value_text("crop", "maize", "zh"), value_text("decision", "refer", "en")
    ('玉米', 'refer to an officer')
    >>> value_text("crop", "teff", "zh")
    'teff'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return text("missing", lang)
    table = _VALUES.get(kind, {})
    pair = table.get(str(value))
    if pair is None:
        return str(value).replace("_", " ")
    return pair[1] if lang == "zh" else pair[0]


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are not "missing"
        return False


def fmt_number(value: Any, *, digits: int = 0, lang: Lang = "en") -> str:
    """A number with thousands separators, or a dash when missing.

    Examples
    --------
    >>> fmt_number(48250.4), fmt_number(0.8123, digits=2), fmt_number(float("nan"))
    ('48,250', '0.81', '–')
    """
    if is_missing(value):
        return text("missing", lang)
    return f"{float(value):,.{digits}f}"


def fmt_percent(value: Any, *, lang: Lang = "en") -> str:
    """A share in [0, 1] as a whole percentage.

    Examples
    --------
    >>> fmt_percent(0.873)
    '87 %'
    """
    if is_missing(value):
        return text("missing", lang)
    return f"{100 * float(value):.0f} %"


def fmt_area(hectares: Any, *, lang: Lang = "en") -> str:
    """An area in hectares with its value in mu, the unit of Chinese registries.

    Examples
    --------
    >>> fmt_area(0.5), fmt_area(0.5, lang="zh")
    ('0.50 ha (7.5 mu)', '0.50 公顷（7.5 亩）')
    """
    if is_missing(hectares):
        return text("missing", lang)
    ha = float(hectares)
    mu = ha * MU_PER_HA
    if lang == "zh":
        return f"{ha:,.2f} 公顷（{mu:,.1f} 亩）"
    return f"{ha:,.2f} ha ({mu:,.1f} mu)"


def fmt_money(value: Any, currency: str = "CNY", *, lang: Lang = "en") -> str:
    """An amount of money with its currency.

    Examples
    --------
    >>> fmt_money(48000, "CNY"), fmt_money(48000, "CNY", lang="zh")
    ('CNY 48,000', '48,000 元')
    """
    if is_missing(value):
        return text("missing", lang)
    amount = f"{float(value):,.0f}"
    if lang == "zh" and currency in {"CNY", "RMB", ""}:
        return f"{amount} 元"
    return f"{currency} {amount}".strip()


def fmt_date(value: Any, *, lang: Lang = "en") -> str:
    """A date as ``YYYY-MM-DD`` (the same in both languages), or a dash when missing.

    Examples
    --------
    >>> fmt_date("2024-06-03T00:00"), fmt_date(None)
    ('2024-06-03', '–')
    """
    if is_missing(value):
        return text("missing", lang)
    return pd.Timestamp(value).strftime("%Y-%m-%d")


__all__ = [
    "LANGS",
    "M2_PER_MU",
    "Lang",
    "fmt_area",
    "fmt_date",
    "fmt_money",
    "fmt_number",
    "fmt_percent",
    "is_missing",
    "labels",
    "text",
    "value_text",
]
