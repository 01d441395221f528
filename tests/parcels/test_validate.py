"""Validation of titles: the bad-input catalogue, the report, CRS checks, fuzzing."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from agrilend.errors import (
    AgrilendError,
    CRSError,
    DuplicateParcelError,
    GeometryError,
    GeometryRepairedWarning,
    MissingCRSError,
    OutsideImageryError,
)
from agrilend.parcels import ValidationReport, check_crs, validate_titles
from agrilend.parcels.validate import CHECK_ORDER, ISSUE_COLUMNS, overlapping_pairs
from agrilend.remote_sensing import make_cube

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 4_000_000.0


def P(*args: Any) -> shapely.Polygon:
    """A polygon; shapely's RuntimeWarning about NaN coordinates is expected in this file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return shapely.Polygon(*args)


def box(x: float, y: float, w: float = 50.0, h: float = 50.0) -> shapely.Geometry:
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def poly(
    coords: list[tuple[float, ...]], holes: list[list[tuple[float, ...]]] | None = None
) -> Any:
    shift = [
        tuple(c + (X0 if i == 0 else Y0 if i == 1 else 0) for i, c in enumerate(pt))
        for pt in coords
    ]
    hs = [[(x + X0, y + Y0) for x, y in h] for h in (holes or [])]
    return P(shift, hs)


def _quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN coordinates are the point
        return build()


GOOD = box(1000, 1000, 60, 60)  # a healthy neighbour far from every test geometry


def frame(geoms: list[Any], ids: list[Any] | None = None, crs: Any = CRS, **cols: Any) -> Any:
    ids = ids if ids is not None else [f"p{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"parcel_id": ids, **cols}, geometry=list(geoms), crs=crs)


def one(bad: Any, **cols: Any) -> gpd.GeoDataFrame:
    """The bad parcel ``bad`` (id 'bad') beside a good one (id 'good')."""
    extra = {k: [v, np.nan] for k, v in cols.items()}
    return frame([bad, GOOD], ["bad", "good"], **extra)


@dataclass
class Case:
    """One entry of the catalogue: build titles, expect an issue on 'bad' or a typed error."""

    titles: Callable[[], gpd.GeoDataFrame]
    check: str | None = None  # the issue expected on the parcel 'bad' (None: no issue)
    severity: str | None = None
    raises: type[Exception] | None = None
    match: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # expected title_status of 'bad' (derived from severity if None)


def _cube(bounds: tuple[float, float, float, float], crs: Any = CRS) -> Any:
    x0, y0, x1, y1 = bounds
    nx, ny = round((x1 - x0) / 10), round((y1 - y0) / 10)
    b = np.full((1, ny, nx), 0.2, dtype="float32")
    return make_cube(
        {"B04": b}, times=["2024-05-01"], transform=Affine(10, 0, x0, 0, -10, y1), crs=crs
    )


IMG = (X0 - 100, Y0 - 100, X0 + 2000, Y0 + 2000)  # covers GOOD and the usual bad parcel
bowtie = poly([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
nan_poly = P([(X0, Y0), (X0 + 50, Y0), (math.nan, Y0 + 50), (X0, Y0)])

CATALOGUE: dict[str, Case] = {
    # --- invalid geometries, repaired (polygonal part kept) --------------------------------------
    "bowtie": Case(lambda: one(bowtie), "repaired", "warning"),
    "bowtie_no_repair": Case(lambda: one(bowtie), "invalid", "error", kwargs={"repair": False}),
    "inverted_hole_self_touch": Case(
        lambda: one(
            poly([(0, 0), (100, 0), (100, 100), (50, 100), (70, 50), (30, 50), (50, 100), (0, 100)])
        ),
        "repaired",
        "warning",
    ),
    "hole_outside_shell": Case(
        lambda: one(
            poly([(0, 0), (50, 0), (50, 50), (0, 50)], [[(60, 60), (70, 60), (70, 70), (60, 70)]])
        ),
        "repaired",
        "warning",
    ),
    "overlapping_holes": Case(
        lambda: one(
            poly(
                [(0, 0), (100, 0), (100, 100), (0, 100)],
                [
                    [(10, 10), (50, 10), (50, 50), (10, 50)],
                    [(30, 30), (70, 30), (70, 70), (30, 70)],
                ],
            )
        ),
        "repaired",
        "warning",
    ),
    "spike": Case(
        lambda: one(poly([(0, 0), (50, 0), (50, 50), (50, 150), (50, 50), (0, 50)])),
        "repaired",
        "warning",
    ),
    "overlapping_multipolygon_parts": Case(
        lambda: one(shapely.MultiPolygon([box(0, 0, 60, 60), box(30, 30, 60, 60)])),
        "repaired",
        "warning",
    ),
    "hole_touching_shell_twice": Case(
        lambda: one(
            poly([(0, 0), (100, 0), (100, 100), (0, 100)], [[(0, 0), (50, 50), (100, 0), (0, 0)]])
        ),
        "repaired",
        "warning",
    ),
    "collapsed_to_line": Case(
        lambda: one(poly([(0, 0), (50, 0), (100, 0), (0, 0)])), "invalid", "error"
    ),
    "collapsed_no_repair": Case(
        lambda: one(poly([(0, 0), (50, 0), (100, 0), (0, 0)])),
        "invalid",
        "error",
        kwargs={"repair": False},
    ),
    "hole_equals_shell": Case(
        lambda: one(
            poly(
                [(0, 0), (100, 0), (100, 100), (0, 100)], [[(0, 0), (100, 0), (100, 100), (0, 100)]]
            )
        ),
        "invalid",
        "error",
    ),
    # --- empty, missing, not finite --------------------------------------------------------------
    "none_geometry": Case(lambda: one(None), "empty", "error"),
    "empty_polygon": Case(lambda: one(shapely.Polygon()), "empty", "error"),
    "empty_multipolygon": Case(lambda: one(shapely.MultiPolygon()), "empty", "error"),
    "empty_collection": Case(lambda: one(shapely.GeometryCollection()), "empty", "error"),
    "nan_coordinate": Case(lambda: one(nan_poly), "non_finite", "error"),
    "inf_coordinate": Case(
        lambda: one(P([(X0, Y0), (math.inf, Y0), (X0, Y0 + 50), (X0, Y0)])), "non_finite", "error"
    ),
    "minus_inf_coordinate": Case(
        lambda: one(P([(X0, Y0), (X0 + 50, -math.inf), (X0, Y0 + 50), (X0, Y0)])),
        "non_finite",
        "error",
    ),
    "nan_in_hole": Case(
        lambda: one(
            P(
                box(0, 0, 100, 100).exterior.coords,
                [[(X0 + 10, Y0 + 10), (math.nan, Y0 + 20), (X0 + 20, Y0 + 20)]],
            )
        ),
        "non_finite",
        "error",
    ),
    "nan_in_multipolygon_part": Case(
        lambda: one(_quiet(lambda: shapely.MultiPolygon([box(0, 0), nan_poly]))),
        "non_finite",
        "error",
    ),
    "nan_and_inf": Case(
        lambda: one(P([(X0, Y0), (math.nan, math.inf), (X0 + 5, Y0 + 50), (X0, Y0)])),
        "non_finite",
        "error",
    ),
    # --- not polygonal, mixed, 3D --------------------------------------------------------------
    "point": Case(lambda: one(shapely.Point(X0, Y0)), "not_polygonal", "error"),
    "linestring": Case(
        lambda: one(shapely.LineString([(X0, Y0), (X0 + 9, Y0)])), "not_polygonal", "error"
    ),
    "linearring": Case(
        lambda: one(shapely.LinearRing(box(0, 0).exterior.coords)), "not_polygonal", "error"
    ),
    "multipoint": Case(
        lambda: one(shapely.MultiPoint([(X0, Y0), (X0 + 1, Y0)])), "not_polygonal", "error"
    ),
    "multilinestring": Case(
        lambda: one(shapely.MultiLineString([[(X0, Y0), (X0 + 9, Y0)]])), "not_polygonal", "error"
    ),
    "collection_polygon_and_point": Case(
        lambda: one(shapely.GeometryCollection([box(0, 0), shapely.Point(X0, Y0)])),
        "mixed_geometry",
        "warning",
    ),
    "collection_two_polygons": Case(
        lambda: one(shapely.GeometryCollection([box(0, 0), box(100, 0)])),
        "mixed_geometry",
        "warning",
    ),
    "collection_without_polygon": Case(
        lambda: one(
            shapely.GeometryCollection(
                [shapely.Point(X0, Y0), shapely.LineString([(X0, Y0), (X0 + 5, Y0)])]
            )
        ),
        "not_polygonal",
        "error",
    ),
    "nested_collection": Case(
        lambda: one(
            shapely.GeometryCollection(
                [shapely.GeometryCollection([box(0, 0)]), shapely.Point(X0, Y0)]
            )
        ),
        "mixed_geometry",
        "warning",
    ),
    "polygon_3d": Case(
        lambda: one(shapely.force_3d(box(0, 0), 12.5)), "3d_dropped", "info", status="ok"
    ),
    "polygon_3d_nan_z": Case(
        lambda: one(
            P(
                [
                    (X0, Y0, math.nan),
                    (X0 + 50, Y0, math.nan),
                    (X0 + 50, Y0 + 50, math.nan),
                    (X0, Y0, math.nan),
                ]
            )
        ),
        "3d_dropped",
        "info",
        status="ok",
    ),
    "bowtie_3d": Case(lambda: one(shapely.force_3d(bowtie, 3.0)), "repaired", "warning"),
    "multipolygon_3d": Case(
        lambda: one(shapely.force_3d(shapely.MultiPolygon([box(0, 0), box(100, 0)]), 1.0)),
        "3d_dropped",
        "info",
        status="ok",
    ),
    # --- size and shape -------------------------------------------------------------------------
    "under_one_pixel_5m": Case(lambda: one(box(0, 0, 5, 5)), "under_one_pixel", "error"),
    "under_one_pixel_9_9m": Case(lambda: one(box(0, 0, 9.9, 9.9)), "under_one_pixel", "error"),
    "under_one_pixel_20m_pixels": Case(
        lambda: one(box(0, 0, 15, 15)), "under_one_pixel", "error", kwargs={"pixel_size": 20.0}
    ),
    "one_and_a_half_pixels": Case(lambda: one(box(0, 0, 10, 15)), "few_pixels", "warning"),
    "almost_three_pixels": Case(lambda: one(box(0, 0, 17, 17)), "few_pixels", "warning"),
    "just_over_three_pixels": Case(lambda: one(box(0, 0, 18, 18))),
    "few_pixels_custom_min": Case(
        lambda: one(box(0, 0, 40, 40)), "few_pixels", "warning", kwargs={"min_pixels": 20}
    ),
    "sliver_2x200": Case(lambda: one(box(0, 0, 2, 200)), "sliver", "warning"),
    "sliver_5x400": Case(lambda: one(box(0, 0, 5, 400)), "sliver", "warning"),
    "sliver_thin_triangle": Case(
        lambda: one(poly([(0, 0), (300, 0), (300, 6), (0, 0)])), "sliver", "warning"
    ),
    "strip_10x100_is_fine": Case(lambda: one(box(0, 0, 10, 100))),
    "square_with_hole_is_fine": Case(
        lambda: one(
            poly(
                [(0, 0), (100, 0), (100, 100), (0, 100)], [[(40, 40), (60, 40), (60, 60), (40, 60)]]
            )
        )
    ),
    "valid_multipolygon_is_fine": Case(lambda: one(shapely.MultiPolygon([box(0, 0), box(100, 0)]))),
    # --- ids ----------------------------------------------------------------------------------
    "duplicate_id": Case(
        lambda: frame([box(0, 0), GOOD, box(200, 0)], ["bad", "good", "bad"]),
        "duplicate_id",
        "error",
    ),
    "triplicate_id": Case(
        lambda: frame([box(0, 0), GOOD, box(200, 0), box(400, 0)], ["bad", "good", "bad", "bad"]),
        "duplicate_id",
        "error",
    ),
    "missing_id_none": Case(
        lambda: frame([box(0, 0), GOOD], [None, "good"]), "missing_id", "error"
    ),
    "missing_id_empty": Case(lambda: frame([box(0, 0), GOOD], ["", "good"]), "missing_id", "error"),
    "missing_id_nan": Case(
        lambda: frame([box(0, 0), GOOD], [np.nan, "good"]), "missing_id", "error"
    ),
    # --- overlaps -----------------------------------------------------------------------------
    "overlap_half": Case(
        lambda: frame([box(0, 0, 100, 100), GOOD, box(50, 0, 100, 100)], ["bad", "good", "other"]),
        "overlap",
        "warning",
    ),
    "identical_geometry": Case(
        lambda: frame([box(0, 0), GOOD, box(0, 0)], ["bad", "good", "o"]), "overlap", "warning"
    ),
    "contained": Case(
        lambda: frame([box(10, 10, 20, 20), GOOD, box(0, 0, 100, 100)], ["bad", "good", "o"]),
        "overlap",
        "warning",
    ),
    "touching_is_fine": Case(lambda: frame([box(0, 0), GOOD, box(50, 0)], ["bad", "good", "o"])),
    "overlap_under_tolerance": Case(
        lambda: frame([box(0, 0, 100, 100), GOOD, box(99, 0, 100, 100)], ["bad", "good", "o"])
    ),
    "overlap_custom_tolerance": Case(
        lambda: frame([box(0, 0, 100, 100), GOOD, box(99, 0, 100, 100)], ["bad", "good", "o"]),
        "overlap",
        "warning",
        kwargs={"overlap_tolerance": 0.001},
    ),
    # --- imagery ------------------------------------------------------------------------------
    "outside_imagery_bounds": Case(
        lambda: one(box(5000, 5000)), "outside_imagery", "error", kwargs={"imagery_bounds": IMG}
    ),
    "partly_outside_imagery": Case(
        lambda: one(box(-125, 0)), "partly_outside", "warning", kwargs={"imagery_bounds": IMG}
    ),
    "inside_imagery": Case(lambda: one(box(0, 0)), kwargs={"imagery_bounds": IMG}),
    "outside_imagery_cube": Case(
        lambda: one(box(5000, 5000)),
        "outside_imagery",
        "error",
        kwargs={"imagery_bounds": _cube(IMG)},
    ),
    "inside_imagery_cube": Case(lambda: one(box(0, 0)), kwargs={"imagery_bounds": _cube(IMG)}),
    "imagery_in_other_crs": Case(
        lambda: one(box(0, 0)),
        kwargs={
            "imagery_bounds": (
                gpd.GeoSeries([shapely.box(*IMG)], crs=CRS)
                .to_crs("EPSG:4326")
                .total_bounds.tolist(),
                "EPSG:4326",
            )
        },
    ),
    "outside_imagery_other_crs": Case(
        lambda: one(box(50_000, 0)),
        "outside_imagery",
        "error",
        kwargs={"imagery_bounds": ((116.9, 36.1, 117.1, 36.2), "EPSG:4326")},
    ),
    # --- declared area ------------------------------------------------------------------------
    "declared_double": Case(
        lambda: one(box(0, 0, 100, 100), declared_area_ha=2.0), "area_mismatch", "warning"
    ),
    "declared_half": Case(
        lambda: one(box(0, 0, 100, 100), declared_area_ha=0.5), "area_mismatch", "warning"
    ),
    "declared_zero": Case(
        lambda: one(box(0, 0, 100, 100), declared_area_ha=0.0), "declared_area_invalid", "warning"
    ),
    "declared_negative": Case(
        lambda: one(box(0, 0, 100, 100), declared_area_ha=-1.0), "declared_area_invalid", "warning"
    ),
    "declared_nan_is_fine": Case(lambda: one(box(0, 0, 100, 100), declared_area_ha=np.nan)),
    "declared_matches": Case(lambda: one(box(0, 0, 100, 100), declared_area_ha=1.1)),
    "declared_custom_tolerance": Case(
        lambda: one(box(0, 0, 100, 100), declared_area_ha=1.1),
        "area_mismatch",
        "warning",
        kwargs={"area_tolerance": 0.05},
    ),
    # --- whole-file errors --------------------------------------------------------------------
    "missing_crs": Case(
        lambda: one(box(0, 0)).set_crs(None, allow_override=True),
        raises=MissingCRSError,
        match="no CRS",
    ),
    "metres_labelled_degrees": Case(
        lambda: one(box(0, 0)).set_crs("EPSG:4326", allow_override=True),
        raises=CRSError,
        match=r"metres labelled as degrees",
    ),
    "lat_lon_swapped": Case(
        lambda: frame([shapely.box(39.90, 116.40, 39.901, 116.401)], ["bad"], crs="EPSG:4326"),
        raises=CRSError,
        match="swapped",
    ),
    "degrees_labelled_metres": Case(
        lambda: frame([shapely.box(116.40, 39.90, 116.401, 39.901)], ["bad"]),
        raises=CRSError,
        match="degrees labelled as metres",
    ),
    "projected_far_from_area_of_use": Case(
        lambda: frame([shapely.box(2_600_000, 1_200_000, 2_600_100, 1_200_100)], ["bad"]),
        raises=CRSError,
        match=r"area EPSG:32650 is made for",
    ),
    "swapped_only_visible_against_imagery": Case(
        lambda: frame([shapely.box(36.150, 117.00, 36.151, 117.001)], ["bad"], crs="EPSG:4326"),
        raises=CRSError,
        match="swapped",
    ),
    "swapped_within_90_against_imagery": Case(
        lambda: frame([shapely.box(48.85, 2.35, 48.851, 2.351)], ["bad"], crs="EPSG:4326"),
        raises=CRSError,
        match="swapped",
        kwargs={"imagery_bounds": ((2.3, 48.8, 2.4, 48.9), "EPSG:4326")},
    ),
    "imagery_without_crs": Case(
        lambda: one(box(0, 0)),
        raises=MissingCRSError,
        match="imagery",
        kwargs={"imagery_bounds": _cube(IMG).drop_vars("spatial_ref")},
    ),
    "imagery_bounds_garbage": Case(
        lambda: one(box(0, 0)),
        raises=GeometryError,
        match="imagery_bounds",
        kwargs={"imagery_bounds": "everywhere"},
    ),
    "imagery_bounds_nan": Case(
        lambda: one(box(0, 0)),
        raises=GeometryError,
        match="finite",
        kwargs={"imagery_bounds": (0, 0, math.nan, 1)},
    ),
    "not_a_geodataframe": Case(
        lambda: pd.DataFrame({"parcel_id": ["a"]}), raises=GeometryError, match="GeoDataFrame"
    ),
}
# the swapped case without imagery bounds only raises against imagery: give it some
CATALOGUE["swapped_only_visible_against_imagery"].kwargs["imagery_bounds"] = (
    (116.9, 36.1, 117.1, 36.2),
    "EPSG:4326",
)


def test_catalogue_is_large() -> None:
    assert len(CATALOGUE) >= 60


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue(name: str) -> None:
    case = CATALOGUE[name]
    titles = case.titles()
    if case.raises is not None:
        with pytest.raises(case.raises, match=case.match):
            validate_titles(titles, **case.kwargs)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = validate_titles(titles, **case.kwargs)
    repaired = [w for w in caught if issubclass(w.category, GeometryRepairedWarning)]
    assert len(repaired) == (1 if case.check == "repaired" else 0)
    assert [w for w in caught if w not in repaired] == []
    issues = report.issues
    assert list(issues.columns) == list(ISSUE_COLUMNS)
    rows = titles.reset_index(drop=True)
    bad_rows = [
        i for i, pid in enumerate(rows["parcel_id"]) if pid == "bad" or pd.isna(pid) or pid == ""
    ]
    good = report.titles[report.titles["parcel_id"] == "good"]
    assert (good["title_status"] == "ok").all(), report.issues
    on_bad = issues[issues["row"].isin(bad_rows)]
    if case.check is None:
        assert on_bad.empty, on_bad
        assert (report.titles.loc[bad_rows, "title_status"] == "ok").all()
        return
    hit = on_bad[on_bad["check"] == case.check]
    assert not hit.empty, on_bad
    assert set(hit["severity"]) == {case.severity}
    assert hit["message"].str.len().min() > 30
    status = (
        case.status or {"error": "error", "warning": "flagged", "info": "ok"}[case.severity or ""]
    )
    if case.severity == "error":
        assert (report.titles.loc[bad_rows, "title_status"] == "error").all()
    else:
        assert (report.titles.loc[bad_rows, "title_status"].isin([status, "error"])).all()
    assert report.titles.loc[bad_rows, "title_flags"].str.contains(case.check).all()
    usable = report.usable
    assert all(g is None or g.is_valid for g in usable.geometry)
    assert usable.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert not usable.has_z.any()


# --- the report -----------------------------------------------------------------------------------


def test_repair_keeps_polygonal_part_and_says_so() -> None:
    with pytest.warns(GeometryRepairedWarning, match="repaired 1 invalid"):
        report = validate_titles(one(bowtie))
    g = report.titles.geometry.iloc[0]
    assert g.is_valid
    assert g.geom_type == "MultiPolygon"
    assert g.area == pytest.approx(5000.0)
    assert "'bad'" in report.issues["message"].iloc[0]


def test_nonfinite_geometry_is_dropped_from_output() -> None:
    report = validate_titles(one(nan_poly))
    assert report.titles.geometry.iloc[0] is None
    assert np.isnan(report.titles["area_ha"].iloc[0])


def test_area_and_ratio_columns() -> None:
    report = validate_titles(one(box(0, 0, 100, 200), declared_area_ha=3.0))
    assert report.titles["area_ha"].iloc[0] == pytest.approx(2.0)
    assert report.titles["area_ratio"].iloc[0] == pytest.approx(1.5)
    assert "declares 3 ha" in report.issues["message"].iloc[0]


def test_geographic_area_is_equal_area() -> None:
    lon, lat = 116.4, 39.9
    g = shapely.box(lon, lat, lon + 0.002, lat + 0.001)
    report = validate_titles(frame([g], ["a"], crs="EPSG:4326"))
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(g)[0]) / 10_000
    assert report.titles["area_ha"].iloc[0] == pytest.approx(geodesic, rel=1e-4)
    assert report.titles.crs == "EPSG:4326"


def test_projected_in_feet_counts_square_metres() -> None:
    ft = 0.3048006096012192  # US survey foot, EPSG:2263 (New York Long Island)
    g = shapely.box(1_000_000, 200_000, 1_000_000 + 100 / ft, 200_000 + 100 / ft)
    report = validate_titles(frame([g], ["a"], crs="EPSG:2263"))
    assert report.titles["area_ha"].iloc[0] == pytest.approx(1.0, rel=1e-6)


def test_summary_counts() -> None:
    t = frame(
        [box(0, 0), box(0, 0), box(300, 0, 5, 5), None, box(600, 0)], ["a", "b", "c", "d", "e"]
    )
    report = validate_titles(t)
    s = report.summary()
    assert s["n_titles"] == 5
    assert s["n_ok"] + s["n_flagged"] + s["n_error"] == 5
    assert (s["n_ok"], s["n_flagged"], s["n_error"]) == (1, 2, 2)
    assert s["overlap"] == 2
    assert s["under_one_pixel"] == 1
    assert s["empty"] == 1
    assert "5 titles" in repr(report)


@pytest.mark.parametrize(
    ("titles", "kwargs", "error"),
    [
        (lambda: frame([box(0, 0), box(100, 0)], ["a", "a"]), {}, DuplicateParcelError),
        (lambda: one(box(5000, 5000)), {"imagery_bounds": IMG}, OutsideImageryError),
        (lambda: one(None), {}, GeometryError),
    ],
)
def test_raise_for_errors_is_typed(
    titles: Callable[[], gpd.GeoDataFrame], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    report = validate_titles(titles(), **kwargs)
    with pytest.raises(error, match=r"see report\.issues") as err:
        report.raise_for_errors()
    assert err.value.parcel_id in {"a", "bad"}  # type: ignore[attr-defined]


def test_raise_for_errors_passes_clean_titles() -> None:
    report = validate_titles(frame([box(0, 0), box(100, 0)], ["a", "b"]))
    assert report.raise_for_errors() is report
    assert isinstance(report, ValidationReport)


def test_flagged_parcels_stay_usable() -> None:
    report = validate_titles(frame([box(0, 0, 2, 200), box(100, 0)], ["thin", "b"]))
    assert report.titles["title_status"].tolist() == ["flagged", "ok"]
    assert report.usable["parcel_id"].tolist() == ["thin", "b"]


def test_index_used_when_no_parcel_id() -> None:
    t = gpd.GeoDataFrame(geometry=[box(0, 0), None], crs=CRS, index=["x", "y"])
    report = validate_titles(t)
    assert report.issues["parcel_id"].tolist() == ["y"]


def test_input_is_not_modified() -> None:
    t = one(bowtie)
    before = t.geometry.iloc[0]
    with pytest.warns(GeometryRepairedWarning):
        validate_titles(t)
    assert t.geometry.iloc[0].equals(before)
    assert "title_status" not in t.columns


def test_check_crs_accepts_good_inputs() -> None:
    check_crs(gpd.GeoSeries([box(0, 0)], crs=CRS))
    check_crs(gpd.GeoSeries([shapely.box(116.4, 39.9, 116.5, 40.0)], crs="EPSG:4490"))
    check_crs(
        gpd.GeoSeries([shapely.box(2_600_000, 1_200_000, 2_600_100, 1_200_100)], crs="EPSG:2056")
    )


def test_many_overlaps_are_summarised() -> None:
    big = box(0, 0, 500, 500)
    smalls = [box(10 + 60 * i, 10, 40, 40) for i in range(7)]
    report = validate_titles(frame([big, *smalls], ["big"] + [f"s{i}" for i in range(7)]))
    msg = report.issues.query("parcel_id == 'big' and check == 'overlap'")["message"].iloc[0]
    assert "and 2 more" in msg


# --- fuzzing -------------------------------------------------------------------------------------

coord = st.one_of(
    st.floats(-200, 200),
    st.sampled_from([0.0, 100.0, math.nan, math.inf]),
)


@st.composite
def rings(draw: st.DrawFn) -> list[tuple[float, float]]:
    first = draw(st.tuples(st.floats(-200, 200), st.floats(-200, 200)))  # finite: closes the ring
    pts = draw(st.lists(st.tuples(coord, coord), min_size=2, max_size=8))
    return [first, *pts, first]


@st.composite
def geometries(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["polygon", "holes", "multi", "point", "none", "empty", "coll"]))
    if kind == "none":
        return None
    if kind == "empty":
        return shapely.Polygon()
    if kind == "point":
        x, y = draw(coord), draw(coord)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN coordinates are the point
            return shapely.Point(X0 + x, Y0 + y)
    shell = [(X0 + x, Y0 + y) for x, y in draw(rings())]
    if kind == "polygon":
        return P(shell)
    if kind == "holes":
        hole = [(X0 + x, Y0 + y) for x, y in draw(rings())]
        return P(shell, [hole])
    other = [(X0 + x, Y0 + y) for x, y in draw(rings())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN coordinates are the point
        if kind == "multi":
            return shapely.MultiPolygon([P(shell), P(other)])
        return shapely.GeometryCollection([P(shell), shapely.LineString(other)])


@settings(max_examples=60, deadline=None)
@given(
    geoms=st.lists(geometries(), min_size=1, max_size=8),
    ids=st.lists(st.sampled_from(["a", "b", "c", "", None]), min_size=8, max_size=8),
    declared=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=8, max_size=8),
    repair=st.booleans(),
    with_imagery=st.booleans(),
)
def test_fuzz_validate_titles(
    geoms: list[Any],
    ids: list[Any],
    declared: list[float],
    repair: bool,
    with_imagery: bool,
) -> None:
    n = len(geoms)
    t = frame(geoms, ids[:n], declared_area_ha=declared[:n])
    kwargs = {"imagery_bounds": (X0 - 50, Y0 - 50, X0 + 150, Y0 + 150)} if with_imagery else {}
    with warnings.catch_warnings():
        # repairs are expected here; any other warning is still an error
        warnings.simplefilter("ignore", GeometryRepairedWarning)
        try:
            report = validate_titles(t, repair=repair, **kwargs)
        except CRSError:
            return  # coordinates that contradict the CRS as a whole: a typed error is the answer
    out = report.titles
    assert len(out) == n
    assert set(out["title_status"]) <= {"ok", "flagged", "error"}
    assert set(report.issues["severity"]) <= {"info", "warning", "error"}
    assert report.issues["row"].between(0, n - 1).all()
    for g, status in zip(out.geometry, out["title_status"], strict=True):
        if status != "error":
            assert g is not None
            assert g.is_valid
            assert g.geom_type in {"Polygon", "MultiPolygon"}
            assert np.isfinite(shapely.get_coordinates(g)).all()
    errors = report.issues[report.issues["severity"] == "error"]
    assert set(errors["row"]) == set(np.flatnonzero(out["title_status"] == "error"))
    if not errors.empty:
        with pytest.raises(AgrilendError):
            report.raise_for_errors()


@settings(max_examples=40, deadline=None)
@given(
    w=st.floats(1, 2000),
    h=st.floats(1, 2000),
    x=st.floats(-1e5, 1e5),
    y=st.floats(-1e5, 1e5),
)
def test_property_box_area_and_flags(w: float, h: float, x: float, y: float) -> None:
    report = validate_titles(frame([box(x, y, w, h)], ["a"]))
    assert report.titles["area_ha"].iloc[0] == pytest.approx(w * h / 10_000, rel=1e-6)
    flags = report.titles["title_flags"].iloc[0]
    assert ("under_one_pixel" in flags) == (w * h < 100)
    thin = 4 * math.pi * w * h / (2 * (w + h)) ** 2
    assert ("sliver" in flags) == (thin < 0.1 and w * h >= 100)


def test_absurd_declared_area_on_a_tiny_parcel_is_flagged_not_a_crash() -> None:
    # found by Hypothesis: 4.5e303 ha over a 0.25 m2 polygon overflowed the area ratio
    tiny = shapely.Polygon([(500000, 4000000), (500000, 4000000.5), (500001, 4000000)])
    titles = gpd.GeoDataFrame(
        {"parcel_id": ["a"], "declared_area_ha": [4.49e303]}, geometry=[tiny], crs="EPSG:32650"
    )
    summary = validate_titles(titles, repair=False).summary()
    assert summary["area_mismatch"] == 1


# --- the overlap rule on its own, and the order of the flags ------------------------------


def test_title_flags_follow_check_order() -> None:
    seen: set[str] = set()
    for name, case in CATALOGUE.items():
        if case.raises is not None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = validate_titles(case.titles(), **case.kwargs)
        for cell in report.titles["title_flags"]:
            flags = [f for f in str(cell).split(",") if f]
            seen.update(flags)
            ranks = [CHECK_ORDER.index(f) for f in flags]
            assert ranks == sorted(ranks), (name, flags)
    assert "overlap" in seen
    assert seen <= set(CHECK_ORDER)


def _boxes(spec: list[tuple[float, float, float, float]]) -> list[Any]:
    return [shapely.box(x, y, x + w, y + h) for x, y, w, h in spec]


def test_overlapping_pairs_skips_missing_empty_and_zero_area() -> None:
    geoms = [
        shapely.box(0, 0, 10, 10),
        None,
        shapely.Polygon(),
        shapely.box(5, 5, 5, 20),  # zero area
        shapely.box(8, 0, 18, 10),  # 20 % of box 0
        shapely.box(0, 9.9, 10, 20),  # 1 % of box 0, 0.2 % of box 4: under the tolerance
    ]
    i, j, share = overlapping_pairs(geoms, tolerance=0.02)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 4)]
    assert share.tolist() == pytest.approx([0.2])
    assert overlapping_pairs([], tolerance=0.02)[0].size == 0


@settings(max_examples=40, deadline=None)
@given(
    spec=st.lists(
        st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(1, 40), st.floats(1, 40)),
        min_size=0,
        max_size=12,
    ),
    tolerance=st.floats(0, 0.9),
)
def test_overlapping_pairs_match_the_pairwise_definition(
    spec: list[tuple[float, float, float, float]], tolerance: float
) -> None:
    geoms = _boxes(spec)
    i, j, share = overlapping_pairs(geoms, tolerance=tolerance)
    expected = []
    for a in range(len(geoms)):
        for b in range(a + 1, len(geoms)):
            inter = geoms[a].intersection(geoms[b]).area
            s = inter / min(geoms[a].area, geoms[b].area)
            if s > tolerance and not math.isclose(s, tolerance, rel_tol=1e-9, abs_tol=1e-12):
                expected.append((a, b, s))
    got = list(zip(i.tolist(), j.tolist(), share.tolist(), strict=True))
    # a share within rounding of the tolerance may go either way: compare the clear ones
    got = [g for g in got if not math.isclose(g[2], tolerance, rel_tol=1e-9, abs_tol=1e-12)]
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in expected]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in expected], rtol=1e-9)


def test_overlap_check_names_the_overlapping_titles_by_the_helper() -> None:
    geoms = [
        box(0, 0, 100, 100),
        box(90, 0, 100, 100),
        box(300, 0, 100, 100),
        box(395, 0, 100, 100),
    ]
    report = validate_titles(frame(geoms, ["a", "b", "c", "d"]), overlap_tolerance=0.02)
    i, j, _ = overlapping_pairs(geoms, tolerance=0.02)
    flagged = sorted(report.issues.query("check == 'overlap'")["parcel_id"])
    assert (
        flagged == sorted({"abcd"[k] for k in [*i.tolist(), *j.tolist()]}) == ["a", "b", "c", "d"]
    )
