"""Open any local Sentinel-2 imagery into the cube contract.

Formats: NetCDF (``.nc``), Zarr (``.zarr``), a single GeoTIFF or COG (one date, bands as raster
bands named by their descriptions), and a folder holding a GeoTIFF stack, one file per date and
band as Sentinel Hub and sen2r write them (the date and band are read from each file's path, e.g.
``2019-01-27/B04.tif`` or ``S2_20190127_B04.tif``; a multi-band file per date works too).

Mixed resolutions (sen2r's usual folder: 10 m NDVI and BOA beside a 20 m SCL) open onto the
finest grid of the folder: classes (``SCL``, ``CLM``, ``dataMask``) by nearest neighbour, so no
class is invented; reflectances and indices bilinearly (going to a finer grid, ``average`` would
only repeat the coarse pixel). A multi-band file without band descriptions is read in the order
given by ``band_order`` (e.g. ``("B02", "B03", "B04", "B08")``).

Every cube is checked for plausible values after harmonising
(:mod:`agrilend.remote_sensing.sanity`): integer-scaled indices are recognised or refused, and
clear-land reflectance and NDVI quantiles must make sense.

Every path passes :func:`agrilend._paths.local_path`; GeoTIFFs are opened with the GTiff driver
only, so a VRT or other format disguised under a ``.tif`` name is refused.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rioxarray
import xarray as xr
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError

from agrilend._gate import raster_env, sniff
from agrilend._limits import check_dataset, check_raster
from agrilend._paths import local_path
from agrilend.errors import AgrilendError, ImageryReadError
from agrilend.remote_sensing.contract import INDEX_VARIABLES, QUALITY_LAYERS, validate_cube
from agrilend.remote_sensing.harmonize import canonical_name, harmonize
from agrilend.remote_sensing.masks import DEFAULT_CLP_THRESHOLD, MaskMethod, mask_clouds
from agrilend.remote_sensing.sanity import with_value_check

logger = logging.getLogger(__name__)

#: Suffixes read as NetCDF, Zarr and GeoTIFF.
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5")
ZARR_SUFFIXES = (".zarr",)
GEOTIFF_SUFFIXES = (".tif", ".tiff")
#: GDAL drivers a GeoTIFF or COG may be opened with (COGs are read by the GTiff driver).
GEOTIFF_DRIVERS = ("GTiff",)

_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:[T_]?(\d{2}):?(\d{2}):?(\d{2}))?(?!\d)")
_BAND_TOKEN = re.compile(
    r"(?:^|[^A-Za-z0-9])(B0?[1-9]|B1[0-2]|B8A|SCL|CLM|CLP|dataMask|NDVI)(?=$|[^A-Za-z0-9])",
    re.IGNORECASE,
)


def _date_from(text: str) -> pd.Timestamp | None:
    for m in _DATE.finditer(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        if 1970 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
            if m[4]:
                return pd.Timestamp(y, mo, d, int(m[4]), int(m[5]), int(m[6]))
            return pd.Timestamp(y, mo, d)
    return None


def _band_from(text: str) -> str | None:
    matches = _BAND_TOKEN.findall(text)
    if not matches:
        return None
    canon, _ = canonical_name(matches[-1])
    return canon


def _open_tif(path: Path, *, chunks: Any) -> xr.DataArray:
    try:
        with raster_env(), rasterio.open(path, driver=GEOTIFF_DRIVERS[0]) as src:
            driver = src.driver
            check_raster(str(path), shape=(src.count, src.height, src.width),
                         itemsize=np.dtype(src.dtypes[0]).itemsize, path=path)  # fmt: skip
        if driver not in GEOTIFF_DRIVERS:
            raise ImageryReadError(
                f"{path} is a {driver} file, not a GeoTIFF; convert it to GeoTIFF or COG",
                path=path,
            )
        with warnings.catch_warnings():
            # rioxarray computes the transform with affine's deprecated `*` operator; harmless
            warnings.filterwarnings(
                "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
            )
            with raster_env():
                da = rioxarray.open_rasterio(
                    path, chunks=chunks, mask_and_scale=False, driver=GEOTIFF_DRIVERS[0]
                )
    except RasterioIOError as exc:
        raise ImageryReadError(
            f"cannot read {path} as a GeoTIFF ({exc}); check that it is a GeoTIFF or COG and not "
            "a VRT or another format under a .tif name",
            path=path,
        ) from exc
    if not isinstance(da, xr.DataArray):  # multi-subdataset files come back as lists/datasets
        raise ImageryReadError(f"{path} holds several subdatasets; extract one", path=path)
    return da


def _file_date(path: Path, da: xr.DataArray, root: Path) -> pd.Timestamp | None:
    tags = {k.lower(): v for k, v in da.attrs.items()}
    for key in ("datetime", "acquisition_date", "date", "time", "tifftag_datetime"):
        if key in tags:
            text = str(tags[key]).replace(":", "-", 2) if key == "tifftag_datetime" else tags[key]
            try:
                return pd.Timestamp(text).tz_localize(None)
            except (ValueError, TypeError):
                continue
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    return _date_from(rel)


def _band_names_of(
    da: xr.DataArray, path: Path, root: Path, band_order: Sequence[str] | None = None
) -> list[str]:
    n = da.sizes.get("band", 1)
    desc = da.attrs.get("long_name")
    if isinstance(desc, (tuple, list)) and len(desc) == n:
        names = [canonical_name(str(d))[0] for d in desc]
        if all(names):
            return [str(x) for x in names]
    elif isinstance(desc, str) and n == 1 and canonical_name(desc)[0]:
        return [str(canonical_name(desc)[0])]
    if n == 1:
        rel = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        band = _band_from(Path(rel).with_suffix("").as_posix())
        if band:
            return [band]
    if band_order is not None:
        names = [canonical_name(str(b))[0] for b in band_order]
        if len(names) == n and all(names):
            return [str(x) for x in names]
        raise ImageryReadError(
            f"{path} holds {n} bands but band_order names {len(band_order)} "
            f"({list(band_order)}); give one Sentinel-2 band name per raster band",
            path=path,
        )
    raise ImageryReadError(
        f"cannot tell which band(s) {path} holds: name single-band files after the band "
        "(e.g. 2019-01-27_B04.tif), write band descriptions (B02, B03, ...) into the GeoTIFF, or "
        f"give the order of its {n} bands: open_cube(path, band_order=('B02', 'B03', ...))",
        path=path,
    )


#: Layers resampled by nearest neighbour onto a finer grid (classes); the rest bilinearly.
CLASS_LAYERS = ("SCL", "CLM", "dataMask")


def _pixel_size(da: xr.DataArray) -> float:
    res = da.rio.resolution()
    return float(abs(res[0]) * abs(res[1]))


def _same_grid(da: xr.DataArray, ref: xr.DataArray) -> bool:
    return (
        da.sizes["y"] == ref.sizes["y"]
        and da.sizes["x"] == ref.sizes["x"]
        and bool(np.allclose(da["x"].values, ref["x"].values))
        and bool(np.allclose(da["y"].values, ref["y"].values))
    )


def _onto(da: xr.DataArray, ref: xr.DataArray, names: Sequence[str], path: Path) -> xr.DataArray:
    """``da`` on the grid of ``ref``: nearest for class layers, bilinear for the others."""
    coarse = max(abs(da.rio.resolution()[0]), abs(ref.rio.resolution()[0]))
    same_area = (
        da.rio.crs is not None
        and ref.rio.crs is not None
        and da.rio.crs == ref.rio.crs
        and bool(np.allclose(da.rio.bounds(), ref.rio.bounds(), atol=coarse))
    )
    if np.isclose(_pixel_size(da), _pixel_size(ref)) or not same_area:
        here = tuple(round(float(v), 2) for v in da.rio.bounds())
        there = tuple(round(float(v), 2) for v in ref.rio.bounds())
        raise ImageryReadError(
            f"{path} is not on the same grid as the other files of the stack (bounds {here} at "
            f"{abs(da.rio.resolution()[0]):g} m vs {there} at {abs(ref.rio.resolution()[0]):g} m);"
            " only layers of another resolution over the same area are resampled: resample the "
            "stack to one grid first",
            path=path,
        )
    classes = all(n in CLASS_LAYERS for n in names)
    how = Resampling.nearest if classes else Resampling.bilinear
    logger.info(
        "%s: %s m pixels resampled onto the %s m grid (%s)",
        path.name,
        "x".join(f"{abs(r):g}" for r in da.rio.resolution()),
        "x".join(f"{abs(r):g}" for r in ref.rio.resolution()),
        how.name,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        out = da.rio.reproject_match(ref, resampling=how)
    return out.assign_coords(x=ref["x"].values, y=ref["y"].values)


def _scaling_of(da: xr.DataArray, i: int) -> dict[str, float]:
    """The file's own scale/offset of raster band ``i`` when they are not 1 and 0."""
    out: dict[str, float] = {}
    for key, neutral in (("scale_factor", 1.0), ("add_offset", 0.0)):
        value = da.attrs.get(key)
        if isinstance(value, (tuple, list)):
            value = value[i] if i < len(value) else None
        if value is not None and float(value) != neutral:
            out[key] = float(value)
    if "add_offset" in out and "scale_factor" not in out:
        out["scale_factor"] = 1.0
    return out


def _read_geotiffs(
    files: Sequence[Path], root: Path, *, chunks: Any, band_order: Sequence[str] | None = None
) -> xr.Dataset:
    """Assemble single- or multi-band GeoTIFFs, one or more per date, into one dataset.

    Files on coarser grids are resampled onto the finest grid of the stack (see the module
    docstring).
    """
    by_date: dict[pd.Timestamp, dict[str, xr.DataArray]] = defaultdict(dict)
    opened = [(f, _open_tif(f, chunks=chunks)) for f in sorted(files)]
    ref: xr.DataArray | None = None
    if opened:
        ref = min((da for _, da in opened), key=_pixel_size)
    crs = ref.rio.crs if ref is not None else None
    for f, opened_da in opened:
        da = opened_da
        when = _file_date(f, da, root)
        if when is None:
            raise ImageryReadError(
                f"no acquisition date in the name or tags of {f}; put the date in the file or "
                "folder name (2019-01-27 or 20190127) or a DATETIME tag",
                path=f,
            )
        names = _band_names_of(da, f, root, band_order)
        fill = da.rio.nodata
        if ref is not None and not _same_grid(da, ref):
            da = _onto(da, ref, names, f)
        for i, band in enumerate(names):
            layer = da.isel(band=i, drop=True).drop_vars("spatial_ref", errors="ignore")
            layer.attrs = {"_FillValue": fill} if fill is not None else {}
            layer.attrs.update(_scaling_of(da, i))
            if band in by_date[when]:
                raise ImageryReadError(
                    f"band {band} of {when.date()} appears twice in the stack (again in {f}); "
                    "remove the duplicate",
                    path=f,
                )
            by_date[when][band] = layer
    if ref is None:
        raise ImageryReadError(f"no GeoTIFF found in {root}", path=root)
    all_bands = sorted({b for layers in by_date.values() for b in layers})
    dates = sorted(by_date)
    variables: dict[str, xr.DataArray] = {}
    for band in all_bands:
        slices = []
        for d in dates:
            found = by_date[d].get(band)
            if found is None:
                raise ImageryReadError(
                    f"band {band} is missing on {d.date()} in {root}; every date needs the same "
                    "bands",
                    path=root,
                )
            slices.append(found)
        stacked = xr.concat(slices, dim=pd.Index(dates, name="time"), join="override")
        stacked.attrs = slices[0].attrs
        variables[band] = stacked
    ds = xr.Dataset(variables)
    ds = ds.rio.write_crs(crs) if crs is not None else ds
    ds.attrs.update({k: v for k, v in ref.attrs.items() if isinstance(v, (str, int, float))})
    for k in ("long_name", "_FillValue", "scale_factor", "add_offset", "AREA_OR_POINT"):
        ds.attrs.pop(k, None)
    return ds


def _read_path(path: Path, *, chunks: Any, band_order: Sequence[str] | None = None) -> xr.Dataset:
    suffix = path.suffix.lower()
    try:
        if path.is_dir() and suffix not in ZARR_SUFFIXES and not (path / "zarr.json").exists():
            files = [p for p in path.rglob("*") if p.suffix.lower() in GEOTIFF_SUFFIXES]
            if not files:
                raise ImageryReadError(
                    f"folder {path} holds no GeoTIFF (.tif) files and is not a Zarr store; "
                    "point at a .nc, .zarr or .tif file, or a folder of GeoTIFFs",
                    path=path,
                )
            return _read_geotiffs(files, path, chunks=chunks, band_order=band_order)
        if suffix in ZARR_SUFFIXES or path.is_dir():
            with warnings.catch_warnings():
                # stores without consolidated metadata open fine, only a little slower
                warnings.filterwarnings(
                    "ignore", message="Failed to open Zarr store with consolidated metadata"
                )
                ds = xr.open_zarr(path, chunks=chunks, decode_coords="all")
            check_dataset(ds, str(path), path=path)  # declared sizes, before any pixel is read
            return ds
        if suffix in NETCDF_SUFFIXES:
            _check_netcdf_bytes(path)
            ds = xr.open_dataset(path, chunks=chunks, decode_coords="all")
            check_dataset(ds, str(path), path=path)
            return ds
        if suffix in GEOTIFF_SUFFIXES:
            return _read_geotiffs([path], path.parent, chunks=chunks, band_order=band_order)
    except AgrilendError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ImageryReadError(
            f"cannot read imagery {path}: {exc}; check that the file is complete and in a "
            "supported format (NetCDF, Zarr, GeoTIFF/COG)",
            path=path,
        ) from exc
    if suffix == ".toml":
        raise ImageryReadError(
            f"imagery {path} describes a STAC search, not a cube: it is opened over the titles' "
            "extent (agrilend scan / report, agrilend.inputs.load_inputs), or in code with "
            "read_imagery_spec(path).open(area, crs)",
            path=path,
        )
    raise ImageryReadError(
        f"imagery {path} has an unsupported suffix {suffix!r}; use .nc, .zarr, .tif/.tiff, a "
        "folder of GeoTIFFs, or a .toml file describing a STAC search",
        path=path,
    )


def _check_netcdf_bytes(path: Path) -> None:
    """A NetCDF name must hold NetCDF (classic or HDF5) bytes, not a GDAL description."""
    with path.open("rb") as fh:
        kind = sniff(fh.read(1024))
    if kind not in ("NetCDF", "HDF5"):
        raise ImageryReadError(
            f"imagery {path} is named like NetCDF but its bytes look like {kind}; give a NetCDF "
            "file (classic or NetCDF-4)",
            path=path,
        )


def _time_slice(time: Any) -> slice | None:
    if time is None:
        return None
    if isinstance(time, slice):
        return time
    if isinstance(time, (tuple, list)) and len(time) == 2:
        return slice(*time)
    raise ValueError(f"time={time!r}; give a slice or a (start, end) pair")


def open_cube(
    source: str | Path | xr.Dataset,
    *,
    bands: Iterable[str] | None = None,
    mask: MaskMethod = "auto",
    cloud_threshold: float = DEFAULT_CLP_THRESHOLD,
    dilation: int = 0,
    time: slice | tuple[Any, Any] | None = None,
    chunks: Mapping[str, int] | int | str | None = None,
    crs: Any = None,
    boa_offset: float | str = "auto",
    scale: float | str = "auto",
    index_scale: float | None = None,
    band_order: Sequence[str] | None = None,
    check_values: bool = True,
) -> xr.Dataset:
    """Open local imagery (or an in-memory dataset) into a contract cube.

    Parameters
    ----------
    source
        A ``.nc`` file, a ``.zarr`` store, a ``.tif`` (GeoTIFF/COG, one date), a folder of
        GeoTIFFs (one file per date and band, or per date), or an :class:`xarray.Dataset`.
    bands
        Canonical band names to keep (``["B04", "B08"]``); quality layers needed by the mask and
        shipped indices are kept as well. Default: all.
    mask
        Cloud-mask method (see :func:`agrilend.remote_sensing.masks.mask_clouds`).
    cloud_threshold
        Threshold on cloud probability for ``mask="clp"``.
    dilation
        Buffer in pixels around masked clouds.
    time
        ``slice(start, end)`` or ``(start, end)`` of dates to keep.
    chunks
        Dask chunks (e.g. ``{"time": 1}``); the cube stays lazy.
    crs
        CRS for files that carry none.
    boa_offset, scale, index_scale
        See :func:`agrilend.remote_sensing.harmonize.harmonize` (``index_scale=10000`` for an
        NDVI stored as NDVI x 10000 without metadata saying so).
    band_order
        Band names of multi-band GeoTIFFs without band descriptions, in raster band order.
    check_values
        Refuse implausible values (:func:`agrilend.remote_sensing.sanity.check_values`); the
        clear-land quantiles go into ``attrs["value_check"]``. Off only for tests of broken
        inputs, and for a scan's workers opening the cube the scan has checked.

    Returns
    -------
    xarray.Dataset
        Passing :func:`agrilend.remote_sensing.contract.validate_cube`; attrs ``source``,
        ``processing_level``, ``boa_offset``, ``mask_method`` record what was done.

    Raises
    ------
    ImageryReadError
        Naming the file when it cannot be read or does not hold Sentinel-2 bands.
    ImageryValueError
        When values are implausible or an index's scale cannot be told (what was seen, and the
        option that fixes it).
    InputPathError
        For a missing file, or a URL while remote paths are not allowed.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> raw = xr.Dataset(
    ...     {"B04": (("t", "y", "x"), np.full((2, 2, 2), 0.1, "float32")),
    ...      "B08": (("t", "y", "x"), np.full((2, 2, 2), 0.4, "float32"))},
    ...     coords={"t": pd.to_datetime(["2024-05-06", "2024-05-01"]),
    ...             "y": [15.0, 5.0], "x": [5.0, 15.0]})
    >>> cube = open_cube(raw, crs="EPSG:32650")
    >>> cube["B04"].dims, str(cube.time.values[0])[:10], cube.attrs["mask_method"]
    (('time', 'y', 'x'), '2024-05-01', 'none')
    """
    if isinstance(source, xr.Dataset):
        raw, name = source, str(source.attrs.get("source", "dataset"))
        if chunks is not None:
            raw = raw.chunk(chunks)
    else:
        path = local_path(source, what="imagery")
        raw, name = _read_path(path, chunks=chunks, band_order=band_order), str(path)
    cube = harmonize(
        raw,
        crs=crs,
        name=name,
        boa_offset=boa_offset,  # type: ignore[arg-type]
        scale=scale,  # type: ignore[arg-type]
        index_scale=index_scale,
    )
    window = _time_slice(time)
    if window is not None:
        cube = cube.sel(time=window)
        if cube.sizes["time"] == 0:
            raise ImageryReadError(
                f"{name} has no date within {window.start}..{window.stop}; widen the time range",
                path=name,
            )
    if bands is not None:
        wanted = [canonical_name(b)[0] or b for b in bands]
        missing = [b for b in wanted if b not in cube.data_vars]
        if missing:
            raise ImageryReadError(
                f"{name} lacks bands {missing} (it holds {sorted(map(str, cube.data_vars))}); "
                "ask for bands it has",
                path=name,
            )
        keep = set(wanted) | {q for q in (*QUALITY_LAYERS, *INDEX_VARIABLES) if q in cube}
        cube = cube[[v for v in cube.data_vars if v in keep]]
    cube = mask_clouds(cube, method=mask, threshold=cloud_threshold, dilation=dilation)
    cube.attrs["source"] = name
    if check_values:
        cube = with_value_check(cube, name=name)
    return validate_cube(cube, name=name)


__all__ = ["GEOTIFF_DRIVERS", "open_cube"]
