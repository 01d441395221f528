"""Farmer-drawn claims over the sample county, with their truth (``claims.geojson``,
``claims.gpx``, ``truth_claims.csv``).

The claims are drawn over the county's true field polygons (the titles of ``titles.gpkg``) from
a seeded generator of their own, so the county's other files are unchanged:

============================ ==================================================================
kind                         how it is drawn
============================ ==================================================================
``honest``                   the household's own field, every vertex 5-20 m off
``self_crossing``            the same, two neighbouring vertices swapped (the outline crosses)
``walk``                     a GPS walk around the field (GPX), 3-8 m noise, not closed
``inflated_neighbour``       the household's field and the next field of another household
``inflated_road``            the field stretched over the road and tree rows along its long
                             side (adding at least a third to it)
``double_claim``             a second household claims a field already claimed by its holder
============================ ==================================================================

``truth_claims.csv``: ``inflated`` for the two inflated kinds; ``conflicting`` for both sides of
a double claim and for a claim whose field another household's claim covers.

Owners are the households' pseudonyms under the public demo key (what ``read_titles`` gives
the sample county when ``AGRILEND_PSEUDONYM_KEY`` is unset); claimed crops are the true ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from agrilend.parcels.claims import write_claims_geojson
from agrilend.parcels.pseudonym import pseudonymize
from agrilend.settings import DEMO_PSEUDONYM_KEY

#: Seed of the claims generator (its own stream: the county's files do not depend on it).
CLAIMS_SEED = 20240621
#: Files written by :func:`generate_claims`.
CLAIM_FILES = ("claims.geojson", "claims.gpx", "truth_claims.csv")
#: Least share of its field a claim inflated over the road adds.
MIN_ROAD_GAIN = 0.33
_COUNTS = {
    "honest": 24,
    "self_crossing": 8,
    "walk": 8,
    "inflated_neighbour": 8,
    "inflated_road": 6,
    "double_claim": 6,
}


def _jitter(poly: Any, rng: np.random.Generator, low: float, high: float) -> np.ndarray[Any, Any]:
    """The polygon's outline with points every ~30 m, each moved low..high metres."""
    ring = shapely.LineString(poly.exterior.coords)
    n = max(4, int(ring.length // 30))
    pts = np.array([ring.interpolate(t, normalized=True).coords[0] for t in np.arange(n) / n])
    corners = np.asarray(poly.exterior.coords)[:-1]
    pts = np.concatenate([pts, corners])
    centre = np.asarray(poly.centroid.coords[0])
    order = np.argsort(
        [ring.project(shapely.Point(p), normalized=True) for p in pts], kind="stable"
    )
    pts = pts[order]
    ang = rng.uniform(0, 2 * np.pi, len(pts))
    mag = rng.uniform(low, high, len(pts))
    del centre
    return pts + np.column_stack([np.cos(ang), np.sin(ang)]) * mag[:, None]


def build_claims(
    titles: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    features: list[tuple[str, Any]],
    *,
    seed: int = CLAIMS_SEED,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Claims (dicts with a projected ``geometry`` and a ``kind``) and their truth table.

    ``titles`` is the raw registry layer (``DKBM``, ``CBFBM``, geometry), ``truth`` the county's
    ``truth.csv``, ``features`` the land's ``(kind, polygon)`` pairs in the titles' CRS.
    """
    rng = np.random.default_rng(seed)
    t = titles.reset_index(drop=True)
    crop = truth.set_index("parcel_id")["true_crop"].reindex(t["DKBM"]).to_numpy()
    owners = pseudonymize(t["CBFBM"], key=DEMO_PSEUDONYM_KEY)
    area = t.geometry.area.to_numpy()
    road = shapely.union_all([g for k, g in features if k in ("road", "trees")])
    eligible = np.flatnonzero((area >= 3000) & (crop != "fallow"))
    rng.shuffle(eligible)
    tree = shapely.STRtree(list(t.geometry))
    used: set[int] = set()
    claims: list[dict[str, Any]] = []
    truth_rows: list[dict[str, Any]] = []

    def take(pred: Any) -> int | None:
        for i in eligible:
            if int(i) not in used and pred(int(i)):
                used.add(int(i))
                return int(i)
        return None

    def add(
        kind: str,
        i: int,
        outline: np.ndarray[Any, Any],
        owner: str,
        parcels: list[int],
        *,
        walk: bool = False,
        inflated: bool = False,
        conflict: bool = False,
    ) -> None:
        cid = f"C-{len(claims) + 1:04d}"
        true_area = float(sum(area[j] for j in [i])) / 1e4
        drawn = shapely.Polygon(outline).buffer(0) if len(outline) >= 3 else None
        claimed_mu = round((drawn.area if drawn is not None else area[i]) / 666.6667
                           * rng.uniform(0.97, 1.08), 1)  # fmt: skip
        geom = shapely.LineString(outline) if walk else shapely.Polygon(outline)
        claims.append(
            {
                "claim_id": cid,
                "owner_ref": owner,
                "claimed_crop": str(crop[i]),
                "claimed_area": claimed_mu,
                "area_unit": "mu",
                "geometry": geom,
                "kind": kind,
            }
        )
        truth_rows.append(
            {
                "claim_id": cid,
                "kind": kind,
                "file": "claims.gpx" if walk else "claims.geojson",
                "owner_ref": owner,
                "parcel_id": str(t.loc[i, "DKBM"]),
                "covers_parcels": ";".join(str(t.loc[j, "DKBM"]) for j in parcels),
                "true_area_ha": round(true_area, 4),
                "true_crop": str(crop[i]),
                "inflated": inflated,
                "conflicting": conflict,
            }
        )

    for _ in range(_COUNTS["honest"]):
        i = take(lambda _i: True)
        if i is not None:
            add("honest", i, _jitter(t.geometry[i], rng, 5, 20), owners[i], [i])
    for _ in range(_COUNTS["self_crossing"]):
        i = take(lambda _i: True)
        if i is not None:
            pts = _jitter(t.geometry[i], rng, 5, 20)
            k = int(rng.integers(0, len(pts) - 1))
            pts[[k, k + 1]] = pts[[k + 1, k]]
            add("self_crossing", i, pts, owners[i], [i])
    for _ in range(_COUNTS["walk"]):
        i = take(lambda _i: True)
        if i is not None:
            ring = shapely.LineString(t.geometry[i].exterior.coords)
            n = max(12, int(ring.length // 4))
            stop = rng.uniform(0.9, 0.97)  # the walker stops short of the start
            pts = np.array(
                [ring.interpolate(s, normalized=True).coords[0] for s in np.linspace(0, stop, n)]
            )
            pts = pts + rng.normal(0, rng.uniform(3, 8) / 1.5, pts.shape)
            add("walk", i, pts, owners[i], [i], walk=True)

    def neighbour_of(i: int) -> int | None:
        g = t.geometry[i]
        cand = [int(j) for j in tree.query(g.buffer(2.0), predicate="intersects")
                if int(j) != i and owners[j] != owners[i]
                and g.buffer(2.0).intersection(t.geometry[j]).area > 20]  # fmt: skip
        return cand[0] if cand else None

    for _ in range(_COUNTS["inflated_neighbour"]):
        i = take(lambda k: neighbour_of(k) is not None)
        if i is not None:
            j = neighbour_of(i)
            assert j is not None
            both = shapely.union_all([t.geometry[i].buffer(2.0), t.geometry[j].buffer(2.0)])
            both = both.buffer(-2.0)
            if both.geom_type != "Polygon":
                both = both.convex_hull
            add("inflated_neighbour", i, _jitter(both, rng, 5, 10), owners[i], [i, j],
                inflated=True)  # fmt: skip

    def over_road(k: int) -> Any:
        return t.geometry[k].buffer(22.0, join_style="mitre").intersection(road.buffer(1.0))

    def by_road(k: int) -> bool:
        # a material inflation: the road and tree rows add at least a third to the field (a
        # field touching a road only at its short end gains 5-15 %, within drawing noise)
        g = t.geometry[k]
        return bool(g.distance(road) < 4.0 and over_road(k).area >= MIN_ROAD_GAIN * g.area)

    for _ in range(_COUNTS["inflated_road"]):
        i = take(by_road)
        if i is not None:
            g = t.geometry[i]
            over = over_road(i)
            grown = shapely.union_all([g, over]).buffer(1.0).buffer(-1.0)
            if grown.geom_type != "Polygon":
                grown = grown.convex_hull
            add("inflated_road", i, _jitter(grown, rng, 5, 10), owners[i], [i], inflated=True)

    other_owners = np.unique(owners)
    for _ in range(_COUNTS["double_claim"]):
        i = take(lambda _i: True)
        if i is None:
            continue
        add("double_claim", i, _jitter(t.geometry[i], rng, 5, 15), owners[i], [i],
            conflict=True)  # fmt: skip
        rival = str(rng.choice(other_owners[other_owners != owners[i]]))
        add("double_claim", i, _jitter(t.geometry[i], rng, 5, 15), rival, [i], conflict=True)
    table = pd.DataFrame(truth_rows)
    # a field drawn into another household's claim is contested on both sides
    covered: dict[str, set[str]] = {}
    for cov, own in zip(table["covers_parcels"], table["owner_ref"], strict=True):
        for pid in str(cov).split(";"):
            covered.setdefault(pid, set()).add(str(own))
    table["conflicting"] = [
        bool(c) or len(covered.get(str(pid), set()) - {str(own)}) > 0
        for c, pid, own in zip(
            table["conflicting"], table["parcel_id"], table["owner_ref"], strict=True
        )
    ]
    return claims, table


def _write_gpx(claims: list[dict[str, Any]], path: Path, to_wgs84: Transformer) -> None:
    head = (
        '<gpx version="1.1" creator="agrilend synthetic" xmlns="http://www.topografix.com/GPX/1/1">'
    )
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', head]
    for c in claims:
        desc = (
            f"owner_ref={c['owner_ref']};claimed_crop={c['claimed_crop']};"
            f"claimed_area={c['claimed_area']};area_unit={c['area_unit']}"
        )
        lines += [f"  <trk><name>{c['claim_id']}</name><desc>{desc}</desc><trkseg>"]
        xy = np.asarray(c["geometry"].coords)
        lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
        lines += [
            f'    <trkpt lat="{b:.7f}" lon="{a:.7f}"/>' for a, b in zip(lon, lat, strict=True)
        ]
        lines += ["  </trkseg></trk>"]
    lines.append("</gpx>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate_claims(
    sample_dir: str | Path,
    *,
    out_dir: str | Path | None = None,
    seed: int = CLAIMS_SEED,
    county_seed: int = 20240601,
    size_px: tuple[int, int] = (180, 180),
) -> dict[str, Path]:
    """Write the claims of a generated county (``sample_dir`` holds its ``titles.gpkg`` and
    ``truth.csv``) into ``out_dir`` (default the same folder); return the paths by name.

    The land's roads and tree rows are laid out again from the county's seed and size (the
    same draws as :func:`agrilend.synthetic.build_county`), never read from the imagery.
    """
    from agrilend.synthetic.county import ORIGIN, PIXEL  # noqa: PLC0415
    from agrilend.synthetic.layout import make_land  # noqa: PLC0415

    src = Path(sample_dir)
    out = Path(out_dir) if out_dir is not None else src
    titles = gpd.read_file(src / "titles.gpkg", layer="titles")
    truth = pd.read_csv(src / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    r_land = np.random.default_rng(np.random.SeedSequence(county_seed).spawn(8)[0])
    land = make_land(size_px[1] * PIXEL, size_px[0] * PIXEL, rng=r_land)
    to_world = [1.0, 0.0, 0.0, -1.0, ORIGIN[0], ORIGIN[1]]
    feats = [(k, shapely.affinity.affine_transform(g, to_world)) for k, g in land.features]
    claims, truth_claims = build_claims(titles, truth, feats, seed=seed)
    to_wgs84 = Transformer.from_crs(titles.crs, "EPSG:4326", always_xy=True)
    polys, walks = [], []
    for c in claims:
        rec = {k: v for k, v in c.items() if k != "kind"}
        if isinstance(c["geometry"], shapely.LineString):
            walks.append(rec)
        else:
            rec["geometry"] = shapely.transform(
                c["geometry"], lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1]))
            )
            polys.append(rec)
    paths = {name: out / name for name in CLAIM_FILES}
    for rec in polys:  # 1e-7 degrees is about 1 cm: enough for a drawing, and small files
        rec["geometry"] = shapely.transform(rec["geometry"], lambda xy: np.round(xy, 7))
    write_claims_geojson(polys, paths["claims.geojson"])
    _write_gpx(walks, paths["claims.gpx"], to_wgs84)
    truth_claims.to_csv(paths["truth_claims.csv"], index=False)
    return paths


__all__ = ["CLAIMS_SEED", "CLAIM_FILES", "build_claims", "generate_claims"]
