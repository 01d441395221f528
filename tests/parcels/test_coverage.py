"""Parcel pixel tables: exact coverage against shapely and exactextract, the centre rule against
rasterio (what rasterstats uses), and the geometric properties."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.features import rasterize

from agrilend.errors import GeometryError
from agrilend.parcels.pixels import parcel_pixels

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 4_000_000.0
TRANSFORM = Affine(10, 0, X0, 0, -10, Y0)


def random_parcels(
    rng: np.random.Generator, n: int, *, height: int, width: int, holes: bool = True
) -> gpd.GeoDataFrame:
    """Random star-shaped polygons (some with holes, some crossing the grid edge)."""
    polys = []
    for i in range(n):
        cx = X0 + rng.uniform(-50, width * 10 + 50)
        cy = Y0 - rng.uniform(-50, height * 10 + 50)
        k = int(rng.integers(3, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(4, 70, k)
        p = shapely.Polygon(np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)])
        if holes and i % 6 == 0:
            p = p.buffer(25).difference(shapely.Point(cx, cy).buffer(9))
        polys.append(shapely.make_valid(p))
    ids = [f"P-{i:04d}" for i in range(n)]
    return gpd.GeoDataFrame({"parcel_id": ids}, geometry=polys, crs=CRS)


def grid_box(height: int, width: int) -> shapely.Polygon:
    return shapely.box(X0, Y0 - 10 * height, X0 + 10 * width, Y0)


def test_coverage_matches_exact_intersection_areas() -> None:
    rng = np.random.default_rng(1)
    titles = random_parcels(rng, 60, height=40, width=50)
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(40, 50))
    rows, cols = px.rows_cols()
    owner = px.parcel_of_entry()
    cells = shapely.box(
        X0 + cols * 10.0, Y0 - (rows + 1) * 10.0, X0 + (cols + 1) * 10.0, Y0 - rows * 10.0
    )
    exact = shapely.area(shapely.intersection(titles.geometry.to_numpy()[owner], cells)) / 100
    np.testing.assert_allclose(px.weight, exact, rtol=1e-9, atol=1e-9)
    clipped = titles.geometry.intersection(grid_box(40, 50)).area.to_numpy() / 100
    np.testing.assert_allclose(px.coverage, clipped, rtol=1e-9, atol=1e-9)


def test_coverage_matches_exactextract() -> None:
    exactextract = pytest.importorskip("exactextract")
    from exactextract.raster import NumPyRasterSource  # noqa: PLC0415 (optional test dependency)

    rng = np.random.default_rng(2)
    titles = random_parcels(rng, 40, height=30, width=30)
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(30, 30))
    src = NumPyRasterSource(
        np.ones((30, 30)), X0, Y0 - 300, X0 + 300, Y0, srs_wkt=titles.crs.to_wkt()
    )
    ref = exactextract.exact_extract(src, titles, ["count"], output="pandas")["count"].to_numpy()
    np.testing.assert_allclose(px.coverage, ref, rtol=1e-6, atol=1e-9)


def test_centre_rule_matches_rasterio_rasterize() -> None:
    rng = np.random.default_rng(3)
    titles = random_parcels(rng, 60, height=40, width=50)
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(40, 50), weighting="centre")
    for i, geom in enumerate(titles.geometry):
        burnt = rasterize([geom], out_shape=(40, 50), transform=TRANSFORM, all_touched=False)
        mine = px.index[px.offsets[i] : px.offsets[i + 1]]
        np.testing.assert_array_equal(mine, np.flatnonzero(burnt.ravel()))
    assert np.all(px.weight == 1.0)


def test_empty_and_off_grid_parcels_keep_an_empty_list() -> None:
    geoms = [
        shapely.box(X0 + 5, Y0 - 25, X0 + 25, Y0 - 5),
        shapely.Polygon(),
        shapely.box(X0 - 500, Y0 + 100, X0 - 400, Y0 + 200),  # off the grid
        shapely.LineString([(X0, Y0 - 5), (X0 + 30, Y0 - 5)]),  # covers no area
    ]
    titles = gpd.GeoDataFrame({"parcel_id": list("abcd")}, geometry=geoms, crs=CRS)
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(5, 5))
    assert len(px) == 4
    assert px.pixel_count.tolist() == [9, 0, 0, 0]
    assert px.parcel_ids.tolist() == list("abcd")
    np.testing.assert_allclose(px.coverage, [4.0, 0.0, 0.0, 0.0])


def test_nested_collections_count_all_their_polygons() -> None:
    parts = shapely.MultiPolygon(
        [shapely.box(X0, Y0 - 10, X0 + 10, Y0), shapely.box(X0 + 20, Y0 - 20, X0 + 30, Y0 - 10)]
    )
    nested = shapely.GeometryCollection([parts, shapely.LineString([(X0, Y0), (X0 + 5, Y0)])])
    titles = gpd.GeoDataFrame(
        {"parcel_id": ["solo", "nested"]},
        geometry=[shapely.box(X0 + 40, Y0 - 40, X0 + 50, Y0 - 30), nested],
        crs=CRS,
    )
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(5, 5))
    np.testing.assert_allclose(px.coverage, [1.0, 2.0])
    assert px.index[px.offsets[1] : px.offsets[2]].tolist() == [0, 7]


def test_inner_buffer_drops_edge_pixels() -> None:
    # a 50 m square shifted by half a pixel: its outer ring of pixels is mixed
    square = shapely.box(X0 + 5, Y0 - 55, X0 + 55, Y0 - 5)
    titles = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[square], crs=CRS)
    full = parcel_pixels(titles, transform=TRANSFORM, shape=(8, 8))
    inner = parcel_pixels(titles, transform=TRANSFORM, shape=(8, 8), inner_buffer_m=5.0)
    assert full.pixel_count[0] == 36
    assert (full.weight < 1).sum() == 20
    assert inner.pixel_count[0] == 16
    assert np.all(inner.weight == 1.0)
    assert set(inner.index) < set(full.index)
    pure = parcel_pixels(
        titles, transform=TRANSFORM, shape=(8, 8), weighting="centre", inner_buffer_m=7.1
    )
    assert pure.pixel_count[0] == 16  # only the pixels wholly inside the parcel
    gone = parcel_pixels(titles, transform=TRANSFORM, shape=(8, 8), inner_buffer_m=30.0)
    assert gone.pixel_count[0] == 0


def test_subset_keeps_the_rows_it_picks() -> None:
    rng = np.random.default_rng(4)
    px = parcel_pixels(random_parcels(rng, 10, height=20, width=20), transform=TRANSFORM,
                       shape=(20, 20))  # fmt: skip
    sub = px.subset([7, 2])
    assert sub.parcel_ids.tolist() == [px.parcel_ids[7], px.parcel_ids[2]]
    np.testing.assert_array_equal(
        sub.index[: sub.offsets[1]], px.index[px.offsets[7] : px.offsets[8]]
    )
    np.testing.assert_allclose(sub.coverage, px.coverage[[7, 2]])


def test_rotated_grid_is_refused() -> None:
    titles = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    with pytest.raises(GeometryError, match="rotated"):
        parcel_pixels(titles, transform=Affine(10, 1, 0, 0, -10, 0), shape=(3, 3))


coords = st.floats(min_value=-30.0, max_value=130.0, allow_nan=False)


@st.composite
def polygons(draw: st.DrawFn) -> shapely.Geometry:
    """Valid polygons (maybe multi-part, with holes) in a 100 m square, off-grid allowed."""
    pts = draw(st.lists(st.tuples(coords, coords), min_size=3, max_size=12))
    geom = shapely.make_valid(shapely.Polygon([(X0 + x, Y0 - y) for x, y in pts]))
    if draw(st.booleans()):
        geom = geom.buffer(draw(st.floats(0.0, 15.0)))
    return shapely.affinity.translate(geom, draw(st.floats(-3, 3)), draw(st.floats(-3, 3)))


@settings(max_examples=40, deadline=None)
@given(polygons(), st.sampled_from(["coverage", "centre"]))
def test_coverage_sums_to_area_and_weights_are_shares(
    geom: shapely.Geometry, weighting: str
) -> None:
    titles = gpd.GeoDataFrame({"parcel_id": ["x"]}, geometry=[geom], crs=CRS)
    px = parcel_pixels(titles, transform=TRANSFORM, shape=(10, 10), weighting=weighting)  # type: ignore[arg-type]
    assert np.all((px.weight > 0) & (px.weight <= 1))
    assert np.all(np.diff(px.index) > 0)  # ascending, no duplicates
    if weighting == "coverage":
        inside = shapely.area(shapely.intersection(geom, grid_box(10, 10))) / 100
        assert px.coverage[0] == pytest.approx(inside, rel=1e-9, abs=1e-8)
