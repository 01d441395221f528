"""Sentinel-2 L2A-like imagery of the synthetic county: surface, clouds, scene classification.

The surface is rendered on a fine grid (2.5 m by default) as zones (parcels, idle parts of
strips, roads, windbreaks, canal, pond, village); each fine pixel mixes a vegetation spectrum
with its zone's background spectrum (soil, asphalt, roofs, water, greenhouse plastic) in the
proportion of green cover that gives the zone's NDVI curve, with a smooth within-parcel
variation. Averaging the fine grid to 10 m gives mixed pixels at parcel edges. Clouds are
smooth random blobs (more in July-August), with shadows cast north-west, thin cirrus, haze, and
a few dates cut by the swath edge. The SCL layer flags most of that, but like the real one it
misses thin cloud edges and some faint haze, and mistakes greenhouse plastic for cloud.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rasterio import features as rio_features
from rasterio.transform import Affine
from scipy import ndimage
from shapely.geometry import Polygon

from agrilend.synthetic.crops import SOIL_NDVI, bump, crop_ndvi

log = logging.getLogger(__name__)

F32 = np.ndarray[Any, np.dtype[np.float32]]

BANDS = ("B02", "B03", "B04", "B08")
#: Surface spectra (B02, B03, B04, B08 reflectance). Soil and vegetation end-members match the
#: medians of the real French LPIS samples (bare: NDVI < 0.2; full cover: NDVI > 0.85).
SPECTRA = {
    "soil": (0.100, 0.140, 0.180, 0.250),
    "vegetation": (0.026, 0.058, 0.028, 0.490),
    "water": (0.070, 0.080, 0.060, 0.040),
    "asphalt": (0.120, 0.135, 0.150, 0.185),
    "roof": (0.130, 0.140, 0.160, 0.200),
    "plastic": (0.210, 0.230, 0.235, 0.300),
}
#: Near-infrared brightness of each crop's full canopy relative to the vegetation end-member:
#: broad-leaved dicots (soybean, peanut, cotton) scatter more NIR than cereals; tree crowns less.
CANOPY_NIR = {"soybean": 1.07, "peanut": 1.06, "cotton": 1.05, "rice": 0.97, "orchard": 0.93}
#: Mean cloud cover per month on the North China Plain (dry winters, wet July-August).
CLOUD_COVER = (0.16, 0.19, 0.22, 0.25, 0.26, 0.34, 0.48, 0.44, 0.30, 0.22, 0.19, 0.16)
OFFSET_DN = 1000
QUANTIFICATION = 10000


@dataclass
class Zones:
    """Land-cover zones on the fine grid and each zone's properties."""

    label: np.ndarray[Any, np.dtype[np.int32]]
    ndvi: np.ndarray[Any, np.dtype[np.float64]]  # (time, zone)
    water: np.ndarray[Any, np.dtype[np.float64]]  # (time, zone) share of open water under canopy
    base: np.ndarray[Any, np.dtype[np.float64]]  # (zone, band) background spectrum
    veg: np.ndarray[Any, np.dtype[np.float64]]  # (zone, band) vegetation spectrum
    spread: np.ndarray[Any, np.dtype[np.float64]]  # (zone,) within-zone variation of cover
    plastic: np.ndarray[Any, np.dtype[np.bool_]]  # (zone,) greenhouse


def fv_from_ndvi(
    ndvi: np.ndarray[Any, Any], base: np.ndarray[Any, Any], veg: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Green-cover fraction whose linear mix of ``base`` and ``veg`` spectra has NDVI ``ndvi``.

    ``base`` and ``veg`` hold (..., 4) spectra in band order B02, B03, B04, B08.

    Examples
    --------
    >>> import numpy as np
    >>> soil, veg = np.array(SPECTRA["soil"]), np.array(SPECTRA["vegetation"])
    >>> fv = fv_from_ndvi(np.array(0.6), soil, veg)
    >>> mix = fv * veg + (1 - fv) * soil
    >>> round(float((mix[3] - mix[2]) / (mix[3] + mix[2])), 3)
    0.6
    """
    ds = base[..., 3] - base[..., 2]
    ss = base[..., 3] + base[..., 2]
    dv = veg[..., 3] - veg[..., 2]
    sv = veg[..., 3] + veg[..., 2]
    a = (ds - ndvi * ss) / (ndvi * (sv - ss) - dv + ds)
    return np.clip(a, 0.0, 1.0)


def make_zones(
    parcels: Sequence[Polygon],
    truth: pd.DataFrame,
    idle: Sequence[Polygon | None],
    features: Sequence[tuple[str, Polygon]],
    *,
    times: pd.DatetimeIndex,
    shape: tuple[int, int],
    transform: Affine,
    rng: np.random.Generator,
) -> Zones:
    """Rasterise the land onto the fine grid and give every zone its curves and spectra."""
    doy = np.asarray(times.day_of_year, dtype=np.float64) + times.hour.to_numpy() / 24.0
    n = len(parcels)
    kinds = ["verge", "road", "trees", "canal", "pond", "village"]
    fixed = {k: i for i, k in enumerate(kinds)}
    idle_ids = [i for i, g in enumerate(idle) if g is not None]
    nz = len(kinds) + n + len(idle_ids)
    nt = len(doy)
    ndvi = np.zeros((nt, nz))
    water = np.zeros((nt, nz))
    base = np.zeros((nz, 4))
    veg = np.tile(np.array(SPECTRA["vegetation"]), (nz, 1))
    spread = np.full(nz, 0.05)
    plastic = np.zeros(nz, dtype=bool)
    soil = np.array(SPECTRA["soil"])

    base[fixed["verge"]] = soil * 0.95
    ndvi[:, fixed["verge"]] = (
        SOIL_NDVI + 0.04 + 0.2 * bump(doy, up=110, r_up=10, down=290, r_down=10)
    )
    spread[fixed["verge"]] = 0.3
    base[fixed["road"]] = SPECTRA["asphalt"]
    ndvi[:, fixed["road"]] = 0.1
    base[fixed["trees"]] = soil * 0.9
    ndvi[:, fixed["trees"]] = 0.22 + 0.58 * bump(doy, up=100, r_up=6, down=305, r_down=8)
    spread[fixed["trees"]] = 0.15
    base[fixed["canal"]] = SPECTRA["water"]
    ndvi[:, fixed["canal"]] = -0.2
    base[fixed["pond"]] = SPECTRA["water"]
    ndvi[:, fixed["pond"]] = -0.2
    base[fixed["village"]] = SPECTRA["roof"]
    ndvi[:, fixed["village"]] = 0.15 + 0.22 * bump(doy, up=100, r_up=6, down=305, r_down=8)
    spread[fixed["village"]] = 0.6

    soil_ndvi = np.clip(rng.normal(SOIL_NDVI, 0.012, n), 0.12, 0.2)
    brightness = np.clip(rng.normal(1.0, 0.07, n), 0.85, 1.18)
    for i in range(n):
        z = len(kinds) + i
        row = truth.iloc[i]
        crop = str(row["true_crop"])
        curve = crop_ndvi(
            crop,
            doy,
            shift=float(row["sowing_shift_days"]),
            vigour=float(row["vigour_factor"]),
            soil=float(soil_ndvi[i]),
            rng=rng,
        )
        ndvi[:, z] = curve + rng.normal(0.0, 0.008, nt)
        base[z] = SPECTRA["plastic"] if crop == "greenhouse" else soil * brightness[i]
        plastic[z] = crop == "greenhouse"
        veg[z, 3] *= CANOPY_NIR.get(crop, 1.0) * float(rng.uniform(0.94, 1.05))
        vig = float(row["vigour_factor"])
        spread[z] = 0.05 if vig >= 0.8 else 0.13
        if crop == "fallow":
            spread[z] = 0.35
        elif crop == "orchard":
            spread[z] = 0.12
        elif crop == "rice":
            sow = 160.0 + float(row["sowing_shift_days"])
            water[:, z] = 0.8 * bump(doy, up=sow - 10, r_up=2, down=sow + 40, r_down=5)
    for k, i in enumerate(idle_ids):
        z = len(kinds) + n + k
        ndvi[:, z] = crop_ndvi("fallow", doy, soil=float(soil_ndvi[i]), rng=rng)
        base[z] = soil * brightness[i] * 1.04
        spread[z] = 0.35

    label = np.full(shape, fixed["verge"], dtype=np.int32)
    shapes: list[tuple[Any, int]] = [(g, fixed[k]) for k, g in features if k in ("road", "trees")]
    shapes += [(g, fixed[k]) for k, g in features if k in ("canal", "pond", "village")]
    shapes += [(p, len(kinds) + i) for i, p in enumerate(parcels)]
    shapes += [(idle[i], len(kinds) + n + k) for k, i in enumerate(idle_ids)]
    rio_features.rasterize(shapes, out=label, transform=transform, all_touched=False)
    return Zones(
        label=label, ndvi=ndvi, water=water, base=base, veg=veg, spread=spread, plastic=plastic
    )


def _smooth_field(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> F32:
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma, mode="wrap")
    return np.asarray((f - f.mean()) / (f.std() + 1e-9), dtype=np.float32)


def render_surface(
    zones: Zones,
    *,
    factor: int,
    rng: np.random.Generator,
    wetness: np.ndarray[Any, Any] | None = None,
) -> F32:
    """Surface reflectance ``(time, band, y, x)`` at the coarse grid (fine grid / ``factor``).

    ``wetness`` (0-1 per date) darkens bare ground after rain, as wet soil is darker.
    """
    lab = zones.label
    fy, fx = lab.shape
    ny, nx = fy // factor, fx // factor
    nt = zones.ndvi.shape[0]
    variation = _smooth_field(lab.shape, 5.0, rng) * zones.spread[lab].astype(np.float32)
    variation += 0.03 * rng.standard_normal(lab.shape).astype(np.float32)
    grain = 1.0 + 0.025 * _smooth_field(lab.shape, 2.0, rng)
    base = zones.base[lab].astype(np.float32) * grain[..., None]  # (fy, fx, band)
    veg = zones.veg[lab].astype(np.float32)
    water_spec = np.array(SPECTRA["water"], dtype=np.float32)
    fv_zone = fv_from_ndvi(zones.ndvi, zones.base[None, :, :], zones.veg[None, :, :])
    out = np.empty((nt, 4, ny, nx), dtype=np.float32)
    for t in range(nt):
        fv = np.clip(fv_zone[t][lab].astype(np.float32) * (1.0 + variation), 0.0, 1.0)
        w = zones.water[t][lab].astype(np.float32)
        dark = np.float32(1.0 - 0.15 * (0.0 if wetness is None else float(wetness[t])))
        bg = base * (dark * (1.0 - w[..., None])) + water_spec * w[..., None]
        refl = fv[..., None] * veg + (1.0 - fv[..., None]) * bg
        coarse = (
            refl[: ny * factor, : nx * factor].reshape(ny, factor, nx, factor, 4).mean(axis=(1, 3))
        )
        out[t] = np.moveaxis(coarse, -1, 0)
    return out


@dataclass
class Sky:
    """Per-date atmosphere over the coarse grid."""

    cloud: F32  # (time, y, x) opacity 0-1
    shadow: F32  # (time, y, x) shadow strength 0-1
    cirrus: F32  # (time, y, x) additive reflectance
    haze: F32  # (time,) additive blue reflectance
    faint: np.ndarray[Any, np.dtype[np.bool_]]  # (time,) a faint cloud layer SCL misses
    nodata: np.ndarray[Any, np.dtype[np.bool_]]  # (time, y, x) outside the swath


def make_sky(
    times: pd.DatetimeIndex,
    shape: tuple[int, int],
    *,
    rng: np.random.Generator,
    rain_days: np.ndarray[Any, Any] | None = None,
) -> Sky:
    """Draw clouds, shadows, cirrus, haze and swath edges for each date.

    ``rain_days`` (bool per date) makes rainy dates cloudier, tying the imagery to the weather.
    """
    ny, nx = shape
    nt = len(times)
    pad = max(ny, nx) // 3
    cloud = np.zeros((nt, ny, nx), dtype=np.float32)
    shadow = np.zeros_like(cloud)
    cirrus = np.zeros_like(cloud)
    haze = np.zeros(nt, dtype=np.float32)
    faint = np.zeros(nt, dtype=bool)
    nodata = np.zeros((nt, ny, nx), dtype=bool)
    yy, xx = np.mgrid[0:ny, 0:nx]
    edge_dates = set(rng.choice(nt, size=max(1, nt // 18), replace=False).tolist())
    for t, ts in enumerate(times):
        m = CLOUD_COVER[ts.month - 1]
        if rain_days is not None and rain_days[t]:
            m = min(0.9, m + 0.15)
        a = 1.1 * m
        cover = float(rng.beta(a, 1.1 - a))
        if cover > 0.04:
            big = (ny + 2 * pad, nx + 2 * pad)
            f = _smooth_field(big, float(rng.uniform(0.05, 0.12)) * max(ny, nx), rng)
            thr = float(np.quantile(f, 1.0 - cover))
            op = np.clip((f - thr) / 0.7, 0.0, 1.0) ** 0.6
            cloud[t] = op[pad : pad + ny, pad : pad + nx]
            dy = int(rng.integers(pad // 4, pad // 2 + 1))
            dx = int(rng.integers(pad // 8, pad // 3 + 1))
            shadow[t] = op[pad + dy : pad + dy + ny, pad + dx : pad + dx + nx]
        if rng.random() < (0.2 if ts.month in range(4, 10) else 0.08):
            c = np.clip(_smooth_field((ny, nx), 0.3 * max(ny, nx), rng) + 0.5, 0, None)
            cirrus[t] = float(rng.uniform(0.01, 0.04)) * c
        if ts.month in (11, 12, 1, 2):
            haze[t] = float(rng.exponential(0.012))
        faint[t] = cover <= 0.04 and rng.random() < 0.06
        if t in edge_dates:
            ang = rng.uniform(-0.3, 0.3)
            cut = rng.uniform(0.3, 0.8) * nx
            nodata[t] = xx - ang * yy > cut
    return Sky(cloud=cloud, shadow=shadow, cirrus=cirrus, haze=haze, faint=faint, nodata=nodata)


def sky_truth(sky: Sky, scl: np.ndarray[Any, Any], times: pd.DatetimeIndex) -> pd.DataFrame:
    """Per date: the true cloud, shadow and haze and how much of it SCL left marked clear.

    ``residual_share`` is the share of pixels SCL calls clear (4, 5, 6) that are in fact
    touched by cloud (opacity > 0.03), cirrus (> 0.005 reflectance), shadow (> 0.1) or a faint
    layer: what a pipeline must remove by itself (despiking).
    """
    rows = []
    for t, ts in enumerate(times):
        touched = (sky.cloud[t] > 0.03) | (sky.cirrus[t] > 0.005) | (sky.shadow[t] > 0.1)
        if sky.faint[t]:
            touched = np.ones_like(touched)
        clear = np.isin(scl[t], (4, 5, 6))
        rows.append(
            {
                "date": ts.strftime("%Y-%m-%d"),
                "cloud_share": round(float((sky.cloud[t] > 0.1).mean()), 4),
                "shadow_share": round(float((sky.shadow[t] * (1 - sky.cloud[t]) > 0.1).mean()), 4),
                "cirrus": bool(sky.cirrus[t].max() > 0.005),
                "faint_layer": bool(sky.faint[t]),
                "haze": round(float(sky.haze[t]), 4),
                "nodata_share": round(float(sky.nodata[t].mean()), 4),
                "scl_clear_share": round(float(clear.mean()), 4),
                "residual_share": round(float((touched & clear).sum() / max(clear.sum(), 1)), 4),
            }
        )
    return pd.DataFrame(rows)


def observe(
    surface: F32,
    sky: Sky,
    *,
    plastic_share: F32,
    rng: np.random.Generator,
    noise: float = 0.003,
) -> tuple[np.ndarray[Any, np.dtype[np.uint16]], np.ndarray[Any, np.dtype[np.uint8]]]:
    """Top-of-canopy as the satellite sees it: digital numbers ``(time, band, y, x)`` and SCL."""
    nt, _, ny, nx = surface.shape
    dn = np.empty(surface.shape, dtype=np.uint16)
    scl = np.empty((nt, ny, nx), dtype=np.uint8)
    blue_haze = np.array([1.0, 0.7, 0.45, 0.15], dtype=np.float32)[:, None, None]
    for t in range(nt):
        s = surface[t] * np.float32(rng.normal(1.0, 0.012))
        op = op_seen = sky.cloud[t]
        sh = sky.shadow[t] * (1.0 - op)
        s = s * (1.0 - 0.6 * sh)
        if sky.faint[t]:
            thin = np.clip(_smooth_field((ny, nx), 0.2 * max(ny, nx), rng) * 0.05 + 0.12, 0.05, 0.2)
            op = np.maximum(op, thin.astype(np.float32))
        bright = np.float32(rng.uniform(0.38, 0.6))
        cloud_spec = bright * np.array([1.04, 1.02, 1.0, 0.98], dtype=np.float32)[:, None, None]
        s = (1.0 - op) * s + op * cloud_spec
        s = s + sky.cirrus[t] + sky.haze[t] * blue_haze
        s = s + np.float32(noise) * rng.standard_normal(s.shape).astype(np.float32)
        raw = np.rint(s * QUANTIFICATION) + OFFSET_DN
        dn[t] = np.clip(raw, 1, 65535).astype(np.uint16)
        dn[t][:, sky.nodata[t]] = 0
        scl[t] = _classify(
            s, op=op_seen, sh=sh, ci=sky.cirrus[t], plastic_share=plastic_share, rng=rng
        )
        scl[t][sky.nodata[t]] = 0
    return dn, scl


def _classify(
    s: F32, *, op: F32, sh: F32, ci: F32, plastic_share: F32, rng: np.random.Generator
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Sentinel-2 scene classification with its usual misses (thin edges, faint haze)."""
    red, nir = s[2], s[3]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    out = np.where(ndvi >= 0.4, 4, 5).astype(np.uint8)
    out[(ndvi < 0.0) & (s[0] > s[3])] = 6
    out[rng.random(out.shape) < 0.004] = 7
    # greenhouse plastic looks like cloud to the classifier on some dates
    if rng.random() < 0.3:
        out[(plastic_share > 0.5) & (rng.random(out.shape) < 0.5)] = 8
    out[ci > 0.02] = 10
    out[sh > 0.4] = 3
    # the transition zone 0.1-0.3 is flagged only in part: that is the residual cloud
    partial = (op > 0.1) & (rng.random(out.shape) < (op - 0.1) / 0.2)
    out[partial | (op > 0.3)] = 8
    out[op > 0.6] = 9
    return out


__all__ = [
    "BANDS",
    "CANOPY_NIR",
    "CLOUD_COVER",
    "OFFSET_DN",
    "QUANTIFICATION",
    "SPECTRA",
    "Sky",
    "Zones",
    "fv_from_ndvi",
    "make_sky",
    "make_zones",
    "observe",
    "render_surface",
    "sky_truth",
]
