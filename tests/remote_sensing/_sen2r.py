"""Small GeoTIFF folders written the way sen2r writes them: 10 m Int16 NDVI (x 10000, nodata
-32768) and BOA (multi-band, no descriptions) beside a 20 m SCL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

CRS = "EPSG:32650"
ORIGIN = (500_000.0, 4_000_200.0)  # upper-left corner, metres
N10 = 20  # 20 x 20 px at 10 m; the 20 m SCL is 10 x 10 px over the same 200 m square


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    res: float = 10.0,
    nodata: float | None = None,
    scales: Sequence[float] | None = None,
    descriptions: Sequence[str] | None = None,
) -> Path:
    """Write ``data`` (bands, y, x) as a GeoTIFF on the test grid at ``res`` metres."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = data if data.ndim == 3 else data[None]
    transform = Affine(res, 0.0, ORIGIN[0], 0.0, -res, ORIGIN[1])
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=arr.shape[2],
        height=arr.shape[1],
        count=arr.shape[0],
        dtype=arr.dtype,
        crs=CRS,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(arr)
        if scales is not None:
            dst.scales = tuple(scales)
        if descriptions is not None:
            dst.descriptions = tuple(descriptions)
    return path


def field_scene(seed: int = 0) -> dict[str, np.ndarray]:
    """Reflectance (float) of a vegetated 10 m scene and its 20 m SCL (4 vegetation, 5 soil)."""
    rng = np.random.default_rng(seed)
    red = rng.uniform(0.03, 0.08, (N10, N10))
    nir = rng.uniform(0.30, 0.45, (N10, N10))
    red[:, :6] = rng.uniform(0.10, 0.15, (N10, 6))  # bare soil on the left
    nir[:, :6] = rng.uniform(0.18, 0.24, (N10, 6))
    blue, green = red * 0.6, red * 0.9
    scl = np.full((N10 // 2, N10 // 2), 4, "uint8")
    scl[:, :3] = 5
    scl[0, -1] = 9  # one 20 m cloud pixel
    return {"B02": blue, "B03": green, "B04": red, "B08": nir, "SCL": scl}


def sen2r_folder(root: Path, dates: Sequence[str] = ("2024-05-01", "2024-05-11")) -> Path:
    """A sen2r-like folder: per date NDVI (Int16 x 10000, -32768), BOA (4 undescribed bands,
    UInt16 x 10000, nodata 0) at 10 m and SCL at 20 m."""
    for k, d in enumerate(dates):
        s = field_scene(k)
        ndvi = (s["B08"] - s["B04"]) / (s["B08"] + s["B04"])
        ndvi_i = np.round(ndvi * 10000).astype("int16")
        ndvi_i[0, 0] = -32768
        tag = d.replace("-", "")
        write_tif(root / "NDVI" / f"S2A2A_{tag}_NDVI_10.tif", ndvi_i, nodata=-32768)
        boa = np.stack([np.round(s[b] * 10000) for b in ("B02", "B03", "B04", "B08")])
        write_tif(root / "BOA" / f"S2A2A_{tag}_BOA_10.tif", boa.astype("uint16"), nodata=0)
        write_tif(root / "SCL" / f"S2A2A_{tag}_SCL_20.tif", s["SCL"], res=20.0, nodata=0)
    return root
