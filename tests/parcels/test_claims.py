"""Farmer-drawn claims: every rough-drawing case becomes one valid polygon, or a clear error row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from agrilend.errors import ClaimsReadError, InputPathError
from agrilend.parcels.claims import read_claims, repair_ring, write_claims_geojson

CRS = 32650
OWNER = "H-0123456789ab"
FIELD = box(455_100.0, 4_151_700.0, 455_130.0, 4_151_900.0)  # a 30 m x 200 m strip, 0.6 ha
TO_LL = Transformer.from_crs(CRS, 4326, always_xy=True)


def _ll(xy: np.ndarray[Any, Any]) -> list[list[float]]:
    lon, lat = TO_LL.transform(xy[:, 0], xy[:, 1])
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


def _claims_file(tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    p = tmp_path / "claims.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return p


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    base = {"claim_id": "C-1", "owner_ref": OWNER, "claimed_crop": "maize"}
    return {"type": "Feature", "geometry": geometry, "properties": base | props}


def _iou(a: Any, b: Any) -> float:
    return float(a.intersection(b).area / a.union(b).area)


def _noisy_ring(rng: np.random.Generator, low: float, high: float) -> np.ndarray[Any, Any]:
    ring = shapely.LineString(FIELD.exterior.coords)
    pts = np.array([ring.interpolate(t, normalized=True).coords[0] for t in np.arange(16) / 16])
    ang = rng.uniform(0, 2 * np.pi, len(pts))
    mag = rng.uniform(low, high, len(pts))
    return pts + np.column_stack([np.cos(ang), np.sin(ang)]) * mag[:, None]


def test_honest_drawing_with_5_to_20_m_vertex_noise_is_read_as_drawn(tmp_path: Path) -> None:
    xy = _noisy_ring(np.random.default_rng(3), 5, 20)
    closed = np.vstack([xy, xy[:1]])
    feat = _feature(
        {"type": "Polygon", "coordinates": [_ll(closed)]}, claimed_area=9, area_unit="mu"
    )
    c = read_claims(_claims_file(tmp_path, [feat]), crs=CRS)
    g = c.geometry.iloc[0]
    assert c.loc[0, "claim_status"] == "ok"
    assert g.is_valid
    assert c.loc[0, "repairs"] == ""
    assert c.loc[0, "claimed_area_ha"] == pytest.approx(0.6, rel=1e-6)
    assert _iou(g, shapely.Polygon(xy)) > 0.999  # nothing moved: the drawing is what was given


def test_self_crossing_drawing_is_reordered_into_the_field() -> None:
    xy = np.array(FIELD.exterior.coords)[:-1]
    crossed = xy[[0, 2, 1, 3]]  # two corners swapped: a bow tie
    poly, repairs = repair_ring(crossed)
    assert "self_crossing" in repairs
    assert poly is not None
    assert poly.is_valid
    assert _iou(poly, FIELD) > 0.99


def test_unclosed_gps_walk_from_gpx_becomes_a_closed_polygon(tmp_path: Path) -> None:
    ring = shapely.LineString(FIELD.exterior.coords)
    rng = np.random.default_rng(5)
    pts = np.array(
        [ring.interpolate(t, normalized=True).coords[0] for t in np.linspace(0, 0.94, 80)]
    )
    pts += rng.normal(0, 1.5, pts.shape)
    lon, lat = TO_LL.transform(pts[:, 0], pts[:, 1])
    trkpts = "".join(f'<trkpt lat="{b}" lon="{a}"/>' for a, b in zip(lon, lat, strict=True))
    gpx = (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>W-1</name><desc>owner_ref={OWNER};claimed_crop=peanut</desc>"
        f"<trkseg>{trkpts}</trkseg></trk></gpx>"
    )
    p = tmp_path / "walk.gpx"
    p.write_text(gpx)
    c = read_claims(p, crs=CRS)
    assert c.loc[0, "claim_id"] == "W-1"
    assert c.loc[0, "claimed_crop"] == "peanut"
    assert {"closed", "walk"} <= set(c.loc[0, "repairs"].split(","))
    assert c.geometry.iloc[0].is_valid
    assert _iou(c.geometry.iloc[0], FIELD) > 0.8


def test_unclosed_polygon_ring_is_closed() -> None:
    xy = np.array(FIELD.exterior.coords)[:-1]  # the app forgot the closing point
    poly, repairs = repair_ring(xy)
    assert repairs == ["closed"]
    assert poly is not None
    assert _iou(poly, FIELD) > 0.999


def test_standing_still_points_are_dropped() -> None:
    xy = np.array(FIELD.exterior.coords)
    stutter = np.vstack([xy[:2], xy[1:2] + 0.3, xy[2:]])
    poly, repairs = repair_ring(stutter)
    assert "duplicates" in repairs
    assert poly is not None
    assert _iou(poly, FIELD) > 0.999


def test_claim_across_a_road_keeps_its_whole_drawn_area(tmp_path: Path) -> None:
    # drawn over the field and the 20 m road-and-trees strip beside it: read as drawn (the
    # verification, not the reader, finds the road)
    over = box(455_100.0, 4_151_700.0, 455_150.0, 4_151_900.0)
    feat = _feature({"type": "Polygon", "coordinates": [_ll(np.array(over.exterior.coords))]})
    c = read_claims(_claims_file(tmp_path, [feat]), crs=CRS)
    assert c.geometry.iloc[0].area == pytest.approx(over.area, rel=1e-3)


def test_too_few_points_and_names_are_error_rows_not_failures(tmp_path: Path) -> None:
    two = _feature(
        {
            "type": "LineString",
            "coordinates": _ll(np.array([[455100, 4151700], [455130, 4151700.0]])),
        },
        claim_id="C-2",
    )
    named = _feature(
        {"type": "Polygon", "coordinates": [_ll(np.array(FIELD.exterior.coords))]},
        claim_id="C-3",
        owner_ref="Wang Xiaoming",
    )
    good = _feature({"type": "Polygon", "coordinates": [_ll(np.array(FIELD.exterior.coords))]})
    c = read_claims(_claims_file(tmp_path, [two, named, good]), crs=CRS).set_index("claim_id")
    assert c.loc["C-2", "claim_status"] == "error"
    assert "three distinct points" in c.loc["C-2", "claim_message"]
    assert c.loc["C-3", "claim_status"] == "error"
    assert c.loc["C-3", "owner_ref"] == ""  # never kept: it may be a person's name
    assert "Wang" not in c.to_json()
    assert c.loc["C-1", "claim_status"] == "ok"


def test_geojson_in_a_projected_crs_and_the_local_utm_default(tmp_path: Path) -> None:
    path = write_claims_geojson(
        [{"claim_id": "C-9", "owner_ref": OWNER, "geometry": FIELD}],
        tmp_path / "p.geojson",
        crs=CRS,
    )
    c = read_claims(path)
    assert c.crs.to_epsg() == CRS
    assert _iou(c.geometry.iloc[0], FIELD) > 0.999


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "Topology"}', "FeatureCollection"),
        (
            (
                '{"type": "FeatureCollection", "crs": {"type": "link", "properties": {"href": '
                '"http://127.0.0.1:9/crs"}}, "features": []}'
            ),
            "EPSG code",
        ),
    ],
)
def test_bad_geojson_raises_a_claims_error(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.geojson"
    p.write_text(text)
    with pytest.raises(ClaimsReadError, match=match):
        read_claims(p)


def test_gpx_with_entities_and_unknown_suffix_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.gpx"
    p.write_text('<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx>&a;</gpx>')
    with pytest.raises(ClaimsReadError, match="DTD"):
        read_claims(p)
    q = tmp_path / "claims.kml"
    q.write_text("<kml/>")
    with pytest.raises(ClaimsReadError, match="GeoJSON"):
        read_claims(q)
    with pytest.raises(InputPathError):
        read_claims("http://127.0.0.1:9/claims.geojson")


def test_the_sample_claims_read_without_errors() -> None:
    root = Path(__file__).resolve().parents[2] / "sample_data"
    for name, n in (("claims.geojson", 58), ("claims.gpx", 8)):
        c = read_claims(root / name, crs=CRS)
        assert len(c) == n
        assert (c["claim_status"] == "ok").all()
        assert c.geometry.is_valid.all()
        assert c["owner_ref"].str.match(r"^H-[0-9a-f]{12}$").all()


def test_a_scribble_is_an_error_row_and_a_dense_wiggly_tracing_is_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    scribble = np.array(FIELD.exterior.coords)[:1] + rng.uniform(0, 200, (300, 2))
    t = np.linspace(0, 2 * np.pi, 390, endpoint=False)
    centre = np.array(FIELD.centroid.coords[0])
    wiggly = centre + np.column_stack([np.cos(t) * 100, np.sin(t) * 30])
    wiggly += rng.normal(0, 3, wiggly.shape)  # ~300 tiny crossings: a finger tracing
    feats = [
        _feature({"type": "Polygon", "coordinates": [_ll(np.vstack([xy, xy[:1]]))]}, claim_id=cid)
        for cid, xy in (("C-1", scribble), ("C-2", wiggly))
    ]
    c = read_claims(_claims_file(tmp_path, feats), crs=CRS).set_index("claim_id")
    assert c.loc["C-1", "claim_status"] == "error"
    assert "crosses itself more than" in c.loc["C-1", "claim_message"]
    assert "tangled" in c.loc["C-1", "repairs"]
    assert c.loc["C-2", "claim_status"] == "ok"
    assert c.loc["C-2"].geometry.area == pytest.approx(np.pi * 100 * 30, rel=0.1)
