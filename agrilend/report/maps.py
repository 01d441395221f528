"""Maps of a household's parcels: true colour and NDVI of a clear date, and a county overview.

Each map carries the parcels outlined and labelled, a scale bar and a north arrow (the cube is in
a projected CRS, so grid north is drawn; in UTM it is within a degree or two of true north).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.patches import FancyArrow, Rectangle

from agrilend.report.figures import ACCENT, GREY, INK, figure_style, to_data_uri
from agrilend.report.i18n import Lang, text

log = logging.getLogger(__name__)

_NICE = (1, 2, 5)


@dataclass(frozen=True)
class ClearScene:
    """The date picked for the maps and how clear the household's window was then."""

    time: pd.Timestamp
    clear_fraction: float


def nice_length(span_m: float) -> float:
    """A round scale-bar length near a quarter of ``span_m`` (1, 2 or 5 times a power of ten).

    Examples
    --------
    >>> nice_length(1000), nice_length(380), nice_length(9000)
    (200.0, 50.0, 2000.0)
    """
    target = max(span_m / 4.0, 1e-9)
    power = 10 ** np.floor(np.log10(target))
    best = power
    for n in _NICE:
        if n * power <= target:
            best = n * power
    return float(best)


def _fmt_length(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def add_scale_bar(ax: Axes, *, location: tuple[float, float] = (0.05, 0.05)) -> float:
    """Draw a two-segment black and white scale bar in data units (metres); returns its length."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length(x1 - x0)
    height = (y1 - y0) * 0.012
    bx = x0 + location[0] * (x1 - x0)
    by = y0 + location[1] * (y1 - y0)
    pad = (x1 - x0) * 0.015
    ax.add_patch(
        Rectangle(
            (bx - pad, by - pad),
            length + 2 * pad,
            height + 2 * pad + (y1 - y0) * 0.05,
            facecolor="white",
            alpha=0.8,
            edgecolor="none",
            zorder=5,
        )
    )
    for k in range(2):
        ax.add_patch(
            Rectangle(
                (bx + k * length / 2, by),
                length / 2,
                height,
                facecolor=INK if k == 0 else "white",
                edgecolor=INK,
                lw=0.8,
                zorder=6,
            )
        )
    ax.text(
        bx + length / 2,
        by + height * 1.6,
        _fmt_length(length),
        ha="center",
        va="bottom",
        fontsize=7.5,
        color=INK,
        zorder=6,
    )
    return length


def add_north_arrow(ax: Axes, *, label: str = "N") -> None:
    """Draw a north arrow in the upper right corner (axes coordinates)."""
    ax.add_patch(
        FancyArrow(
            0.93,
            0.80,
            0,
            0.1,
            width=0.012,
            head_width=0.05,
            head_length=0.05,
            length_includes_head=True,
            transform=ax.transAxes,
            color=INK,
            zorder=6,
        )
    )
    ax.text(
        0.93,
        0.76,
        label,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
        fontweight="bold",
        color=INK,
        zorder=6,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
    )


def _window(
    parcels: gpd.GeoDataFrame, *, margin: float = 0.35, min_span: float = 400.0
) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = parcels.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    span = max(maxx - minx, maxy - miny) * (1 + 2 * margin)
    span = max(span, min_span)
    return cx - span / 2, cy - span / 2, cx + span / 2, cy + span / 2


def _crop_cube(cube: xr.Dataset, bounds: tuple[float, float, float, float]) -> xr.Dataset:
    minx, miny, maxx, maxy = bounds
    xs, ys = cube["x"].to_numpy(), cube["y"].to_numpy()
    xsel = (xs >= minx) & (xs <= maxx)
    ysel = (ys >= miny) & (ys <= maxy)
    return cube.isel(x=np.flatnonzero(xsel), y=np.flatnonzero(ysel))


def _ndvi(win: xr.Dataset) -> xr.DataArray:
    red = win["B04"].astype("float32")
    nir = win["B08"].astype("float32")
    return (nir - red) / (nir + red).where((nir + red) != 0)


def pick_clear_scene(
    cube: xr.Dataset, parcels: gpd.GeoDataFrame, *, min_clear: float = 0.9
) -> ClearScene | None:
    """The date to map: the clearest tier of dates over ``parcels``' window (all clear, at
    least 97 % clear, at least ``min_clear`` clear), and in it the date where the parcels are
    greenest, so the crops show; without any such date, the clearest date.

    Returns None when the cube does not cover the parcels.
    """
    win = _crop_cube(cube, _window(parcels))
    if win.sizes.get("x", 0) == 0 or win.sizes.get("y", 0) == 0:
        return None
    if "valid" in win:
        clear = win["valid"].mean(dim=("y", "x")).to_numpy().astype(float)
    else:
        clear = np.ones(win.sizes["time"])
    if not np.isfinite(clear).any() or np.nanmax(clear) <= 0:
        return None
    k = int(np.nanargmax(clear))
    if "B04" in win and "B08" in win:
        for tier in (0.999, 0.97, min_clear):
            ok = clear >= tier
            if ok.any():
                with warnings.catch_warnings():  # a date with no data at all is skipped
                    warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
                    greenness = _ndvi(win.isel(time=np.flatnonzero(ok))).quantile(
                        0.75, dim=("y", "x")
                    )
                g = np.where(np.isfinite(greenness), greenness, -np.inf)
                k = int(np.flatnonzero(ok)[int(np.argmax(g))])
                break
    return ClearScene(time=pd.Timestamp(win["time"].to_numpy()[k]), clear_fraction=float(clear[k]))


def _true_colour(win: xr.Dataset) -> np.ndarray[Any, Any]:
    rgb = np.stack([win[b].to_numpy().astype(float) for b in ("B04", "B03", "B02")], axis=-1)
    finite = rgb[np.isfinite(rgb)]
    if finite.size == 0:
        return np.zeros_like(rgb)
    lo, hi = np.percentile(finite, [2, 98])
    scaled = np.clip((rgb - lo) / max(hi - lo, 1e-6), 0, 1) ** (1 / 1.4)
    return np.where(np.isfinite(scaled), scaled, 1.0)


def _rings(geoms: gpd.GeoSeries, *, holes: bool = True) -> list[np.ndarray[Any, Any]]:
    rings = []
    for poly in shapely.get_parts(geoms.to_numpy()):
        if poly is None or poly.is_empty or poly.geom_type != "Polygon":
            continue
        rings.append(np.asarray(poly.exterior.coords))
        if holes:
            rings.extend(np.asarray(r.coords) for r in poly.interiors)
    return rings


def _fill(ax: Axes, geoms: gpd.GeoSeries, **kwargs: Any) -> None:
    # a PolyCollection draws a county of parcels far faster than GeoSeries.plot
    ax.add_collection(PolyCollection(_rings(geoms, holes=False), **kwargs))


def _outline(ax: Axes, parcels: gpd.GeoDataFrame, *, color: str, labels: bool) -> None:
    ax.add_collection(
        LineCollection(_rings(parcels.geometry), colors=color, linewidths=1.6, zorder=4)
    )
    if labels:
        for i, (_, row) in enumerate(parcels.iterrows()):
            p = row.geometry.representative_point()
            ax.text(
                p.x,
                p.y,
                str(i + 1),
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold",
                color=INK,
                zorder=5,
                bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": color, "lw": 1},
            )


def _drawn(ax: Axes, parcels: gpd.GeoDataFrame, *, color: str, crs: Any) -> None:
    """Farmer-drawn claims: the outline as drawn (``drawn_wkt``, in the parcels' CRS), dashed,
    beside the verified one (solid)."""
    if "drawn_wkt" not in parcels.columns:
        return
    drawn = [shapely.from_wkt(w) for w in parcels["drawn_wkt"].fillna("").astype(str) if w]
    if drawn:
        geoms = gpd.GeoSeries(drawn, crs=parcels.crs)
        geoms = geoms.to_crs(crs) if crs is not None and parcels.crs is not None else geoms
        ax.add_collection(
            LineCollection(
                _rings(geoms), colors=color, linewidths=1.2, linestyles="--", zorder=4,
            )
        )  # fmt: skip


def parcel_maps(
    cube: xr.Dataset,
    parcels: gpd.GeoDataFrame,
    *,
    scene: ClearScene,
    lang: Lang = "en",
) -> tuple[str, str]:
    """True-colour and NDVI maps of ``parcels`` on ``scene``'s date, as two PNG data URIs.

    Parcels are numbered in their row order (the report's table uses the same numbers).
    """
    bounds = _window(parcels)
    win = _crop_cube(cube.sel(time=scene.time), bounds)
    extent = (
        float(win["x"].min()) - 5,
        float(win["x"].max()) + 5,
        float(win["y"].min()) - 5,
        float(win["y"].max()) + 5,
    )
    outlines = parcels.to_crs(cube.rio.crs) if cube.rio.crs and parcels.crs else parcels
    uris = []
    with figure_style(lang) as flang:
        for kind in ("rgb", "ndvi"):
            fig, ax = plt.subplots(figsize=(4.2, 4.2))
            fig.subplots_adjust(
                left=0.02, right=0.93 if kind == "ndvi" else 0.98, top=0.98, bottom=0.02
            )
            if kind == "rgb":
                ax.imshow(_true_colour(win), extent=extent, origin="upper", interpolation="nearest")
                colour = "#ffeb3b"
            else:
                im = ax.imshow(
                    _ndvi(win).to_numpy(),
                    extent=extent,
                    origin="upper",
                    cmap="RdYlGn",
                    vmin=-0.1,
                    vmax=0.9,
                    interpolation="nearest",
                )
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
                cb.ax.tick_params(labelsize=7)
                cb.set_label(text("ndvi", flang), fontsize=8)
                colour = INK
            _outline(ax, outlines, color=colour, labels=True)
            _drawn(ax, parcels, color=colour, crs=cube.rio.crs)
            ax.set_xlim(bounds[0], bounds[2])
            ax.set_ylim(bounds[1], bounds[3])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel("")
            for s in ax.spines.values():
                s.set_visible(True)
            add_scale_bar(ax)
            add_north_arrow(ax, label=text("north", flang))
            uris.append(to_data_uri(fig))
    return uris[0], uris[1]


def overview_map(
    county: gpd.GeoDataFrame,
    household: gpd.GeoDataFrame,
    *,
    cube: xr.Dataset | None = None,
    lang: Lang = "en",
) -> str:
    """Where the household's parcels lie among all parcels of the county, as a PNG data URI."""
    crs = household.crs
    with figure_style(lang) as flang:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
        fig.subplots_adjust(left=0.02, right=0.98, top=0.98, bottom=0.02)
        if "parcel_id" in county and "parcel_id" in household:
            mine = county["parcel_id"].astype(str).isin(household["parcel_id"].astype(str))
        else:
            mine = county.index.isin(household.index)
        others = county[~mine] if len(county) else county
        if len(others):
            _fill(
                ax,
                others.to_crs(crs).geometry,
                facecolor="#cfd8dc",
                edgecolor="#90a4ae",
                linewidths=0.3,
            )
        if cube is not None and "x" in cube.coords and "y" in cube.coords:
            x0, x1 = float(cube["x"].min()), float(cube["x"].max())
            y0, y1 = float(cube["y"].min()), float(cube["y"].max())
            ax.add_patch(
                Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=GREY, ls="--", lw=0.8)
            )
        _fill(ax, household.geometry, facecolor=ACCENT, edgecolor=ACCENT, linewidths=1.2, zorder=3)
        wminx, wminy, wmaxx, wmaxy = _window(household)
        ax.add_patch(
            Rectangle(
                (wminx, wminy), wmaxx - wminx, wmaxy - wminy, fill=False, ec=INK, lw=1.0, zorder=4
            )
        )
        allb = np.array(county.to_crs(crs).total_bounds if len(county) else household.total_bounds)
        allb = np.minimum(allb, [wminx, wminy, np.inf, np.inf])
        allb = np.maximum(allb, [-np.inf, -np.inf, wmaxx, wmaxy])
        if cube is not None and "x" in cube.coords:
            allb = np.array(
                [min(allb[0], x0), min(allb[1], y0), max(allb[2], x1), max(allb[3], y1)]
            )
        pad = 0.04 * max(allb[2] - allb[0], allb[3] - allb[1])
        ax.set_xlim(allb[0] - pad, allb[2] + pad)
        ax.set_ylim(allb[1] - pad, allb[3] + pad)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for s in ax.spines.values():
            s.set_visible(True)
        handles = [
            Rectangle((0, 0), 1, 1, color=ACCENT, label=text("this_household", flang)),
            Rectangle((0, 0), 1, 1, color="#cfd8dc", label=text("other_parcels", flang)),
            Rectangle((0, 0), 1, 1, fill=False, ec=INK, label=text("map_extent", flang)),
        ]
        ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85)
        add_scale_bar(ax)
        add_north_arrow(ax, label=text("north", flang))
        return to_data_uri(fig)


__all__ = [
    "ClearScene",
    "add_north_arrow",
    "add_scale_bar",
    "nice_length",
    "overview_map",
    "parcel_maps",
    "pick_clear_scene",
]
