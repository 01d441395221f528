"""Bring any Sentinel-2 dataset to the cube's names, dims, CRS and reflectance scale.

What arrives differs by source: time is ``time`` or ``t``; bands are ``B04`` or ``S2-L2A-B04``;
values are reflectance floats or digital numbers (uint16, or floats holding DN); no-data is NaN,
0 or 65535; the CRS sits in a ``spatial_ref`` or a ``crs`` variable. :func:`harmonize` turns all
of these into one form: dims ``(time, y, x)``, canonical band names in float32 reflectance with
NaN for no-data, quality layers (``SCL``, ``CLM``, ``CLP``, ``dataMask``) in their usual coding,
a rioxarray CRS and transform, and attrs that say what was done.

Digital numbers become reflectance as ``(DN + offset) / quantification`` with quantification
10000. Products processed with baseline 04.00 or later (all acquisitions from 2022-01-25 on, and
any reprocessed scene) carry ``offset = -1000`` (``BOA_ADD_OFFSET`` in L2A, ``RADIO_ADD_OFFSET``
in L1C); earlier ones 0. The offset is taken, in this order, from the dataset's
``boa_add_offset`` (or ``radio_add_offset``) attribute, from a ``processing_baseline``
attribute, or from each scene's date. Some services (openEO back-ends among them) deliver
post-2022 digital numbers already harmonised to the old scale; when more than 1 % of the
visible-band values lie below 500 (reflectance below -0.05 with the offset: no surface is that
dark, while vegetation's red and blue often are, harmonised) the date rule is not applied, and
the attrs say so. The test looks at all post-2022 dates of the product together, so every date
gets the same decision: a date showing much dark water (whose reflectance, with the offset,
dips just below 1000 DN) cannot flip it, nor can one piece of a product differ from the others.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from numba import vectorize
from pyproj import CRS

from agrilend.errors import CRSError, ImageryReadError, MissingCRSError
from agrilend.remote_sensing.contract import INDEX_VARIABLES, QUALITY_LAYERS, SPECTRAL_BANDS
from agrilend.remote_sensing.sanity import index_scaling, signed_nodata
from agrilend.vocabulary import (
    BASELINE_04_DATE,
    BOA_ADD_OFFSET,
    NODATA_DN,
    QUANTIFICATION_VALUE,
)

logger = logging.getLogger(__name__)


_TIME_NAMES = ("time", "t", "date", "dates", "timestamp")
_Y_NAMES = ("y", "northing", "lat", "latitude")
_X_NAMES = ("x", "easting", "lon", "longitude")
_BAND = re.compile(
    r"^(?:S2[AB]?[-_])?(?P<level>L1C|L2A)?[-_]?(?:BOA[-_]|TOA[-_])?"
    r"(?P<name>B0?[1-9]|B1[0-2]|B8A|SCL|CLM|CLP|dataMask|IS_DATA|NDVI|EVI|NDRE|NDWI|SAVI)$",
    re.IGNORECASE,
)
_CANONICAL_QUALITY = {"scl": "SCL", "clm": "CLM", "clp": "CLP", "datamask": "dataMask"}


#: No-data values :func:`_dn_reflectance` tests (signed minimum, 0, 65535, the file's fill).
_N_NODATA = 4


@vectorize(
    ["float32(float32, float32, float32, float32, float32, float32, float32)"],
    cache=True,
)
def _dn_reflectance(  # noqa: PLR0917  (a ufunc takes its operands positionally)
    dn: float, offset: float, quant: float, nd0: float, nd1: float, nd2: float, nd3: float
) -> float:  # pragma: no cover  (compiled)
    """Reflectance ``(dn + offset) / quant`` in float32, NaN where ``dn`` is NaN or no-data."""
    # plain comparisons: a tuple membership test is not what numba compiles best
    if math.isnan(dn) or dn == nd0 or dn == nd1 or dn == nd2 or dn == nd3:  # noqa: PLR1714, SIM109
        return math.nan
    return (dn + offset) / quant


def canonical_name(name: str) -> tuple[str | None, str | None]:
    """Canonical variable name and processing level read from a source's variable name.

    Returns ``(None, None)`` for names that are not Sentinel-2 bands, quality layers or indices.

    Examples
    --------
    >>> canonical_name("S2-L2A-B04"), canonical_name("B8A"), canonical_name("b4")
    (('B04', 'L2A'), ('B8A', None), ('B04', None))
    >>> canonical_name("IS_DATA"), canonical_name("S1-SIGMA0-VV")
    (('dataMask', None), (None, None))
    """
    m = _BAND.match(name.strip())
    if not m:
        return None, None
    raw = m["name"]
    level = m["level"].upper() if m["level"] else None
    low = raw.lower()
    if low == "is_data":
        return "dataMask", level
    if low in _CANONICAL_QUALITY:
        return _CANONICAL_QUALITY[low], level
    if low.upper() in INDEX_VARIABLES:
        return low.upper(), level
    up = raw.upper()
    if up == "B8A":
        return "B8A", level
    return f"B{int(up[1:]):02d}", level


def _first_present(names: Iterable[str], options: Iterable[str]) -> str | None:
    lookup = {n.lower(): n for n in names}
    for o in options:
        if o in lookup:
            return lookup[o]
    return None


def _normalise_dims(ds: xr.Dataset, *, name: str) -> xr.Dataset:
    dims = [str(d) for d in ds.dims]
    t = _first_present(dims, _TIME_NAMES)
    y = _first_present(dims, _Y_NAMES)
    x = _first_present(dims, _X_NAMES)
    if y is None or x is None:
        raise ImageryReadError(
            f"{name} has dims {dims}; expected spatial dims named y/x (or northing/easting); "
            "rename them before opening"
        )
    renames = {k: v for k, v in ((t, "time"), (y, "y"), (x, "x")) if k is not None and k != v}
    ds = ds.rename(renames)
    if "time" not in ds.dims:
        when = ds.attrs.get("datetime") or ds.attrs.get("time")
        if when is None:
            raise ImageryReadError(
                f"{name} has no time dim (time or t) and no 'datetime' attribute; give the "
                "acquisition date"
            )
        ds = ds.expand_dims(time=[pd.Timestamp(when)])
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        ds = ds.assign_coords(time=pd.to_datetime(ds["time"].values))
    empty = [d for d in ("time", "y", "x") if ds.sizes[d] == 0]
    if empty:
        raise ImageryReadError(
            f"{name} is empty along {empty} (sizes {dict(ds.sizes)}); check the file or the "
            "time window it was cut to"
        )
    ds = ds.sortby("time")
    index = ds.indexes["time"]
    if not index.is_unique:
        logger.warning(
            "%s repeats %d dates; keeping the first of each", name, index.duplicated().sum()
        )
        ds = ds.isel(time=~index.duplicated())
    return ds


def _find_crs(ds: xr.Dataset) -> tuple[CRS | None, list[str]]:
    """The CRS from rioxarray, a ``spatial_ref``/``crs`` variable or a ``grid_mapping`` link."""
    candidates: list[str] = []
    for v in ds.variables:
        gm = ds[v].attrs.get("grid_mapping") or ds[v].encoding.get("grid_mapping")
        if isinstance(gm, str) and gm in ds.variables:
            candidates.append(gm)
    candidates += [n for n in ("spatial_ref", "crs") if n in ds.variables]
    seen: list[str] = []
    for c in candidates:
        if c in seen:
            continue
        seen.append(c)
        attrs = ds[c].attrs
        for key in ("crs_wkt", "spatial_ref"):
            if key in attrs:
                return CRS.from_wkt(str(attrs[key])), seen
        if "epsg_code" in attrs:
            return CRS.from_user_input(str(attrs["epsg_code"])), seen
        try:
            return CRS.from_cf(dict(attrs)), seen
        except Exception:  # noqa: S112  (not a CF grid mapping; try the next one)
            continue
    try:
        crs = ds.rio.crs
    except Exception:
        crs = None
    return (CRS.from_user_input(crs) if crs is not None else None), seen


def _processing_level(ds: xr.Dataset, levels: set[str], given: str | None) -> str:
    if given:
        return given.upper()
    attr = str(ds.attrs.get("processing_level", "")).upper()
    if attr in {"L1C", "L2A"}:
        return attr
    if len(levels) == 1:
        return next(iter(levels))
    if "SCL" in ds.data_vars:
        return "L2A"
    text = " ".join(str(ds.attrs.get(k, "")) for k in ("title", "source", "description", "product"))
    for level in ("L2A", "L1C"):
        if level in text.upper():
            return level
    return "unknown"


def _thin(obj: Any, target: int = 250_000) -> Any:
    """A strided spatial sample of about ``target`` values: cheap checks on big or lazy cubes."""
    size = int(np.prod([obj.sizes[d] for d in obj.dims])) if obj.dims else 1
    step = max(1, int(np.sqrt(size / target)))
    if step == 1:
        return obj
    return obj.isel(y=slice(None, None, step), x=slice(None, None, step))


def _is_digital_numbers(da: xr.DataArray) -> bool:
    """Integers are DN; floats are DN when their typical values exceed any reflectance."""
    if np.issubdtype(da.dtype, np.integer):
        return True
    values = np.asarray(_thin(da).values, dtype="float64")
    values = values[np.isfinite(values) & (values != 65535) & (values != 0)]
    if values.size == 0:
        return False
    return bool(np.percentile(values, 50) > 5.0)


def _baseline_number(value: Any) -> float | None:
    try:
        return float(str(value).strip().lstrip("N").replace("_", "."))
    except ValueError:
        return None


def _offset_by_date(  # noqa: PLR0911  (one return per rule, in the order they apply)
    ds: xr.Dataset, dn_bands: list[str], boa_offset: float | str, *, name: str
) -> tuple[np.ndarray[Any, Any], str]:
    """Offset (DN) to add on each date, and a sentence saying why."""
    n = ds.sizes["time"]
    if not isinstance(boa_offset, str):
        return np.full(n, float(boa_offset)), f"boa offset {boa_offset:g} given by the caller"
    if boa_offset == "none" or not dn_bands:
        return np.zeros(n), "no offset (reflectance delivered, or offset disabled)"
    for key in ("boa_add_offset", "radio_add_offset"):
        if key in ds.attrs:
            off = float(ds.attrs[key])
            return np.full(n, off), f"offset {off:g} from the dataset's {key} attribute"
    baseline = _baseline_number(ds.attrs.get("processing_baseline"))
    if baseline is not None:
        off = BOA_ADD_OFFSET if baseline >= 4.0 else 0.0
        return np.full(n, off), f"boa offset {off:g} from processing baseline {baseline:05.2f}"
    after = np.asarray(ds.indexes["time"] >= BASELINE_04_DATE)
    if not after.any():
        return np.zeros(n), "no offset (all scenes before 2022-01-25, baseline < 04.00)"
    visible = [b for b in ("B02", "B03", "B04") if b in dn_bands] or dn_bands[:1]
    sample = _thin(ds[visible].isel(time=np.flatnonzero(after)))
    vals = np.concatenate([np.asarray(sample[b].values, "float64").ravel() for b in visible])
    vals = vals[np.isfinite(vals) & (vals > 0) & (vals < 65535)]
    floor = -BOA_ADD_OFFSET / 2  # 500 DN: -0.05 reflectance if the offset were in the numbers
    if vals.size and np.mean(vals < floor) > 0.01:
        share = float(np.mean(vals < floor))
        logger.info(
            "%s: %.0f%% of the visible-band digital numbers after 2022-01-25 are below %g, so "
            "they are already harmonised; the -1000 offset is not applied to any date",
            name,
            100 * share,
            floor,
        )
        return np.zeros(n), (
            f"no offset: L2A after 2022-01-25 but {100 * share:.0f}% of visible DN < {floor:g}, "
            "so already harmonised (one decision for all dates)"
        )
    return np.where(after, BOA_ADD_OFFSET, 0.0), (
        f"boa offset -1000 on {int(after.sum())} of {n} dates (acquired on or after 2022-01-25)"
    )


def dn_scaling(
    cube: xr.Dataset, var: str
) -> tuple[float, np.ndarray[Any, np.dtype[np.float64]], float]:
    """How the stored numbers of band ``var`` become reflectance, by the rules of :func:`harmonize`.

    Returns ``(mul, add, nodata)``: reflectance is ``(stored + add[t]) * mul`` on date ``t``,
    and ``nodata`` is the stored value that means no data. Float bands are reflectance already
    (``mul=1``, ``add=0``, NaN). Integer bands take, in this order, their own
    ``scale_factor``/``add_offset``, the cube's ``boa_quantification_value``/``boa_add_offset``,
    or digital numbers with the offset rule of :func:`harmonize` (baseline attribute, then
    acquisition dates, unless the numbers are already harmonised). Code that reads pixels
    without harmonising the cube first (the zonal engine) scales them with this.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> cube = xr.Dataset({"B04": (("time", "y", "x"), np.full((2, 1, 1), 1500, "uint16"))},
    ...                   coords={"time": pd.to_datetime(["2021-06-01", "2022-06-01"])},
    ...                   attrs={"processing_baseline": "05.09"})
    >>> mul, add, nodata = dn_scaling(cube, "B04")
    >>> mul, add.tolist(), nodata
    (0.0001, [-1000.0, -1000.0], 0.0)
    """
    da = cube[var]
    nt = cube.sizes["time"]
    if not np.issubdtype(da.dtype, np.integer):
        return 1.0, np.zeros(nt), float("nan")
    nodata = float(da.attrs.get("_FillValue", da.attrs.get("nodata", 0)))
    if "scale_factor" in da.attrs:
        mul = float(da.attrs["scale_factor"])
        return mul, np.full(nt, float(da.attrs.get("add_offset", 0.0)) / mul), nodata
    if "boa_quantification_value" in cube.attrs:
        mul = 1.0 / float(cube.attrs["boa_quantification_value"])
        return mul, np.full(nt, float(cube.attrs.get("boa_add_offset", 0.0))), nodata
    add, _why = _offset_by_date(cube, [var], "auto", name=str(cube.attrs.get("source", var)))
    return 1.0 / QUANTIFICATION_VALUE, add.astype(np.float64), nodata


def harmonize(
    ds: xr.Dataset,
    *,
    processing_level: Literal["L1C", "L2A"] | None = None,
    boa_offset: float | Literal["auto", "none"] = "auto",
    scale: float | Literal["auto"] = "auto",
    crs: Any = None,
    name: str = "imagery",
    index_scale: float | None = None,
) -> xr.Dataset:
    """Bring a Sentinel-2 dataset to the cube's names, dims, CRS and reflectance.

    Parameters
    ----------
    ds
        The dataset as read (NetCDF, Zarr, GeoTIFF stack, a service's answer).
    processing_level
        ``"L1C"`` or ``"L2A"``; by default read from attrs, band prefixes (``S2-L2A-``), the
        presence of ``SCL``, or the title.
    boa_offset
        DN offset; ``"auto"`` applies the baseline 04.00 rule described in the module
        docstring; a number forces it on every date; ``"none"`` disables it.
    scale
        Digital numbers per unit reflectance; ``"auto"`` uses 10000 for DN and leaves
        reflectance floats as they are.
    crs
        CRS to use when the dataset carries none.
    name
        How error messages name the input (a file name).
    index_scale
        Stored units per index unit of shipped indices (``10000`` for NDVI x 10000); by default
        read from their metadata, then their value range
        (:func:`agrilend.remote_sensing.sanity.index_scaling`).

    Returns
    -------
    xarray.Dataset
        Dims ``(time, y, x)``; bands as float32 reflectance with NaN for no-data; quality layers
        recoded (``SCL`` uint8 with 0 = no data, ``CLM`` uint8, ``CLP`` float32 in 0-1,
        ``dataMask`` bool); precomputed indices kept; other variables untouched. No ``valid``
        variable yet: :func:`agrilend.remote_sensing.masks.mask_clouds` adds it.

    Raises
    ------
    ImageryReadError
        When dims or bands cannot be recognised.
    ImageryValueError
        When a shipped index exceeds [-1, 1] and its scale cannot be told.
    MissingCRSError
        When no CRS is found and none is given.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> raw = xr.Dataset(
    ...     {"S2-L2A-B04": (("t", "y", "x"), np.array([[[1500, 0]]], dtype="uint16"))},
    ...     coords={"t": pd.to_datetime(["2023-06-01"]), "y": [5.0], "x": [5.0, 15.0]},
    ... )
    >>> cube = harmonize(raw, crs="EPSG:32631")
    >>> cube["B04"].values.tolist(), cube.attrs["processing_level"]
    ([[[0.05000000074505806, nan]]], 'L2A')
    """
    ds = _normalise_dims(ds, name=name)
    found_crs, crs_vars = _find_crs(ds)
    if found_crs is None and crs is not None:
        found_crs = CRS.from_user_input(crs)
    if found_crs is None:
        raise MissingCRSError(
            f"{name} carries no CRS (no spatial_ref or crs variable, no grid_mapping); pass "
            "crs='EPSG:...' to open it"
        )
    _check_geographic_range(ds, found_crs, name=name)
    renames: dict[str, str] = {}
    levels: set[str] = set()
    for v in ds.data_vars:
        canon, level = canonical_name(str(v))
        if canon is None or canon == v:
            if level:
                levels.add(level)
            continue
        if canon in renames.values() or (canon in ds.data_vars and canon != v):
            logger.warning("%s: both %r and %r map to %s; keeping the first", name, v, canon, canon)
            continue
        renames[str(v)] = canon
        if level:
            levels.add(level)
    ds = ds.rename(renames)
    level = _processing_level(ds, levels, processing_level)

    bands = [b for b in SPECTRAL_BANDS if b in ds.data_vars]
    for b in bands:
        _check_band(ds[b], b, name=name)
    # bands that still carry an undecoded CF scale_factor/add_offset are scaled by those
    cf_scaled = {b for b in bands if "scale_factor" in ds[b].attrs and scale == "auto"}
    dn_bands = [
        b for b in bands if b not in cf_scaled and (scale != "auto" or _is_digital_numbers(ds[b]))
    ]
    offsets, offset_note = _offset_by_date(ds, dn_bands, boa_offset, name=name)
    quant = QUANTIFICATION_VALUE if scale == "auto" else float(scale)
    if "boa_quantification_value" in ds.attrs and scale == "auto":
        quant = float(ds.attrs["boa_quantification_value"])
    offset_da = xr.DataArray(offsets, dims=("time",), coords={"time": ds["time"]})

    out: dict[str, xr.DataArray] = {}
    for b in bands:
        da = ds[b]
        fill = da.attrs.get("_FillValue", da.attrs.get("nodata", da.encoding.get("_FillValue")))
        data = da.astype("float32")
        signed = signed_nodata(da.dtype)  # -32768 of Int16 is never a value
        if b in dn_bands:
            # one pass: no-data to NaN, (DN + offset) / quantification, all in float32
            no_data = [np.float32(nd) for nd in (signed, *NODATA_DN, fill)
                       if nd is not None and np.isfinite(float(nd))]  # fmt: skip
            no_data += [np.float32(np.nan)] * (_N_NODATA - len(no_data))
            scaled = xr.apply_ufunc(
                _dn_reflectance, data, offset_da.astype("float32"), np.float32(quant),
                *no_data[:_N_NODATA], dask="allowed",
            )  # fmt: skip
            out[b] = scaled.transpose("time", "y", "x")
            out[b].attrs = {"units": "1", "long_name": f"{level} reflectance {b}"}
            continue
        bad = data.isnull()  # noqa: PD003  (xarray has no isna)
        if signed is not None:
            bad = bad | (data == signed)
        if fill is not None and np.isfinite(float(fill)):
            bad = bad | (data == float(fill))
        if b in cf_scaled:
            factor = np.float32(da.attrs["scale_factor"])
            data = (data * factor + np.float32(da.attrs.get("add_offset", 0.0))).astype("float32")
        out[b] = data.where(~bad).transpose("time", "y", "x")
        out[b].attrs = {"units": "1", "long_name": f"{level} reflectance {b}"}
    for q in QUALITY_LAYERS:
        if q in ds.data_vars:
            out[q] = _recode_quality(q, ds[q]).transpose("time", "y", "x")
    index_notes: list[str] = []
    for ix in INDEX_VARIABLES:
        if ix in ds.data_vars:
            mul, add, nodata, why = index_scaling(ds[ix], ix, name=name, scale=index_scale)
            raw_ix = ds[ix].astype("float32")
            bad_ix = raw_ix.isnull()  # noqa: PD003  (xarray has no isna)
            for nd in {nodata, signed_nodata(ds[ix].dtype)} - {None}:
                bad_ix = bad_ix | (raw_ix == np.float32(nd))
            scaled = (raw_ix * np.float32(mul) + np.float32(add)).astype("float32")
            out[ix] = scaled.where(~bad_ix).transpose("time", "y", "x")
            out[ix].attrs = {"units": "1", "long_name": f"{ix} (shipped)"}
            index_notes.append(why)
    if not bands and not any(ix in out for ix in INDEX_VARIABLES):
        raise ImageryReadError(
            f"{name} holds no Sentinel-2 band (variables: {sorted(map(str, ds.data_vars))}); "
            "bands must be named like B04 or S2-L2A-B04"
        )
    others = {
        str(v): ds[v]
        for v in ds.data_vars
        if v not in out and str(v) not in crs_vars and str(v) != "spatial_ref"
    }
    drop = [*crs_vars, "spatial_ref"]
    geotransform = next((ds[c].attrs.get("GeoTransform") for c in drop if c in ds.variables), None)
    variables = {k: v.drop_vars(drop, errors="ignore") for k, v in {**out, **others}.items()}
    for var in variables.values():
        var.attrs.pop("grid_mapping", None)
        var.encoding.pop("grid_mapping", None)
    result = xr.Dataset(variables, attrs=dict(ds.attrs))
    # a shallow copy of our own (new variables, attrs and encodings; the data shared): rioxarray
    # then writes in place, where otherwise each call copies every band (half a window's read)
    result = result.drop_vars(drop, errors="ignore").copy(deep=False)
    result = result.rio.set_spatial_dims(x_dim="x", y_dim="y", inplace=True)
    result = result.rio.write_crs(found_crs, grid_mapping_name="spatial_ref", inplace=True)
    result = result.rio.write_transform(
        _transform_from_coords(result, name=name, geotransform=geotransform),
        grid_mapping_name="spatial_ref",
        inplace=True,
    )
    order = ["time", "y", "x", *[d for d in result.dims if d not in ("time", "y", "x")]]
    result = result.transpose(*order)
    result.attrs.update(
        {
            "processing_level": level,
            "reflectance_scale": (
                f"(DN + offset) / {quant:g}"
                if dn_bands
                else ("CF scale_factor/add_offset" if cf_scaled else "as delivered")
            ),
            "boa_offset": offset_note,
            "dn_bands": ",".join(dn_bands),
            "index_scale": "; ".join(index_notes),
        }
    )
    result.attrs.setdefault("scene_ids", "")
    result.attrs.setdefault("source", name)
    logger.debug("%s harmonised: level %s, %s", name, level, offset_note)
    return result


def _check_band(da: xr.DataArray, band: str, *, name: str) -> None:
    """Refuse a band that cannot hold digital numbers or reflectance, or has extra dims."""
    kind = da.dtype.kind
    if kind not in "uif":
        raise ImageryReadError(
            f"{name}: band {band} has dtype {da.dtype}, which holds neither digital numbers nor "
            "reflectance; give integers (DN) or floats (reflectance)"
        )
    extra = [str(d) for d in da.dims if d not in ("time", "y", "x")]
    if extra:
        raise ImageryReadError(
            f"{name}: band {band} has extra dims {extra} besides (time, y, x); select one "
            "value of each (e.g. ds.isel(band=0)) before opening"
        )


def _check_geographic_range(ds: xr.Dataset, crs: CRS, *, name: str) -> None:
    """A geographic CRS on coordinates beyond +-180/+-90 is a mislabelled projected grid."""
    if not crs.is_geographic:
        return
    xs = np.asarray(ds["x"].values, dtype="float64")
    ys = np.asarray(ds["y"].values, dtype="float64")
    if np.nanmax(np.abs(xs)) > 360 or np.nanmax(np.abs(ys)) > 90:
        raise CRSError(
            f"{name} is labelled {crs.to_string()} (degrees) but its coordinates reach "
            f"x={np.nanmax(np.abs(xs)):.6g}, y={np.nanmax(np.abs(ys)):.6g}: metres labelled as "
            "degrees; pass the real CRS with crs='EPSG:...' and fix the file's metadata"
        )


def _transform_from_coords(ds: xr.Dataset, *, name: str, geotransform: Any = None) -> Affine:
    """The affine transform of a regular grid from its pixel-centre coordinates.

    Computed here rather than with ``rio.transform(recalc=True)``, which warns through affine.
    A one-pixel-wide axis borrows the other axis' pixel size, or the source's GeoTransform.
    """
    xs = np.asarray(ds["x"].values, dtype="float64")
    ys = np.asarray(ds["y"].values, dtype="float64")
    known = None
    if isinstance(geotransform, str) and len(geotransform.split()) == 6:
        known = Affine.from_gdal(*map(float, geotransform.split()))
    dx = (xs[-1] - xs[0]) / (xs.size - 1) if xs.size > 1 else None
    dy = (ys[-1] - ys[0]) / (ys.size - 1) if ys.size > 1 else None
    if dx is None:
        dx = known.a if known is not None else (abs(dy) if dy is not None else None)
    if dy is None:
        dy = known.e if known is not None else (-abs(dx) if dx is not None else None)
    if dx is None or dy is None:
        raise ImageryReadError(
            f"{name} is a single pixel without a GeoTransform; its pixel size is unknown"
        )
    if not (np.allclose(np.diff(xs), dx, rtol=1e-3) and np.allclose(np.diff(ys), dy, rtol=1e-3)):
        raise ImageryReadError(f"{name} is not on a regular grid; resample it first")
    return Affine(dx, 0.0, xs[0] - dx / 2, 0.0, dy, ys[0] - dy / 2)


def _recode_quality(name: str, da: xr.DataArray) -> xr.DataArray:
    if name == "SCL":
        out = da.fillna(0).astype("uint8")
        out.attrs = {"long_name": "Sentinel-2 scene classification (0 = no data)"}
        return out
    if name == "CLM":
        # 1 = cloud; anything else (0, NaN for "not flagged", 255 for no data) is not cloud
        out = (da == 1).astype("uint8")
        out.attrs = {"long_name": "cloud mask (1 = cloud)"}
        return out
    if name == "CLP":
        vmax = float(da.max()) if da.size else 0.0
        out = da.astype("float32")
        if vmax > 1.0:  # Sentinel Hub delivers s2cloudless probability as 0-255
            out = out / np.float32(255.0)
        out.attrs = {"long_name": "cloud probability (0-1)"}
        return out
    out = (da.fillna(0) != 0).astype(bool)
    out.attrs = {"long_name": "True where the scene has data"}
    return out


__all__ = [
    "BASELINE_04_DATE",
    "BOA_ADD_OFFSET",
    "NODATA_DN",
    "QUANTIFICATION_VALUE",
    "canonical_name",
    "dn_scaling",
    "harmonize",
]
