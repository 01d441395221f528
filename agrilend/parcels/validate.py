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
import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from agrilend.errors import (
    CRSError,
    DuplicateParcelError,
    GeometryError,
    GeometryRepairedWarning,
    OutsideImageryError,
)
from agrilend.parcels._issues import CHECK_ORDER, ISSUE_COLUMNS, _Issues
from agrilend.parcels.crs import (
    _bounds_text,
    _imagery_box,
    _metric_crs,
    check_crs,
)
from agrilend.parcels.geometry import _check_geometry, _check_overlaps, overlapping_pairs

log = logging.getLogger(__name__)

#: Share of the smaller title two titles may overlap by before both are flagged ``overlap``.
OVERLAP_TOLERANCE = 0.02


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


# --- the checks -----------------------------------------------------------------------------------


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
    overlap_tolerance: float = OVERLAP_TOLERANCE,
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


#: A title with one of these flags has no usable geometry (``validate_titles`` skips it).
_UNUSABLE = frozenset({"empty", "non_finite", "not_polygonal", "invalid"})


def flag_overlaps_between_parts(
    parcels: gpd.GeoDataFrame, *, overlap_tolerance: float = OVERLAP_TOLERANCE
) -> gpd.GeoDataFrame:
    """Flag ``overlap`` on titles that overlap a title validated in another part.

    A county validated part by part (a scan's chunks) misses the overlaps between parts; run on
    the parts put together, this flags them as one :func:`validate_titles` of the whole county
    would. The flag goes where :data:`CHECK_ORDER` puts it, the title's ``title_status`` goes
    from ``ok`` to ``flagged``, and a ``message`` that was the flags follows them. Rows never
    validated (``title_flags`` missing) take part with their geometry when it is valid, but
    carry no flag. Returns a new frame.
    """
    parcels = parcels.copy()
    if "title_flags" not in parcels or len(parcels) < 2:
        return parcels
    raw = parcels["title_flags"]
    known = raw.notna().to_numpy()
    flags = [str(f).split(",") if k and str(f) else [] for f, k in zip(raw, known, strict=True)]
    geoms = np.asarray(parcels.geometry.to_numpy(), dtype=object).copy()
    unusable = np.array([bool(_UNUSABLE.intersection(f)) for f in flags], dtype=bool)
    unchecked = ~known
    if unchecked.any():  # quarantined rows: raw title geometry, used when valid
        unusable[unchecked] = ~np.asarray(shapely.is_valid(geoms[unchecked]), dtype=bool)
    geoms[unusable] = None
    i, j, _ = overlapping_pairs(geoms, tolerance=overlap_tolerance)
    rows = sorted(r for r in set(i.tolist()) | set(j.tolist()) if known[r])
    rows = [r for r in rows if "overlap" not in flags[r]]
    if not rows:
        return parcels
    rank = {name: k for k, name in enumerate(CHECK_ORDER)}
    status = parcels["title_status"].to_numpy(dtype=object).copy()
    message = parcels["message"].to_numpy(dtype=object).copy()
    new_flags = raw.to_numpy(dtype=object).copy()
    for r in rows:
        old = ",".join(flags[r])
        after = [k for k, x in enumerate(flags[r]) if rank.get(x, len(rank)) > rank["overlap"]]
        at = after[0] if after else len(flags[r])
        new_flags[r] = ",".join([*flags[r][:at], "overlap", *flags[r][at:]])
        if status[r] == "ok":
            status[r] = "flagged"
        if message[r] == old:
            message[r] = new_flags[r]
    for col, values in (("title_flags", new_flags), ("title_status", status), ("message", message)):
        parcels[col] = pd.array(values, dtype=parcels[col].dtype)
    log.info("%d titles overlap a title of another part: flagged 'overlap'", len(rows))
    return parcels


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
