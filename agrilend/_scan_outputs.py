"""County scan outputs: the summary (JSON and an HTML page with a county map) and the context.

The county context folder holds what a scan learnt so that one new household can be decided
later from its own parcels: the crop model (saved with :mod:`agrilend.yield_models.persistence`,
no pickle), peer statistics (Parquet), peer curves (NetCDF), weather normals (Parquet), county
yields and metadata (JSON).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend.assess import Assessment, CountyContext
from agrilend.errors import ScanError
from agrilend.outputs import atomic_write, write_json, write_table

log = logging.getLogger(__name__)

_MODEL, _PEERS, _CURVES, _NORMALS, _COUNTY = (
    "crop_model.zip",
    "peer_stats.parquet",
    "peer_curves.nc",
    "weather_normals.parquet",
    "county.json",
)


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


def save_context(context: CountyContext, out_dir: str | Path) -> Path:
    """Write a county context into the folder ``out_dir`` (each file atomically).

    Examples
    --------
    >>> import tempfile
    >>> from agrilend.assess import CountyContext
    >>> d = save_context(CountyContext(county_yields={"maize": 7.5}), tempfile.mkdtemp())
    >>> load_context(d).county_yields
    {'maize': 7.5}
    """
    from agrilend.yield_models.persistence import save_model  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if context.crop_model is not None:
        with atomic_write(out / _MODEL) as tmp:
            tmp.unlink()
            save_model(context.crop_model, tmp, overwrite=True)
    if context.peer_stats is not None:
        write_table(context.peer_stats.reset_index(), out / _PEERS, overwrite=True)
    if context.peer_curves is not None:
        with atomic_write(out / _CURVES) as tmp:
            context.peer_curves.to_netcdf(tmp)
    if context.weather_normals is not None:
        write_table(context.weather_normals.reset_index(), out / _NORMALS, overwrite=True)
    county = {"county_yields": dict(context.county_yields), "meta": dict(context.meta)}
    write_json(county, out / _COUNTY, overwrite=True)
    return out


def load_context(path: str | Path) -> CountyContext:
    """Read a county context written by :func:`save_context` (a scan's ``context/`` folder).

    ``path`` may be the context folder itself or the scan's results folder holding it.

    Raises
    ------
    ScanError
        When the folder holds no county context.
    """
    from agrilend._limits import check_dataset, check_parquet, load_json  # noqa: PLC0415
    from agrilend._paths import local_path  # noqa: PLC0415
    from agrilend.errors import AgrilendError  # noqa: PLC0415
    from agrilend.yield_models.persistence import load_model  # noqa: PLC0415

    d = local_path(path, what="scan context")
    if not (d / _COUNTY).exists() and (d / "context" / _COUNTY).exists():
        d = d / "context"
    if not (d / _COUNTY).exists():
        raise ScanError(
            f"{str(d)!r} holds no county context ({_COUNTY} missing); give the context/ folder "
            "of a finished `agrilend scan`"
        )

    def damaged(why: str) -> ScanError:
        return ScanError(
            f"the county context in {str(d)!r} is damaged: {why}; run the scan again with "
            "--overwrite to rebuild it, or give the context/ folder of another finished scan"
        )

    county = load_json(d / _COUNTY, _COUNTY, error=damaged)
    try:
        ctx = CountyContext(
            county_yields={str(k): float(v) for k, v in county.get("county_yields", {}).items()},
            meta=dict(county.get("meta", {})),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise damaged(f"{_COUNTY} does not hold county yields and meta ({exc})") from None
    if (d / _MODEL).exists():
        ctx.crop_model = load_model(d / _MODEL)
    try:
        if (d / _PEERS).exists():
            check_parquet(d / _PEERS, _PEERS)
            peers = pd.read_parquet(d / _PEERS)
            ctx.peer_stats = peers.set_index(peers.columns[0])
        if (d / _CURVES).exists():
            with xr.open_dataset(d / _CURVES) as ds:
                check_dataset(ds, _CURVES, path=d / _CURVES)
                ctx.peer_curves = ds.load()
        if (d / _NORMALS).exists():
            check_parquet(d / _NORMALS, _NORMALS)
            normals = pd.read_parquet(d / _NORMALS)
            ctx.weather_normals = normals.set_index(normals.columns[0])
    except AgrilendError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError) as exc:
        raise damaged(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return ctx


__all__ = ["build_summary", "load_context", "save_context", "summary_html"]
