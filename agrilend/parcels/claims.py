"""Farmer-drawn plots (圈地): claims read from a phone app's GeoJSON or a GPS walk's GPX.

Where no registry holds a household's land, the farmer draws the plot on a phone map or walks
around it with a GPS. :func:`read_claims` reads either and :func:`repair_claims` turns each rough
drawing into one valid polygon, saying what it did:

================= ===================================================================
repair            what was wrong, and what was done
================= ===================================================================
``closed``        the ring or the walk did not end where it started: closed
``duplicates``    repeated points (a GPS standing still): dropped
``self_crossing`` the outline crosses itself (vertices drawn out of order, or noise pulling
                  an edge across a narrow strip): the stretch between two crossing edges
                  is reversed until none cross (order kept otherwise), else the enclosed
                  area is kept (``make_valid``)
``walk``          a GPS track (a line), not a polygon: its points became the outline
``tangled``       the outline crosses itself more than ``MAX_CROSSINGS`` times (a scribble):
                  refused, the claim is an error row
================= ===================================================================

A claim that cannot become a polygon (fewer than three distinct points, no geometry, an owner
that is not a pseudonym) is kept as a row with ``claim_status == "error"`` and a message: in a
batch a bad claim never stops the others.

Claims schema (a ``GeoDataFrame`` in a projected CRS): ``claim_id`` (str), ``owner_ref`` (the
household's pseudonym ``H-`` + 12 hex digits, as the app gives it; anything else -- a name, a
phone number -- is refused and never kept), ``claimed_crop`` (canonical crop name or ``""``),
``claimed_area_ha`` (NaN when not given), ``repairs`` (comma-joined codes above),
``claim_status`` (``ok`` / ``error``), ``claim_message``, ``drawn_wkt`` (the outline as the
farmer drew it, in the claims' CRS), ``geometry`` (the repaired polygon).

GeoJSON is read as RFC 7946 (longitude, latitude) unless it names an ``EPSG`` CRS in the legacy
``crs`` member; GPX is always WGS 84. Both are parsed here, without GDAL, so a claim file can
never make a request anywhere.
"""

from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Polygon

from agrilend._paths import local_path
from agrilend.errors import ClaimsReadError

log = logging.getLogger(__name__)

#: Columns of a claims frame, in order (``geometry`` last).
CLAIM_COLUMNS = (
    "claim_id",
    "owner_ref",
    "claimed_crop",
    "claimed_area_ha",
    "repairs",
    "claim_status",
    "claim_message",
    "drawn_wkt",
)
#: Points closer than this (metres) to the previous one are a GPS standing still.
DUPLICATE_TOLERANCE_M = 1.0
#: Douglas-Peucker tolerance (metres) applied to a GPS walk before it becomes an outline.
WALK_SMOOTHING_M = 4.0
_PSEUDONYM = re.compile(r"^H-[0-9a-f]{12}$")
_AREA_UNITS = {"ha": 1.0, "mu": 1.0 / 15.0, "m2": 1e-4}
_MAX_BYTES = 50_000_000
_GPX_NS = re.compile(r"^\{[^}]*\}")


# --- reading ------------------------------------------------------------------------------------


def read_claims(path: str | Path, *, crs: Any = None) -> gpd.GeoDataFrame:
    """Read farmer-drawn claims from GeoJSON (polygons or walks) or GPX (tracks), repaired.

    Parameters
    ----------
    path
        A ``.geojson`` / ``.json`` FeatureCollection or a ``.gpx`` file. GeoJSON properties:
        ``claim_id``, ``owner_ref`` (the household pseudonym), ``claimed_crop``,
        ``claimed_area`` with ``area_unit`` (``ha``, ``mu`` or ``m2``; default ``ha``). GPX: one
        ``<trk>`` per claim, its ``<name>`` the claim id and its ``<desc>`` the same properties
        as ``key=value`` pairs separated by ``;``.
    crs
        CRS to project the claims to (e.g. the titles' or the imagery's); default the local UTM
        zone of the claims.

    Returns
    -------
    geopandas.GeoDataFrame
        The claims schema of this module, one row per claim (bad ones with
        ``claim_status == "error"``).

    Raises
    ------
    ClaimsReadError
        When the file is not GeoJSON or GPX, is malformed, too large, or names a CRS other than
        by an EPSG code.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> ring = [[116.5, 37.5], [116.501, 37.5], [116.501, 37.5005], [116.5, 37.5005]]
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
    ...       "geometry": {"type": "LineString", "coordinates": ring},
    ...       "properties": {"claim_id": "C-1", "owner_ref": "H-0123456789ab",
    ...                      "claimed_crop": "maize", "claimed_area": 7.3, "area_unit": "mu"}}]}
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "claims.geojson"
    >>> _ = p.write_text(json.dumps(fc))
    >>> c = read_claims(p)
    >>> c.loc[0, "repairs"], round(float(c.loc[0, "claimed_area_ha"]), 3), c.crs.to_epsg()
    ('closed,walk', 0.487, 32650)
    """
    p = local_path(path, what="claims")
    if p.stat().st_size > _MAX_BYTES:
        raise ClaimsReadError(
            f"claims file {p.name!r} is larger than {_MAX_BYTES // 1_000_000} MB; split it",
            path=p,
        )
    suffix = p.suffix.lower()
    if suffix in (".geojson", ".json"):
        records, src_crs = _geojson_records(p)
    elif suffix == ".gpx":
        records, src_crs = _gpx_records(p), CRS.from_epsg(4326)
    else:
        raise ClaimsReadError(
            f"claims file {p.name!r}: expected GeoJSON (.geojson, .json) or GPX (.gpx)", path=p
        )
    return repair_claims(_frame(records, src_crs), crs=crs)


def _geojson_records(p: Path) -> tuple[list[dict[str, Any]], CRS]:
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClaimsReadError(f"claims file {p.name!r} is not valid JSON: {exc}", path=p) from exc
    if not isinstance(doc, Mapping) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise ClaimsReadError(
            f"claims file {p.name!r} is not a GeoJSON FeatureCollection or Feature", path=p
        )
    src_crs = CRS.from_epsg(4326)
    if "crs" in doc:
        name = (doc.get("crs") or {}).get("properties", {}).get("name", "")
        m = re.search(r"EPSG:{1,2}(\d+)$", str(name))
        if m is None:
            raise ClaimsReadError(
                f"claims file {p.name!r} names its CRS as {str(name)[:60]!r}; only an EPSG code "
                "(e.g. urn:ogc:def:crs:EPSG::32650) or none (longitude, latitude) is read",
                path=p,
            )
        src_crs = CRS.from_epsg(int(m.group(1)))
    feats = doc["features"] if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(feats, list):
        raise ClaimsReadError(f"claims file {p.name!r}: 'features' is not a list", path=p)
    records = []
    for k, f in enumerate(feats):
        props = dict(f.get("properties") or {}) if isinstance(f, Mapping) else {}
        geom_doc = f.get("geometry") if isinstance(f, Mapping) else None
        records.append({"index": k, "props": props, "geometry": geom_doc})
    return records, src_crs


def _gpx_records(p: Path) -> list[dict[str, Any]]:
    raw = p.read_bytes()
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ClaimsReadError(
            f"claims file {p.name!r} declares a DTD or entities, which GPX never needs; "
            "export it again from the app",
            path=p,
        )
    try:
        root = ET.fromstring(raw)  # noqa: S314  (no DTD, no entities: checked above)
    except ET.ParseError as exc:
        raise ClaimsReadError(f"claims file {p.name!r} is not valid GPX: {exc}", path=p) from exc
    records = []
    for k, trk in enumerate(e for e in root.iter() if _tag(e) == "trk"):
        props: dict[str, Any] = {}
        for child in trk:
            if _tag(child) == "name" and child.text:
                props["claim_id"] = child.text.strip()
            elif _tag(child) == "desc" and child.text:
                for part in child.text.split(";"):
                    key, _, value = part.partition("=")
                    if key.strip():
                        props[key.strip()] = value.strip()
        coords = [
            [float(pt.attrib["lon"]), float(pt.attrib["lat"])]
            for pt in trk.iter()
            if _tag(pt) == "trkpt" and "lon" in pt.attrib and "lat" in pt.attrib
        ]
        records.append(
            {"index": k, "props": props, "geometry": {"type": "LineString", "coordinates": coords}}
        )
    return records


def _tag(e: ET.Element) -> str:
    return _GPX_NS.sub("", e.tag)


def _frame(records: list[dict[str, Any]], src_crs: CRS) -> gpd.GeoDataFrame:
    rows = []
    for r in records:
        props = r["props"]
        status, message = "ok", ""
        owner = str(props.get("owner_ref", props.get("owner", "")) or "").strip()
        if not _PSEUDONYM.match(owner):
            # never keep what is not a pseudonym: it may be a name or a phone number
            owner, status = "", "error"
            message = (
                "owner_ref is not a household pseudonym ('H-' + 12 hex digits); the app must "
                "send agrilend.parcels.pseudonymize(owner), never a name"
            )
        area, unit = props.get("claimed_area"), str(props.get("area_unit", "ha")).lower()
        try:
            area_ha = float(area) * _AREA_UNITS[unit] if area not in (None, "") else math.nan
        except (KeyError, TypeError, ValueError):
            area_ha = math.nan
            message = message or f"claimed_area {area!r} {unit!r} not understood; ignored"
        lines = _parts(r["geometry"])
        rows.append(
            {
                "claim_id": str(props.get("claim_id") or f"C-{r['index'] + 1:06d}"),
                "owner_ref": owner,
                "claimed_crop": str(props.get("claimed_crop", props.get("crop", "")) or ""),
                "claimed_area_ha": area_ha,
                "claim_status": status,
                "claim_message": message,
                "_parts": lines,
                "_kind": (r["geometry"] or {}).get("type", "") if r["geometry"] else "",
            }
        )
    df = pd.DataFrame(rows, columns=[*CLAIM_COLUMNS[:4], "claim_status", "claim_message",
                                     "_parts", "_kind"])  # fmt: skip
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df)), crs=src_crs)


def _parts(geom: Any) -> list[np.ndarray[Any, Any]]:
    """Outer rings (or walks) of a GeoJSON geometry as coordinate arrays; holes are ignored."""
    if not isinstance(geom, Mapping):
        return []
    kind, coords = geom.get("type"), geom.get("coordinates")
    rings: list[Any] = (
        {
            "LineString": lambda c: [c],
            "Polygon": lambda c: [c[0]],
            "MultiPolygon": lambda c: [p[0] for p in c],
            "MultiLineString": list,
        }.get(str(kind), lambda c: [])(coords)
        if coords is not None
        else []
    )
    try:
        return [np.asarray(r, dtype=np.float64)[:, :2] for r in rings]
    except (IndexError, TypeError, ValueError):
        return []


# --- repairing ----------------------------------------------------------------------------------


def repair_ring(
    xy: np.ndarray[Any, Any], *, walk: bool = False
) -> tuple[Polygon | MultiPolygon | None, list[str]]:
    """One rough outline (projected metres) into a valid polygon, and the repairs made.

    Examples
    --------
    >>> import numpy as np
    >>> bowtie = np.array([[0, 0], [100, 0], [0, 40], [100, 40]], dtype=float)
    >>> poly, done = repair_ring(bowtie)
    >>> round(poly.area), done
    (4000, ['closed', 'self_crossing'])
    """
    repairs: list[str] = []
    pts = np.asarray(xy, dtype=float)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) >= 2:
        step = np.hypot(*np.diff(pts, axis=0).T)
        keep = np.concatenate([[True], step >= DUPLICATE_TOLERANCE_M])
        if not keep.all():
            repairs.append("duplicates")
            pts = pts[keep]
    if len(pts) >= 2 and np.hypot(*(pts[0] - pts[-1])) < DUPLICATE_TOLERANCE_M:
        pts = pts[:-1]  # closed as drawn: the closing point is implied from here on
    elif len(pts) >= 3:
        repairs.append("closed")
    if walk:
        repairs.append("walk")
        if len(pts) > 8:  # GPS wiggles of a few metres make a walk cross itself: smoothed away
            pts = np.asarray(LineString(pts).simplify(WALK_SMOOTHING_M).coords)
    if len(np.unique(np.round(pts, 2), axis=0)) < 3:
        return None, repairs
    poly = Polygon(pts)
    if poly.is_valid and poly.area > 0:
        return poly, repairs
    repairs.append("self_crossing")
    crossings = _count_crossings(pts, stop_at=MAX_CROSSINGS + 1)
    if crossings > MAX_CROSSINGS:
        repairs.append("tangled")  # a scribble, not a field (and costly to untie): refused
        return None, repairs
    untangled = _untangle(pts) if crossings <= UNTANGLE_MAX_CROSSINGS else None
    if untangled is not None:
        return untangled, repairs
    fixed = shapely.make_valid(poly)
    kept = shapely.union_all(
        [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
    )
    if kept.is_empty:
        return None, repairs
    return kept if kept.geom_type in ("Polygon", "MultiPolygon") else None, repairs


#: Outlines longer than this are not uncrossed move by move (a traced outline): their enclosed
#: area is kept instead.
UNTANGLE_MAX_POINTS = 400
#: An outline crossing itself up to this often is uncrossed move by move; more often (a dense,
#: wiggly tracing), its enclosed area is kept.
UNTANGLE_MAX_CROSSINGS = 50
#: An outline crossing itself more often than this is a scribble: the claim is refused.
MAX_CROSSINGS = 2000
_UNTANGLE_MAX_MOVES = 64


def _first_crossing(p: np.ndarray[Any, Any]) -> tuple[int, int] | None:
    """The first pair of edges (i, j), i < j, of the closed ring ``p`` that cross properly."""
    a, b = p, np.roll(p, -1, axis=0)  # edge k runs a[k] -> b[k]
    d = b - a

    def side(o: Any, v: Any, q: Any) -> Any:  # sign of (v x (q - o)) for all pairs
        return v[:, None, 0] * (q[None, :, 1] - o[:, None, 1]) - v[:, None, 1] * (
            q[None, :, 0] - o[:, None, 0]
        )

    s1, s2 = side(a, d, a), side(a, d, b)  # ends of edge j against edge i
    cross = (s1 * s2 < 0) & ((s1 * s2).T < 0)
    n = len(p)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the first and last edges share a vertex
    hit = np.flatnonzero(cross[i[keep], j[keep]])
    return (int(i[keep][hit[0]]), int(j[keep][hit[0]])) if len(hit) else None


def _count_crossings(p: np.ndarray[Any, Any], *, stop_at: int) -> int:
    """Proper crossings between the edges of the closed ring ``p`` (counted in blocks of edges,
    so memory stays small; stops counting at ``stop_at``)."""
    a = np.asarray(p, dtype=float)
    b = np.roll(a, -1, axis=0)
    d = b - a
    n, total = len(a), 0
    for lo in range(0, n, 256):
        ai, di = a[lo : lo + 256], d[lo : lo + 256]

        def side(q: Any, ai: Any = ai, di: Any = di) -> Any:
            return di[:, None, 0] * (q[None, :, 1] - ai[:, None, 1]) - di[:, None, 1] * (
                q[None, :, 0] - ai[:, None, 0]
            )

        s_ij = side(a) * side(b)  # edge j's ends against edge i
        bj, dj = a[None, :, :], d[None, :, :]
        s_ji = (
            dj[..., 0] * (ai[:, None, 1] - bj[..., 1]) - dj[..., 1] * (ai[:, None, 0] - bj[..., 0])
        ) * (
            dj[..., 0] * (ai[:, None, 1] + di[:, None, 1] - bj[..., 1])
            - dj[..., 1] * (ai[:, None, 0] + di[:, None, 0] - bj[..., 0])
        )
        total += int(((s_ij < 0) & (s_ji < 0)).sum())
        if total // 2 >= stop_at:
            break
    return total // 2


def _untangle(pts: np.ndarray[Any, Any]) -> Polygon | None:
    """The ring uncrossed by reversing the stretch between two crossing edges (a "2-opt" move),
    until no edges cross; None when that does not give a valid polygon (or the outline is too
    long, or too tangled, to be a drawing out of order).

    Each move shortens the outline and keeps the order in which the farmer drew the rest of it:
    two vertices drawn out of order, or an edge pulled across by 5-20 m of noise on a narrow
    strip, are put back, where sorting the points around their centre would zigzag across a
    long narrow field.
    """
    p = np.asarray(pts, dtype=float).copy()
    if len(p) > UNTANGLE_MAX_POINTS:
        return None
    for _ in range(_UNTANGLE_MAX_MOVES):
        pair = _first_crossing(p)
        if pair is None:
            poly = Polygon(p)
            return poly if poly.is_valid and poly.area > 0 else None
        i, j = pair
        p[i + 1 : j + 1] = p[i + 1 : j + 1][::-1].copy()
    return None


def repair_claims(claims: gpd.GeoDataFrame, *, crs: Any = None) -> gpd.GeoDataFrame:
    """Project raw claims and repair each outline (see the module's table of repairs).

    ``claims`` is what the readers make (a ``_parts`` column of coordinate arrays in the
    frame's CRS) or a claims frame whose geometries are re-checked. Returns a new frame in the
    claims schema; the input is not changed.
    """
    src = claims.crs
    if src is None:
        raise ClaimsReadError("claims have no CRS; read them with read_claims or set one")
    target = CRS.from_user_input(crs) if crs is not None else None
    if target is None:
        target = _utm_of(claims, src) if CRS(src).is_geographic else CRS(src)
    from pyproj import Transformer  # noqa: PLC0415

    to_target = Transformer.from_crs(src, target, always_xy=True)
    if "_parts" not in claims.columns:
        parts_col = [_geom_parts(g) for g in claims.geometry]
        kinds = ["Polygon"] * len(claims)
    else:
        parts_col = list(claims["_parts"])
        kinds = list(claims["_kind"])
    geoms: list[Any] = []
    repairs_col: list[str] = []
    drawn: list[str] = []
    status = list(claims.get("claim_status", pd.Series(["ok"] * len(claims))))
    message = list(claims.get("claim_message", pd.Series([""] * len(claims))))
    for i, (parts, kind) in enumerate(zip(parts_col, kinds, strict=True)):
        walk = kind in ("LineString", "MultiLineString")
        polys, done = [], []
        drawn_parts = []
        for xy in parts:
            if len(xy) == 0:
                continue
            x, y = to_target.transform(xy[:, 0], xy[:, 1])
            pxy = np.column_stack([x, y])
            drawn_parts.append(LineString(pxy) if len(pxy) >= 2 else None)
            poly, rep = repair_ring(pxy, walk=walk)
            done += [r for r in rep if r not in done]
            if poly is not None:
                polys.append(poly)
        drawn.append(
            shapely.MultiLineString([d for d in drawn_parts if d is not None]).wkt
            if any(d is not None for d in drawn_parts)
            else ""
        )
        geom = shapely.union_all(polys) if polys else None
        if geom is None or geom.is_empty:
            geom = None
            if status[i] == "ok":
                status[i] = "error"
                message[i] = (
                    f"the outline crosses itself more than {MAX_CROSSINGS} times; draw it again"
                    if "tangled" in done
                    else "the outline has fewer than three distinct points; draw it again"
                )
        geoms.append(geom)
        repairs_col.append(",".join(done))
    out = pd.DataFrame({c: claims[c].to_numpy() for c in CLAIM_COLUMNS[:4]})
    out["repairs"] = repairs_col
    out["claim_status"] = status
    out["claim_message"] = message
    out["drawn_wkt"] = drawn
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=target), crs=target)


def _geom_parts(g: Any) -> list[np.ndarray[Any, Any]]:
    if g is None or g.is_empty:
        return []
    if g.geom_type == "Polygon":
        return [np.asarray(g.exterior.coords)[:, :2]]
    if g.geom_type == "MultiPolygon":
        return [np.asarray(p.exterior.coords)[:, :2] for p in g.geoms]
    if g.geom_type in ("LineString", "LinearRing"):
        return [np.asarray(g.coords)[:, :2]]
    return []


def _utm_of(claims: gpd.GeoDataFrame, src: Any) -> CRS:
    pts = [xy for parts in claims.get("_parts", []) for xy in parts if len(xy)]
    if pts:
        allxy = np.concatenate(pts)
        lon, lat = float(np.nanmean(allxy[:, 0])), float(np.nanmean(allxy[:, 1]))
    else:
        lon, lat = 0.0, 0.0
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + min(max(zone, 1), 60))


def write_claims_geojson(
    claims: Iterable[Mapping[str, Any]], path: str | Path, *, crs: Any = None
) -> Path:
    """Write claim dicts (``geometry`` a shapely outline, or a ``walk`` line) as GeoJSON.

    Coordinates are written in ``crs`` (EPSG code, named in the legacy ``crs`` member) or, when
    None, as longitude/latitude (RFC 7946). Used by the sample county's generator and by tests.
    """
    feats = []
    for c in claims:
        geom = c["geometry"]
        props = {k: v for k, v in c.items() if k != "geometry"}
        feats.append({"type": "Feature", "properties": props, "geometry": geom.__geo_interface__})
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs}"}}
    out = Path(path)
    # one feature a line: small, and a diff shows which claim changed
    head = {k: v for k, v in doc.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in feats]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n'
    text += ",\n".join(lines) + "\n]}\n"
    from agrilend.outputs import write_text  # noqa: PLC0415  (the one writer: no link followed)

    return write_text(out, text)


__all__ = [
    "CLAIM_COLUMNS",
    "read_claims",
    "repair_claims",
    "repair_ring",
    "write_claims_geojson",
]
