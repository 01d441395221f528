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
   and two held-out counties generated here (seeds 7 and 11, claims seeds 8 and 12): counts
   (TP / FP / FN), recall and precision, per county and per claim kind, of the
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

from agrilend.claim_crops import check_claimed_crops
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


#: Held-out counties: (county seed, claims seed). Never looked at while setting thresholds.
HELD_OUT = ((7, 8), (11, 12))
#: Claim kinds that should be flagged (truth: inflated or conflicting) and those that should not.
POSITIVE_KINDS = ("inflated_neighbour", "inflated_road", "double_claim")
NEGATIVE_KINDS = ("honest", "self_crossing", "walk")


def held_out_county(out: Path, seed: int = 7, claims_seed: int = 8) -> Path:
    """A synthetic county of another seed with its own claims: the thresholds of
    :class:`~agrilend.parcels.verify.VerifyOptions` were set on the sample county, never here."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415
    from agrilend.synthetic.claims import generate_claims  # noqa: PLC0415

    if not (out / "truth_claims.csv").exists():
        generate_county(out, seed=seed, overwrite=True, weather_start="2023-01-01")
        generate_claims(out, seed=claims_seed, county_seed=seed)
    return out


def _counts(positive: Any, caught: Any) -> dict[str, float]:
    tp = int((positive & caught).sum())
    fp = int((~positive & caught).sum())
    fn = int((positive & ~caught).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "recall": tp / max(tp + fn, 1),
            "precision": tp / max(tp + fp, 1)}  # fmt: skip


def sample_claims(
    folder: Path = SAMPLE,
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Verify a county's claims with and without its registry; per claim, whether it was
    flagged either way (``caught_imagery``, ``caught_titles``) and the outline IoUs."""
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
        positive = ((v["inflated"] == "True") | (v["conflicting"] == "True")).to_numpy()
        caught = v["flags"].map(lambda f: any(x in CONFLICT_FLAGS for x in str(f).split(",")))
        caught = caught.to_numpy(dtype=bool)
        scores[label] = {**_counts(positive, caught), "cpu_s": cpu}
        if ref is None:
            field = titles.set_index("parcel_id").geometry
            v["iou_drawn"] = [
                _iou(shapely.from_wkt(w), field[p]) for w, p in zip(v["drawn_wkt"], v["parcel_id"],
                                                                    strict=True)
            ]  # fmt: skip
            v["iou_verified"] = [_iou(g, field[p]) for g, p in zip(v.geometry, v["parcel_id"],
                                                                    strict=True)]  # fmt: skip
            v["positive"] = positive
            v["caught_imagery"] = caught
            out = v
        else:
            out["caught_titles"] = caught
            out["flags_titles"] = v["flags"].to_numpy()
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
    v = check_claimed_crops(verify_claims(claims, cube, titles=titles), cube, titles)
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
        counties = {"sample county (thresholds set here)": SAMPLE}
        for seed, cseed in HELD_OUT:
            name = f"held-out county (seed {seed}, claims {cseed})"
            counties[name] = held_out_county(Path(tmp) / f"county{seed}", seed, cseed)
        results = {name: sample_claims(folder) for name, folder in counties.items()}
    print("\n## Synthetic counties' claims (truth: truth_claims.csv)\n")
    print(
        "Positives: claims inflated over a neighbour or a road, both sides of a double claim "
        "(truth `inflated` or `conflicting`); flagged: any of " + ", ".join(CONFLICT_FLAGS)
    )
    print("\n| county | checks | TP | FP | FN | caught (recall) | precision | CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for county, (_, scores) in results.items():
        for label, sc in scores.items():
            print(
                f"| {county} | {label} | {sc['tp']} | {sc['fp']} | {sc['fn']} | "
                f"{sc['recall']:.2f} | {sc['precision']:.2f} | {sc['cpu_s']:.1f} |"
            )
    held = pd.concat([v for name, (v, _) in results.items() if name.startswith("held-out")])
    pooled = {
        label: _counts(held["positive"].to_numpy(dtype=bool), held[col].to_numpy(dtype=bool))
        for label, col in (("imagery and claims only", "caught_imagery"),
                           ("with registry titles", "caught_titles"))
    }  # fmt: skip
    for label, sc in pooled.items():
        print(f"| held-out counties pooled | {label} | {sc['tp']} | {sc['fp']} | {sc['fn']} | "
              f"{sc['recall']:.2f} | {sc['precision']:.2f} | |")  # fmt: skip
    print(
        "\nPer kind (an honest claim is a positive when a neighbour's inflated claim covers "
        "its field: both sides are contested): caught = TP of the positives, false alarms = FP "
        "of the negatives; the verified outline against the true field (imagery only)\n"
    )
    print("| county | kind | claims | positives | caught, imagery + claims | caught, + titles | "
          "false alarms, imagery + claims | false alarms, + titles | IoU as drawn | "
          "IoU verified |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for county, (v, _) in results.items():
        for kind in (*POSITIVE_KINDS, *NEGATIVE_KINDS):
            g = v[v["kind"] == kind]
            if len(g) == 0:
                continue
            pos = g["positive"].to_numpy(dtype=bool)
            ci, ct = g["caught_imagery"].to_numpy(bool), g["caught_titles"].to_numpy(bool)
            print(f"| {county} | {kind} | {len(g)} | {pos.sum()} | {(ci & pos).sum()} | "
                  f"{(ct & pos).sum()} | {(ci & ~pos).sum()} | {(ct & ~pos).sum()} | "
                  f"{g.iou_drawn.mean():.2f} | {g.iou_verified.mean():.2f} |")  # fmt: skip
    print("\nFlags behind the false alarms (with titles):")
    for county, (v, _) in results.items():
        fa = v[~v["positive"].astype(bool) & v["caught_titles"].astype(bool)]
        print(f"- {county}: " + ("; ".join(f"{r.claim_id} {r.kind}: {r.flags_titles}"
                                           for r in fa.itertuples()) or "none"))  # fmt: skip
    cc = crop_check_on_sample()
    print(
        f"\nClaimed crop vs observed (declaration check, sample county): 10 claims claiming "
        f"cotton wrongly, {cc['caught']:.0%} flagged; {cc['false_flags']:.0f} of "
        f"{cc['honest']:.0f} honest claims flagged; {cc['cpu_s']:.1f} s CPU"
    )
    sc = pooled["with registry titles"]
    print(
        "\n(last line: delineation on real parcels >= 0.5 ha; claims of the held-out counties "
        f"{', '.join(str(seed) for seed, _ in HELD_OUT)} pooled, imagery, other claims and "
        "registry titles)"
    )
    print(
        f"\nclaims: boundary IoU {real_iou:.2f} (real parcels); "
        f"inflated caught {sc['recall']:.2f} at precision {sc['precision']:.2f}"
    )


if __name__ == "__main__":
    main()
