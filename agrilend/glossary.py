"""Every code a person may read, in English and Chinese: one place for all human outputs.

Crops, decisions, parcel statuses, quality flags (title checks, area and crop checks), vigour
classes, the three crop states, reason codes and input names are written here once and used by
the report, the scan's summary and household pages, the demo's console summary and the CLI.
A code never reaches a person raw: :func:`term` turns an unknown one into plain words.

Chinese terms, chosen by meaning and used everywhere:

- 申报 (declared): what the farmer declared, crop or area (``declared_crop``,
  ``declared_area_ha``); 登记 is kept for the land registry itself (确权登记, 登记地块).
- 休耕 (fallow): land rested on purpose, a crop state; 撂荒 (abandoned): land left
  uncultivated, what ``partly_abandoned`` and ``not_cultivated`` describe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

Lang = Literal["en", "zh"]

_Pair = tuple[str, str]


def _table(**pairs: _Pair) -> Mapping[str, _Pair]:
    return MappingProxyType(dict(pairs))


CROPS = _table(
    winter_wheat_maize=("winter wheat + summer maize", "冬小麦-夏玉米"),
    winter_wheat=("winter wheat", "冬小麦"),
    summer_maize=("summer maize", "夏玉米"),
    maize=("maize", "玉米"),
    rice=("rice", "水稻"),
    soybean=("soybean", "大豆"),
    cotton=("cotton", "棉花"),
    peanut=("peanut", "花生"),
    orchard=("orchard", "果园"),
    greenhouse=("greenhouse", "设施大棚"),
    fallow=("fallow", "休耕"),
)

DECISIONS = _table(
    approve=("approve", "批准"),
    refer=("refer to an officer", "转人工复核"),
    decline=("decline", "拒绝"),
)

STATUSES = _table(ok=("ok", "正常"), flagged=("flagged", "需关注"), error=("error", "错误"))

#: Flags a parcel can carry (``quality_flags``, ``title_flags``) and ``area_flag`` values.
FLAGS = _table(
    # the crop and area checks
    crop_mismatch=("crop differs from the declared crop", "作物与申报不符"),
    area_mismatch=("area differs from the declared area", "面积与申报不符"),
    over_declared=("area over-declared", "申报面积偏大"),
    under_declared=("area under-declared", "申报面积偏小"),
    partly_cultivated=("partly cultivated", "部分耕种"),
    partly_abandoned=("partly abandoned", "部分撂荒"),
    not_cultivated=("not cultivated", "未耕种（撂荒）"),
    few_clear_observations=("few clear satellite views", "有效卫星观测偏少"),
    few_pixels=("too small for many pixels", "地块过小，像元偏少"),
    # the title checks (parcels.validate.CHECK_ORDER)
    empty=("no boundary in the registry", "确权登记中无边界"),
    non_finite=("boundary with broken coordinates", "边界坐标无效"),
    not_polygonal=("boundary is not an area", "边界不是面"),
    mixed_geometry=("boundary of mixed kinds", "边界类型混杂"),
    invalid=("boundary invalid", "边界无效"),
    repaired=("boundary repaired", "边界已修复"),
    under_one_pixel=("smaller than one pixel", "小于一个像元"),
    sliver=("sliver of a parcel", "狭长碎片地块"),
    missing_id=("no parcel code", "缺少地块编码"),
    duplicate_id=("parcel code used twice", "地块编码重复"),
    overlap=("overlaps another title", "与其他地块重叠"),
    outside_imagery=("outside the satellite images", "位于卫星影像范围外"),
    partly_outside=("partly outside the satellite images", "部分位于卫星影像范围外"),
    declared_area_invalid=("declared area invalid", "申报面积无效"),
    **{"3d_dropped": ("height dropped from the boundary", "已去除边界高程")},
)

AREA_FLAGS = _table(
    ok=("as declared", "与申报相符"),
    unknown=("unknown", "未知"),
    **{k: v for k, v in FLAGS.items() if k in {
        "over_declared", "under_declared", "partly_cultivated", "partly_abandoned",
        "not_cultivated"}},
)  # fmt: skip

VIGOUR_CLASSES = _table(
    very_poor=("very poor", "很差"),
    poor=("poor", "差"),
    very_low=("very poor", "很差"),
    low=("poor", "差"),
    below_normal=("below normal", "偏弱"),
    normal=("normal", "正常"),
    average=("normal", "正常"),
    above_normal=("above normal", "偏好"),
    good=("good", "良好"),
    high=("good", "良好"),
    very_good=("very good", "很好"),
    very_high=("very good", "很好"),
    unknown=("unknown", "未知"),
)

#: The three states of a parcel's crop against its declaration (and "unknown").
CROP_STATES = _table(
    matches=("matches the declared crop", "与申报作物一致"),
    differs_flagged=("differs from the declared crop (flagged)", "与申报作物不符（已标记）"),
    differs_uncertain=(
        "differs, low confidence: check in the field",
        "与申报作物不同，置信度低：请实地核查",
    ),
    unknown=("no crop to compare", "无法比对作物"),
)

#: Short names of the reason codes (the sentences themselves are in ``credit.reasons``).
REASONS = _table(
    REVENUE_LIMIT=("revenue limit", "收入上限"),
    INPUT_COST_LIMIT=("input-cost limit", "投入成本上限"),
    CAP_PER_AREA=("limit per hectare", "每公顷上限"),
    CAP_HOUSEHOLD=("household limit", "单户上限"),
    AREA_BELOW_DECLARED=("area below declared", "面积低于申报"),
    AREA_MISMATCH=("area mismatch", "面积不符"),
    CROP_MISMATCH=("crop mismatch", "作物不符"),
    POOR_VIGOUR=("poor vigour", "长势差"),
    LOW_DATA_QUALITY=("low data quality", "数据质量低"),
    LOW_YIELD=("low yield", "单产偏低"),
    CLIMATE_RISK=("climate risk", "气候风险"),
    PARTIAL_EVIDENCE=("partial evidence", "证据不全"),
    NO_EVIDENCE=("no evidence", "无可用证据"),
    LINE_BELOW_MINIMUM=("line below the minimum", "额度低于下限"),
    SUBSIDY_OVER_AREA=("subsidy above the area", "补贴面积超出耕种面积"),
    LARGE_HAIRCUT=("large cuts", "扣减过大"),
    LOW_AREA_RATIO=("low area ratio", "耕种比例偏低"),
    LOW_EVIDENCE_SHARE=("little evidence", "证据覆盖不足"),
    CLAIM_TRUST=("lower-trust claims", "低可信度地块"),
    MARGIN_LIMIT=("margin limit", "收益上限"),
    INSURED=("crop insured", "已投保"),
    OWN_EVIDENCE=("farmer's own evidence", "农户自有证据"),
    RENTED_LAND=("rented land", "流转土地"),
    OWN_EVIDENCE_CONTRADICTS=("own evidence contradicts", "自有证据与影像矛盾"),
    INSURANCE_CONTRADICTS=("insurance contradicts", "保险记录与影像矛盾"),
    TRANSFER_CONFLICT=("land transfer conflict", "土地流转争议"),
    EARLY_SEASON=("season not yet seen", "生长季尚未观测"),
    EARLY_SEASON_REFER=("season not yet seen: a person decides", "生长季尚未观测，人工决定"),
)

INPUTS = _table(
    titles=("land titles", "土地确权登记数据"),
    imagery=("satellite imagery", "卫星影像"),
    weather=("weather", "气象数据"),
    subsidies=("subsidy records", "补贴记录"),
    policy=("credit policy", "授信政策"),
    county_yields=("county yields", "县级单产统计"),
    titles_mapping=("titles column mapping", "确权数据字段映射"),
    imagery_items=("imagery scene list", "影像景列表"),
)

#: Every table, by kind: the words of :func:`term`.
GLOSSARY: Mapping[str, Mapping[str, _Pair]] = MappingProxyType(
    {
        "crop": CROPS,
        "decision": DECISIONS,
        "status": STATUSES,
        "flag": FLAGS,
        "area_flag": AREA_FLAGS,
        "vigour_class": VIGOUR_CLASSES,
        "crop_state": CROP_STATES,
        "reason": REASONS,
        "input": INPUTS,
    }
)
_NOT_DECLARED: _Pair = ("not declared", "未申报")
_MISSING = "–"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def term(kind: str, code: Any, lang: Lang = "en") -> str:
    """The words for ``code`` of ``kind`` (a key of :data:`GLOSSARY`) in ``lang``.

    An unknown code is never shown raw: its underscores become spaces.

    Examples
    --------
    >>> term("flag", "partly_abandoned", "zh"), term("crop", "fallow", "zh")
    ('部分撂荒', '休耕')
    >>> term("decision", "refer"), term("flag", "brand_new_flag")
    ('refer to an officer', 'brand new flag')
    """
    if _missing(code):
        return _MISSING
    table = GLOSSARY.get(kind)
    if table is None:
        raise KeyError(f"unknown glossary kind {kind!r}; one of {sorted(GLOSSARY)}")
    key = str(code)
    pair = table.get(key)
    if pair is None and kind == "crop" and key in {"", "none", "None"}:
        pair = _NOT_DECLARED
    if pair is None:
        return key.replace("_", " ").strip().lower() if key.isupper() else key.replace("_", " ")
    return pair[1] if lang == "zh" else pair[0]


def flags_text(flags: Iterable[Any], lang: Lang = "en") -> str:
    """Parcel flags as one line of words (``, `` or ``、`` between them).

    Examples
    --------
    >>> flags_text(["crop_mismatch", "not_cultivated"])
    'crop differs from the declared crop, not cultivated'
    >>> flags_text(["crop_mismatch", "not_cultivated"], "zh")
    '作物与申报不符、未耕种（撂荒）'
    """
    words = [term("flag", f, lang) for f in flags if str(f)]
    return ("、" if lang == "zh" else ", ").join(dict.fromkeys(words))


def crop_state(
    declared: Any,
    crop: Any,
    mismatch: Any,
    confidence: Any = None,
    *,
    p_declared: Any = None,
) -> str:
    """The crop seen against the declared crop, in three states (and ``unknown``).

    ``matches`` (the crop seen is the declared one); ``differs_flagged`` (it differs and the
    check flagged it: the crop cut applies); ``differs_uncertain`` (it differs but the check
    did not flag it, the model being unsure: an officer checks it in the field). A flagged
    mismatch is ``differs_flagged`` even if the crops' names agree (the check's word stands).
    ``confidence`` and ``p_declared`` (the model's probability of the declared crop, when the
    crop check gives it) are not needed for the state; they are accepted so callers pass
    what the row carries.

    Examples
    --------
    >>> crop_state("maize", "maize", False, 0.9)
    'matches'
    >>> crop_state("fallow", "winter_wheat_maize", False, 0.56)
    'differs_uncertain'
    >>> crop_state("maize", "soybean", True, 0.95)
    'differs_flagged'
    """
    flagged = not _missing(mismatch) and bool(mismatch)
    if flagged:
        return "differs_flagged"
    if _missing(crop) or _missing(declared) or str(declared) in {"", "none", "None"}:
        return "unknown"
    if str(crop) == str(declared):
        return "matches"
    return "differs_uncertain"


def village_of(parcel_id: Any) -> str:
    """The village code of a Chinese 19-digit parcel code (地块编码), or ``""``.

    The code is county (6 digits), township (3), village (3), group (2), parcel (5): the
    village is its first 12 digits.

    Examples
    --------
    >>> village_of("1311991012010100001"), village_of("P-42")
    ('131199101201', '')
    """
    s = str(parcel_id).strip()
    return s[:12] if len(s) == 19 and s.isdigit() else ""


__all__ = [
    "AREA_FLAGS",
    "CROPS",
    "CROP_STATES",
    "DECISIONS",
    "FLAGS",
    "GLOSSARY",
    "INPUTS",
    "REASONS",
    "STATUSES",
    "VIGOUR_CLASSES",
    "Lang",
    "crop_state",
    "flags_text",
    "term",
    "village_of",
]
