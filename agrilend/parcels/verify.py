"""Verify farmer-drawn claims against the imagery, each other and the registry.

For each claim (:mod:`agrilend.parcels.claims`) in a window around it:

1. the season's fields are delineated (:mod:`agrilend.parcels.delineation`) and the claim's
   own season is the weighted medoid of the drawing's pixels (pixels deep inside it weigh
   more than its rough edge);
2. the outline is **snapped**: each pixel's membership of that field comes from how close its
   season is to the field's and to the other seasons around, blended with the drawing where the
   seasons do not tell the neighbours apart; the verified outline is the 0.5 contour of that
   membership (sub-pixel), never more than ``max_shift`` metres from the drawing;
3. the share of the drawing on **non-farmland** (no season: built-up, water, roads; NDVI p90
   below ``farmland_ndvi``) and on fields whose **series differ** (a neighbour's field, a tree
   row drawn in) is measured, with its depth (area over the drawn outline running through it:
   a rough edge's sliver is as deep as the drawing's error, a neighbour's field as it is wide);
4. overlaps of the drawing with **other households' claims** and with **registry titles** are
   found, each side flagged, when they hold most of the other parcel and are deeper than a
   rough edge; with titles, a drawing larger than its household's titles by more than its
   noise explains is flagged as overstated (see :class:`VerifyOptions`);
5. the claimed crop is checked against the imagery one layer up, where the crop models are
   visible (:func:`agrilend.claim_crops.check_claimed_crops`; this layer never imports
   :mod:`agrilend.yield_models`).

:func:`claims_as_titles` turns verified claims into rows of the titles schema
(``source == "claim"``, the trust flags, the policy's haircut), so every later layer treats them
as titles with lower trust.

================== ==========================================================================
flag               meaning
================== ==========================================================================
``non_farmland``   more than ``max_nonfarm_share`` of the drawing is on land with no season
``mixed_series``   at least ``min_mixed_share`` of the drawing is on another season (pixels
                   nearer another field's season than the claimed one's) and that part is
                   deeper than drawing noise makes (``mixed_depth`` x ``max_shift``)
``area_overstated`` drawn or claimed area above ``max_area_ratio`` x the verified area, or
                   (with titles) above the household's own titles under the drawing by more
                   than ``area_noise`` standard deviations of the drawing's noise
``claim_conflict`` the drawing covers most of another household's claim (or is mostly covered
                   by it) and the overlap is deeper than a rough edge
``title_conflict`` the drawing covers most of another household's registry title, deeper than
                   a rough edge
``titled``         the claim is the household's own registry title (counted once, as title)
``crop_mismatch``  the imagery contradicts the claimed crop (set one layer up, by
                   :func:`agrilend.claim_crops.check_claimed_crops`)
``unverified``     no usable imagery over the claim
================== ==========================================================================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
import xarray as xr
from affine import Affine

from agrilend.parcels.delineation import delineate

log = logging.getLogger(__name__)

#: Flags that say the claim is inflated or contested (what the benchmark counts as caught).
CONFLICT_FLAGS = ("non_farmland", "mixed_series", "area_overstated", "claim_conflict",
                  "title_conflict")  # fmt: skip
#: Every flag a verified claim may carry.
FLAGS = (*CONFLICT_FLAGS, "titled", "crop_mismatch", "unverified")
#: Claimed crops that show no season (plastic cover): the non-farmland test does not apply.
SEASONLESS_CROPS = frozenset({"greenhouse"})
_SUPER = 4  # sub-pixels per pixel side when rasterising a drawing
# RMS across-the-outline error of a vertex off by U(max/4, max) in a random direction, per max
_RMS_ACROSS = math.sqrt((1 - 1 / 64) / (3 * 0.75) / 2)


@dataclass(frozen=True)
class VerifyOptions:
    """Thresholds of :func:`verify_claims`.

    Most are in units of the drawing's error, ``max_shift`` (a phone-map drawing's vertices are
    5-20 m off): between two vertices the error tapers, so a sliver of land a rough edge takes
    from a neighbour is on average at most ``max_shift / 2`` deep, whatever the field's size.
    A part of the drawing on another season, or on another household's title, counts as drawn
    in only when it is deeper than noise makes, and (for parcels) holds most of the other
    parcel. The shares were set on the sample county (see benchmarks/README.md).

    Attributes
    ----------
    max_shift
        Largest error of a drawn vertex (metres); the verified outline stays within it.
    margin
        Imagery read around a drawing (metres).
    series_distance
        RMS NDVI distance below which two seasons are one.
    farmland_ndvi
        NDVI p90 below which a pixel has no season (non-farmland).
    max_nonfarm_share
        Share of the drawing on non-farmland above which ``non_farmland`` is flagged.
    min_mixed_share
        Least share of the drawing on another season for ``mixed_series`` (with depth).
    mixed_depth
        Least mean depth of that part, in units of ``max_shift`` (0.5: deeper than noise).
    max_area_ratio
        Drawn or claimed area above this many times the verified area: ``area_overstated``.
    overlap_share
        Share of the other household's title (or of the smaller claim) the drawing must cover
        for ``title_conflict`` (``claim_conflict``).
    overlap_depth
        Least mean depth (2 x area / perimeter) of that overlap, in units of ``max_shift``.
    area_noise
        A claim on its household's own titles is ``area_overstated`` when its drawn or claimed
        area exceeds theirs by more than this many standard deviations of the area error the
        drawing's noise makes (:func:`drawing_area_noise`).
    min_other_pixels
        Least pixels of a neighbouring segment whose season counts as "another season".
    """

    max_shift: float = 20.0
    margin: float = 40.0
    series_distance: float = 0.12
    farmland_ndvi: float = 0.3
    max_nonfarm_share: float = 0.2
    min_mixed_share: float = 0.15
    mixed_depth: float = 0.5
    max_area_ratio: float = 2.0
    overlap_share: float = 0.6
    overlap_depth: float = 0.25
    area_noise: float = 2.0
    min_other_pixels: int = 4


def verify_claims(
    claims: gpd.GeoDataFrame,
    cube: xr.Dataset | xr.DataArray,
    *,
    titles: gpd.GeoDataFrame | None = None,
    options: VerifyOptions | None = None,
) -> gpd.GeoDataFrame:
    """Snap each claim to the fields it covers and flag what does not hold.

    Parameters
    ----------
    claims
        Claims from :func:`agrilend.parcels.claims.read_claims` (any projected CRS).
    cube
        A contract cube (NDVI is computed, NaN where not clear) or an NDVI ``(time, y, x)``
        DataArray, with a CRS.
    titles
        Registry titles to cross-check (optional: the case this is for has none).
    options
        Thresholds (:class:`VerifyOptions`).

    Returns
    -------
    geopandas.GeoDataFrame
        The claims (in the imagery's CRS) with ``geometry`` the verified outline, plus
        ``drawn_area_ha``, ``verified_area_ha``, ``nonfarm_share``, ``mixed_share``,
        ``nonfarm_depth`` and ``mixed_depth`` (metres), ``overlap_claims`` and
        ``overlap_titles`` (ids, comma-joined), ``own_titles_ha`` and ``area_excess_sd`` (the
        household's titles under the drawing, and how many noise standard deviations the
        drawn or claimed area exceeds them by; NaN without titles), ``flags`` (comma-joined,
        see the module's table).

    Examples
    --------
    >>> from agrilend.testing import make_test_cube
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cube = make_test_cube(seed=1, size_px=(20, 20), n_dates=12)
    >>> x0, y1 = float(cube.x[0]) - 5, float(cube.y[0]) + 5
    >>> c = gpd.GeoDataFrame({"claim_id": ["C-1"], "owner_ref": ["H-0123456789ab"],
    ...     "claimed_crop": [""], "claimed_area_ha": [float("nan")], "repairs": [""],
    ...     "claim_status": ["ok"], "claim_message": [""], "drawn_wkt": [""]},
    ...     geometry=[box(x0 + 40, y1 - 120, x0 + 120, y1 - 40)], crs=cube.rio.crs)
    >>> v = verify_claims(c, cube)
    >>> bool(v.loc[0, "verified_area_ha"] > 0), v.loc[0, "claim_status"]
    (True, 'ok')
    """
    opt = options or VerifyOptions()
    ndvi = _ndvi_of(cube)
    crs = ndvi.rio.crs
    cl = claims.to_crs(crs) if claims.crs is not None and claims.crs != crs else claims.copy()
    cl = cl.reset_index(drop=True)
    drawn = list(cl.geometry)
    verified: list[Any] = []
    stats: list[dict[str, Any]] = []
    crops = cl["claimed_crop"].astype(str) if "claimed_crop" in cl else [""] * len(cl)
    for geom, status, crop in zip(drawn, cl["claim_status"], crops, strict=True):
        if geom is None or geom.is_empty or status != "ok":
            verified.append(geom)
            stats.append({"nonfarm_share": math.nan, "mixed_share": math.nan, "unverified": True})
            continue
        # plastic over a greenhouse shows no season: there, low NDVI is what the claim says
        v, s = _verify_one(geom, ndvi, opt, seasonless_crop=crop in SEASONLESS_CROPS)
        verified.append(v)
        stats.append(s)
    out = cl.copy()
    out["drawn_area_ha"] = [g.area / 1e4 if g is not None else math.nan for g in drawn]
    out["drawn_wkt"] = [g.wkt if g is not None else "" for g in drawn]
    out = out.set_geometry(gpd.GeoSeries(verified, crs=crs))
    out["verified_area_ha"] = [
        g.area / 1e4 if g is not None and not g.is_empty else 0.0 for g in verified
    ]
    out["nonfarm_share"] = [s["nonfarm_share"] for s in stats]
    out["mixed_share"] = [s["mixed_share"] for s in stats]
    for col in ("mixed_depth", "nonfarm_depth"):
        out[col] = [s.get(col, math.nan) for s in stats]
    flags: list[list[str]] = [["unverified"] if s.get("unverified") else [] for s in stats]
    for i, r in enumerate(out.itertuples()):
        if r.claim_status != "ok":
            continue
        if r.nonfarm_share > opt.max_nonfarm_share:
            flags[i].append("non_farmland")
        deep = r.mixed_depth >= opt.mixed_depth * opt.max_shift
        if r.mixed_share >= opt.min_mixed_share and deep:
            flags[i].append("mixed_series")
        ver = max(r.verified_area_ha, 1e-9)
        claimed = r.claimed_area_ha if np.isfinite(r.claimed_area_ha) else 0.0
        if max(r.drawn_area_ha, claimed) > opt.max_area_ratio * ver:
            flags[i].append("area_overstated")
    out["overlap_claims"] = _claim_overlaps(out, drawn, opt, flags)
    out["overlap_titles"] = ""
    out["own_titles_ha"] = math.nan
    out["area_excess_sd"] = math.nan
    if titles is not None and len(titles):
        hits, title_area, excess_sd = _title_overlaps(out, drawn, titles.to_crs(crs), opt, flags)
        out["overlap_titles"] = hits
        out["own_titles_ha"] = title_area
        out["area_excess_sd"] = excess_sd
    out["flags"] = [",".join(f for f in FLAGS if f in fl) for fl in flags]
    return out


def _ndvi_of(cube: xr.Dataset | xr.DataArray) -> xr.DataArray:
    if isinstance(cube, xr.DataArray):
        return cube
    from agrilend.remote_sensing import compute_index  # noqa: PLC0415

    nd = compute_index(cube, "NDVI")
    if nd.rio.crs is None and cube.rio.crs is not None:
        nd = nd.rio.write_crs(cube.rio.crs)
    return nd


def _window(ndvi: xr.DataArray, bounds: tuple[float, ...]) -> xr.DataArray:
    minx, miny, maxx, maxy = bounds
    xs, ys = ndvi["x"].to_numpy(), ndvi["y"].to_numpy()
    xi = np.flatnonzero((xs >= minx) & (xs <= maxx))
    yi = np.flatnonzero((ys >= miny) & (ys <= maxy))
    return ndvi.isel(x=xi, y=yi)


def _fraction(geom: Any, shape: tuple[int, int], transform: Affine) -> np.ndarray[Any, Any]:
    """Share of each pixel inside ``geom`` (rasterised at 4 x 4 sub-pixels)."""
    fine = transform * Affine.scale(1 / _SUPER)
    ny, nx = shape
    burnt = rasterio.features.rasterize(
        [(geom, 1)], out_shape=(ny * _SUPER, nx * _SUPER), transform=fine, dtype="uint8"
    )
    return np.asarray(burnt.reshape(ny, _SUPER, nx, _SUPER).mean(axis=(1, 3)), dtype=float)


def _edge_length(geom: Any, shape: tuple[int, int], transform: Affine) -> np.ndarray[Any, Any]:
    """Length (metres) of ``geom``'s boundary inside each pixel (sampled every metre)."""
    line = geom.boundary
    n = max(int(line.length), 1)
    pts = shapely.line_interpolate_point(line, (np.arange(n) + 0.5) / n, normalized=True)
    xy = shapely.get_coordinates(pts)
    col, row = ~transform * (xy[:, 0], xy[:, 1])
    r, c = np.floor(row).astype(int), np.floor(col).astype(int)
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    out = np.zeros(shape)
    np.add.at(out, (r[inside], c[inside]), line.length / n)
    return out


def _depth(frac: np.ndarray[Any, Any], edge: np.ndarray[Any, Any], part: np.ndarray[Any, Any],
           px_area: float) -> float:  # fmt: skip
    """Mean depth (metres) of the part of a drawing on the pixels ``part`` (0..1): its area over
    the length of the drawing's outline that runs through it. A sliver a rough edge drew over a
    neighbour is as deep as the drawing's error; a neighbour's field drawn in is as deep as that
    field is wide."""
    area = float((frac * part).sum()) * px_area
    return area / max(float((edge * part).sum()), 1.0)


def _verify_one(
    geom: Any, ndvi: xr.DataArray, opt: VerifyOptions, *, seasonless_crop: bool = False
) -> tuple[Any, dict[str, Any]]:
    win = _window(ndvi, geom.buffer(opt.margin).bounds)
    if win.sizes["x"] < 3 or win.sizes["y"] < 3 or not np.isfinite(win.to_numpy()).any():
        return geom, {"nonfarm_share": math.nan, "mixed_share": math.nan, "unverified": True}
    fields = delineate(
        win.load(), method="watershed", merge_distance=opt.series_distance / 3, min_pixels=2
    )
    lab, feats, tr = fields.labels, fields.features, fields.transform
    frac = _fraction(geom, lab.shape, tr)
    reach = _fraction(geom.buffer(opt.max_shift), lab.shape, tr)
    area = frac.sum()
    edge = _edge_length(geom, lab.shape, tr)
    px_area = abs(tr.a * tr.e)
    ny, nx = lab.shape
    col, row = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    cx = tr.a * col + tr.b * row + tr.c
    cy = tr.d * col + tr.e * row + tr.f
    centres = shapely.points(cx.ravel(), cy.ravel())
    dist = shapely.distance(centres, geom.boundary).reshape(lab.shape)
    inner = np.clip(np.where(frac > 0.5, dist, 0.0) / opt.max_shift, 0.05, 1.0)
    farmland = np.percentile(feats, 90, axis=-1) >= opt.farmland_ndvi
    nonfarm_share = float((frac * ~farmland).sum() / max(area, 1e-9))
    if seasonless_crop:
        farmland = np.ones_like(farmland)
        nonfarm_share = 0.0
    # the claimed field's season: the segment group (alike seasons) covering most of the drawing
    n = int(lab.max()) + 1
    # pixels deep inside the drawing say more about the field than its rough edge: weighted by
    # their distance inside the outline, in units of the drawing's error
    w = np.bincount(lab.ravel(), weights=(frac * farmland * inner).ravel(), minlength=n)
    cnt = np.bincount(lab.ravel(), minlength=n).astype(float)
    means = np.stack(
        [np.bincount(lab.ravel(), weights=feats[..., k].ravel(), minlength=n)
         for k in range(feats.shape[-1])], axis=-1,
    ) / np.maximum(cnt, 1)[:, None]  # fmt: skip
    w[0] = 0.0
    if w.max() <= 0:
        return geom, {"nonfarm_share": nonfarm_share, "mixed_share": 0.0, "unverified": False}
    # the claimed season: the weighted medoid of the drawing's pixels (deep ones weigh more),
    # not the largest segment (a narrow strip's own segment can be smaller than a neighbour's
    # part of a 20 m-off drawing); segments alike to it are the claimed field
    pw = (frac * farmland * inner).ravel()
    core = _weighted_medoid(feats.reshape(-1, feats.shape[-1]), pw)
    d_top = np.sqrt(np.mean((means - core) ** 2, axis=1))
    d_top[(cnt == 0) | (np.arange(n) == 0)] = np.inf
    alike = d_top < opt.series_distance
    if not alike.any():
        alike[int(np.argmin(d_top))] = True
    # membership of each pixel in the claimed field
    # the other seasons around: fields of a few pixels at least (a strip of mixed edge pixels
    # is not a field: its season lies between its neighbours'); label 0 is no data
    others = means[(~alike) & (cnt >= opt.min_other_pixels) & (np.arange(n) > 0)]
    d_in = np.sqrt(np.mean((feats - core) ** 2, axis=-1))
    if len(others):
        d_o = np.sqrt(np.mean((feats[..., None, :] - others[None, None]) ** 2, axis=-1))
        nearest = np.argmin(d_o, axis=-1)
        d_out = np.take_along_axis(d_o, nearest[..., None], axis=-1)[..., 0]
        contrast = np.sqrt(np.mean((others[nearest] - core) ** 2, axis=-1))
        m_img = d_out / np.maximum(d_in + d_out, 1e-9)
        trust = np.clip((contrast - opt.series_distance / 2) / opt.series_distance, 0.0, 1.0)
    else:
        m_img = np.ones_like(d_in)
        trust = np.zeros_like(d_in)
    # another season: farmland whose season is nearer another field's than the claimed one's,
    # where the two differ clearly
    mixed_px = farmland & (m_img < 0.5) & (trust >= 0.5)
    mixed_share = float((frac * mixed_px).sum() / max(area, 1e-9))
    depths = {
        "mixed_depth": _depth(frac, edge, mixed_px.astype(float), px_area),
        "nonfarm_depth": _depth(frac, edge, (~farmland).astype(float), px_area),
    }
    # the image trims the drawing where it sees another season, and moves an edge within the
    # pixels the drawing touches; it never adds pixels the drawing does not touch (a neighbour
    # of the same season cannot be told from the claimed field)
    touched = np.maximum(frac, np.where(reach > 0, 0.5 * frac.max(), 0.0) * (frac > 0))
    member = np.where(touched > 0, trust * m_img + (1 - trust) * frac, 0.0)
    member = np.where(farmland, member, np.minimum(member, frac * 0.0))
    outline = _contour_polygon(member, tr)
    if outline is None or outline.is_empty:
        return geom, {"nonfarm_share": nonfarm_share, "mixed_share": mixed_share, **depths}
    # keep the parts that hold the drawing's field
    parts = [p for p in getattr(outline, "geoms", [outline]) if p.intersects(geom)]
    kept = shapely.union_all(parts) if parts else outline
    kept = kept.intersection(geom.buffer(opt.max_shift))
    stats = {"nonfarm_share": nonfarm_share, "mixed_share": mixed_share, **depths}
    return shapely.make_valid(kept), stats


def _weighted_medoid(x: np.ndarray[Any, Any], w: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The row of ``x`` (a pixel's season) nearest, in weighted RMS distance, to all others:
    a season some pixel really has (a per-feature median of two fields is neither)."""
    keep = np.flatnonzero(w > 0)
    if len(keep) > 600:  # a large drawing: a fixed, even subsample of its pixels
        keep = keep[np.linspace(0, len(keep) - 1, 600).astype(int)]
    xs, ws = x[keep], w[keep]
    d = np.sqrt(np.mean((xs[:, None, :] - xs[None, :, :]) ** 2, axis=-1))
    return np.asarray(xs[int(np.argmin(d @ ws))], dtype=float)


def _contour_polygon(member: np.ndarray[Any, Any], tr: Affine) -> Any:
    """The 0.5 contour of a membership raster as a polygon (even-odd rings), in world units."""
    from skimage.measure import find_contours  # noqa: PLC0415

    padded = np.pad(member, 1, constant_values=0.0)
    rings = []
    for c in find_contours(padded, 0.5):
        if len(c) < 4:
            continue
        rows, cols = c[:, 0] - 1 + 0.5, c[:, 1] - 1 + 0.5  # pixel centres
        xs, ys = tr * (cols, rows)
        ring = shapely.Polygon(np.column_stack([xs, ys]))
        if not ring.is_valid:
            ring = shapely.make_valid(ring)
        if ring.area > 0:
            rings.append(ring)
    if not rings:
        return None
    out = rings[0]
    for r in rings[1:]:
        out = out.symmetric_difference(r)
    return out


def _overlap_depth(g: Any) -> float:
    """Mean depth of an overlap: 2 x area / perimeter (a sliver's depth, a strip's width)."""
    return 2.0 * g.area / g.length if g.length > 0 else 0.0


def _drawn_over(drawn: Any, other: Any, opt: VerifyOptions, *, share_of: float) -> float:
    """The overlap of ``drawn`` and ``other`` when it holds at least ``overlap_share`` of
    ``share_of`` (m2) and is deeper than a rough edge makes; else 0."""
    inter = drawn.intersection(other)
    if inter.area < opt.overlap_share * share_of:
        return 0.0
    if _overlap_depth(inter) < opt.overlap_depth * opt.max_shift:
        return 0.0
    return float(inter.area)


def _claim_overlaps(
    out: gpd.GeoDataFrame, drawn: list[Any], opt: VerifyOptions, flags: list[list[str]]
) -> list[str]:
    """Claims of other households drawn over most of each other (both sides flagged). Judged on
    the drawings: what each household says is its land."""
    ok = [g is not None and not g.is_empty and s == "ok"
          for g, s in zip(drawn, out["claim_status"], strict=True)]  # fmt: skip
    res: list[list[str]] = [[] for _ in drawn]
    tree = shapely.STRtree([g if k else shapely.Point() for g, k in zip(drawn, ok, strict=True)])
    owners = out["owner_ref"].astype(str).to_numpy()
    ids = out["claim_id"].astype(str).to_numpy()
    for i, g in enumerate(drawn):
        if not ok[i]:
            continue
        for j in map(int, tree.query(g, predicate="intersects")):
            if j <= i or not ok[j] or owners[j] == owners[i]:
                continue
            if _drawn_over(g, drawn[j], opt, share_of=min(g.area, drawn[j].area)) > 0:
                res[i].append(ids[j])
                res[j].append(ids[i])
                for k in (i, j):
                    if "claim_conflict" not in flags[k]:
                        flags[k].append("claim_conflict")
    return [",".join(r) for r in res]


def _title_overlaps(
    out: gpd.GeoDataFrame,
    drawn: list[Any],
    titles: gpd.GeoDataFrame,
    opt: VerifyOptions,
    flags: list[list[str]],
) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Other households' titles a drawing covers most of (``title_conflict``), and claims that
    are their household's own title (``titled``: the verified outline mostly on it)."""
    t_geoms = list(titles.geometry)
    t_ids = titles["parcel_id"].astype(str).to_numpy()
    t_own = titles["owner_ref"].astype(str).to_numpy()
    claimed_m2 = out["claimed_area_ha"].astype(float).to_numpy() * 1e4
    title_area = np.full(len(out), np.nan)
    excess_sd = np.full(len(out), np.nan)
    tree = shapely.STRtree(t_geoms)
    res = []
    for i, (g, d, owner) in enumerate(
        zip(out.geometry, drawn, out["owner_ref"].astype(str), strict=True)
    ):
        hits: list[str] = []
        if g is None or g.is_empty or d is None or d.is_empty:
            res.append("")
            continue
        own = own_titles = 0.0
        for j in tree.query(d.union(g), predicate="intersects"):
            if t_own[j] == owner:
                own += g.intersection(t_geoms[j]).area
                if d.intersection(t_geoms[j]).area >= 0.5 * t_geoms[j].area:
                    own_titles += t_geoms[j].area
            elif _drawn_over(d, t_geoms[j], opt, share_of=t_geoms[j].area) > 0:
                hits.append(t_ids[j])
        if hits:
            flags[i].append("title_conflict")
        if own >= 0.5 * g.area:
            flags[i].append("titled")
        # the registry knows the household's land under the drawing: more than noise adds to it
        # is land drawn in (a road, a tree row, a neighbour's strip)
        claimed = float(claimed_m2[i]) if np.isfinite(claimed_m2[i]) else 0.0
        if own_titles > 0:
            z = (max(d.area, claimed) - own_titles) / drawing_area_noise(d, opt.max_shift)
            title_area[i], excess_sd[i] = own_titles / 1e4, z
            if z > opt.area_noise and "area_overstated" not in flags[i]:
                flags[i].append("area_overstated")
        res.append(",".join(hits))
    return res, title_area, excess_sd


def drawing_area_noise(drawn: Any, max_shift: float = 20.0) -> float:
    """Standard deviation (m2) of the area error that drawing noise makes on this outline.

    Each vertex is taken to be off by up to ``max_shift`` metres (uniform between a quarter of
    it and all of it, in any direction: RMS error across the outline ``0.468 * max_shift``);
    moving a vertex across the outline changes the area by that error times half the length of
    its two edges.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(drawing_area_noise(box(0, 0, 30, 30), 20.0))  # four corners, 30 m edges
    561
    """
    parts = getattr(drawn, "geoms", [drawn])
    total = 0.0
    for part in parts:
        xy = np.asarray(part.exterior.coords)[:-1]
        if len(xy) < 3:
            continue
        edges = np.hypot(*np.diff(np.vstack([xy, xy[:1]]), axis=0).T)
        half = (edges + np.roll(edges, 1)) / 2
        total += float(np.sum((_RMS_ACROSS * max_shift * half) ** 2))
    return math.sqrt(total)


def trust_haircut(flags: str, haircuts: Mapping[str, float]) -> float:
    """The combined haircut of a claim's flags: ``1 - prod(1 - haircut[flag])``.

    Examples
    --------
    >>> trust_haircut("mixed_series,claim_conflict", {"mixed_series": 0.5, "claim_conflict": 0.5})
    0.75
    >>> trust_haircut("", {"base": 0.1})
    0.0
    """
    keep = 1.0
    for f in filter(None, str(flags).split(",")):
        keep *= 1.0 - float(haircuts.get(f, 0.0))
    return round(1.0 - keep, 6)


def claims_as_titles(
    verified: gpd.GeoDataFrame, *, haircuts: Mapping[str, float] | None = None
) -> gpd.GeoDataFrame:
    """Verified claims as rows of the titles schema, with lower trust.

    ``parcel_id`` is the claim id, ``declared_area_ha`` the claimed area (else the drawn one),
    ``declared_crop`` the claimed crop, ``geometry`` the verified outline; ``source`` is
    ``"claim"``; ``trust_flags`` and ``trust_haircut`` (policy ``[claims]`` haircuts: a base
    haircut for any claim plus one per flag) tell the credit layer how far to trust it;
    ``drawn_wkt`` keeps the outline as drawn. Claims in error are left out.
    """
    hc = dict(haircuts or {})
    ok = verified[verified["claim_status"].eq("ok") & verified.geometry.notna()]
    ok = ok[~ok.geometry.is_empty]
    declared = ok["claimed_area_ha"].where(ok["claimed_area_ha"].notna(), ok["drawn_area_ha"])
    flags = ok["flags"] if "flags" in ok else pd.Series([""] * len(ok), index=ok.index)
    base = float(hc.get("base", 0.0))
    cut = [1 - (1 - base) * (1 - trust_haircut(f, hc)) for f in flags]
    return gpd.GeoDataFrame(
        {
            "parcel_id": ok["claim_id"].astype(str).to_numpy(),
            "owner_ref": ok["owner_ref"].astype(str).to_numpy(),
            "declared_area_ha": declared.astype(float).to_numpy(),
            "declared_crop": ok["claimed_crop"].astype(str).to_numpy(),
            "source": "claim",
            "trust_flags": flags.astype(str).to_numpy(),
            "trust_haircut": np.round(cut, 6),
            "drawn_wkt": ok["drawn_wkt"].astype(str).to_numpy() if "drawn_wkt" in ok else "",
        },
        geometry=list(ok.geometry),
        crs=verified.crs,
    )


__all__ = [
    "CONFLICT_FLAGS",
    "FLAGS",
    "VerifyOptions",
    "claims_as_titles",
    "drawing_area_noise",
    "trust_haircut",
    "verify_claims",
]
