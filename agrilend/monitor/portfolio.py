"""The portfolio summary of a monitoring run: JSON, and a static HTML page in English and Chinese.

Exposure at risk is the credit line of every household whose proposed action is not ``keep``,
summed by village (the first 12 digits of a 19-digit Chinese parcel code, the village's
contracting party; else a ``village`` column; else one group) and by crop (each line split over
the household's parcels by area). The page shows the events by kind, the actions, a map of the
parcels coloured by their worst event, and the history across runs.
"""

from __future__ import annotations

import html
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.credit.reasons import CROP_NAMES_ZH
from agrilend.monitor.reasons import kind_name

KIND_ORDER = (
    "failure",
    "no_crop",
    "hail",
    "drought",
    "crop_switch",
    "late_sowing",
    "harvest_after_tenor",
)
_COLOURS = {
    "failure": "#b71c1c", "no_crop": "#4e342e", "hail": "#6a1b9a", "drought": "#ef6c00",
    "crop_switch": "#1565c0",
    "late_sowing": "#f9a825", "harvest_after_tenor": "#00838f", "none": "#c8e6c9",
}  # fmt: skip
_ACTION_ZH = {"keep": "维持", "reduce_undrawn": "压降未用额度", "extend_tenor": "展期",
              "visit": "实地走访"}  # fmt: skip
_TEXT = {
    "en": {
        "title": "Loan book monitoring",
        "run": "run",
        "dates": "new image dates",
        "households": "households",
        "exposure": "exposure at risk",
        "book": "credit book",
        "by_village": "Exposure at risk by village",
        "by_crop": "Exposure at risk by crop",
        "events": "Events by kind (parcels)",
        "actions": "Proposed actions (households)",
        "history": "History across runs",
        "map": "map: parcels coloured by their worst event",
        "new": "new this run",
        "total": "to date",
        "none": "none",
    },
    "zh": {
        "title": "贷中监测",
        "run": "批次",
        "dates": "新影像日期",
        "households": "农户",
        "exposure": "风险敞口",
        "book": "授信总额",
        "by_village": "各村风险敞口",
        "by_crop": "各作物风险敞口",
        "events": "各类事件（地块数）",
        "actions": "建议措施（农户数）",
        "history": "历次监测",
        "map": "地图：地块按最严重事件着色",
        "new": "本批新增",
        "total": "累计",
        "none": "无",
    },
}


def village_of(parcel_ids: pd.Series, village: pd.Series | None = None) -> pd.Series:
    """The village key of each parcel (see the module docstring)."""
    if village is not None:
        return village.astype(str)
    ids = parcel_ids.astype(str)
    coded = ids.str.fullmatch(r"\d{19}").to_numpy(dtype=bool)
    return pd.Series(np.where(coded, ids.str[:12], "all"), index=parcel_ids.index)


def build_portfolio(
    run: int,
    dates: list[str],
    parcels: pd.DataFrame,
    households: pd.DataFrame,
    events: pd.DataFrame,
    *,
    previous: list[dict[str, Any]],
    new_events: int,
    currency: str,
) -> dict[str, Any]:
    """The summary of one run (what ``summary.json`` holds)."""
    at_risk = households.loc[households["action"] != "keep", ["owner_ref", "credit_line"]]
    risk = at_risk.set_index("owner_ref")["credit_line"].astype(float)
    p = parcels[["parcel_id", "owner_ref", "crop", "cultivated_area_ha"]].copy()
    p["village"] = village_of(p["parcel_id"], parcels.get("village"))
    area = p["cultivated_area_ha"].astype(float).fillna(0.0)
    p["share"] = area / area.groupby(p["owner_ref"]).transform("sum").replace(0, np.nan)
    p["exposure"] = p["owner_ref"].map(risk).fillna(0.0) * p["share"].fillna(0.0)
    by_kind = events.groupby("kind")["parcel_id"].nunique() if len(events) else pd.Series()
    headline = {
        "run": run,
        "dates": dates,
        "households": len(households),
        "credit_book": round(float(households["credit_line"].astype(float).sum()), 2),
        "exposure_at_risk": round(float(risk.sum()), 2),
        "events": len(events),
        "new_events": int(new_events),
    }
    return {
        **headline,
        "currency": currency,
        "events_by_kind": {k: int(by_kind.get(k, 0)) for k in KIND_ORDER if k in by_kind},
        "actions": {str(k): int(v) for k, v in households["action"].value_counts().items()},
        "exposure_by_village": {
            str(k): round(float(v), 2) for k, v in p.groupby("village")["exposure"].sum().items()
        },
        "exposure_by_crop": {
            str(k): round(float(v), 2) for k, v in p.groupby("crop")["exposure"].sum().items()
        },
        "history": [*previous, headline],
    }


def map_svg(parcels: gpd.GeoDataFrame, events: pd.DataFrame, *, size: int = 560) -> str:
    """An inline SVG map of the parcels coloured by their worst event (no plotting library).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely
    >>> p = gpd.GeoDataFrame({"parcel_id": ["a", "b"]},
    ...                      geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> e = pd.DataFrame({"parcel_id": ["b"], "kind": ["failure"]})
    >>> svg = map_svg(p, e)
    >>> svg.startswith("<svg") and "#b71c1c" in svg and svg.count("<path") == 2
    True
    """
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    worst = (
        events.assign(r=events["kind"].map(rank)).sort_values("r", kind="stable")
        .drop_duplicates("parcel_id").set_index("parcel_id")["kind"]
        if len(events) else pd.Series(dtype=str)
    )  # fmt: skip
    kind = parcels["parcel_id"].astype(str).map(worst).fillna("none").to_numpy()
    geoms = parcels.geometry.to_numpy()
    x0, y0, x1, y1 = (float(v) for v in parcels.total_bounds)
    scale = size / max(x1 - x0, y1 - y0, 1e-9)
    height = (y1 - y0) * scale

    def pt(x: float, y: float) -> str:
        return f"{(x - x0) * scale:.1f},{(y1 - y) * scale:.1f}"

    shapes = []
    for g, k in zip(geoms, kind, strict=True):
        if g is None or g.is_empty:
            continue
        colour = _COLOURS.get(str(k), _COLOURS["none"])
        if len(geoms) > 20_000:  # a dot per parcel keeps very large books light
            c = g.centroid
            shapes.append(
                f"<circle cx='{pt(c.x, c.y).split(',')[0]}' "
                f"cy='{pt(c.x, c.y).split(',')[1]}' r='1' fill='{colour}'/>"
            )
            continue
        rings = []
        for poly in getattr(g, "geoms", [g]):
            for ring in [poly.exterior, *poly.interiors]:
                rings.append("M" + " L".join(pt(x, y) for x, y in ring.coords) + " Z")
        shapes.append(
            f"<path d='{' '.join(rings)}' fill='{colour}' stroke='white' "
            "stroke-width='0.4' fill-rule='evenodd'/>"
        )
    legend = "".join(
        f"<rect x='4' y='{4 + 14 * i}' width='10' height='10' fill='{c}'/>"
        f"<text x='18' y='{13 + 14 * i}' font-size='10'>{html.escape(k)}</text>"
        for i, (k, c) in enumerate(_COLOURS.items())
    )
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{height:.0f}' "
            f"viewBox='0 0 {size} {height:.0f}'>{''.join(shapes)}<g opacity='0.9'>{legend}</g>"
            "</svg>")  # fmt: skip


def portfolio_html(summary: dict[str, Any], lang: str = "en", *, map_svg: str = "") -> str:
    """A self-contained page of the summary (``lang`` ``en`` or ``zh``) with the map inline.

    ``map_svg`` is :func:`map_svg`'s image (drawn once for both languages).
    """
    tx = _TEXT["zh" if lang == "zh" else "en"]
    esc = html.escape
    cur = summary["currency"]

    def money(v: float) -> str:
        return f"{v:,.0f}元" if lang == "zh" and cur == "CNY" else f"{v:,.0f} {cur}"

    def table(title: str, items: dict[str, Any]) -> str:
        rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>"
                       for k, v in items.items())  # fmt: skip
        empty = f"<tr><td>{esc(tx['none'])}</td></tr>"
        return f"<h2>{esc(title)}</h2><table>{rows or empty}</table>"

    crop = (lambda c: CROP_NAMES_ZH.get(c, c)) if lang == "zh" else (lambda c: c.replace("_", " "))
    head = {
        tx["run"]: summary["run"], tx["dates"]: ", ".join(summary["dates"]),
        tx["households"]: summary["households"], tx["book"]: money(summary["credit_book"]),
        tx["exposure"]: money(summary["exposure_at_risk"]),
    }  # fmt: skip
    hist_rows = "".join(
        f"<tr><td>{h['run']}</td><td>{esc(h['dates'][0] if h['dates'] else '')} .. "
        f"{esc(h['dates'][-1] if h['dates'] else '')}</td><td>{h['events']}</td>"
        f"<td>{h['new_events']}</td><td>{esc(money(h['exposure_at_risk']))}</td></tr>"
        for h in summary["history"]
    )
    body = "".join(
        [
            table(tx["title"], head),
            table(tx["events"], {kind_name(k, lang): v  # type: ignore[arg-type]
                                 for k, v in summary["events_by_kind"].items()}),
            table(tx["actions"], {(_ACTION_ZH.get(k, k) if lang == "zh" else k): v
                                  for k, v in summary["actions"].items()}),
            table(tx["by_village"],
                  {k: money(v) for k, v in summary["exposure_by_village"].items()}),
            table(tx["by_crop"],
                  {crop(k): money(v) for k, v in summary["exposure_by_crop"].items()}),
            (f"<h2>{esc(tx['history'])}</h2><table><tr><th>{esc(tx['run'])}</th><th>"
            f"{esc(tx['dates'])}</th><th>{esc(tx['total'])}</th><th>{esc(tx['new'])}</th><th>"
            f"{esc(tx['exposure'])}</th></tr>{hist_rows}</table>"),
        ]
    )  # fmt: skip
    return (
        f"<!DOCTYPE html><html lang='{'zh' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
        f"<title>{esc(tx['title'])}</title><style>body{{font-family:sans-serif;max-width:60em;"
        "margin:2em auto}table{border-collapse:collapse}th,td{border:1px solid #ccc;"
        "padding:.2em .6em;text-align:left}</style></head><body>"
        f"<h1>{esc(tx['title'])}</h1><figure>{map_svg}<figcaption>{esc(tx['map'])}"
        f"</figcaption></figure>{body}</body></html>\n"
    )


__all__ = ["KIND_ORDER", "build_portfolio", "map_svg", "portfolio_html", "village_of"]
