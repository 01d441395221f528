"""County scan outputs: the summary (JSON and a bilingual page with a county map), the
household list page, and the analysts' tables (GeoPackage with two layers, CSV for Excel)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.assessment import Assessment
from agrilend.outputs import atomic_write, write_geopackage, write_table

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


def summary_html(summary: dict[str, Any], result: Assessment) -> str:
    """The county summary page: styled, bilingual, with the county map, decisions by village
    and flags by kind (:func:`agrilend.report.county.summary_page`)."""
    from agrilend.report.county import summary_page  # noqa: PLC0415  (matplotlib, jinja2)

    return summary_page(summary, result.parcels, result.households)


def households_html(summary: dict[str, Any], result: Assessment) -> str:
    """The household list page: filters by decision, flag and village; links to reports."""
    from agrilend.report.county import households_page  # noqa: PLC0415

    return households_page(result.parcels, result.households, currency=summary["currency"])


#: Files of the scan beside parcels.parquet, households.parquet and the summary.
PAGES = ("summary.html", "households.html")
TABLES = ("parcels.gpkg", "households.csv", "season_weather.parquet", "subsidies.parquet")
#: Subsidy columns kept for reports (never a raw owner id).
SUBSIDY_COLUMNS = (
    "scheme", "year", "parcel_id", "owner_ref", "area_ha", "amount", "currency", "matched_by",
)  # fmt: skip


def write_tables(out: Path, result: Assessment) -> None:
    """The analysts' tables: the GeoPackage (parcels and households layers), households.csv
    (UTF-8 with BOM, for Excel), and the season weather and matched subsidies the reports show."""
    write_geopackage(result.parcels, result.households, out / "parcels.gpkg", overwrite=True)
    write_table(result.households, out / "households.csv", overwrite=True)
    weather = pd.DataFrame(result.season_weather.to_dict(orient="list"))
    write_table(weather, out / "season_weather.parquet", overwrite=True)
    subs = result.subsidies
    keep = [c for c in SUBSIDY_COLUMNS if c in subs.columns]
    plain = pd.DataFrame({c: subs[c].to_numpy() for c in keep})  # no attrs (not JSON-able)
    write_table(plain, out / "subsidies.parquet", overwrite=True)


def write_pages(out: Path, summary: dict[str, Any], result: Assessment) -> None:
    """summary.html and households.html, each atomically."""
    for name, page in (
        ("summary.html", summary_html(summary, result)),
        ("households.html", households_html(summary, result)),
    ):
        with atomic_write(out / name) as tmp:
            tmp.write_text(page, encoding="utf-8")


__all__ = [
    "PAGES",
    "TABLES",
    "build_summary",
    "households_html",
    "summary_html",
    "write_pages",
    "write_tables",
]
