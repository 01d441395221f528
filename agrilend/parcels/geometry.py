"""Geometry checks of titles: empty, non-finite, non-polygonal, invalid (repaired), overlaps."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import shapely

from agrilend.parcels._issues import _Issues

_POLYGONAL = (3, 6)  # shapely type ids of Polygon, MultiPolygon
_COLLECTION = 7


def _polygonal_part(geom: Any) -> Any:
    """The Polygon/MultiPolygon part of any geometry, or None when it has none."""
    if geom is None or geom.is_empty:
        return None
    tid = shapely.get_type_id(geom)
    if tid in _POLYGONAL:
        return geom
    if tid == _COLLECTION:
        polys = []
        stack = list(shapely.get_parts(geom))
        while stack:  # collections may nest
            part = stack.pop()
            kind = shapely.get_type_id(part)
            if kind == _COLLECTION or kind == _POLYGONAL[1]:
                stack.extend(shapely.get_parts(part))
            elif kind == _POLYGONAL[0] and not part.is_empty and part.area > 0:
                polys.append(part)
        if not polys:
            return None
        merged = polys[0] if len(polys) == 1 else shapely.union_all(polys[::-1])
        return _polygonal_part(merged) if shapely.get_type_id(merged) == _COLLECTION else merged
    return None


def _check_geometry(
    geoms: np.ndarray[Any, Any], issues: _Issues, *, repair: bool
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[int]]:
    """Geometry checks; returns the (repaired) geometries, a usable mask and repaired rows."""
    geoms = geoms.copy()
    n = len(geoms)
    usable = np.ones(n, dtype=bool)
    repaired: list[int] = []

    missing = shapely.is_missing(geoms)
    issues.add(
        np.flatnonzero(missing),
        "empty",
        "error",
        "parcel {id} has no geometry; fix the registry record or drop the parcel",
    )
    usable &= ~missing

    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    bad_rows = np.unique(idx[~np.isfinite(xy).all(axis=1)])
    issues.add(
        bad_rows,
        "non_finite",
        "error",
        "parcel {id} has NaN or infinite coordinates; fix the geometry in the registry",
    )
    geoms[bad_rows] = None
    usable[bad_rows] = False

    empty = usable & shapely.is_empty(geoms)
    issues.add(
        np.flatnonzero(empty),
        "empty",
        "error",
        "parcel {id} has an empty geometry; fix the registry record or drop the parcel",
    )
    usable &= ~empty

    has_z = usable & shapely.has_z(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
        issues.add(
            np.flatnonzero(has_z),
            "3d_dropped",
            "info",
            "parcel {id} had Z coordinates; they were dropped (areas are planimetric)",
        )

    tids = shapely.get_type_id(geoms)
    for r in np.flatnonzero(usable & ~np.isin(tids, _POLYGONAL)):
        kind = shapely.get_type_id(geoms[r])
        part = _polygonal_part(geoms[r]) if kind == _COLLECTION else None
        name = geoms[r].geom_type
        if part is None:
            issues.add(
                r,
                "not_polygonal",
                "error",
                f"parcel {{id}} is a {name} without any polygon; a title needs an area: "
                "fix the geometry or drop the parcel",
            )
            usable[r] = False
        else:
            geoms[r] = part
            issues.add(
                r,
                "mixed_geometry",
                "warning",
                f"parcel {{id}} is a {name}; its polygonal part was kept and the points "
                "and lines dropped",
            )

    invalid = usable & ~shapely.is_valid(geoms)
    for r in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[r])
        if not repair:
            issues.add(
                r,
                "invalid",
                "error",
                f"parcel {{id}} has an invalid geometry ({reason}); repair it "
                "(validate_titles(repair=True) or shapely.make_valid)",
            )
            usable[r] = False
            continue
        before = float(shapely.area(geoms[r]))
        # "structure" rebuilds polygons from shells and holes (a hole equal to its shell leaves
        # nothing); "linework" would keep every enclosed face
        fixed = _polygonal_part(shapely.make_valid(geoms[r], method="structure"))
        if fixed is None or not fixed.is_valid:
            issues.add(
                r,
                "invalid",
                "error",
                f"parcel {{id}} has an invalid geometry ({reason}) without a usable "
                "polygonal part after repair; redraw it in the registry",
            )
            usable[r] = False
            continue
        geoms[r] = fixed
        repaired.append(int(r))
        after = float(fixed.area)
        change = f"area {before:.6g} -> {after:.6g} (CRS units)" if before > 0 else ""
        issues.add(
            r,
            "repaired",
            "warning",
            f"parcel {{id}} had an invalid geometry ({reason}); it was repaired with "
            f"make_valid keeping the polygonal part {change}; check it",
        )
    return geoms, usable, repaired


def overlapping_pairs(
    geoms: Any, *, tolerance: float = 0.02
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Pairs of polygons that overlap by more than ``tolerance`` of the smaller one.

    This is the rule of the ``overlap`` check of :func:`validate_titles`, usable on its own, for
    instance over a whole county whose titles were validated in pieces.

    Parameters
    ----------
    geoms
        Polygons (a sequence, array or ``GeoSeries``) in a projected CRS; missing, empty and
        zero-area geometries overlap nothing.
    tolerance
        Share of the smaller polygon's area that the intersection must exceed.

    Returns
    -------
    i, j, share
        Positions of the two polygons of each pair (``i < j``, sorted by ``i`` then ``j``) and
        the intersection's share of the smaller one.

    Examples
    --------
    >>> import shapely
    >>> geoms = [shapely.box(0, 0, 10, 10), shapely.box(9, 0, 19, 10), shapely.box(50, 0, 60, 10)]
    >>> i, j, share = overlapping_pairs(geoms, tolerance=0.05)
    >>> i.tolist(), j.tolist(), share.round(2).tolist()
    ([0], [1], [0.1])
    >>> overlapping_pairs(geoms, tolerance=0.1)[0].tolist()
    []
    """
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    empty = np.array([], dtype=np.int64)
    area = np.where(shapely.is_missing(arr), 0.0, shapely.area(arr))
    rows = np.flatnonzero(np.nan_to_num(area) > 0)
    if len(rows) < 2:
        return empty, empty.copy(), np.array([], dtype=float)
    sub = arr[rows]
    a, b = shapely.STRtree(sub).query(sub, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    inter = shapely.area(shapely.intersection(sub[a], sub[b]))
    share = inter / np.minimum(area[rows[a]], area[rows[b]])
    hit = share > tolerance
    return rows[a[hit]], rows[b[hit]], share[hit].astype(float)


def _check_overlaps(
    work: np.ndarray[Any, Any],
    usable: np.ndarray[Any, Any],
    issues: _Issues,
    tolerance: float,
) -> None:
    geoms = work.copy()
    geoms[~usable] = None
    i, j, share = overlapping_pairs(geoms, tolerance=tolerance)
    others: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a, b, s in zip(i, j, share, strict=True):
        others[int(a)].append((int(b), float(s)))
        others[int(b)].append((int(a), float(s)))
    for r, lst in sorted(others.items()):
        lst.sort(key=lambda t: -t[1])
        named = ", ".join(f"{issues.ids[k]!r} ({s:.0%} of the smaller)" for k, s in lst[:5])
        extra = f" and {len(lst) - 5} more" if len(lst) > 5 else ""
        issues.add(
            r,
            "overlap",
            "warning",
            f"parcel {{id}} overlaps {named}{extra}; titles should not overlap: check the "
            "registry (double registration or a digitising error)",
        )


__all__ = ["overlapping_pairs"]
