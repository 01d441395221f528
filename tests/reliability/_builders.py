"""Generators of malformed inputs for the reliability catalogue.

Each builder writes (or returns) one broken thing; the tests say which typed error or which
per-row status it must give. Nothing here is copied from elsewhere: the bad inputs are made from
the small seeded county of :mod:`agrilend.testing` or from a few bytes written on the spot.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import xarray as xr
from rasterio.transform import from_origin
from shapely.geometry import GeometryCollection, LineString, Point, Polygon, box

#: Bands of the small GeoTIFFs (DN, L2A, 2024 = with the -1000 offset).
TIF_BANDS = ("B02", "B03", "B04", "B08")
ORIGIN = (500_000.0, 4_000_000.0)


# --- imagery --------------------------------------------------------------------------------------


def write_tif(
    path: Path,
    *,
    bands: tuple[str, ...] = TIF_BANDS,
    dtype: str = "uint16",
    size: int = 32,
    tiled: bool = True,
    crs: str | None = "EPSG:32650",
    values: np.ndarray[Any, Any] | None = None,
) -> Path:
    """A small multi-band GeoTIFF with band descriptions (a date belongs in ``path``'s name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(bands)
    if values is None:
        rng = np.random.default_rng(7)
        values = rng.integers(1100, 4000, size=(n, size, size)).astype(dtype)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": n,
        "dtype": dtype,
        "transform": from_origin(ORIGIN[0], ORIGIN[1], 10, 10),
    }
    if crs is not None:
        profile["crs"] = crs
    if tiled:
        profile.update(tiled=True, blockxsize=16, blockysize=16)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        for i, b in enumerate(bands, 1):
            dst.set_band_description(i, b)
    return path


def truncated_copies(source: Path, folder: Path, n: int) -> list[tuple[int, Path]]:
    """``n`` copies of ``source`` cut at evenly spread offsets (0 bytes up to one byte short)."""
    data = source.read_bytes()
    offsets = sorted({int(x) for x in np.linspace(0, len(data) - 1, n)})
    out = []
    for off in offsets:
        p = folder / f"cut-{off:06d}" / source.name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data[:off])
        out.append((off, p))
    return out


def disguised(kind: str, path: Path, *, real_tif: Path) -> Path:
    """A file of another format (or garbage) under a GeoTIFF name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "vrt":
        path.write_text(
            '<VRTDataset rasterXSize="32" rasterYSize="32"><VRTRasterBand dataType="UInt16" '
            f'band="1"><SimpleSource><SourceFilename>{real_tif}</SourceFilename>'
            "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
        )
    elif kind == "vrt_remote":
        path.write_text(
            '<VRTDataset rasterXSize="32" rasterYSize="32"><VRTRasterBand dataType="UInt16" '
            'band="1"><SimpleSource><SourceFilename>/vsicurl/http://127.0.0.1:9/a.tif'
            "</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>"
            "</VRTDataset>"
        )
    elif kind in {"png", "jpeg", "bmp", "gif"}:
        from PIL import Image  # noqa: PLC0415  (matplotlib's dependency; only these cases)

        img = Image.fromarray(np.full((16, 16), 120, dtype="uint8"))
        img.save(path, format={"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "gif": "GIF"}[kind])
    elif kind == "hdf5":  # NetCDF-4 is HDF5 underneath
        xr.Dataset({"B04": (("y", "x"), np.ones((4, 4), dtype="uint16"))}).to_netcdf(
            path, engine="netcdf4", format="NETCDF4"
        )
    elif kind == "netcdf":
        xr.Dataset({"B04": (("y", "x"), np.ones((4, 4), dtype="int16"))}).to_netcdf(
            path, engine="scipy"
        )
    elif kind == "zip":
        import zipfile  # noqa: PLC0415

        with zipfile.ZipFile(path, "w") as z:
            z.write(real_tif, arcname="inner.tif")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n" * 20)
    elif kind == "html":
        path.write_text("<html><body>404 Not Found</body></html>")
    elif kind == "json":
        path.write_text('{"type": "FeatureCollection", "features": []}')
    elif kind == "tiff_magic_only":
        path.write_bytes(b"II*\x00" + b"\x00" * 4)
    elif kind == "bigtiff_magic_only":
        path.write_bytes(b"II+\x00\x08\x00\x00\x00" + b"\x00" * 8)
    elif kind == "tiff_bad_ifd":
        path.write_bytes(b"II*\x00\xff\xff\xff\x7f" + b"\x00" * 64)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096).astype("uint8").tobytes())
    else:
        raise ValueError(kind)
    return path


#: Kinds :func:`disguised` can write.
DISGUISES = (
    "vrt",
    "vrt_remote",
    "png",
    "jpeg",
    "bmp",
    "gif",
    "hdf5",
    "netcdf",
    "zip",
    "empty",
    "text",
    "html",
    "json",
    "tiff_magic_only",
    "bigtiff_magic_only",
    "tiff_bad_ifd",
    "random",
)


def dn_dataset(
    *,
    n_dates: int = 4,
    size: int = 8,
    bands: tuple[str, ...] = TIF_BANDS,
    dtype: str = "uint16",
    times: list[str] | None = None,
    crs: str | None = "EPSG:32650",
) -> xr.Dataset:
    """A small L2A cube in digital numbers as a file reader would give it (with SCL)."""
    times = times or [f"2024-05-{1 + 5 * i:02d}" for i in range(n_dates)]
    nt = len(times)
    rng = np.random.default_rng(11)
    xs = ORIGIN[0] + 5 + 10 * np.arange(size)
    ys = ORIGIN[1] - 5 - 10 * np.arange(size)
    data: dict[str, Any] = {
        b: (("time", "y", "x"), rng.integers(1100, 4000, (nt, size, size)).astype(dtype))
        for b in bands
    }
    data["SCL"] = (("time", "y", "x"), np.full((nt, size, size), 4, dtype="uint8"))
    ds = xr.Dataset(
        data,
        coords={"time": np.array(times, dtype="datetime64[ns]"), "y": ys, "x": xs},
        attrs={"processing_level": "L2A", "boa_add_offset": -1000,
               "boa_quantification_value": 10000},
    )  # fmt: skip
    if crs is not None:
        ds = ds.rio.write_crs(crs)
    return ds


# --- titles ---------------------------------------------------------------------------------------


def bowtie(x: float, y: float, s: float = 40.0) -> Polygon:
    """A self-intersecting figure-eight quadrilateral."""
    return Polygon([(x, y), (x + s, y + s), (x + s, y), (x, y + s)])


def bad_parcels(bounds: tuple[float, float, float, float]) -> dict[str, tuple[Any, set[str]]]:
    """Malformed parcels for a cube with these bounds: name -> (geometry, allowed statuses).

    ``"error"`` means the imagery cannot be used for that parcel; ``"flagged"`` that it can,
    with a quality flag; a few (repairable ones) may end either way.
    """
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nan, inf = math.nan, math.inf

    def ring(*pts: tuple[float, float]) -> Polygon:
        # shapely warns while building non-finite rings; that is the point of these cases
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return Polygon(pts)

    far = 5_000.0
    square = box(cx, cy, cx + 30, cy + 30)
    cases: dict[str, tuple[Any, set[str]]] = {
        "empty_polygon": (Polygon(), {"error"}),
        "none_geometry": (None, {"error"}),
        "empty_collection": (GeometryCollection(), {"error"}),
        "nan_coordinates": (ring((cx, cy), (nan, cy), (cx, cy + 30)), {"error"}),
        "mostly_nan_coordinates": (ring((cx, cy), (nan, nan), (nan, cy), (cx, cy)), {"error"}),
        "infinite_coordinates": (ring((cx, cy), (inf, cy), (cx, cy + 30)), {"error"}),
        "off_imagery": (box(x1 + far, y1 + far, x1 + far + 50, y1 + far + 50), {"error"}),
        "off_imagery_west": (box(x0 - far, cy, x0 - far + 50, cy + 50), {"error"}),
        "touching_edge_outside": (box(x1, cy, x1 + 40, cy + 40), {"error"}),
        "under_one_pixel": (box(cx + 1, cy + 1, cx + 4, cy + 4), {"error"}),
        "tiny_triangle": (Polygon([(cx, cy), (cx + 2, cy), (cx, cy + 2)]), {"error"}),
        "zero_area_line_polygon": (Polygon([(cx, cy), (cx + 30, cy), (cx + 60, cy)]), {"error"}),
        "sliver": (box(cx, cy, cx + 300, cy + 0.05), {"error"}),
        "point": (Point(cx, cy), {"error"}),
        "linestring": (LineString([(cx, cy), (cx + 50, cy + 50)]), {"error"}),
        "multipoint": (shapely.MultiPoint([(cx, cy), (cx + 10, cy)]), {"error"}),
        "lines_only_collection": (
            GeometryCollection([LineString([(cx, cy), (cx + 9, cy)]), Point(cx, cy)]),
            {"error"},
        ),
        "self_intersecting": (bowtie(cx - 20, cy - 20), {"flagged", "error"}),
        "collection_with_polygon": (
            GeometryCollection([square, LineString([(cx, cy), (cx + 90, cy + 5)])]),
            {"flagged"},
        ),
        "polygon_3d": (
            Polygon([(cx, cy, 5.0), (cx + 40, cy, 6.0), (cx + 40, cy + 40, 7.0), (cx, cy + 40, 5)]),
            {"ok", "flagged"},
        ),
        "multipolygon_with_empty_part": (
            shapely.MultiPolygon([square, Polygon()]) if _multi_empty_ok() else square,
            {"ok", "flagged"},
        ),
        "partly_outside": (box(x1 - 30, cy, x1 + 30, cy + 40), {"flagged"}),
        "hole_bigger_than_shell": (
            Polygon(
                [(cx, cy), (cx + 30, cy), (cx + 30, cy + 30), (cx, cy + 30)],
                [[(cx - 10, cy - 10), (cx + 40, cy - 10), (cx + 40, cy + 40), (cx - 10, cy + 40)]],
            ),
            {"error", "flagged"},
        ),
        "spike": (
            Polygon(
                [
                    (cx, cy),
                    (cx + 40, cy),
                    (cx + 40, cy + 40),
                    (cx + 500, cy + 40.01),
                    (cx + 40, cy + 40.02),
                    (cx, cy + 40),
                ]
            ),
            {"ok", "flagged", "error"},
        ),
        "repeated_points": (
            Polygon([(cx, cy)] * 3 + [(cx + 40, cy), (cx + 40, cy + 40), (cx, cy + 40)]),
            {"ok", "flagged"},
        ),
    }
    return cases


def _multi_empty_ok() -> bool:
    try:
        shapely.MultiPolygon([box(0, 0, 1, 1), Polygon()])
    except (ValueError, shapely.errors.GEOSException):
        return False
    return True


def mixed_titles(
    good: gpd.GeoDataFrame, bounds: tuple[float, float, float, float]
) -> tuple[gpd.GeoDataFrame, dict[str, set[str]]]:
    """Good titles with every bad parcel (plus duplicate ids and bad attributes) mixed in.

    Returns the titles and, per bad parcel id, the statuses it may end with.
    """
    rows: list[dict[str, Any]] = []
    expected: dict[str, set[str]] = {}
    template = good.iloc[0]
    for name, (geom, statuses) in bad_parcels(bounds).items():
        pid = f"BAD-{name}"
        rows.append(
            {
                "parcel_id": pid,
                "owner_ref": "H-bad000000000",
                "declared_area_ha": 0.2,
                "declared_crop": "",
                "geometry": geom,
            }
        )
        expected[pid] = statuses
    # two titles with one id: neither can be trusted
    dup = good.iloc[1]
    for k in range(2):
        rows.append(
            {
                "parcel_id": "BAD-duplicate_id",
                "owner_ref": "H-bad111111111",
                "declared_area_ha": 0.3,
                "declared_crop": "",
                "geometry": shapely.affinity.translate(dup.geometry, 0.0, 0.0 + k),
            }
        )
    expected["BAD-duplicate_id"] = {"error"}
    # attribute trouble on an otherwise fine geometry (copies of a good parcel's shape)
    attrs: dict[str, dict[str, Any]] = {
        "negative_declared_area": {"declared_area_ha": -3.0},
        "nan_declared_area": {"declared_area_ha": math.nan},
        "absurd_declared_area": {"declared_area_ha": 1e9},
        "unknown_declared_crop": {"declared_crop": "potato"},
        "empty_owner": {"owner_ref": ""},
    }
    for name, change in attrs.items():
        row = {
            "parcel_id": f"BAD-{name}",
            "owner_ref": "H-bad222222222",
            "declared_area_ha": float(template["declared_area_ha"]),
            "declared_crop": "",
            "geometry": template.geometry,
        }
        row.update(change)
        rows.append(row)
        expected[f"BAD-{name}"] = {"ok", "flagged", "error"}
    bad = gpd.GeoDataFrame(rows, geometry="geometry", crs=good.crs)
    mixed = gpd.GeoDataFrame(_interleave(good, bad), geometry="geometry", crs=good.crs).reset_index(
        drop=True
    )
    return mixed, expected


def _interleave(good: gpd.GeoDataFrame, bad: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    g = good.to_dict("records")
    b = bad.to_dict("records")
    out: list[dict[str, Any]] = []
    step = max(1, len(g) // max(1, len(b)))
    while g or b:
        out.extend(g[:step])
        del g[:step]
        if b:
            out.append(b.pop(0))
    return out


# --- tables ---------------------------------------------------------------------------------------

WEATHER_HEADER = "date,tmin_c,tmax_c,prcp_mm"


def weather_csv(rows: list[str], *, header: str = WEATHER_HEADER) -> str:
    """A weather CSV body."""
    return "\n".join([header, *rows]) + "\n"


def good_weather_rows(n: int = 5, start: str = "2024-05-01") -> list[str]:
    """A few plausible daily rows."""
    days = np.arange(np.datetime64(start), np.datetime64(start) + n)
    return [f"{d},{10 + i % 3},{22 + i % 4},{(i % 2) * 1.5}" for i, d in enumerate(days)]


SUBSIDY_HEADER = "scheme,year,owner_id,parcel_id,area_mu,amount_cny"


def subsidy_csv(rows: list[str], *, header: str = SUBSIDY_HEADER) -> str:
    """A subsidy CSV body."""
    return "\n".join([header, *rows]) + "\n"


Writer = Callable[[Path], Path]
