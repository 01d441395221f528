"""Field delineation against real parcels and the sample county's truth, with what the 10 m
grid allows at best. ``bench_claims.py`` prints these tables in its delineation section and
takes its last line's IoU from here; this file also runs alone:
``python benchmarks/bench_delineation.py`` (about 20 s).

Sites:

- **Slovenia** (``../shared/data/imagery/slovenia``): the NDVI cube near Ljubljana, every
  clear date of 2015-07..2017-12 (cloud mask CLM), against the RABA land-use parcels lying
  wholly inside the cube (62; parcels crossing its edge are left out, as before). Land-use
  parcels, not fields: grassland clearings, shrubland patches, forest; median 0.12 ha.
- **Spain**: the 23 ha centre-pivot field of 2019 against its polygon. The cube has data only
  inside the circle, so its outline is given by the data mask: a check, not a measurement.
- **Sample county** (synthetic truth, ``sample_data/titles.gpkg``): the 2024 season
  (March-November), strips 15-40 m wide.

Per reference parcel, **boundary IoU** = IoU of the delineated field that overlaps it most
(:func:`agrilend.parcels.delineation.match_fields`); over-segmentation = share of parcels of
which two or more fields each hold >= 10 %; under-segmentation = share of parcels whose best
field holds >= 10 % of another parcel; area error = |field area / parcel area - 1| (median).
Subsets: every parcel; "resolvable", >= 20 pixels (0.2 ha) at 10 m; >= 0.5 ha (the previous
headline). Bounds: **grid** = IoU of each polygon with its own rasterisation at 10 m (a
perfect delineation scores this); **land cover** (Slovenia) = the same for the union of
touching parcels of one land-use class, the best a perfect land-cover map can do when two
touching parcels of one class show no boundary.

Parameters: the defaults of :func:`~agrilend.parcels.delineation.delineate` were chosen on
half A of the Slovenian parcels (even row numbers of the file's parcels inside the cube) over
a grid of 12 periods x merge cost x border edge; half B, Spain and the county were not used.
"Before" is the earlier method (``method="watershed"``: 8 period medians, Sobel edges, marker
watershed, alike neighbours merged), on the same dates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from shapely.geometry import box

from agrilend.parcels.delineation import delineate, match_fields, rasterised_iou
from agrilend.remote_sensing import compute_index, open_cube

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AGRILEND_SHARED_DATA", ROOT.parent / "shared" / "data"))
SAMPLE = ROOT / "sample_data"
RESOLVABLE_PX = 20  # pixels of 10 m: 0.2 ha
BIG_HA = 0.5


Site = tuple[str, Any, gpd.GeoDataFrame, gpd.GeoDataFrame | None, gpd.GeoDataFrame]


def sites() -> list[Site]:
    """(name, NDVI stack, reference parcels, land-use classes for the land-cover bound, every
    parcel clipped to the imagery: what each delineated field is compared with)."""
    out: list[Site] = []
    slo = DATA / "imagery" / "slovenia"
    cube = open_cube(slo / "slovenia_ndvi_2015_2017.nc")
    ndvi = compute_index(cube, "NDVI").rio.write_crs(cube.rio.crs)
    parcels = gpd.read_file(slo / "slovenia_landuse_parcels.gpkg").to_crs(cube.rio.crs)
    xs, ys = cube["x"].to_numpy(), cube["y"].to_numpy()
    frame = box(xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    inside = parcels[parcels.within(frame)].reset_index(drop=True)
    classes = parcels.dissolve(by="LULC_NAME").explode(index_parts=False).reset_index()
    classes["geometry"] = classes.intersection(frame)
    clipped = parcels.assign(geometry=parcels.intersection(frame))
    clipped = clipped[clipped.area > 0].reset_index(drop=True)
    classes = classes[~classes.is_empty].reset_index(drop=True)
    out.append(("slovenia", ndvi, inside, classes, clipped))
    spa = DATA / "imagery" / "spain"
    cube = open_cube(spa / "spain_field_l2a_2019.nc")
    ndvi = compute_index(cube, "NDVI").rio.write_crs(cube.rio.crs)
    field = gpd.read_file(spa / "spain_field.geojson").to_crs(cube.rio.crs)
    out.append(("spain", ndvi, field, None, field))
    cube = open_cube(SAMPLE / "imagery.nc")
    ndvi = compute_index(cube, "NDVI").sel(time=slice("2024-03-01", "2024-11-30"))
    titles = gpd.read_file(SAMPLE / "titles.gpkg")
    out.append(("sample county (synthetic)", ndvi.rio.write_crs(cube.rio.crs), titles, None,
                titles))  # fmt: skip
    return out


def land_cover_bound(
    parcels: gpd.GeoDataFrame, classes: gpd.GeoDataFrame, transform: Any, shape: tuple[int, int]
) -> np.ndarray[Any, Any]:
    """Per parcel: IoU of the rasterised land-cover region (touching parcels of one class,
    merged) that overlaps it most."""
    lab = rasterio.features.rasterize(
        [(g, i + 1) for i, g in enumerate(classes.geometry)],
        out_shape=shape,
        transform=transform,
        dtype="int32",
    )
    geoms: dict[int, list[Any]] = {}
    for g, v in rasterio.features.shapes(lab, mask=lab > 0, transform=transform):
        geoms.setdefault(int(v), []).append(shapely.geometry.shape(g))
    regions = gpd.GeoDataFrame(geometry=[shapely.union_all(v) for v in geoms.values()])
    return match_fields(regions, parcels)["iou"].to_numpy()


def measure() -> pd.DataFrame:
    """One row per reference parcel and site: IoU before/after, the metrics and the bounds."""
    rows = []
    for name, ndvi, parcels, classes, partition in sites():
        t0 = time.process_time()
        before = delineate(ndvi, method="watershed")
        cpu_before = time.process_time() - t0
        t0 = time.process_time()
        after = delineate(ndvi)
        cpu_after = time.process_time() - t0
        m = match_fields(after.polygons, parcels)
        m["iou_before"] = match_fields(before.polygons, parcels)["iou"].to_numpy()
        m["bound_grid"] = rasterised_iou(parcels, after.transform, after.labels.shape)
        m["bound_land_cover"] = (
            land_cover_bound(parcels, classes, after.transform, after.labels.shape)
            if classes is not None
            else np.nan
        )
        m["site"] = name
        m["ha"] = parcels.area.to_numpy() / 1e4
        m["half"] = np.where(np.arange(len(parcels)) % 2 == 0, "A", "B")
        m["n_fields_found"] = len(after.polygons)
        m["cpu_before"], m["cpu_after"] = cpu_before, cpu_after
        m["conf_iou"] = _confidence_check(after.polygons, partition)
        rows.append(m)
    return pd.concat(rows, ignore_index=True)


def _confidence_check(fields: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> str:
    """Mean IoU of the fields with confidence >= 0.5 and < 0.5 with the parcel they overlap
    most (fields of >= 20 pixels; every parcel, clipped to the imagery): does the confidence
    say which fields to trust?"""
    f = fields[fields["n_pixels"] >= RESOLVABLE_PX].reset_index(drop=True)
    if len(f) == 0:
        return ""
    iou = match_fields(parcels, f)["iou"].to_numpy()  # reference and fields swapped: per field
    hi = f["confidence"].to_numpy() >= 0.5
    parts = []
    for label, sel in (("conf >= 0.5", hi), ("conf < 0.5", ~hi)):
        parts.append(f"{label}: {iou[sel].mean():.2f} (n={sel.sum()})" if sel.any() else
                     f"{label}: - (n=0)")  # fmt: skip
    return "; ".join(parts)


def table(d: pd.DataFrame) -> list[str]:
    """The markdown table: one line per site and subset."""
    lines = [
        (
            "| site | parcels | n | IoU before | **IoU after** | over-seg. | under-seg. | "
            "median abs. area error | grid bound | land-cover bound |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for site, g in d.groupby("site", sort=False):
        subsets = [
            ("all", g),
            (f"resolvable (>= {RESOLVABLE_PX} px)", g[g.ha >= RESOLVABLE_PX / 100]),
            (f">= {BIG_HA} ha", g[g.ha >= BIG_HA]),
        ]
        if site == "slovenia":
            subsets += [("half A (parameters chosen)", g[g.half == "A"]),
                        ("half B (held out)", g[g.half == "B"])]  # fmt: skip
        seen: set[int] = set()
        for label, s in subsets:
            if len(s) == 0 or (label != "all" and len(s) == len(g) and len(g) in seen):
                continue
            seen.add(len(s))
            lc = "" if s.bound_land_cover.isna().all() else f"{s.bound_land_cover.mean():.2f}"
            lines.append(
                f"| {site} | {label} | {len(s)} | {s.iou_before.mean():.2f} | "
                f"**{s.iou.mean():.2f}** | {(s.n_fields > 1).mean():.2f} | "
                f"{(s.n_parcels_in_field > 1).mean():.2f} | {s.area_error.abs().median():.2f} | "
                f"{s.bound_grid.mean():.2f} | {lc} |"
            )
    return lines


def real_iou(d: pd.DataFrame) -> tuple[float, float]:
    """The headline: mean boundary IoU over the real parcels >= 0.5 ha (Slovenia and Spain),
    and over every real parcel."""
    real = d[d.site.isin(["slovenia", "spain"])]
    return float(real[real.ha >= BIG_HA].iou.mean()), float(real.iou.mean())


def report(d: pd.DataFrame) -> list[str]:
    lines = table(d)
    lines.append("")
    for site, g in d.groupby("site", sort=False):
        lines.append(
            f"- {site}: {g.n_fields_found.iloc[0]} fields found; CPU {g.cpu_after.iloc[0]:.2f} s "
            f"(before: {g.cpu_before.iloc[0]:.2f} s, ratio "
            f"{g.cpu_after.iloc[0] / max(g.cpu_before.iloc[0], 1e-9):.1f}); fields >= "
            f"{RESOLVABLE_PX} px, IoU with the parcel they overlap most by confidence: "
            f"{g.conf_iou.iloc[0]}"
        )
    big, every = real_iou(d)
    lines.append("")
    lines.append(
        f"Real parcels >= {BIG_HA} ha (Slovenia 5, Spain 1): boundary IoU {big:.2f}; every real "
        f"parcel (63): {every:.2f}"
    )
    return lines


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} (CPU times are per process)")
    print("\n".join(report(measure())))


if __name__ == "__main__":
    main()
