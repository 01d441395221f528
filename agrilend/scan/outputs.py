"""County scan outputs: the summary (JSON and an HTML page with a county map)."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.pipeline import Assessment

log = logging.getLogger(__name__)


def _flags(cell: Any) -> list[str]:
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(x) for x in cell]
    if isinstance(cell, str) and cell.startswith("["):
        try:
            return [str(x) for x in json.loads(cell)]
        except json.JSONDecodeError:
            return [cell]
    return []


def build_summary(
    result: Assessment, *, quarantined: dict[str, str], n_chunks: int
) -> dict[str, Any]:
    """Counts by decision, the credit total, flags and data quality of a scan."""
    parcels, hh = result.parcels, result.households
    flags: Counter[str] = Counter()
    for cell in parcels.get("quality_flags", pd.Series(dtype=object)):
        flags.update(_flags(cell))
    usable = parcels["status"] != "error"
    clear = pd.to_numeric(parcels.loc[usable, "n_clear_obs"], errors="coerce")
    cloud = pd.to_numeric(parcels.loc[usable, "cloud_fraction"], errors="coerce")

    def med(s: pd.Series) -> float | None:
        return float(s.median()) if s.notna().any() else None

    return {
        "parcels": len(parcels),
        "households": len(hh),
        "status": {str(k): int(v) for k, v in parcels["status"].value_counts().items()},
        "decisions": {str(k): int(v) for k, v in hh["decision"].value_counts().items()},
        "credit_total": float(pd.to_numeric(hh["credit_line"], errors="coerce").sum()),
        "currency": str(hh["currency"].iloc[0]) if len(hh) else "",
        "flags": dict(sorted(flags.items())),
        "data_quality": {
            "usable_share": float(usable.mean()) if len(parcels) else 0.0,
            "median_clear_observations": med(clear),
            "median_cloud_fraction": med(cloud),
            "imagery_dates": len(result.provenance.get("imagery", {}).get("dates", [])),
        },
        "chunks": n_chunks,
        "quarantined_chunks": dict(sorted(quarantined.items())),
        "as_of": result.provenance.get("as_of"),
    }


def _county_map(result: Assessment) -> str:
    """A PNG (base64) of the county, parcels coloured by their household's decision."""
    import matplotlib  # noqa: PLC0415  (heavy; only when writing the page)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    colours = {"approve": "#2e7d32", "refer": "#f9a825", "decline": "#c62828"}
    decision = result.households.set_index("owner_ref")["decision"].astype(str)
    parcels = result.parcels
    d = parcels["owner_ref"].astype(str).map(decision).fillna("none")
    d = d.where(parcels["status"] != "error", "error")
    colour = d.map(colours).fillna("#9e9e9e").to_numpy()
    fig, ax = plt.subplots(figsize=(7, 7), dpi=90)
    if len(parcels) <= 20_000:
        gpd.GeoSeries(parcels.geometry.to_numpy(), crs=parcels.crs).plot(
            ax=ax, color=colour, edgecolor="white", linewidth=0.2
        )
    else:  # a point per parcel keeps the page light for very large counties
        c = parcels.geometry.centroid
        ax.scatter(c.x, c.y, c=colour, s=1, linewidths=0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    handles = [Patch(color=v, label=k) for k, v in colours.items()]
    handles.append(Patch(color="#9e9e9e", label="error / no decision"))
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def summary_html(summary: dict[str, Any], result: Assessment) -> str:
    """A self-contained HTML page: the summary tables and the county map (inline PNG)."""
    esc = html.escape

    def table(title: str, items: dict[str, Any]) -> str:
        rows = "".join(
            f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in items.items()
        )
        return f"<h2>{esc(title)}</h2><table>{rows or '<tr><td>none</td></tr>'}</table>"

    head = {
        "parcels": summary["parcels"],
        "households": summary["households"],
        "credit total": f"{summary['credit_total']:,.0f} {summary['currency']}",
        "decision date": summary.get("as_of"),
        "chunks": summary["chunks"],
        "quarantined chunks": len(summary["quarantined_chunks"]),
    }
    body = "".join(
        [
            table("County", head),
            table("Decisions (households)", summary["decisions"]),
            table("Parcel status", summary["status"]),
            table("Flags (parcels)", summary["flags"]),
            table("Data quality", summary["data_quality"]),
            table("Quarantined chunks", summary["quarantined_chunks"]),
        ]
    )
    png = _county_map(result)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>agrilend county scan</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .6em;"
        "text-align:left}</style></head><body><h1>County scan</h1>"
        f"<img alt='county map: parcels coloured by their household decision' "
        f"src='data:image/png;base64,{png}' style='max-width:100%'>{body}</body></html>\n"
    )


__all__ = ["build_summary", "summary_html"]
