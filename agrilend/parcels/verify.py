"""Verify farmer-drawn claims against the imagery, each other and the registry.

For each claim (:mod:`agrilend.parcels.claims`) in a window around it:

1. the season's fields are delineated (:mod:`agrilend.parcels.delineation`) and the claim's
   own field is the season most of the drawing covers;
2. the outline is **snapped**: each pixel's membership of that field comes from how close its
   season is to the field's and to the other seasons around, blended with the drawing where the
   seasons do not tell the neighbours apart; the verified outline is the 0.5 contour of that
   membership (sub-pixel), never more than ``max_shift`` metres from the drawing;
3. the share of the drawing on **non-farmland** (no season: built-up, water, roads; NDVI p90
   below ``farmland_ndvi``) and on fields whose **series differ** (a neighbour's field, a tree
   row drawn in) is measured;
4. overlaps with **other households' claims** and with **registry titles** are found, each side
   flagged;
5. optionally the claimed crop is checked against the imagery with the crop-declaration check
   (:func:`agrilend.yield_models.crop_type.crop_mismatch`).

:func:`claims_as_titles` turns verified claims into rows of the titles schema
(``source == "claim"``, the trust flags, the policy's haircut), so every later layer treats them
as titles with lower trust.

================== ==========================================================================
flag               meaning
================== ==========================================================================
``non_farmland``   more than ``max_nonfarm_share`` of the drawing is on land with no season
``mixed_series``   more than ``max_mixed_share`` of the drawing is on fields whose season
                   differs from the claimed field's
``area_overstated`` drawn or claimed area above ``max_area_ratio`` x the verified area
``claim_conflict`` the verified outline overlaps another household's claim
``title_conflict`` the verified outline overlaps another household's registry title
``titled``         the claim is the household's own registry title (counted once, as title)
``crop_mismatch``  the imagery contradicts the claimed crop (declaration check)
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


@dataclass(frozen=True)
class VerifyOptions:
    """Thresholds of :func:`verify_claims` (defaults tuned on the sample county, see
    benchmarks/README.md)."""

    max_shift: float = 20.0
    margin: float = 40.0
    series_distance: float = 0.12
    farmland_ndvi: float = 0.3
    max_nonfarm_share: float = 0.2
    max_mixed_share: float = 0.4
    max_area_ratio: float = 2.0
    overlap_share: float = 0.5
    title_overlap_share: float = 0.5
    title_claim_share: float = 0.15
    crop_threshold: float = 0.8
    min_other_pixels: int = 4


def verify_claims(
    claims: gpd.GeoDataFrame,
    cube: xr.Dataset | xr.DataArray,
    *,
    titles: gpd.GeoDataFrame | None = None,
    crop_check: bool = False,
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
    crop_check
        Run the crop-declaration check on the claimed crops (needs ``titles`` with declared
        crops of at least two crops to learn from).
    options
        Thresholds (:class:`VerifyOptions`).

    Returns
    -------
    geopandas.GeoDataFrame
        The claims (in the imagery's CRS) with ``geometry`` the verified outline, plus
        ``drawn_area_ha``, ``verified_area_ha``, ``nonfarm_share``, ``mixed_share``,
        ``overlap_claims`` and ``overlap_titles`` (ids, comma-joined), ``flags``
        (comma-joined, see the module's table), ``observed_crop`` (when checked).

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
    flags: list[list[str]] = [["unverified"] if s.get("unverified") else [] for s in stats]
    for i, r in enumerate(out.itertuples()):
        if r.claim_status != "ok":
            continue
        if r.nonfarm_share > opt.max_nonfarm_share:
            flags[i].append("non_farmland")
        if r.mixed_share > opt.max_mixed_share:
            flags[i].append("mixed_series")
        ver = max(r.verified_area_ha, 1e-9)
        claimed = r.claimed_area_ha if np.isfinite(r.claimed_area_ha) else 0.0
        if max(r.drawn_area_ha, claimed) > opt.max_area_ratio * ver:
            flags[i].append("area_overstated")
    out["overlap_claims"] = _claim_overlaps(out, opt, flags)
    out["overlap_titles"] = ""
    if titles is not None and len(titles):
        out["overlap_titles"] = _title_overlaps(out, titles.to_crs(crs), opt, flags)
    if crop_check:
        out["observed_crop"] = _crop_check(out, cube, titles, opt, flags)
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
    farmland = np.percentile(feats, 90, axis=-1) >= opt.farmland_ndvi
    nonfarm_share = float((frac * ~farmland).sum() / max(area, 1e-9))
    if seasonless_crop:
        farmland = np.ones_like(farmland)
        nonfarm_share = 0.0
    # the claimed field's season: the segment group (alike seasons) covering most of the drawing
    n = int(lab.max()) + 1
    w = np.bincount(lab.ravel(), weights=(frac * farmland).ravel(), minlength=n)
    cnt = np.bincount(lab.ravel(), minlength=n).astype(float)
    means = np.stack(
        [np.bincount(lab.ravel(), weights=feats[..., k].ravel(), minlength=n)
         for k in range(feats.shape[-1])], axis=-1,
    ) / np.maximum(cnt, 1)[:, None]  # fmt: skip
    w[0] = 0.0
    if w.max() <= 0:
        return geom, {"nonfarm_share": nonfarm_share, "mixed_share": 0.0, "unverified": False}
    top = int(np.argmax(w))
    d_top = np.sqrt(np.mean((means - means[top]) ** 2, axis=1))
    alike = (d_top < opt.series_distance) & (cnt > 0)
    alike[0] = False
    core = np.average(means[alike], axis=0, weights=np.maximum(w[alike], 1e-9))
    mixed_px = ~alike[lab] & farmland
    mixed_share = float((frac * mixed_px).sum() / max(area, 1e-9))
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
    # the image trims the drawing where it sees another season, and moves an edge within the
    # pixels the drawing touches; it never adds pixels the drawing does not touch (a neighbour
    # of the same season cannot be told from the claimed field)
    touched = np.maximum(frac, np.where(reach > 0, 0.5 * frac.max(), 0.0) * (frac > 0))
    member = np.where(touched > 0, trust * m_img + (1 - trust) * frac, 0.0)
    member = np.where(farmland, member, np.minimum(member, frac * 0.0))
    outline = _contour_polygon(member, tr)
    if outline is None or outline.is_empty:
        return geom, {"nonfarm_share": nonfarm_share, "mixed_share": mixed_share}
    # keep the parts that hold the drawing's field
    parts = [p for p in getattr(outline, "geoms", [outline]) if p.intersects(geom)]
    kept = shapely.union_all(parts) if parts else outline
    kept = kept.intersection(geom.buffer(opt.max_shift))
    return shapely.make_valid(kept), {"nonfarm_share": nonfarm_share, "mixed_share": mixed_share}


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


def _claim_overlaps(out: gpd.GeoDataFrame, opt: VerifyOptions, flags: list[list[str]]) -> list[str]:
    geoms = list(out.geometry)
    ok = [g is not None and not g.is_empty for g in geoms]
    res: list[list[str]] = [[] for _ in geoms]
    tree = shapely.STRtree([g if k else shapely.Point() for g, k in zip(geoms, ok, strict=True)])
    owners = out["owner_ref"].astype(str).to_numpy()
    ids = out["claim_id"].astype(str).to_numpy()
    for i, g in enumerate(geoms):
        if not ok[i]:
            continue
        for j in tree.query(g, predicate="intersects"):
            if j <= i or not ok[j] or owners[j] == owners[i]:
                continue
            inter = g.intersection(geoms[j]).area
            if inter >= opt.overlap_share * min(g.area, geoms[j].area):
                res[i].append(ids[j])
                res[int(j)].append(ids[i])
                for k in (i, int(j)):
                    if "claim_conflict" not in flags[k]:
                        flags[k].append("claim_conflict")
    return [",".join(r) for r in res]


def _title_overlaps(
    out: gpd.GeoDataFrame, titles: gpd.GeoDataFrame, opt: VerifyOptions, flags: list[list[str]]
) -> list[str]:
    t_geoms = list(titles.geometry)
    t_ids = titles["parcel_id"].astype(str).to_numpy()
    t_own = titles["owner_ref"].astype(str).to_numpy()
    tree = shapely.STRtree(t_geoms)
    res = []
    for i, (g, owner) in enumerate(zip(out.geometry, out["owner_ref"].astype(str), strict=True)):
        hits: list[str] = []
        if g is None or g.is_empty:
            res.append("")
            continue
        own = 0.0
        for j in tree.query(g, predicate="intersects"):
            inter = g.intersection(t_geoms[j]).area
            if inter < opt.title_overlap_share * min(g.area, t_geoms[j].area):
                continue
            if t_own[j] != owner and inter < opt.title_claim_share * g.area:
                continue  # a rough edge over a narrow neighbour, not the neighbour's field
            if t_own[j] == owner:
                own += inter
            else:
                hits.append(t_ids[j])
        if hits:
            flags[i].append("title_conflict")
        if own >= 0.5 * g.area:
            flags[i].append("titled")
        res.append(",".join(hits))
    return res


def _crop_check(
    out: gpd.GeoDataFrame,
    cube: Any,
    titles: gpd.GeoDataFrame | None,
    opt: VerifyOptions,
    flags: list[list[str]],
) -> list[str]:
    """Claimed vs observed crop through the declaration check, the titles teaching the model."""
    from agrilend.errors import InsufficientEvidenceError  # noqa: PLC0415
    from agrilend.parcels.zonal import zonal_series  # noqa: PLC0415
    from agrilend.yield_models.crop_type import (  # noqa: PLC0415
        crop_mismatch,
        predict_out_of_fold,
    )

    ok = out["claim_status"].eq("ok").to_numpy() & out.geometry.notna().to_numpy()
    if titles is None or not ok.any() or not isinstance(cube, xr.Dataset):
        return [""] * len(out)
    rows = claims_as_titles(out[ok])
    ref = titles[["parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry"]]
    both = pd.concat([ref.to_crs(out.crs), rows[list(ref.columns)]], ignore_index=True)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=out.crs)
    series = zonal_series(cube, both)
    ndvi = series["NDVI_mean"].where(series["valid_fraction"] >= 0.5)
    X = ndvi.to_pandas().T.interpolate(limit_direction="both").T.fillna(0.0)
    declared = both["declared_crop"].where(both.index < len(ref), "")  # claims never teach
    try:
        pred = predict_out_of_fold(X.to_numpy(), declared.to_numpy(), index=both["parcel_id"])
    except InsufficientEvidenceError as exc:
        log.warning("crop check of claims skipped: %s", exc)
        return [""] * len(out)
    p = pred.iloc[len(ref) :]
    mism = crop_mismatch(
        rows["declared_crop"], p["crop"], p["crop_confidence"], threshold=opt.crop_threshold
    )
    observed = [""] * len(out)
    for k, i in enumerate(np.flatnonzero(ok)):
        observed[i] = str(p["crop"].iloc[k])
        if mism[k]:
            flags[i].append("crop_mismatch")
    return observed


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
    "trust_haircut",
    "verify_claims",
]
