"""Farmer-drawn claims: field delineation on real parcels, and how well inflated or contested
claims are caught on the sample county.

Run: ``python benchmarks/bench_claims.py`` (about a minute on 2 cores).

1. **Delineation on real parcels** (``../shared/data``) and the sample county's truth: see
   ``bench_delineation.py`` (the Slovenian cube with every clear date of 2015-2017 against the
   RABA land-use parcels inside it, the Spanish field, the county's 2024 season; boundary IoU,
   over- and under-segmentation, area error, the 10 m grid's and the land cover's bounds).
2. **Snapping rough drawings of the same real parcels**: each parcel drawn with every vertex
   5-20 m off (seeded), verified (:func:`agrilend.parcels.verify.verify_claims`); the IoU of
   the verified outline beside the baseline of taking the claim as drawn.
3. **Synthetic counties' claims**: the sample county's (``sample_data/claims.geojson`` +
   ``claims.gpx``, truth in ``truth_claims.csv``; the verification thresholds were set on it)
   and a held-out county generated here (seed 7, claims seed 8): recall and precision of the
   flags that say "inflated or contested"
   (:data:`agrilend.parcels.verify.CONFLICT_FLAGS`), with the imagery and the other claims only
   (no registry: the case claims are for) and with the registry titles as well; IoU of the
   verified outline of honest claims against the true field, beside the drawing.

The load average is printed: CPU times are per process and depend on what else runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from agrilend.parcels import read_titles
from agrilend.parcels.claims import read_claims
from agrilend.parcels.verify import CONFLICT_FLAGS, verify_claims
from agrilend.remote_sensing import compute_index, open_cube

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_delineation

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AGRILEND_SHARED_DATA", ROOT.parent / "shared" / "data"))
SAMPLE = ROOT / "sample_data"
MIN_HA = 0.5  # parcels of at least 50 Sentinel-2 pixels: what delineation can be asked about


def _iou(a: Any, b: Any) -> float:
    if a is None or a.is_empty:
        return 0.0
    return float(a.intersection(b).area / a.union(b).area)


def _rough(poly: Any, rng: np.random.Generator, low: float = 5.0, high: float = 20.0) -> Any:
    ring = shapely.LineString(poly.exterior.coords)
    n = max(6, int(ring.length // 30))
    pts = np.array([ring.interpolate(t, normalized=True).coords[0] for t in np.arange(n) / n])
    ang = rng.uniform(0, 2 * np.pi, n)
    pts = pts + np.column_stack([np.cos(ang), np.sin(ang)]) * rng.uniform(low, high, n)[:, None]
    return shapely.make_valid(shapely.Polygon(pts))


def _claims_frame(geoms: list[Any], crs: Any) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "claim_id": [f"R-{i:04d}" for i in range(n)],
            "owner_ref": [f"H-{i:012x}" for i in range(n)],
            "claimed_crop": [""] * n,
            "claimed_area_ha": [np.nan] * n,
            "repairs": [""] * n,
            "claim_status": ["ok"] * n,
            "claim_message": [""] * n,
            "drawn_wkt": [""] * n,
        },
        geometry=geoms,
        crs=crs,
    )


def real_sites() -> list[tuple[str, Any, gpd.GeoDataFrame]]:
    """(name, NDVI stack of one season, reference parcels inside it)."""
    sites = []
    slo = DATA / "imagery" / "slovenia"
    cube = open_cube(slo / "slovenia_ndvi_2015_2017.nc")
    ndvi = compute_index(cube, "NDVI").sel(time=slice("2016-01-01", "2016-12-31"))
    ndvi = ndvi.rio.write_crs(cube.rio.crs)
    parcels = gpd.read_file(slo / "slovenia_landuse_parcels.gpkg").to_crs(cube.rio.crs)
    xs, ys = cube["x"].to_numpy(), cube["y"].to_numpy()
    frame = box(xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    sites.append(("slovenia", ndvi, parcels[parcels.within(frame)].reset_index(drop=True)))
    spa = DATA / "imagery" / "spain"
    cube = open_cube(spa / "spain_field_l2a_2019.nc")
    ndvi = compute_index(cube, "NDVI").rio.write_crs(cube.rio.crs)
    field = gpd.read_file(spa / "spain_field.geojson").to_crs(cube.rio.crs)
    sites.append(("spain", ndvi, field))
    return sites


def snapping_on_real(sites: list[tuple[str, Any, gpd.GeoDataFrame]]) -> pd.DataFrame:
    rng = np.random.default_rng(20240621)
    rows = []
    for name, ndvi, parcels in sites:
        keep = parcels[parcels.area >= MIN_HA * 1e4].reset_index(drop=True)
        polys = [g if g.geom_type == "Polygon" else max(g.geoms, key=lambda p: p.area)
                 for g in keep.geometry]  # fmt: skip
        drawn = [_rough(p, rng) for p in polys]
        v = verify_claims(_claims_frame(drawn, ndvi.rio.crs), ndvi)
        for p, d, g in zip(keep.geometry, drawn, v.geometry, strict=True):
            rows.append({"site": name, "area_ha": p.area / 1e4, "iou_drawn": _iou(d, p),
                         "iou_verified": _iou(g, p)})  # fmt: skip
    return pd.DataFrame(rows)


def held_out_county(out: Path) -> Path:
    """A second synthetic county (seed 7) with its own claims (seed 8): the thresholds of
    :class:`~agrilend.parcels.verify.VerifyOptions` were set on the sample county, never here."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415
    from agrilend.synthetic.claims import generate_claims  # noqa: PLC0415

    if not (out / "truth_claims.csv").exists():
        generate_county(out, seed=7, overwrite=True, weather_start="2023-01-01")
        generate_claims(out, seed=8, county_seed=7)
    return out


def sample_claims(
    folder: Path = SAMPLE,
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    cube = open_cube(folder / "imagery.nc")
    mapping = SAMPLE / "titles_mapping.toml"
    titles = read_titles(folder / "titles.gpkg", mapping=mapping)
    crs = cube.rio.crs
    claims = pd.concat(
        [
            read_claims(folder / "claims.geojson", crs=crs),
            read_claims(folder / "claims.gpx", crs=crs),
        ],
        ignore_index=True,
    )
    claims = gpd.GeoDataFrame(claims, geometry="geometry", crs=crs)
    truth = pd.read_csv(folder / "truth_claims.csv", dtype=str)
    scores: dict[str, dict[str, float]] = {}
    out = pd.DataFrame()
    for label, ref in (("imagery and claims only", None), ("with registry titles", titles)):
        t0 = time.process_time()
        v = verify_claims(claims, cube, titles=ref)
        cpu = time.process_time() - t0
        v = v.merge(truth[["claim_id", "kind", "parcel_id", "inflated", "conflicting"]],
                    on="claim_id")  # fmt: skip
        positive = (v["inflated"] == "True") | (v["conflicting"] == "True")
        caught = v["flags"].map(lambda f: any(x in CONFLICT_FLAGS for x in str(f).split(",")))
        tp = int((positive & caught).sum())
        scores[label] = {
            "recall": tp / max(int(positive.sum()), 1),
            "precision": tp / max(int(caught.sum()), 1),
            "n_positive": float(positive.sum()),
            "n_flagged": float(caught.sum()),
            "cpu_s": cpu,
        }
        if ref is None:
            field = titles.set_index("parcel_id").geometry
            v["iou_drawn"] = [
                _iou(shapely.from_wkt(w), field[p]) for w, p in zip(v["drawn_wkt"], v["parcel_id"],
                                                                    strict=True)
            ]  # fmt: skip
            v["iou_verified"] = [_iou(g, field[p]) for g, p in zip(v.geometry, v["parcel_id"],
                                                                    strict=True)]  # fmt: skip
            v["caught"] = caught
            out = v
    return out, scores


def crop_check_on_sample(n_wrong: int = 10) -> dict[str, float]:
    """The declaration check on claims: ``n_wrong`` claims state a crop their field does not
    grow (cotton where the truth is another crop); how many does the check flag?"""
    cube = open_cube(SAMPLE / "imagery.nc")
    titles = read_titles(SAMPLE / "titles.gpkg", mapping=SAMPLE / "titles_mapping.toml")
    claims = read_claims(SAMPLE / "claims.geojson", crs=cube.rio.crs)
    truth = pd.read_csv(SAMPLE / "truth_claims.csv", dtype=str).set_index("claim_id")
    not_cotton = np.flatnonzero(truth.loc[claims["claim_id"], "true_crop"].to_numpy() != "cotton")
    wrong = not_cotton[:n_wrong]
    claims.loc[wrong, "claimed_crop"] = "cotton"
    t0 = time.process_time()
    v = verify_claims(claims, cube, titles=titles, crop_check=True)
    flagged = v["flags"].str.contains("crop_mismatch").to_numpy()
    is_wrong = np.isin(np.arange(len(v)), wrong)
    return {
        "caught": float(flagged[is_wrong].mean()),
        "false_flags": float(flagged[~is_wrong].sum()),
        "honest": float((~is_wrong).sum()),
        "cpu_s": time.process_time() - t0,
    }


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} (CPU times below are per process)")
    sites = real_sites()
    # delineation: benchmarks/bench_delineation.py (every clear date, bounds, held-out half)
    d = bench_delineation.measure()
    print("\n## Delineation on real parcels and the sample county (imagery only)\n")
    print("\n".join(bench_delineation.report(d)))
    real_iou, _ = bench_delineation.real_iou(d)
    s = snapping_on_real(sites)
    print("\n## Rough drawings of the real parcels (>= 0.5 ha), 5-20 m vertex noise\n")
    print("| site | parcels | IoU as drawn | IoU verified |")
    print("|---|---|---|---|")
    for site, g in s.groupby("site"):
        print(f"| {site} | {len(g)} | {g.iou_drawn.mean():.2f} | {g.iou_verified.mean():.2f} |")
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        counties = {
            "sample county (thresholds set here)": SAMPLE,
            "held-out county (seed 7)": held_out_county(Path(tmp) / "county7"),
        }
        results = {name: sample_claims(folder) for name, folder in counties.items()}
    print("\n## Synthetic counties' claims (truth: truth_claims.csv)\n")
    print(
        "| county | checks | inflated or contested caught (recall) | precision | flagged | CPU s |"
    )
    print("|---|---|---|---|---|---|")
    for county, (_, scores) in results.items():
        for label, sc in scores.items():
            print(
                f"| {county} | {label} | {sc['recall']:.2f} of {sc['n_positive']:.0f} | "
                f"{sc['precision']:.2f} | {sc['n_flagged']:.0f} | {sc['cpu_s']:.1f} |"
            )
    for county, (v, _) in results.items():
        print(f"\n{county}:\n")
        print("| kind | claims | caught (imagery + claims) | IoU as drawn | IoU verified |")
        print("|---|---|---|---|---|")
        for kind, g in v.groupby("kind"):
            print(f"| {kind} | {len(g)} | {g.caught.mean():.2f} | {g.iou_drawn.mean():.2f} | "
                  f"{g.iou_verified.mean():.2f} |")  # fmt: skip
    cc = crop_check_on_sample()
    print(
        f"\nClaimed crop vs observed (declaration check, sample county): 10 claims claiming "
        f"cotton wrongly, {cc['caught']:.0%} flagged; {cc['false_flags']:.0f} of "
        f"{cc['honest']:.0f} honest claims flagged; {cc['cpu_s']:.1f} s CPU"
    )
    scores = results["held-out county (seed 7)"][1]
    sc = scores["with registry titles"]
    print(
        "\n(last line: delineation on real parcels >= 0.5 ha; claims of the held-out county, "
        "imagery, other claims and registry titles)"
    )
    print(
        f"\nclaims: boundary IoU {real_iou:.2f} (real parcels); "
        f"inflated caught {sc['recall']:.2f} at precision {sc['precision']:.2f}"
    )


if __name__ == "__main__":
    main()
