"""Reason codes for credit lines, with their text in English and Chinese.

Every household decision carries up to four reasons: a stable code (for machines and audits) and
a sentence with the numbers behind it (for people), in English and Chinese. The sentences are
templates filled with typed fields, so the same numbers read the same way everywhere:

========== ===================================================== =============================
spec       English                                               Chinese
========== ===================================================== =============================
``ha``     ``3.1 ha`` (two decimals below 1 ha)                  ``3.1 公顷（46.5 亩）``
``money``  ``12,300 CNY``                                        ``12,300 元``
``pct``    ``25%``                                               ``25%``
``t``      ``6.2 t/ha``                                          ``6.2 吨/公顷``
``x``      ``1.35`` (a ratio)                                    ``1.35``
``crop``   ``winter wheat``                                      ``冬小麦``
========== ===================================================== =============================
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from agrilend.errors import PolicyError
from agrilend.glossary import CROPS
from agrilend.vocabulary import MU_PER_HA

Language = Literal["en", "zh"]


@dataclass(frozen=True)
class Reason:
    """One reason code: what it means and its two sentence templates.

    Attributes
    ----------
    code
        Stable upper-case code, e.g. ``AREA_BELOW_DECLARED``.
    en, zh
        Sentence templates (``str.format`` fields with the specs of this module).
    kind
        ``"limit"`` (which limit of the policy binds), ``"evidence"`` (what the parcels show),
        ``"risk"`` (climate), or ``"decision"`` (why the decision is refer or decline).
    """

    code: str
    en: str
    zh: str
    kind: str


def _r(code: str, kind: str, en: str, zh: str) -> tuple[str, Reason]:
    return code, Reason(code=code, en=en, zh=zh, kind=kind)


#: Every reason code, by code.
REASONS: Mapping[str, Reason] = MappingProxyType(
    dict(
        [
            _r(
                "REVENUE_LIMIT",
                "limit",
                "line limited to {share:pct} of prudent expected revenue {revenue:money} plus "
                "{subsidy_share:pct} of subsidy income {subsidy:money}",
                "额度上限为审慎预期收入 {revenue:money} 的 {share:pct} "
                "加补贴收入 {subsidy:money} 的 {subsidy_share:pct}",
            ),
            _r(
                "INPUT_COST_LIMIT",
                "limit",
                "line limited to {cover:pct} of the season's production cost {cost:money}",
                "额度上限为本季生产成本 {cost:money} 的 {cover:pct}",
            ),
            _r(
                "CAP_PER_AREA",
                "limit",
                "line capped at {cap_per_ha:money} per ha of counted cultivated area {area:ha}",
                "额度上限为每公顷计入耕种面积 {cap_per_ha:money}，计入面积 {area:ha}",
            ),
            _r(
                "CAP_HOUSEHOLD",
                "limit",
                "line capped at the household maximum {cap:money}",
                "额度以每户上限 {cap:money} 为限",
            ),
            _r(
                "MARGIN_LIMIT",
                "limit",
                "line limited to {share:pct} of the prudent margin {margin:money} (revenue "
                "{revenue:money} less cost {cost:money} and rent {rent:money}) plus "
                "{subsidy_share:pct} of subsidy income {subsidy:money}",
                "额度上限为审慎毛利 {margin:money}（收入 {revenue:money} 减成本 {cost:money} "
                "及地租 {rent:money}）的 {share:pct} "
                "加补贴收入 {subsidy:money} 的 {subsidy_share:pct}",
            ),
            _r(
                "INSURED",
                "risk",
                "crop insurance corroborated on {area:ha} ({share:pct} of the cultivated area) "
                "lowered the climate haircut by {relief:pct}",
                "农业保险经核实覆盖 {area:ha}（占耕种面积 {share:pct}），气候扣减降低 {relief:pct}",
            ),
            _r(
                "OWN_EVIDENCE",
                "evidence",
                "the farmer's own evidence raised the line by {amount:money} ({n_photos} parcel(s) "
                "in geotagged photos, {n_receipts} sales receipt(s), {n_contracts} purchase "
                "contract(s), {n_repaid} loan(s) repaid)",
                "农户自证材料使额度提高 {amount:money}（{n_photos} 块地有定位照片，{n_receipts} "
                "张销售凭证，{n_contracts} 份收购合同，{n_repaid} 笔已还贷款）",
            ),
            _r(
                "RENTED_LAND",
                "evidence",
                "{n} rented parcel(s), {area:ha}, counted with a rent of {rent:money} a year",
                "流转入 {n} 块地，面积 {area:ha}，年地租 {rent:money} 计入成本",
            ),
            _r(
                "OWN_EVIDENCE_CONTRADICTS",
                "decision",
                "{n} item(s) of the farmer's own evidence contradict the imagery ({n_outside} "
                "photo(s) outside their parcel, {n_season} out of season, {n_crop} receipt(s) or "
                "contract(s) for a crop not seen); the line is cut by {cut:pct} and a visit is "
                "needed",
                "{n} 项自证材料与影像不符（{n_outside} 张照片不在地块内，{n_season} 张不在季内，"
                "{n_crop} 份凭证或合同的作物与观测不符），额度扣减 {cut:pct}，需实地核查",
            ),
            _r(
                "INSURANCE_CONTRADICTS",
                "decision",
                "{n} insurance record(s) contradict the imagery (another crop, or far more area "
                "than is seen: {parcels})",
                "{n} 条保险记录与影像不符（作物不同或投保面积远超观测面积：{parcels}）",
            ),
            _r(
                "TRANSFER_CONFLICT",
                "decision",
                "{n} title(s) claimed by both sides of a land transfer ({parcels})",
                "{n} 块地在土地流转中被双方同时主张（{parcels}）",
            ),
            _r(
                "AREA_BELOW_DECLARED",
                "evidence",
                "observed cultivated area {observed:ha} of {declared:ha} declared",
                "观测耕种面积 {observed:ha}，申报面积 {declared:ha}",
            ),
            _r(
                "AREA_MISMATCH",
                "evidence",
                "observed area below {min_ratio:pct} of declared on {n} parcel(s) ({parcels}); "
                "their value cut by {haircut:pct}",
                "{n} 块地观测面积低于申报面积的 {min_ratio:pct}（{parcels}），"
                "其价值扣减 {haircut:pct}",
            ),
            _r(
                "CROP_MISMATCH",
                "evidence",
                "observed crop differs from the declared crop on {n} parcel(s) ({parcels}); "
                "their value cut by {haircut:pct}",
                "{n} 块地观测作物与申报作物不符（{parcels}），其价值扣减 {haircut:pct}",
            ),
            _r(
                "CLAIM_TRUST",
                "evidence",
                "{n} farmer-drawn claim(s) or contested title(s) ({parcels}) counted with lower "
                "trust ({flags})",
                "{n} 块农户自绘地块或有争议的登记地块（{parcels}）按较低可信度计入（{flags}）",
            ),
            _r(
                "POOR_VIGOUR",
                "evidence",
                "crop vigour poor against peers on {n} parcel(s), {area:ha}; their value cut by "
                "{haircut:pct}",
                "{n} 块地长势弱于同类地块，面积 {area:ha}，其价值扣减 {haircut:pct}",
            ),
            _r(
                "LOW_DATA_QUALITY",
                "evidence",
                "too few clear observations (< {min_obs}) or pixels (< {min_pixels}) on {n} "
                "parcel(s) ({parcels}); their value cut by {haircut:pct}",
                "{n} 块地有效观测少于 {min_obs} 次或像元少于 {min_pixels} 个（{parcels}），"
                "其价值扣减 {haircut:pct}",
            ),
            _r(
                "LOW_YIELD",
                "evidence",
                "expected {harvest:crop} yield {yield_t:t} is {shortfall:pct} below the county "
                "reference {reference:t}",
                "{harvest:crop}预计单产 {yield_t:t}，比县参考单产 {reference:t} 低 {shortfall:pct}",
            ),
            _r(
                "CLIMATE_RISK",
                "risk",
                "climate risk score {risk:x} cut the line by {haircut:pct}",
                "气候风险评分 {risk:x}，额度扣减 {haircut:pct}",
            ),
            _r(
                "PARTIAL_EVIDENCE",
                "evidence",
                "usable evidence on {n_ok} of {n} parcels ({share:pct} of declared area); "
                "parcels without it count nothing ({parcels})",
                "{n} 块地中 {n_ok} 块有可用证据（占申报面积 {share:pct}），"
                "无证据地块不计入（{parcels}）",
            ),
            _r(
                "NO_EVIDENCE",
                "decision",
                "no usable evidence on any of the {n} parcel(s) ({why:why}); a person must assess "
                "this household",
                "{n} 块地均无可用证据（{why:why}），需人工评估",
            ),
            _r(
                "LINE_BELOW_MINIMUM",
                "decision",
                "line {line:money} is below the minimum line {min_line:money}",
                "额度 {line:money} 低于最低额度 {min_line:money}",
            ),
            _r(
                "SUBSIDY_OVER_AREA",
                "decision",
                "subsidised area {subsidised:ha} is {ratio:x} times the observed cultivated "
                "area {observed:ha}",
                "补贴面积 {subsidised:ha} 是观测耕种面积 {observed:ha} 的 {ratio:x} 倍",
            ),
            _r(
                "LARGE_HAIRCUT",
                "decision",
                "haircuts cut {cut:pct} of the line, more than the {max_cut:pct} allowed without "
                "review",
                "各项扣减合计 {cut:pct}，超过无需复核的上限 {max_cut:pct}",
            ),
            _r(
                "LOW_AREA_RATIO",
                "decision",
                "observed cultivated area is only {ratio:pct} of the declared area, below "
                "{min_ratio:pct}",
                "观测耕种面积仅为申报面积的 {ratio:pct}，低于 {min_ratio:pct}",
            ),
            _r(
                "EARLY_SEASON",
                "evidence",
                "the imagery does not yet cover the crop season of {n} parcel(s) ({parcels}): "
                "crop not confirmed, their value cut by {haircut:pct}",
                "影像尚未覆盖 {n} 块地的作物生长季（{parcels}）：作物未经确认，"
                "其价值扣减 {haircut:pct}",
            ),
            _r(
                "EARLY_SEASON_REFER",
                "decision",
                "the imagery does not yet cover the crop season of {n} parcel(s) ({parcels}): "
                "crop and yield cannot be confirmed, a person decides",
                "影像尚未覆盖 {n} 块地的作物生长季（{parcels}）：作物和产量无法确认，需人工决定",
            ),
            _r(
                "LOW_EVIDENCE_SHARE",
                "decision",
                "usable evidence covers {share:pct} of the declared area, below {min_share:pct}",
                "可用证据仅覆盖申报面积的 {share:pct}，低于 {min_share:pct}",
            ),
        ]
    )
)

_CURRENCY_ZH = {"CNY": "元", "RMB": "元"}
#: Why a parcel's evidence is unusable (the texts :func:`agrilend.credit.size_credit` gives), in
#: Chinese; ``crop '<name>' not in the policy`` is matched by :data:`_NOT_IN_POLICY`.
UNUSABLE_ZH: Mapping[str, str] = MappingProxyType(
    {
        "no crop estimate": "无作物估计",
        "no yield estimate": "无产量估计",
        "estimate failed": "估计失败",
        "no cultivated area estimate": "无耕种面积估计",
        "negative cultivated area": "耕种面积为负",
        "negative yield estimate": "产量估计为负",
    }
)
_NOT_IN_POLICY = re.compile(r"^crop '(?P<crop>[^']*)' not in the policy$")
#: Chinese names of crops and harvests (canonical crop names and the default policy's harvests).
CROP_NAMES_ZH: Mapping[str, str] = MappingProxyType({k: zh for k, (_, zh) in CROPS.items()})


def _ha(value: Any, zh: bool, currency: str) -> str:
    v = float(value)
    txt = f"{v:.2f}" if abs(v) < 1 else f"{v:,.1f}"
    return f"{txt} 公顷（{v * MU_PER_HA:,.1f} 亩）" if zh else f"{txt} ha"


def _money(value: Any, zh: bool, currency: str) -> str:
    if zh and currency in _CURRENCY_ZH:
        return f"{float(value):,.0f}{_CURRENCY_ZH[currency]}"
    return f"{float(value):,.0f} {currency}"


def _pct(value: Any, zh: bool, currency: str) -> str:
    return f"{float(value) * 100:.0f}%"


def _t(value: Any, zh: bool, currency: str) -> str:
    return f"{float(value):.1f} 吨/公顷" if zh else f"{float(value):.1f} t/ha"


def _crop(value: Any, zh: bool, currency: str) -> str:
    name = str(value)
    return CROP_NAMES_ZH.get(name, name) if zh else name.replace("_", " ")


def _x(value: Any, zh: bool, currency: str) -> str:
    return f"{float(value):.2f}"


def _why(value: Any, zh: bool, currency: str) -> str:
    """Reasons joined by "; ", each translated when the text is Chinese."""
    if not zh:
        return str(value)
    out = []
    for part in str(value).split("; "):
        m = _NOT_IN_POLICY.match(part)
        if m:
            out.append(f"作物“{_crop(m['crop'], zh, currency)}”不在信贷政策中")
        else:
            out.append(UNUSABLE_ZH.get(part, part))
    return "；".join(out)


#: The field specs of the module docstring; any other spec is ``format``'s own.
_SPECS: Mapping[str, Callable[[Any, bool, str], str]] = MappingProxyType(
    {"ha": _ha, "money": _money, "pct": _pct, "t": _t, "crop": _crop, "x": _x, "why": _why}
)


def _parse(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template as (literal text, field name or None, spec) parts, parsed once.

    Only plain field names are supported (no attribute, index or ``!r`` conversion), which is
    all the catalogue uses; anything else is an error at import, not a silent change of text.
    """
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is not None and (not name.isidentifier() or conversion or "{" in (spec or "")):
            raise ValueError(f"reason template field {name!r} is not a plain field: {template!r}")
        parts.append((literal, name, spec or ""))
    return tuple(parts)


_PARSED: Mapping[tuple[str, str], tuple[tuple[str, str | None, str], ...]] = MappingProxyType(
    {(r.code, lang): _parse(getattr(r, lang)) for r in REASONS.values() for lang in ("en", "zh")}
)


def reason_text(code: str, lang: Language = "en", *, currency: str = "CNY", **params: Any) -> str:
    """The sentence of a reason code, filled with its numbers.

    Parameters
    ----------
    code
        A key of :data:`REASONS`.
    lang
        ``"en"`` or ``"zh"``.
    currency
        Currency code for money fields.
    **params
        The template's fields.

    Raises
    ------
    PolicyError
        Unknown code or language, or a field the template needs is missing.

    Examples
    --------
    >>> reason_text("AREA_BELOW_DECLARED", observed=3.1, declared=5.0)
    'observed cultivated area 3.1 ha of 5.0 ha declared'
    >>> reason_text("AREA_BELOW_DECLARED", "zh", observed=3.1, declared=5.0)
    '观测耕种面积 3.1 公顷（46.5 亩），申报面积 5.0 公顷（75.0 亩）'
    >>> reason_text("CAP_HOUSEHOLD", cap=200000)
    'line capped at the household maximum 200,000 CNY'
    """
    if code not in REASONS:
        raise PolicyError(f"unknown reason code {code!r}; known: {', '.join(REASONS)}", key=code)
    if lang not in ("en", "zh"):
        raise PolicyError(f"unknown language {lang!r} for reason {code}; use 'en' or 'zh'")
    return fill_reason(code, lang, currency, params)


def fill_reason(code: str, lang: Language, currency: str, params: Mapping[str, Any]) -> str:
    """:func:`reason_text` for a code and language known to be valid (no check of them).

    For callers that fill many reasons of the catalogue; a missing field still raises
    :class:`PolicyError`.

    Examples
    --------
    >>> fill_reason("CAP_HOUSEHOLD", "zh", "CNY", {"cap": 200000})
    '额度以每户上限 200,000元 为限'
    """
    zh = lang == "zh"
    out = []
    for literal, name, spec in _PARSED[code, lang]:
        out.append(literal)
        if name is None:
            continue
        if name not in params:
            raise PolicyError(f"reason {code} needs the field {name!r}; pass it", key=code)
        fmt = _SPECS.get(spec)
        value = params[name]
        out.append(fmt(value, zh, currency) if fmt is not None else format(value, spec))
    return "".join(out)


__all__ = ["CROP_NAMES_ZH", "REASONS", "Language", "Reason", "fill_reason", "reason_text"]
