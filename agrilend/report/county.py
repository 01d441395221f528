"""Pages for a whole county scan: the summary and the household list, both bilingual.

``summary.html`` shows the county map, decisions (overall and by village), parcel flags by kind
and data quality; the household list (``households.html`` and its pages,
:mod:`agrilend.report.household_pages`) lists every household with filters by decision, flag
and village, each row linking to its report. All are static and self-contained (inline styles,
a few lines of inline script, images as ``data:`` URIs): they open from a folder with no
server.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.credit.sizing import credit_totals
from agrilend.glossary import term, village_of
from agrilend.report._templates import environment

#: Decision colours (the report's palette).
COLOURS = {"approve": "#2e7d32", "refer": "#f9a825", "decline": "#c62828"}

_WORDS: dict[str, tuple[str, str]] = {
    "title": ("County scan", "县域扫描结果"),
    "county": ("County", "全县"),
    "parcels": ("Parcels", "地块数"),
    "households": ("Households", "农户数"),
    "credit_total": ("Credit approved", "已批准授信总额"),
    "credit_referred": ("Proposed for referred households", "转人工审核户的建议额度"),
    "as_of": ("Decision date", "决策日期"),
    "chunks": ("Chunks", "分块数"),
    "quarantined": ("Quarantined chunks", "隔离分块数"),
    "decisions": ("Decisions (households)", "授信决定（农户）"),
    "by_village": ("Decisions by village and group", "按村组统计的授信决定"),
    "village": ("Village · group", "村 · 组"),
    "flags": ("Parcel flags by kind", "地块标记（按类型）"),
    "status": ("Parcel status", "地块状态"),
    "quality": ("Data quality", "数据质量"),
    "usable_share": ("Parcels with usable evidence", "有可用证据的地块比例"),
    "median_clear": ("Median clear views per parcel", "每块地无云观测中位数"),
    "median_cloud": ("Median cloudy share", "云覆盖比例中位数"),
    "imagery_dates": ("Imagery dates", "影像期数"),
    "map": ("Parcels coloured by their household's decision", "按农户授信决定着色的地块"),
    "no_decision": ("error / no decision", "错误/无决定"),
    "list_link": ("All households: by village, with a search", "全部农户（按村组分页，可搜索）"),
    "none": ("none", "无"),
    "count": ("Count", "数量"),
    "total": ("Total", "合计"),
    "credit": ("Credit line", "授信额度"),
    "household": ("Household", "农户"),
    "decision": ("Decision", "决定"),
    "tenor": ("Tenor (months)", "期限（月）"),
    "declared_area": ("Declared area (mu)", "申报面积（亩）"),
    "cultivated_area": ("Cultivated area (mu)", "实际耕种面积（亩）"),
    "why": ("Why (first reason)", "主要原因"),
    "report": ("Report", "报告"),
    "all": ("all", "全部"),
    "shown": ("shown", "条显示"),
    "search": ("Search id", "搜索编号"),
    "households_title": ("Households of the scan", "扫描农户列表"),
    "reports_hint": (
        "Each report opens once written: agrilend report ID --context <this folder> (--lang zh)",
        "报告生成后即可打开：agrilend report 编号 --context <本文件夹>（中文加 --lang zh）",
    ),
    "language": ("中文", "English"),
    "page": ("Page", "页"),
    "parcel": ("Parcel", "地块"),
    "first_page": ("first", "首页"),
    "prev_page": ("previous", "上一页"),
    "next_page": ("next", "下一页"),
    "last_page": ("last", "末页"),
    "index_link": ("All households: index and search", "农户总览与搜索"),
    "search_page": ("Search on this page", "本页搜索"),
    "of_county": ("households in the county:", "全县农户："),
    "filters_hint": (
        "The filters act on this page; the page links keep the decision and flag chosen.",
        "筛选仅作用于本页；翻页时保留所选决定和标记。",
    ),
    "search_county": ("Find a household or parcel", "查找农户或地块"),
    "search_label": ("Household pseudonym or parcel id", "农户编号或地块编码"),
    "search_button": ("Find", "查找"),
    "search_hint": (
        "The whole id (any case): only a small part of the index is read.",
        "请输入完整编号（不区分大小写）：只读取索引的一小部分。",
    ),
    "no_match": ("No household or parcel with this id", "没有此编号的农户或地块"),
    "pages_count": ("Pages", "页数"),
    "pages_hint": (
        "Households are listed by village and group, then pseudonym; households per page:",
        "农户按村组、再按编号排列；每页户数：",
    ),
    "pages_col": ("Pages", "页码"),
    "pages_title": ("All pages", "全部页面"),
}


def words() -> dict[str, dict[str, str]]:
    """The pages' labels: ``{key: {"en": ..., "zh": ...}}``."""
    return {k: {"en": en, "zh": zh} for k, (en, zh) in _WORDS.items()}


def _both(kind: str, code: Any) -> dict[str, str]:
    return {"en": term(kind, code, "en"), "zh": term(kind, code, "zh")}


def _flags(cell: Any) -> list[str]:
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(x) for x in cell if str(x)]
    if isinstance(cell, str) and cell.startswith("["):
        try:
            return [str(x) for x in json.loads(cell) if str(x)]
        except json.JSONDecodeError:
            return [cell]
    return []


def village_key(parcel_id: Any) -> str:
    """A parcel's village and group (``131199101201 · 01``), or ``""`` for other codes.

    Examples
    --------
    >>> village_key("1311991012010100001")
    '131199101201 · 01'
    """
    v = village_of(parcel_id)
    return f"{v} · {str(parcel_id)[12:14]}" if v else ""


def _household_villages(parcels: pd.DataFrame) -> pd.Series:
    from agrilend.report.household_pages import household_villages  # noqa: PLC0415

    return household_villages(parcels["owner_ref"], parcels["parcel_id"])


def county_map(parcels: pd.DataFrame, households: pd.DataFrame) -> str:
    """A PNG data URI of the county, parcels coloured by their household's decision: their
    outlines (a GeoDataFrame of at most 20,000 parcels), else a point per parcel (its centroid,
    or the ``x`` and ``y`` columns a large scan's pages read instead of outlines)."""
    import matplotlib  # noqa: PLC0415  (heavy; only when writing the page)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    from agrilend.report.figures import figure_style  # noqa: PLC0415

    decision = households.set_index("owner_ref")["decision"].astype(str)
    d = parcels["owner_ref"].astype(str).map(decision).fillna("none")
    d = d.where(parcels["status"] != "error", "error")
    colour = d.map(COLOURS).fillna("#9e9e9e").to_numpy()
    with figure_style("zh") as flang:
        fig, ax = plt.subplots(figsize=(7, 7), dpi=90)
        if {"x", "y"} <= set(parcels.columns):
            ax.scatter(parcels["x"], parcels["y"], c=colour, s=1, linewidths=0)
        elif len(parcels) <= 20_000:
            gpd.GeoSeries(parcels.geometry.to_numpy(), crs=parcels.crs).plot(
                ax=ax, color=colour, edgecolor="white", linewidth=0.2
            )
        else:  # a point per parcel keeps the page light for very large counties
            c = parcels.geometry.centroid
            ax.scatter(c.x, c.y, c=colour, s=1, linewidths=0)
        ax.set_aspect("equal")
        ax.set_axis_off()

        def label(code: str) -> str:
            en, zh = term("decision", code, "en"), term("decision", code, "zh")
            return f"{en} {zh}" if flang == "zh" else en

        handles = [Patch(color=v, label=label(k)) for k, v in COLOURS.items()]
        none = _WORDS["no_decision"]
        handles.append(
            Patch(color="#9e9e9e", label=f"{none[0]} {none[1]}" if flang == "zh" else none[0])
        )
        ax.legend(handles=handles, loc="lower right", fontsize=8)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _by_village(parcels: pd.DataFrame, households: pd.DataFrame) -> list[dict[str, Any]]:
    villages = _household_villages(parcels)
    hh = households.assign(village=households["owner_ref"].astype(str).map(villages).fillna(""))
    rows = []
    for v, g in hh.groupby("village", sort=True):
        counts = g["decision"].astype(str).value_counts()
        rows.append(
            {
                "village": v or "–",
                "households": len(g),
                **{k: int(counts.get(k, 0)) for k in COLOURS},
                "credit": credit_totals(g)["approved"],  # referred proposals are not lent
            }
        )
    return rows


def summary_page(
    summary: dict[str, Any],
    parcels: pd.DataFrame,
    households: pd.DataFrame,
    *,
    village_pages: dict[str, str] | None = None,
) -> str:
    """The county summary page (bilingual, styled, self-contained); ``village_pages`` links
    each village to its households' first page (:class:`agrilend.report.household_pages.
    PagesWritten`)."""
    dq = summary.get("data_quality", {})

    def pct(x: Any) -> str:
        return "–" if x is None else f"{100 * float(x):.0f} %"

    def num(x: Any) -> str:
        return "–" if x is None else f"{float(x):,.0f}"

    flags: Counter[str] = Counter()
    for cell in parcels.get("quality_flags", pd.Series(dtype=object)):
        flags.update(_flags(cell))
    context = {
        "w": words(),
        "head": [
            ("parcels", f"{summary['parcels']:,}"),
            ("households", f"{summary['households']:,}"),
            ("credit_total", f"{summary['credit_total']:,.0f} {summary['currency']}"),
            (
                "credit_referred",
                f"{summary.get('credit_referred', 0.0):,.0f} {summary['currency']}",
            ),
            ("as_of", str(summary.get("as_of") or "–")),
            ("chunks", str(summary["chunks"])),
            ("quarantined", str(len(summary["quarantined_chunks"]))),
        ],
        "decisions": [
            {"code": k, "words": _both("decision", k), "n": int(summary["decisions"].get(k, 0))}
            for k in (*COLOURS, *sorted(set(summary["decisions"]) - set(COLOURS)))
        ],
        "villages": [
            {**v, "link": (village_pages or {}).get(v["village"])}
            for v in _by_village(parcels, households)
        ],
        "flags": [{"code": k, "words": _both("flag", k), "n": n} for k, n in flags.most_common()],
        "status": [{"words": _both("status", k), "n": n} for k, n in summary["status"].items()],
        "quality": [
            ("usable_share", pct(dq.get("usable_share"))),
            ("median_clear", num(dq.get("median_clear_observations"))),
            ("median_cloud", pct(dq.get("median_cloud_fraction"))),
            ("imagery_dates", str(dq.get("imagery_dates", "–"))),
        ],
        "quarantined": summary["quarantined_chunks"],
        "map": county_map(parcels, households),
        "decision_names": {k: _both("decision", k) for k in COLOURS},
    }
    return environment().get_template("county_summary.html.j2").render(**context)


__all__ = ["COLOURS", "county_map", "summary_page", "village_key", "words"]
