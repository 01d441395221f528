"""The land of the synthetic village: blocks between roads, long narrow strips, households.

Like a North China Plain village after the 1980s land contracting: main roads (with poplar
windbreaks) and an irrigation canal cut the land into blocks; each block is split by field paths
into rows, and each row into long narrow strips (条田, 12-45 m wide, 80-300 m long), a few of them
consolidated into wider fields. Strip boundaries are built as shared polylines first and jittered
once, so neighbouring parcels share their boundary exactly while each polygon is irregular. A
household holds 1-8 strips scattered over several blocks (land fragmentation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, box

#: Widths of the linear features in metres.
ROAD_WIDTH = 7.0
TREE_ROW_WIDTH = 6.0
CANAL_WIDTH = 5.0
PATH_WIDTH = 3.0
#: Share of strips divided across their length into two titles (inheritance, exchanges).
SPLIT_SHARE = 0.12
#: Land kept free of parcels along the image edge, so every title lies inside the imagery.
EDGE_MARGIN = 25.0


@dataclass
class Land:
    """Polygons of the village's land in local metres (origin top-left, y pointing down).

    Attributes
    ----------
    parcels
        One polygon per land-title parcel.
    block
        Index of the block each parcel lies in.
    row
        Index of the row (sub-block between field paths) each parcel lies in.
    near_water
        True for parcels next to the canal or the pond (where rice is possible).
    features
        Non-title land cover: ``(kind, polygon)`` with kind ``road``, ``trees``, ``canal``,
        ``pond``, ``village``.
    width, height
        Extent in metres.
    """

    parcels: list[Polygon]
    block: np.ndarray[Any, np.dtype[np.int64]]
    row: np.ndarray[Any, np.dtype[np.int64]]
    near_water: np.ndarray[Any, np.dtype[np.bool_]]
    features: list[tuple[str, Polygon]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _split(total: float, low: float, high: float, rng: np.random.Generator) -> list[float]:
    """Cut ``total`` into pieces of ``low``..``high`` (the last one may be merged)."""
    pieces: list[float] = []
    left = total
    while left > high:
        p = float(rng.uniform(low, high))
        pieces.append(p)
        left -= p
    if pieces and left < 0.5 * low:
        pieces[-1] += left
    else:
        pieces.append(left)
    return pieces


def _strip_widths(total: float, rng: np.random.Generator) -> list[float]:
    """Widths of the parcels across one row: mostly 15-40 m strips, a few consolidated fields."""
    widths: list[float] = []
    left = total
    while left > 0:
        if rng.random() < 0.05:
            w = float(rng.uniform(55, 110))  # land consolidated by transfer (流转)
        else:
            w = float(np.clip(rng.lognormal(np.log(27.0), 0.35), 11.0, 48.0))
        if left - w < 9.0:
            w = left
        widths.append(w)
        left -= w
    return widths


def _row_parcels(
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    *,
    vertical: bool,
    rng: np.random.Generator,
) -> list[Polygon]:
    """Strips across a row; boundaries are shared jittered polylines (one per cut)."""
    # work in (across, along) coordinates, then map back
    a0, a1, l0, l1 = (x0, x1, y0, y1) if vertical else (y0, y1, x0, x1)
    widths = _strip_widths(a1 - a0, rng)
    cuts = a0 + np.concatenate([[0.0], np.cumsum(widths)])
    n_levels = max(2, int(np.ceil((l1 - l0) / 45.0)) + 1)
    levels = np.linspace(l0, l1, n_levels)
    lines = []
    for k, c in enumerate(cuts):
        left = widths[k - 1] if k > 0 else np.inf
        right = widths[k] if k < len(widths) else np.inf
        room = 0.22 * min(left, right, 40.0)
        if k in (0, len(cuts) - 1):
            room = min(room, 1.0)  # keep the row's outer edge near the path
        slant = rng.normal(0.0, 0.012) * (levels - levels.mean())
        jitter = rng.normal(0.0, 1.0, n_levels) + slant
        across = c + np.clip(jitter, -room, room)
        along = levels.copy()
        along[0] += float(np.clip(rng.normal(0.0, 1.0), -1.0, 1.0))
        along[-1] += float(np.clip(rng.normal(0.0, 1.0), -1.0, 1.0))
        lines.append(np.column_stack([across, along]))
    polys = []
    for k in range(len(widths)):
        # a few strips are divided across (between heirs) at a shared vertex level, so the cut
        # creates no T-junction on the neighbours' boundaries
        cuts_at = [0, n_levels - 1]
        if rng.random() < SPLIT_SHARE and l1 - l0 > 120.0 and n_levels > 3 and widths[k] > 14:
            j = int(np.clip(round(rng.uniform(0.3, 0.5) * (n_levels - 1)), 1, n_levels - 2))
            cuts_at = [0, j, n_levels - 1]
        for a, b in itertools.pairwise(cuts_at):
            ring = np.vstack([lines[k][a : b + 1], lines[k + 1][a : b + 1][::-1]])
            if not vertical:
                ring = ring[:, ::-1]
            polys.append(Polygon(ring))
    return polys


def make_land(width: float, height: float, *, rng: np.random.Generator) -> Land:
    """Lay out roads, canal, pond, village and title parcels over ``width`` x ``height`` metres.

    Examples
    --------
    >>> import numpy as np
    >>> land = make_land(600.0, 600.0, rng=np.random.default_rng(1))
    >>> 20 < len(land.parcels) < 120 and all(p.is_valid for p in land.parcels)
    True
    """
    m = EDGE_MARGIN
    features: list[tuple[str, Polygon]] = []
    # main roads between blocks, with a poplar windbreak on each side
    gap = ROAD_WIDTH + 2 * TREE_ROW_WIDTH
    col_w = _split(width - 2 * m, 330.0, 560.0, rng)
    row_h = _split(height - 2 * m, 300.0, 520.0, rng)
    xs = m + np.concatenate([[0.0], np.cumsum(col_w)])
    ys = m + np.concatenate([[0.0], np.cumsum(row_h)])
    for x in xs[1:-1]:
        features.append(("road", box(x - ROAD_WIDTH / 2, 0, x + ROAD_WIDTH / 2, height)))
        features.append(("trees", box(x - gap / 2, 0, x - ROAD_WIDTH / 2, height)))
        features.append(("trees", box(x + ROAD_WIDTH / 2, 0, x + gap / 2, height)))
    for y in ys[1:-1]:
        features.append(("road", box(0, y - ROAD_WIDTH / 2, width, y + ROAD_WIDTH / 2)))
        features.append(("trees", box(0, y - gap / 2, width, y - ROAD_WIDTH / 2)))
        features.append(("trees", box(0, y + ROAD_WIDTH / 2, width, y + gap / 2)))
    blocks = []
    for j in range(len(row_h)):
        for i in range(len(col_w)):
            bx0 = xs[i] + (gap / 2 if i > 0 else 0.0)
            bx1 = xs[i + 1] - (gap / 2 if i < len(col_w) - 1 else 0.0)
            by0 = ys[j] + (gap / 2 if j > 0 else 0.0)
            by1 = ys[j + 1] - (gap / 2 if j < len(row_h) - 1 else 0.0)
            blocks.append((bx0, by0, bx1, by1))
    # the canal runs along the top of the first block row; the village sits in an inner block
    canal_y = ys[0] + CANAL_WIDTH
    features.append(("canal", box(0, ys[0], width, canal_y)))
    village = None
    if len(blocks) >= 4:
        centre = np.array([width / 2, height / 2])
        dists = [
            np.hypot((b[0] + b[2]) / 2 - centre[0], (b[1] + b[3]) / 2 - centre[1]) for b in blocks
        ]
        village = int(np.argmin(dists))
        bx0, by0, bx1, by1 = blocks[village]
        vx = min(bx1 - bx0, 380.0)
        vy = min(by1 - by0, 330.0)
        vpoly = box(bx0, by0, bx0 + vx, by0 + vy)
        features.append(("village", vpoly))
    pond = None
    if len(blocks) >= 2:
        bx0, by0, bx1, by1 = blocks[-1 if village != len(blocks) - 1 else 0]
        cx, cy = bx1 - 45.0, by0 + 40.0
        pond = shapely.Point(cx, cy).buffer(32.0, quad_segs=6)
        pond = shapely.affinity.scale(pond, 1.5, 0.9)
        features.append(("pond", pond))
    exclusion = shapely.union_all([f[1] for f in features if f[0] in ("village", "pond")])
    water = shapely.union_all([f[1] for f in features if f[0] in ("canal", "pond")])
    parcels: list[Polygon] = []
    block_ids: list[int] = []
    row_ids: list[int] = []
    n_rows = 0
    for b, corners in enumerate(blocks):
        bx0, by0, bx1, by1 = corners
        vertical = bool(rng.random() < 0.6)
        if b == village:
            # the rest of the village block, split like any other
            bx0v = bx0 + min(bx1 - bx0, 380.0) + PATH_WIDTH
            if bx1 - bx0v < 60:
                continue
            bx0 = bx0v
        if b in range(len(col_w)):  # first block row: leave the canal
            by0 = max(by0, canal_y + 1.0)
        along_total = (by1 - by0) if vertical else (bx1 - bx0)
        rows = _split(along_total, 100.0, 300.0, rng)
        pos = by0 if vertical else bx0
        for length in rows:
            r0, r1 = pos, pos + length - PATH_WIDTH
            pos += length
            if r1 - r0 < 30.0:
                continue
            if vertical:
                polys = _row_parcels(bx0, bx1, r0, r1, vertical=True, rng=rng)
            else:
                polys = _row_parcels(r0, r1, by0, by1, vertical=False, rng=rng)
            for strip in polys:
                p = strip
                if not exclusion.is_empty and p.intersects(exclusion):
                    cut = p.difference(exclusion.buffer(2.0))
                    if cut.geom_type == "MultiPolygon":
                        cut = max(cut.geoms, key=lambda g: g.area)
                    if cut.is_empty or cut.area < 300.0:
                        continue
                    p = cut
                parcels.append(shapely.set_precision(p, 0.01))
                block_ids.append(b)
                row_ids.append(n_rows)
            n_rows += 1
    near = np.array([p.distance(water) < 40.0 for p in parcels], dtype=bool)
    return Land(
        parcels=parcels,
        block=np.array(block_ids, dtype=np.int64),
        row=np.array(row_ids, dtype=np.int64),
        near_water=near,
        features=features,
        width=width,
        height=height,
    )


def assign_households(
    n_parcels: int, *, rng: np.random.Generator, mean_parcels: float = 3.0
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Household index of each parcel: 1-8 parcels per household, scattered at random.

    Examples
    --------
    >>> import numpy as np
    >>> hh = assign_households(50, rng=np.random.default_rng(0))
    >>> len(hh), int(np.bincount(hh).min()) >= 1, int(np.bincount(hh).max()) <= 8
    (50, True, True)
    """
    sizes: list[int] = []
    p = rng.poisson(mean_parcels - 1.0, size=4 * n_parcels) + 1
    for s in np.minimum(p, 8):
        if sum(sizes) >= n_parcels:
            break
        sizes.append(int(min(s, n_parcels - sum(sizes))))
    hh = np.repeat(np.arange(len(sizes)), sizes)
    return np.asarray(rng.permutation(hh), dtype=np.int64)


__all__ = ["Land", "assign_households", "make_land"]
