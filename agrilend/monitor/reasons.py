"""Reason codes of monitoring events and actions, in English and Chinese.

Kept apart from :mod:`agrilend.credit.reasons` (the decision's codes) but written the same way:
a stable code, a sentence template per language, fields filled by :func:`monitor_reason`.
Money, shares and crops are formatted by :func:`agrilend.credit.reasons.reason_text`'s rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from agrilend.credit.reasons import CROP_NAMES_ZH, Language
from agrilend.errors import PolicyError

#: Code -> (English template, Chinese template).
MONITOR_REASONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "EV_FAILURE": (
            (
                "crop failed or abandoned on parcel {parcel} ({date}): NDVI {ndvi} is {ratio} of "
                "its peers'"
            ),
            "地块 {parcel} 作物绝收或弃耕（{date}）：NDVI {ndvi}，仅为同类地块的 {ratio}",
        ),
        "EV_NO_CROP": (
            "no crop seen on parcel {parcel} by {date} while its peers have long been green",
            "至 {date} 地块 {parcel} 未见作物，而同类地块早已返青",
        ),
        "EV_LATE_SOWING": (
            "parcel {parcel} not yet green on {date} while its peers are: sown late",
            "地块 {parcel} 至 {date} 仍未返青而同类地块已返青：播种偏晚",
        ),
        "EV_HAIL": (
            (
                "sudden loss of green cover on parcel {parcel} ({date}): {ratio} of its level a "
                "week before; {neighbours} neighbouring fields hit too"
            ),
            (
                "地块 {parcel} 绿度骤降（{date}）：仅为一周前水平的 {ratio}；周边另有 {neighbours} "
                "块地同时受灾"
            ),
        ),
        "EV_DROUGHT": (
            (
                "drought stress on parcel {parcel} ({date}): vigour {ratio} of normal, 60-day SPI "
                "{spi}"
            ),
            "地块 {parcel} 受旱（{date}）：长势为常年的 {ratio}，60 天标准化降水指数 {spi}",
        ),
        "EV_CROP_SWITCH": (
            "parcel {parcel} grows another crop than the {crop} the line was sized on ({date})",
            "地块 {parcel} 所种作物与授信所依据的{crop}不符（{date}）",
        ),
        "EV_HARVEST_AFTER_TENOR": (
            "harvest of parcel {parcel} expected {harvest}, after the loan falls due {due}",
            "地块 {parcel} 预计 {harvest} 收获，晚于贷款到期日 {due}",
        ),
        "ACT_KEEP": (
            "repayment capacity {capacity} covers the line {line} ({cover}); keep",
            "还款能力 {capacity} 覆盖授信额度 {line}（{cover}）；维持",
        ),
        "ACT_REDUCE_UNDRAWN": (
            (
                "expected repayment capacity {capacity} covers only {cover} of the line {line}: "
                "cut the undrawn part, line to {new_line}"
            ),
            (
                "预计还款能力 {capacity} 仅覆盖授信额度 {line} 的 {cover}：压降未用额度，额度调至 "
                "{new_line}"
            ),
        ),
        "ACT_EXTEND_TENOR": (
            (
                "an area-wide shock ({kinds}), not the farmer's doing, lowers or delays the "
                "harvest: extend the tenor by {months} months"
            ),
            "区域性灾害（{kinds}）非农户自身原因，影响收成或收获期：贷款期限延长 {months} 个月",
        ),
        "ACT_VISIT": (
            "events on the household's own fields ({kinds}): a loan officer should visit",
            "农户自有地块出现异常（{kinds}）：请客户经理实地走访",
        ),
    }
)

_KIND_ZH = {
    "failure": "绝收/弃耕",
    "no_crop": "未种植",
    "late_sowing": "晚播",
    "hail": "冰雹/洪涝",
    "drought": "干旱",
    "crop_switch": "改种",
    "harvest_after_tenor": "收获晚于到期",
}


def kind_name(kind: str, lang: Language = "en") -> str:
    """The readable name of an event kind.

    Examples
    --------
    >>> kind_name("crop_switch"), kind_name("drought", "zh")
    ('crop switch', '干旱')
    """
    return _KIND_ZH.get(kind, kind) if lang == "zh" else kind.replace("_", " ")


def _fmt(value: Any, key: str, lang: Language, currency: str) -> str:
    if isinstance(value, float) and key in {"capacity", "line", "new_line"}:
        return (
            f"{value:,.0f}元" if lang == "zh" and currency == "CNY" else f"{value:,.0f} {currency}"
        )
    if isinstance(value, float) and key in {"ratio", "cover"}:
        return f"{value * 100:.0f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    if key == "crop":
        return (
            CROP_NAMES_ZH.get(str(value), str(value))
            if lang == "zh"
            else str(value).replace("_", " ")
        )
    if key == "kinds":
        return ("、" if lang == "zh" else ", ").join(kind_name(k, lang) for k in value)
    return "n/a" if value is None else str(value)


def monitor_reason(
    code: str, lang: Language = "en", *, currency: str = "CNY", **params: Any
) -> str:
    """The sentence of a monitoring reason code, filled with its numbers.

    Raises
    ------
    PolicyError
        Unknown code or language, or a missing field.

    Examples
    --------
    >>> monitor_reason("ACT_EXTEND_TENOR", kinds=["drought"], months=3)[:36]
    'an area-wide shock (drought), not th'
    >>> monitor_reason("ACT_KEEP", "zh", capacity=30000.0, line=20000.0, cover=1.5)
    '还款能力 30,000元 覆盖授信额度 20,000元（150%）；维持'
    """
    if code not in MONITOR_REASONS:
        raise PolicyError(
            f"unknown monitoring reason {code!r}; known: {', '.join(MONITOR_REASONS)}"
        )
    if lang not in ("en", "zh"):
        raise PolicyError(f"unknown language {lang!r}; use 'en' or 'zh'")
    template = MONITOR_REASONS[code][0 if lang == "en" else 1]
    values = {k: _fmt(v, k, lang, currency) for k, v in params.items()}
    try:
        return template.format(**values)
    except KeyError as exc:
        raise PolicyError(f"reason {code} needs the field {exc.args[0]!r}; pass it") from exc


__all__ = ["MONITOR_REASONS", "kind_name", "monitor_reason"]
