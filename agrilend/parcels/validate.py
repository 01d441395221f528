"""Checks and repairs of land titles, with a report a person can act on.

:func:`validate_titles` runs every check on a titles ``GeoDataFrame`` and never stops at a bad
parcel: each problem becomes a row of :attr:`ValidationReport.issues` (parcel id, check, severity,
message) and each parcel gets a ``title_status`` (``ok``, ``flagged`` or ``error``). Only problems
of the whole file raise: a missing CRS (:class:`~agrilend.errors.MissingCRSError`) and a CRS that
contradicts the coordinates (:class:`~agrilend.errors.CRSError`).

========================= ======== ===========================================================
check                     severity meaning
========================= ======== ===========================================================
``3d_dropped``            info     Z coordinates were dropped
``empty``                 error    no geometry, or an empty one
``non_finite``            error    NaN or infinite coordinates (the geometry is set to None)
``not_polygonal``         error    a point or line, or a collection without any polygon
``mixed_geometry``        warning  a collection: its polygonal part was kept
``repaired``              warning  invalid geometry repaired (``make_valid``), polygonal part kept
``invalid``               error    invalid and not repaired (``repair=False``) or not repairable
``under_one_pixel``       error    smaller than one pixel: the imagery cannot see it
``few_pixels``            warning  smaller than ``min_pixels`` pixels
``sliver``                warning  thinness ratio 4*pi*A/P^2 below ``sliver_ratio``
``missing_id``            error    no parcel id
``duplicate_id``          error    the id is carried by more than one title (all of them are errors:
                                   none can be trusted to be the one the registry meant)
``overlap``               warning  overlaps another title by more than ``overlap_tolerance`` of the
                                   smaller one
``outside_imagery``       error    no part of the parcel is inside the imagery
``partly_outside``        warning  part of the parcel is outside the imagery
``area_mismatch``         warning  declared area differs from the mapped area by more than
                                   ``area_tolerance``
``declared_area_invalid`` warning  declared area is zero or negative
========================= ======== ===========================================================

Areas are computed in the titles' projected CRS, or in a Lambert azimuthal equal-area projection
centred on the titles when their CRS is geographic.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from agrilend.errors import (
    CRSError,
    DuplicateParcelError,
    GeometryError,
    GeometryRepairedWarning,
    MissingCRSError,
    OutsideImageryError,
)

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "error"]
#: Columns of :attr:`ValidationReport.issues`.
ISSUE_COLUMNS = ("row", "parcel_id", "check", "severity", "message")
#: The checks in the order they run, which is the order of a title's ``title_flags``.
CHECK_ORDER = (
    "empty",
    "non_finite",
    "3d_dropped",
    "not_polygonal",
    "mixed_geometry",
    "invalid",
    "repaired",
    "under_one_pixel",
    "few_pixels",
    "sliver",
    "missing_id",
    "duplicate_id",
    "overlap",
    "outside_imagery",
    "partly_outside",
    "declared_area_invalid",
    "area_mismatch",
)
#: Degrees of slack around a CRS's area of use before coordinates are said to contradict it.
AREA_OF_USE_MARGIN_DEG = 5.0
_POLYGONAL = (3, 6)  # shapely type ids of Polygon, MultiPolygon
_COLLECTION = 7


# --- CRS ------------------------------------------------------------------------------------------


def _bounds_text(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def check_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str = "titles") -> None:
    """Raise when ``gdf`` has no CRS or when its coordinates cannot be in that CRS.

    Detected: metres labelled as degrees (a geographic CRS with values beyond +-180/+-90),
    latitude and longitude swapped (x within +-90 but y beyond), degrees labelled as metres (a
    projected CRS whose coordinates all fit in a few units of +-180/+-90), and coordinates far
    outside the CRS's area of use (more than 5 degrees beyond it).

    Raises
    ------
    MissingCRSError
        ``gdf.crs`` is None.
    CRSError
        The CRS contradicts the coordinates; the message names the CRS and the bounds found.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.box(500000, 4000000, 500100, 4000100)], crs="EPSG:32650")
    >>> check_crs(g)
    >>> try:
    ...     check_crs(g.set_crs("EPSG:4326", allow_override=True))
    ... except CRSError as e:
    ...     print(type(e).__name__)
    CRSError
    """
    crs = gdf.crs
    if crs is None:
        raise MissingCRSError(
            f"{what} have no CRS; set the CRS the registry uses (e.g. "
            "gdf.set_crs('EPSG:4490') or crs= in the titles mapping) and try again"
        )
    geoms = np.asarray(gdf.geometry.values if hasattr(gdf, "geometry") else gdf.values)
    xy = shapely.get_coordinates(geoms)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    bounds = (float(x0), float(y0), float(x1), float(y1))
    name = crs.to_string()
    found = f"{what} bounds {_bounds_text(bounds)} in {name}"
    ax, ay = max(abs(x0), abs(x1)), max(abs(y0), abs(y1))
    if crs.is_geographic:
        if ax <= 180 and ay <= 90:
            return
        if ax <= 90 and ay <= 180:
            raise CRSError(
                f"{found}: y holds values beyond +-90, so latitude and longitude look swapped; "
                "swap x and y (shapely.transform(g, lambda c: c[:, ::-1])) and read again"
            )
        raise CRSError(
            f"{found} are beyond +-180/+-90 degrees, so they look like metres labelled as "
            "degrees; set the registry's projected CRS instead (crs= in the titles mapping)"
        )
    if ax <= 180 and ay <= 90 and max(x1 - x0, y1 - y0) < 2.0:
        raise CRSError(
            f"{found} fit within +-180/+-90 and span under 2 units, so they look like degrees "
            "labelled as metres; set a geographic CRS (e.g. EPSG:4326 or EPSG:4490) instead"
        )
    aou = crs.area_of_use
    if aou is None:
        return
    try:
        to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon0, lat0, lon1, lat1 = to_ll.transform_bounds(*bounds)
    except Exception:  # pyproj raises several types for impossible bounds
        lon0 = lat0 = lon1 = lat1 = math.inf
    m = AREA_OF_USE_MARGIN_DEG
    ll = (lon0, lat0, lon1, lat1)
    inside = (
        all(math.isfinite(v) for v in ll)
        and (lon0 >= aou.west - m and lon1 <= aou.east + m and lat0 >= aou.south - m)
        and lat1 <= aou.north + m
    )
    if aou.west > aou.east:  # areas that cross the antimeridian: do not judge longitude
        inside = all(math.isfinite(v) for v in ll) and lat0 >= aou.south - m
        inside = inside and lat1 <= aou.north + m
    if not inside:
        raise CRSError(
            f"{found} fall at lon/lat {_bounds_text(ll)}, far outside the area {name} is made "
            f"for ({aou.name}: {_bounds_text(aou.bounds)}); the CRS label is probably wrong: set "
            "the registry's real CRS (crs= in the titles mapping, or gdf.set_crs(..., "
            "allow_override=True))"
        )


def _metric_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """The CRS to measure in: the titles' own if projected, else equal-area around them."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected:
        return crs
    xy = shapely.get_coordinates(np.asarray(gdf.geometry.values))
    xy = xy[np.isfinite(xy).all(axis=1)]
    lon, lat = xy.mean(axis=0) if len(xy) else (0.0, 0.0)
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")


def _imagery_box(imagery_bounds: Any, crs: CRS) -> Any:
    """The imagery footprint as a polygon in ``crs``, from a cube, (bounds, crs) or bounds."""
    if imagery_bounds is None:
        return None
    if hasattr(imagery_bounds, "rio"):
        img_crs = imagery_bounds.rio.crs
        if img_crs is None:
            raise MissingCRSError(
                "the imagery given to validate_titles has no CRS; write one with "
                "cube.rio.write_crs(...)"
            )
        bounds = tuple(float(v) for v in imagery_bounds.rio.bounds())
    elif (
        isinstance(imagery_bounds, Sequence)
        and len(imagery_bounds) == 2
        and isinstance(imagery_bounds[0], Sequence)
    ):
        bounds = tuple(float(v) for v in imagery_bounds[0])
        img_crs = imagery_bounds[1]
    elif isinstance(imagery_bounds, Sequence) and len(imagery_bounds) == 4:
        bounds, img_crs = tuple(float(v) for v in imagery_bounds), crs
    else:
        raise GeometryError(
            f"imagery_bounds must be a cube, (bounds, crs) or (xmin, ymin, xmax, ymax); "
            f"got {type(imagery_bounds).__name__}"
        )
    if len(bounds) != 4 or not all(math.isfinite(v) for v in bounds):
        raise GeometryError(f"imagery bounds {bounds} are not four finite numbers")
    box = shapely.box(*bounds)
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1e-9)
    box = shapely.segmentize(box, span / 64)  # so the footprint bends like the projection
    return gpd.GeoSeries([box], crs=img_crs).to_crs(crs).iloc[0]


# --- the report -----------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """What :func:`validate_titles` found.

    Attributes
    ----------
    titles
        The titles with repaired geometries and four added columns: ``area_ha`` (mapped area),
        ``area_ratio`` (declared / mapped), ``title_status`` (``ok``, ``flagged``, ``error``) and
        ``title_flags`` (comma-separated check names).
    issues
        One row per problem: ``row`` (position in the input), ``parcel_id``, ``check``,
        ``severity`` (``info``, ``warning``, ``error``) and ``message``.
    """

    titles: gpd.GeoDataFrame
    issues: pd.DataFrame

    @property
    def usable(self) -> gpd.GeoDataFrame:
        """The titles whose status is not ``error`` (what the pipeline should go on with)."""
        return self.titles[self.titles["title_status"] != "error"]

    def summary(self) -> dict[str, int]:
        """Counts: ``n_titles``, ``n_ok``, ``n_flagged``, ``n_error``, then parcels per check.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> t = gpd.GeoDataFrame({"parcel_id": ["a", "a"]}, crs="EPSG:32650",
        ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)])
        >>> validate_titles(t).summary()["duplicate_id"]
        2
        """
        status = self.titles["title_status"].value_counts()
        out = {
            "n_titles": len(self.titles),
            "n_ok": int(status.get("ok", 0)),
            "n_flagged": int(status.get("flagged", 0)),
            "n_error": int(status.get("error", 0)),
        }
        if len(self.issues):
            per_check = self.issues.groupby("check", sort=True)["row"].nunique()
            out.update({str(k): int(v) for k, v in per_check.items()})
        return out

    def raise_for_errors(self) -> ValidationReport:
        """Raise the first error-severity issue as a typed error; return ``self`` when none.

        Raises
        ------
        DuplicateParcelError, OutsideImageryError, GeometryError
            By the check of the first error; the message also counts the others.
        """
        errors = self.issues[self.issues["severity"] == "error"]
        if errors.empty:
            return self
        first = errors.iloc[0]
        n_parcels = errors["row"].nunique()
        more = f" ({n_parcels} titles have errors in all; see report.issues)"
        cls: type[GeometryError] = GeometryError
        if first["check"] == "duplicate_id":
            cls = DuplicateParcelError
        elif first["check"] == "outside_imagery":
            cls = OutsideImageryError
        raise cls(str(first["message"]) + more, parcel_id=str(first["parcel_id"]))

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<ValidationReport {s['n_titles']} titles: {s['n_ok']} ok, {s['n_flagged']} "
            f"flagged, {s['n_error']} error; {len(self.issues)} issues>"
        )


class _Issues:
    """Collects issue rows while the checks run."""

    def __init__(self, ids: np.ndarray[Any, Any]) -> None:
        self.ids = ids
        self.rows: list[tuple[int, str, str, str, str]] = []

    def add(self, rows: Any, check: str, severity: Severity, message: str) -> None:
        """Add one issue per row; ``{id}`` in the message is replaced by the parcel id."""
        for r in np.atleast_1d(rows):
            pid = str(self.ids[r])
            self.rows.append((int(r), pid, check, severity, message.replace("{id}", repr(pid))))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(ISSUE_COLUMNS))
        return df.astype({"row": "int64"})


# --- the checks -----------------------------------------------------------------------------------


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


def _check_imagery(
    geoms: np.ndarray[Any, Any],
    *,
    work: np.ndarray[Any, Any],
    area: np.ndarray[Any, Any],
    usable: np.ndarray[Any, Any],
    issues: _Issues,
    footprint: Any,
    titles_crs: CRS,
    metric: CRS,
) -> None:
    rows = np.flatnonzero(usable)
    if len(rows) == 0:
        return
    # most parcels lie wholly inside: a prepared footprint answers that without intersecting
    shapely.prepare(footprint)
    geoms_in = work[rows]
    covered = shapely.covers(footprint, geoms_in)
    edge = ~covered & shapely.intersects(footprint, geoms_in)
    share = covered.astype(float)
    if edge.any():
        inside = shapely.area(shapely.intersection(geoms_in[edge], footprint))
        with np.errstate(divide="ignore", invalid="ignore"):
            share[edge] = np.where(area[rows][edge] > 0, inside / area[rows][edge], 0.0)
    fb = _bounds_text(shapely.bounds(footprint))
    out = rows[share <= 0]
    if len(out) == len(rows) and titles_crs.is_geographic:
        swapped = shapely.transform(geoms[rows], lambda c: c[:, ::-1])
        ll_box = gpd.GeoSeries([footprint], crs=metric).to_crs(titles_crs)
        if shapely.intersects(swapped, ll_box.iloc[0]).any():
            raise CRSError(
                f"no title lies in the imagery, but all would with x and y swapped: latitude and "
                f"longitude look swapped in the titles ({titles_crs.to_string()}, bounds "
                f"{_bounds_text(shapely.total_bounds(geoms[rows]))}); swap x and y and read again"
            )
    issues.add(
        out,
        "outside_imagery",
        "error",
        f"parcel {{id}} lies outside the imagery extent {fb}; pass imagery that covers "
        "it or drop the parcel",
    )
    part = (share > 0) & (share < 0.99)
    for r, s in zip(rows[part], share[part], strict=True):
        issues.add(
            r,
            "partly_outside",
            "warning",
            f"parcel {{id}}: {1 - s:.0%} of its area lies outside the imagery extent "
            f"{fb}; its statistics cover the inside part only",
        )


def validate_titles(
    titles: gpd.GeoDataFrame,
    *,
    imagery_bounds: Any = None,
    pixel_size: float = 10.0,
    min_pixels: float = 3,
    sliver_ratio: float = 0.1,
    overlap_tolerance: float = 0.02,
    area_tolerance: float = 0.25,
    repair: bool = True,
) -> ValidationReport:
    """Check titles, repair what can be repaired, and report every problem per parcel.

    Parameters
    ----------
    titles
        A titles ``GeoDataFrame`` (from :func:`~agrilend.parcels.read_titles`, or any
        ``GeoDataFrame``; without a ``parcel_id`` column the index is used as id).
    imagery_bounds
        The imagery footprint: a cube (anything with ``.rio.bounds()`` and ``.rio.crs``), a pair
        ``((xmin, ymin, xmax, ymax), crs)``, or bare bounds in the titles' CRS. None skips the
        check.
    pixel_size
        Imagery pixel size in metres (10 for Sentinel-2).
    min_pixels
        Parcels smaller than this many pixels are flagged; under one pixel is an error.
    sliver_ratio
        Thinness ratio ``4*pi*area/perimeter^2`` (1 for a disc, 0.785 for a square, 0.1 for a
        44:1 strip) under which a parcel is a sliver.
    overlap_tolerance
        Overlap between two titles, as a share of the smaller one, above which both are flagged.
    area_tolerance
        Relative difference between declared and mapped area above which a parcel is flagged.
    repair
        Repair invalid geometries (``shapely.make_valid``, polygonal part kept); when False they
        are errors.

    Returns
    -------
    ValidationReport

    Raises
    ------
    MissingCRSError
        The titles have no CRS.
    CRSError
        The CRS contradicts the coordinates (see :func:`check_crs`), or the titles lie in the
        imagery only with x and y swapped.

    Warns
    -----
    GeometryRepairedWarning
        Once per call when geometries were repaired, naming how many.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    >>> t = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"]}, crs="EPSG:32650",
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(300, 0, 305, 5), None])
    >>> report = validate_titles(t)
    >>> report.titles["title_status"].tolist()
    ['ok', 'error', 'error']
    >>> report.issues["check"].tolist()
    ['empty', 'under_one_pixel']
    """
    if not isinstance(titles, gpd.GeoDataFrame):
        raise GeometryError(
            f"validate_titles needs a GeoDataFrame, got {type(titles).__name__}; read the "
            "registry with agrilend.parcels.read_titles"
        )
    check_crs(titles)
    out = titles.copy()
    if "parcel_id" in out.columns:
        raw_ids = out["parcel_id"].to_numpy(dtype=object)
        ids = np.where(pd.isna(raw_ids), "", raw_ids.astype(str)).astype(object)
    else:
        ids = np.array([str(v) for v in out.index], dtype=object)
        log.info("titles have no parcel_id column; their index is used as id")
    out = out.reset_index(drop=True)
    issues = _Issues(ids)
    n = len(out)

    geoms, usable, repaired = _check_geometry(
        np.asarray(out.geometry.values, dtype=object), issues, repair=repair
    )

    crs = CRS.from_user_input(out.crs)
    metric = _metric_crs(gpd.GeoDataFrame(geometry=geoms[usable], crs=crs))
    work = geoms.copy()
    if not crs.is_projected and usable.any():
        work[usable] = gpd.GeoSeries(geoms[usable], crs=crs).to_crs(metric).values
    area_m2 = np.where(usable, shapely.area(work), np.nan)
    perim = np.where(usable, shapely.length(work), np.nan)
    units = crs.axis_info[0].unit_conversion_factor if crs.is_projected else 1.0
    area_m2 = area_m2 * units**2
    perim = perim * units

    zero = usable & ~(area_m2 > 0)
    issues.add(
        np.flatnonzero(zero),
        "empty",
        "error",
        "parcel {id} has zero area; redraw it or drop the parcel",
    )
    usable &= ~zero

    pixel_m2 = pixel_size * pixel_size
    tiny = usable & (area_m2 < pixel_m2)
    for r in np.flatnonzero(tiny):
        issues.add(
            r,
            "under_one_pixel",
            "error",
            f"parcel {{id}} covers {area_m2[r]:.1f} m2, under one {pixel_size:g} m pixel: "
            "the imagery cannot assess it; merge it with its neighbour or drop it",
        )
    few = usable & ~tiny & (area_m2 < min_pixels * pixel_m2)
    for r in np.flatnonzero(few):
        issues.add(
            r,
            "few_pixels",
            "warning",
            f"parcel {{id}} covers {area_m2[r] / pixel_m2:.1f} pixels of {pixel_size:g} m "
            f"(under {min_pixels:g}); its estimates rest on few pixels",
        )

    with np.errstate(divide="ignore", invalid="ignore"):
        thin = 4 * np.pi * area_m2 / perim**2
    sliver = usable & ~tiny & (thin < sliver_ratio)
    for r in np.flatnonzero(sliver):
        issues.add(
            r,
            "sliver",
            "warning",
            f"parcel {{id}} is a sliver (thinness {thin[r]:.3f} < {sliver_ratio:g}, mean "
            f"width {2 * area_m2[r] / perim[r]:.1f} m); most of its pixels mix with the "
            "neighbours",
        )

    no_id = ids == ""
    issues.add(
        np.flatnonzero(no_id),
        "missing_id",
        "error",
        "a title has no parcel id; fill the id in the registry or map another column",
    )
    dup = pd.Series(ids).duplicated(keep=False).to_numpy() & ~no_id
    counts = pd.Series(ids[dup]).value_counts()
    for r in np.flatnonzero(dup):
        issues.add(
            r,
            "duplicate_id",
            "error",
            f"parcel id {{id}} is carried by {counts[ids[r]]} titles; make ids unique "
            "(map another id column, or drop the duplicates)",
        )

    _check_overlaps(work, usable, issues, overlap_tolerance)

    footprint = _imagery_box(imagery_bounds, metric)
    if footprint is not None:
        _check_imagery(
            geoms,
            work=work,
            area=area_m2,
            usable=usable,
            issues=issues,
            footprint=footprint,
            titles_crs=crs,
            metric=metric,
        )

    area_ha = area_m2 / 10_000
    ratio = np.full(n, np.nan)
    if "declared_area_ha" in out.columns:
        declared = pd.to_numeric(out["declared_area_ha"], errors="coerce").to_numpy(float)
        bad_decl = usable & (declared <= 0)
        issues.add(
            np.flatnonzero(bad_decl),
            "declared_area_invalid",
            "warning",
            "parcel {id} declares a zero or negative area; check the registry",
        )
        # an absurd declared area over a tiny mapped one overflows to inf: flagged below
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.where(usable & (area_ha > 0), declared / area_ha, np.nan)
        off = (
            usable & ~bad_decl & ((ratio > 1 + area_tolerance) | (ratio < 1 / (1 + area_tolerance)))
        )
        for r in np.flatnonzero(off):
            issues.add(
                r,
                "area_mismatch",
                "warning",
                f"parcel {{id}} declares {declared[r]:.4g} ha but its geometry covers "
                f"{area_ha[r]:.4g} ha (ratio {ratio[r]:.2f}); check the declaration or "
                "the boundary",
            )

    table = issues.frame()
    out = out.set_geometry(gpd.GeoSeries(geoms, crs=out.crs, index=out.index))
    out["area_ha"] = area_ha
    out["area_ratio"] = ratio
    status = np.full(n, "ok", dtype=object)
    flags: list[list[str]] = [[] for _ in range(n)]
    for row, check, severity in zip(table["row"], table["check"], table["severity"], strict=True):
        if check not in flags[row]:
            flags[row].append(check)
        if severity == "error":
            status[row] = "error"
        elif severity == "warning" and status[row] == "ok":
            status[row] = "flagged"
    out["title_status"] = pd.array(status, dtype="str")
    out["title_flags"] = pd.array([",".join(f) for f in flags], dtype="str")
    if repaired:
        named = ", ".join(repr(str(ids[r])) for r in repaired[:5])
        warnings.warn(
            f"repaired {len(repaired)} invalid title geometries (polygonal part kept): {named}"
            + (" ..." if len(repaired) > 5 else "")
            + "; see report.issues",
            GeometryRepairedWarning,
            stacklevel=2,
        )
    log.info("validated %d titles: %s", n, out["title_status"].value_counts().to_dict())
    return ValidationReport(titles=out, issues=table)


__all__ = [
    # constants and results
    "CHECK_ORDER",
    "ISSUE_COLUMNS",
    "ValidationReport",
    # functions
    "check_crs",
    "overlapping_pairs",
    "validate_titles",
]
