"""Field boundaries delineated from a multi-date stack, as polygons with a confidence.

No registry, no trained weights. Each pixel's NDVI series (every clear date, over one season
or several years) is summarised in temporal features: the medians of equal periods of the
stack's span, a period without a clear date interpolated from the pixel's periods around it.
The features are over-segmented (Felzenszwalb's graph segmentation, scikit-image) and
neighbouring regions are merged on a region adjacency graph, cheapest pair first, while they
are small or alike (Ward's cost), show no edge along their shared border, or have alike mean
seasons (:func:`merge_regions`). Each field's confidence is how much its season differs from
its nearest neighbour's against how uniform it is inside. :func:`match_fields` scores fields
against reference parcels and :func:`rasterised_iou` says what the pixel grid allows at best.

At 10 m a field boundary is known to about half a pixel: a strip of one or two pixels mixes
its neighbours' seasons, and two touching parcels with one land cover or one crop show no
boundary at all. :mod:`agrilend.parcels.verify` uses fields to snap a farmer's drawing, not
to replace it (with ``method="watershed"``, the earlier segmentation its thresholds were set
on). Figures on real parcels: ``benchmarks/bench_claims.py`` and ``benchmarks/README.md``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage

from agrilend.errors import ImageryReadError

#: Field polygons' columns.
FIELD_COLUMNS = ("field_id", "n_pixels", "area_ha", "confidence", "geometry")


@dataclass(frozen=True)
class Fields:
    """Delineated fields: a label raster and its polygons.

    Attributes
    ----------
    labels
        ``(y, x)`` int32 raster, one label per field (0 = no field: no data).
    features
        ``(y, x, k)`` float32 temporal features the fields were cut from (NDVI medians by period).
    transform
        Affine transform of the raster (pixel corners).
    polygons
        ``GeoDataFrame`` with ``field_id`` (= label), ``n_pixels``, ``area_ha``, ``confidence``
        in [0, 1], ``geometry``; in the imagery's CRS.
    """

    labels: np.ndarray[Any, np.dtype[np.int32]]
    features: np.ndarray[Any, np.dtype[np.float32]]
    transform: Affine
    polygons: gpd.GeoDataFrame


def temporal_features(
    ndvi: np.ndarray[Any, Any],
    times: Any = None,
    *,
    n_periods: int = 8,
    fill: Literal["linear", "nearest"] = "linear",
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Per-pixel NDVI medians over ``n_periods`` equal periods, gaps filled along time.

    Parameters
    ----------
    ndvi
        ``(time, y, x)`` NDVI, NaN where not clear.
    times
        The dates (sorted); periods are equal spans of time between the first and last. None
        splits the dates in equal counts.
    n_periods
        Number of periods (features).
    fill
        A period with no clear date of the pixel: ``"linear"`` interpolates between the
        pixel's nearest clear periods before and after (the first or last one at the ends),
        so that two pixels of one field clouded on different dates keep alike features;
        ``"nearest"`` copies the nearest clear period (the earlier rule).

    Returns
    -------
    numpy.ndarray
        ``(y, x, n_periods)`` float32; a pixel never clear gets the scene's period medians.

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.stack([np.full((2, 2), v) for v in (0.1, 0.2, np.nan, 0.8)])
    >>> [round(float(v), 2) for v in temporal_features(stack, n_periods=2)[0, 0]]
    [0.15, 0.8]
    """
    arr = np.asarray(ndvi, dtype=np.float32)
    nt = arr.shape[0]
    if times is not None and nt > 1:
        t = pd.DatetimeIndex(times).asi8.astype(float)
        edges = np.linspace(t[0], t[-1], n_periods + 1)
        period = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n_periods - 1)
    else:
        period = np.minimum(np.arange(nt) * n_periods // max(nt, 1), n_periods - 1)
    out = np.full((*arr.shape[1:], n_periods), np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        for k in range(n_periods):
            sel = period == k
            if sel.any():
                out[..., k] = np.nanmedian(arr[sel], axis=0)
        if fill == "linear":
            out = _fill_linear(out)
        # gaps: the nearest filled period of the same pixel, else the scene's median
        for k in range(n_periods):
            gap = ~np.isfinite(out[..., k])
            if not gap.any():
                continue
            for d in range(1, n_periods):
                for j in (k - d, k + d):
                    if 0 <= j < n_periods:
                        fill_ = gap & np.isfinite(out[..., j])
                        out[..., k][fill_] = out[..., j][fill_]
                        gap &= ~fill_
            if gap.any():
                scene = np.nanmedian(out[..., k]) if np.isfinite(out[..., k]).any() else 0.0
                out[..., k][gap] = scene
    return out


def _fill_linear(feats: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Fill NaN periods (last axis) by linear interpolation between the nearest finite periods
    before and after; the ends take the nearest; a pixel with none stays NaN."""
    p = feats.shape[-1]
    idx = np.arange(p)
    ok = np.isfinite(feats)
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=-1)
    nxt = np.minimum.accumulate(np.where(ok, idx, p)[..., ::-1], axis=-1)[..., ::-1]
    v_prev = np.take_along_axis(feats, np.clip(prev, 0, p - 1), axis=-1)
    v_next = np.take_along_axis(feats, np.clip(nxt, 0, p - 1), axis=-1)
    both = (prev >= 0) & (nxt < p)
    w = np.where(both, (idx - prev) / np.maximum(nxt - prev, 1), 0.0)
    inner = v_prev + w * (v_next - v_prev)
    out = np.where(both, inner, np.where(prev >= 0, v_prev, v_next))
    return np.where(ok, feats, out).astype(feats.dtype)


def edge_strength(features: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Root mean square of the Sobel gradients of every feature (NDVI units per pixel).

    Examples
    --------
    >>> import numpy as np
    >>> f = np.zeros((6, 6, 1)); f[:, 3:] = 1.0
    >>> e = edge_strength(f)
    >>> bool(e[2, 2] > 0.5 > e[2, 0])
    True
    """
    from skimage.filters import sobel  # noqa: PLC0415  (scikit-image is heavy to import)

    f = np.asarray(features, dtype=float)
    grads = np.stack([sobel(f[..., k]) for k in range(f.shape[-1])], axis=-1)
    return np.asarray(np.sqrt(np.mean(grads**2, axis=-1)) * 4.0)


def delineate(
    ndvi: xr.DataArray,
    *,
    n_periods: int | None = None,
    method: Literal["regions", "watershed"] = "regions",
    merge_cost: float = 0.02,
    merge_edge: float = 0.05,
    merge_distance: float | None = None,
    min_pixels: int = 3,
    marker_edge: float = 0.05,
    simplify: float = 0.0,
) -> Fields:
    """Delineate fields in a ``(time, y, x)`` NDVI stack.

    Every clear date is used (clouds are NaN): each pixel's season is summarised as the NDVI
    medians of ``n_periods`` equal periods of the stack's whole span (several years when the
    stack has them), gaps filled along time.

    ``method="regions"`` (the default) over-segments those features (Felzenszwalb's graph
    segmentation, scikit-image) and merges neighbouring regions, cheapest first, while one of
    three rules allows it (:func:`merge_regions`): their size-weighted difference is small
    (``merge_cost``), the pixels facing each other across their shared border differ little
    (``merge_edge``: no edge between them), or their mean seasons differ by less than
    ``merge_distance``. ``method="watershed"`` is the earlier method: a marker watershed on the
    Sobel edge strength, then neighbours whose seasons differ by less than ``merge_distance``
    merged.

    The defaults of ``"regions"`` (12 periods, ``merge_cost`` 0.02, ``merge_edge`` 0.05,
    ``merge_distance`` 0.02) were chosen on half of the Slovenian land-use parcels and
    measured on the other half, the Spanish field and the sample county
    (``benchmarks/bench_claims.py``).

    Parameters
    ----------
    ndvi
        NDVI (NaN where not clear) with ``x``/``y`` pixel-centre coordinates and a CRS
        (rioxarray), e.g. ``agrilend.remote_sensing.compute_index(cube, "NDVI")``.
    n_periods
        Temporal features: NDVI medians of this many equal periods; None: 12 for
        ``"regions"``, 8 for ``"watershed"``.
    method
        ``"regions"`` (graph over-segmentation and region merging) or ``"watershed"``.
    merge_cost
        ``"regions"``: two neighbours merge while ``n_a n_b / (n_a + n_b)`` times the mean
        squared difference of their mean features (NDVI squared times pixels: Ward's cost)
        is below this.
    merge_edge
        ``"regions"``: two neighbours merge while the root mean square difference between the
        pixels facing each other across their border is below this (NDVI).
    merge_distance
        Neighbouring regions whose mean features differ by less than this (root mean square
        NDVI over the periods) are merged; None: 0.02 for ``"regions"``, 0.06 for
        ``"watershed"``.
    min_pixels
        Regions smaller than this join their most similar neighbour.
    marker_edge
        ``"watershed"``: pixels whose edge strength is below this (NDVI per pixel) seed it.
    simplify
        Douglas-Peucker tolerance of the polygons in CRS units (0 keeps the pixel outline).

    Returns
    -------
    Fields
        The label raster, the features and the polygons with their confidence.

    Raises
    ------
    ImageryReadError
        When the stack has no ``x``/``y`` coordinates or fewer than 2 by 2 pixels.
    ValueError
        When ``method`` is neither ``"regions"`` nor ``"watershed"``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, pandas as pd
    >>> t = pd.date_range("2024-03-01", periods=6, freq="20D")
    >>> a = np.zeros((6, 12, 12), "float32"); a[:, :, 6:] = np.linspace(0.2, 0.8, 6)[:, None, None]
    >>> da = xr.DataArray(a, dims=("time", "y", "x"), coords={"time": t,
    ...      "y": 1000 - 10 * np.arange(12) - 5.0, "x": 10 * np.arange(12) + 5.0})
    >>> f = delineate(da)
    >>> len(f.polygons), sorted(f.polygons["n_pixels"].tolist())
    (2, [72, 72])
    """
    if method not in ("regions", "watershed"):
        raise ValueError(f"delineate: method must be 'regions' or 'watershed', not {method!r}")
    if "x" not in ndvi.dims or "y" not in ndvi.dims or ndvi.sizes["x"] < 2 or ndvi.sizes["y"] < 2:
        raise ImageryReadError("delineation needs a (time, y, x) stack of at least 2 x 2 pixels")
    transform = _transform(ndvi)
    arr = ndvi.transpose("time", "y", "x").to_numpy()
    any_clear = np.isfinite(arr).any(axis=0)
    times = ndvi["time"].to_numpy() if "time" in ndvi.coords else None
    if n_periods is None:
        n_periods = 8 if method == "watershed" else 12
    feats = temporal_features(
        arr, times, n_periods=n_periods, fill="nearest" if method == "watershed" else "linear"
    )
    edge = edge_strength(feats)
    if method == "watershed":
        from skimage.segmentation import watershed  # noqa: PLC0415

        distance = 0.06 if merge_distance is None else merge_distance
        seeds, _ = ndimage.label(edge < marker_edge)
        if seeds.max() == 0:  # a scene all edges: one seed per local minimum
            seeds, _ = ndimage.label(edge <= ndimage.minimum_filter(edge, size=3))
        labels = watershed(edge, seeds, mask=any_clear).astype(np.int32)
        labels = _merge_alike(labels, feats, distance, min_pixels)
    else:
        from skimage.segmentation import felzenszwalb  # noqa: PLC0415

        distance = 0.02 if merge_distance is None else merge_distance
        with warnings.catch_warnings():  # k features are k channels, as meant
            warnings.filterwarnings("ignore", "Got image with third dimension", RuntimeWarning)
            seeds = felzenszwalb(
                feats.astype(float), scale=1.0, sigma=0.0, min_size=2, channel_axis=-1
            )
        seeds = (seeds + 1).astype(np.int32)
        seeds[~any_clear] = 0
        labels = merge_regions(
            seeds,
            feats,
            merge_cost=merge_cost,
            merge_edge=merge_edge,
            merge_distance=distance,
            min_pixels=min_pixels,
        )
    polygons = _polygons(labels, feats, edge, transform, simplify=simplify)
    crs = ndvi.rio.crs if hasattr(ndvi, "rio") else None
    polygons = polygons.set_crs(crs, allow_override=True) if crs is not None else polygons
    return Fields(labels=labels, features=feats, transform=transform, polygons=polygons)


def merge_regions(
    labels: np.ndarray[Any, Any],
    feats: np.ndarray[Any, Any],
    *,
    merge_cost: float = 0.05,
    merge_edge: float = 0.05,
    merge_distance: float = 0.02,
    min_pixels: int = 3,
) -> np.ndarray[Any, np.dtype[np.int32]]:
    """Merge neighbouring regions of a label raster, cheapest pair first (a region adjacency
    graph updated after every merge).

    A pair may merge when any one of these holds: its Ward cost ``n_a n_b / (n_a + n_b) *
    mean((m_a - m_b) ** 2)`` is below ``merge_cost`` (small or alike regions); the root mean
    square difference of the pixels facing each other across their border is below
    ``merge_edge`` (no edge between them); their mean features differ by less than
    ``merge_distance`` (root mean square). A region under ``min_pixels`` always merges with
    its most alike neighbour. Merging stops when no pair is allowed.

    Parameters
    ----------
    labels
        ``(y, x)`` integer labels, 0 = no data (never merged).
    feats
        ``(y, x, k)`` features (NDVI units).
    merge_cost, merge_edge, merge_distance, min_pixels
        The rules above; a rule with a threshold of 0 never allows a merge.

    Returns
    -------
    numpy.ndarray
        ``(y, x)`` int32 labels renumbered 1..n (0 kept); the input is left as it was.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.zeros((4, 6, 1)); f[:, 3:] = 0.5
    >>> lab = np.repeat(np.arange(1, 7)[None, :], 4, axis=0)   # one region per column
    >>> merge_regions(lab, f)[0].tolist()
    [1, 1, 1, 2, 2, 2]
    """
    import heapq  # noqa: PLC0415

    lab = np.asarray(labels)
    f = np.asarray(feats, dtype=float)
    n = int(lab.max()) + 1 if lab.size else 1
    means, count = _region_means(lab, f)
    means = means.copy()
    # border statistics per adjacent pair: sum and count of facing-pixel differences
    border: list[dict[int, list[float]]] = [{} for _ in range(n)]
    for a_sl, b_sl in (
        ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
        ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        la, lb = lab[a_sl].ravel(), lab[b_sl].ravel()
        diff = np.sqrt(np.mean((f[a_sl] - f[b_sl]) ** 2, axis=-1)).ravel()
        keep = (la != lb) & (la > 0) & (lb > 0)
        key = np.minimum(la[keep], lb[keep]).astype(np.int64) * n + np.maximum(la[keep], lb[keep])
        uniq, inv = np.unique(key, return_inverse=True)
        sums = np.bincount(inv, weights=diff[keep])
        cnts = np.bincount(inv)
        for k, s, c in zip(uniq.tolist(), sums.tolist(), cnts.tolist(), strict=True):
            a, b = divmod(k, n)
            entry = border[a].get(b)
            if entry is None:
                entry = [0.0, 0.0]
                border[a][b] = entry
                border[b][a] = entry
            entry[0] += s
            entry[1] += c

    def cost(a: int, b: int) -> tuple[float, float]:
        d2 = float(np.mean((means[a] - means[b]) ** 2))
        d = math.sqrt(d2)
        if min(count[a], count[b]) < min_pixels:
            return 0.0, d
        s, c = border[a][b]
        rules = (
            d2 * count[a] * count[b] / (count[a] + count[b]) / merge_cost
            if merge_cost > 0
            else math.inf,
            s / c / merge_edge if merge_edge > 0 else math.inf,
            d / merge_distance if merge_distance > 0 else math.inf,
        )
        return min(rules), d

    version = np.zeros(n, dtype=np.int64)
    parent = np.arange(n)
    heap: list[tuple[float, float, int, int, int, int]] = []
    for a in range(1, n):
        for b in border[a]:
            if a < b:
                heap.append((*cost(a, b), a, b, 0, 0))
    heapq.heapify(heap)
    while heap:
        key_, _, a, b, va, vb = heapq.heappop(heap)
        if version[a] != va or version[b] != vb or parent[a] != a or parent[b] != b:
            continue  # stale: one side has merged since
        if key_ >= 1.0:
            break
        total = count[a] + count[b]
        means[a] = (means[a] * count[a] + means[b] * count[b]) / total
        count[a] = total
        parent[b] = a
        version[a] += 1
        version[b] += 1
        del border[a][b], border[b][a]
        for x, entry in border[b].items():
            del border[x][b]
            mine = border[a].get(x)
            if mine is None:
                border[a][x] = entry
                border[x][a] = entry
            else:
                mine[0] += entry[0]
                mine[1] += entry[1]
        border[b] = {}
        for x in border[a]:
            heapq.heappush(heap, (*cost(a, x), a, x, int(version[a]), int(version[x])))
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    out = root[lab]
    out[lab == 0] = 0
    uniq, inv = np.unique(out, return_inverse=True)
    res = inv.reshape(out.shape).astype(np.int32)
    if uniq[0] != 0:
        res += 1
    return res


def _transform(da: xr.DataArray) -> Affine:
    xs, ys = da["x"].to_numpy(), da["y"].to_numpy()
    dx = float(xs[1] - xs[0])
    dy = float(ys[1] - ys[0])
    return Affine(dx, 0.0, float(xs[0]) - dx / 2, 0.0, dy, float(ys[0]) - dy / 2)


def _region_means(
    labels: np.ndarray[Any, Any], feats: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n = int(labels.max()) + 1
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n).astype(float)
    sums = np.stack(
        [
            np.bincount(flat, weights=feats[..., k].ravel(), minlength=n)
            for k in range(feats.shape[-1])
        ],
        axis=-1,
    )
    return sums / np.maximum(count, 1)[:, None], count


def _adjacent_pairs(labels: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=1),
    ]
    p = np.concatenate(pairs)
    p = p[(p[:, 0] != p[:, 1]) & (p[:, 0] > 0) & (p[:, 1] > 0)]
    p.sort(axis=1)
    return np.unique(p, axis=0)


def _merge_alike(
    labels: np.ndarray[Any, Any], feats: np.ndarray[Any, Any], distance: float, min_pixels: int
) -> np.ndarray[Any, Any]:
    """Merge neighbouring regions, most alike first, while their means differ by < distance;
    then regions under ``min_pixels`` into their most alike neighbour. Labels renumbered 1..n."""
    lab = labels.copy()
    n = int(lab.max()) + 1
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    for small_pass in (False, True):
        for _ in range(50):
            means, count = _region_means(lab, feats)
            pairs = _adjacent_pairs(lab)
            if len(pairs) == 0:
                break
            d = np.sqrt(np.mean((means[pairs[:, 0]] - means[pairs[:, 1]]) ** 2, axis=1))
            if small_pass:
                small = (count[pairs[:, 0]] < min_pixels) | (count[pairs[:, 1]] < min_pixels)
                cand = np.flatnonzero(small)
            else:
                cand = np.flatnonzero(d < distance)
            if len(cand) == 0:
                break
            cand = cand[np.argsort(d[cand], kind="stable")]
            used: set[int] = set()
            merged = 0
            for k in cand:
                a, b = int(pairs[k, 0]), int(pairs[k, 1])
                if a in used or b in used:
                    continue  # one merge per region per round: means are recomputed after
                if small_pass and count[a] >= min_pixels and count[b] >= min_pixels:
                    continue
                used.update((a, b))
                parent[find(b)] = find(a)
                merged += 1
            if merged == 0:
                break
            roots = np.array([find(i) for i in range(n)])
            lab = roots[lab]
            lab[labels == 0] = 0
    uniq, inv = np.unique(lab, return_inverse=True)
    out = inv.reshape(lab.shape).astype(np.int32)
    if uniq[0] != 0:
        out += 1
    return out


def _polygons(
    labels: np.ndarray[Any, Any],
    feats: np.ndarray[Any, Any],
    edge: np.ndarray[Any, Any],
    transform: Affine,
    *,
    simplify: float,
) -> gpd.GeoDataFrame:
    means, count = _region_means(labels, feats)
    n = len(count)
    # inside spread: mean distance of a field's pixels to its mean season
    dev = np.sqrt(np.mean((feats - means[labels]) ** 2, axis=-1))
    spread = np.bincount(labels.ravel(), weights=dev.ravel(), minlength=n) / np.maximum(count, 1)
    contrast = np.zeros(n)
    pairs = _adjacent_pairs(labels)
    if len(pairs):
        d = np.sqrt(np.mean((means[pairs[:, 0]] - means[pairs[:, 1]]) ** 2, axis=1))
        np.minimum.at(contrast, pairs[:, 0], 0)  # keep zeros for fields with no neighbour
        best = np.full(n, np.inf)
        np.minimum.at(best, pairs[:, 0], d)
        np.minimum.at(best, pairs[:, 1], d)
        contrast = np.where(np.isfinite(best), best, 0.0)
    confidence = contrast / (contrast + spread + 1e-6)
    geoms: dict[int, list[Any]] = {}
    for geom, value in rasterio.features.shapes(
        labels.astype(np.int32), mask=labels > 0, transform=transform, connectivity=4
    ):
        geoms.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    ids = sorted(geoms)
    polys = [shapely.union_all(geoms[i]) for i in ids]
    if simplify > 0:
        polys = [p.simplify(simplify, preserve_topology=True) for p in polys]
    px_area = abs(transform.a * transform.e)
    return gpd.GeoDataFrame(
        {
            "field_id": np.array(ids, dtype=np.int32),
            "n_pixels": count[ids].astype(np.int64),
            "area_ha": count[ids] * px_area / 1e4,
            "confidence": np.round(confidence[ids], 3),
        },
        geometry=polys,
    )


def match_fields(fields: gpd.GeoDataFrame, reference: gpd.GeoDataFrame) -> pd.DataFrame:
    """Score delineated fields against reference parcels, one row per reference parcel.

    Columns: ``iou`` (of the field that overlaps the parcel most), ``area_error`` (that field's
    area over the parcel's, minus 1), ``n_fields`` (fields covering at least 10 % of the
    parcel: over-segmentation when above 1), ``n_parcels_in_field`` (parcels holding at least
    10 % of that field: under-segmentation when above 1).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> ref = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)])
    >>> got = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 8), box(0, 8, 10, 10)])
    >>> match_fields(got, ref)[["iou", "n_fields"]].round(2).to_dict("records")
    [{'iou': 0.8, 'n_fields': 2}]
    """
    rows = []
    f_geoms = list(fields.geometry)
    r_geoms = list(reference.geometry)
    tree = shapely.STRtree(f_geoms)
    r_tree = shapely.STRtree(r_geoms)
    for ref in r_geoms:
        cand = tree.query(ref, predicate="intersects")
        inter: list[float] = [f_geoms[j].intersection(ref).area for j in cand]
        if len(inter) == 0 or max(inter) <= 0:
            rows.append({"iou": 0.0, "area_error": -1.0, "n_fields": 0, "n_parcels_in_field": 0})
            continue
        best = f_geoms[int(cand[int(np.argmax(inter))])]
        union = best.union(ref).area
        n_fields = int(np.sum(np.asarray(inter) >= 0.1 * ref.area))
        rc = r_tree.query(best, predicate="intersects")
        n_par = int(sum(r_geoms[j].intersection(best).area >= 0.1 * best.area for j in rc))
        rows.append(
            {
                "iou": float(max(inter) / union) if union > 0 else 0.0,
                "area_error": float(best.area / ref.area - 1.0),
                "n_fields": n_fields,
                "n_parcels_in_field": n_par,
            }
        )
    return pd.DataFrame(rows, index=reference.index)


def rasterised_iou(
    reference: gpd.GeoDataFrame, transform: Affine, shape: tuple[int, int]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """What a raster of this grid can achieve: each polygon's IoU with its own rasterisation.

    A pixel belongs to the polygon when its centre is inside (as a label raster assigns it);
    the pixels' outline is compared with the polygon. A field narrower than a few pixels, or a
    polygon with many narrow parts, scores low however well it is delineated.

    Parameters
    ----------
    reference
        Polygons, in the grid's CRS.
    transform
        Affine transform of the grid (pixel corners), e.g. ``Fields.transform``.
    shape
        ``(rows, columns)`` of the grid.

    Returns
    -------
    numpy.ndarray
        One IoU per polygon (0 when no pixel centre falls inside it).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from affine import Affine
    >>> from shapely.geometry import box
    >>> ref = gpd.GeoDataFrame(geometry=[box(0, 0, 40, 40), box(0, 50, 14, 100)])
    >>> rasterised_iou(ref, Affine(10, 0, 0, 0, -10, 100), (10, 10)).round(2).tolist()
    [1.0, 0.71]
    """
    out = np.zeros(len(reference))
    for i, geom in enumerate(reference.geometry):
        if geom is None or geom.is_empty:
            continue
        burnt = rasterio.features.rasterize(
            [(geom, 1)], out_shape=shape, transform=transform, dtype="uint8"
        )
        if not burnt.any():
            continue
        pixels = shapely.union_all(
            [
                shapely.geometry.shape(g)
                for g, _ in rasterio.features.shapes(burnt, mask=burnt > 0, transform=transform)
            ]
        )
        union = pixels.union(geom).area
        out[i] = pixels.intersection(geom).area / union if union > 0 else 0.0
    return out


__all__ = [
    "FIELD_COLUMNS",
    "Fields",
    "delineate",
    "edge_strength",
    "match_fields",
    "merge_regions",
    "rasterised_iou",
    "temporal_features",
]
