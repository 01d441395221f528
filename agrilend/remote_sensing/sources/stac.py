"""Sentinel-2 L2A from STAC: a public API (pystac-client search) or a static catalogue (pystac),
loaded with odc-stac into the cube contract.

Asset names differ between catalogues (Earth Search calls B04 ``red`` and SCL ``scl``; the
Planetary Computer keeps ``B04`` and ``SCL``): :data:`ASSET_ALIASES` maps the canonical band names
to the names found. Digital numbers become reflectance with the scale, offset and no-data of each
item's raster extension; items without it get 1/10000 and, for processing baseline 04.00 and
later (or, lacking the baseline, acquisitions from 2022-01-25 on), the -1000 DN offset.

The smoothed NDVI series and phenology of some fields for a season, from Earth Search::

    import geopandas as gpd
    from agrilend.parcels import zonal_series
    from agrilend.remote_sensing import load_stac
    from agrilend.remote_sensing.timeseries import clean_series
    from agrilend.remote_sensing.phenology import phenology_table

    fields = gpd.read_file("fields.gpkg")
    cube = load_stac("https://earth-search.aws.element84.com/v1", geometry=fields,
                     time=("2024-03-01", "2024-11-30"), max_cloud=60)
    series = zonal_series(cube, fields)
    ndvi, dates = clean_series(series["NDVI_mean"].values, series.indexes["time"])
    table = phenology_table(ndvi, dates, index=series.indexes["parcel"])
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import odc.stac
import pandas as pd
import pyproj
import pystac
import shapely
import xarray as xr
from rasterio.features import geometry_mask

from agrilend._gate import check_remote_href, check_stac_items, raster_env, walk_stac
from agrilend._paths import is_remote, local_path
from agrilend.errors import (
    CRSError,
    ImageryReadError,
    InputPathError,
    MissingBandError,
    ServiceError,
)
from agrilend.remote_sensing.contract import validate_cube
from agrilend.remote_sensing.masks import mask_clouds
from agrilend.remote_sensing.sanity import with_value_check
from agrilend.vocabulary import BASELINE_04_DATE

log = logging.getLogger(__name__)

#: Reflectance bands loaded by default.
DEFAULT_BANDS = ("B02", "B03", "B04", "B08")
#: Canonical band -> asset keys tried in order: canonical (Planetary Computer), Earth Search v1
#: names, then Copernicus Data Space's resolution-suffixed keys (``B04_10m``, ``SCL_20m``; see
#: :func:`_asset_keys`).
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "B01": ("B01", "coastal"),
    "B02": ("B02", "blue"),
    "B03": ("B03", "green"),
    "B04": ("B04", "red"),
    "B05": ("B05", "rededge1"),
    "B06": ("B06", "rededge2"),
    "B07": ("B07", "rededge3"),
    "B08": ("B08", "nir"),
    "B8A": ("B8A", "nir08"),
    "B09": ("B09", "nir09"),
    "B11": ("B11", "swir16"),
    "B12": ("B12", "swir22"),
    "SCL": ("SCL", "scl"),
}
#: First day of Sentinel-2 processing baseline 04.00 (DN carry a +1000 offset from then on).
BASELINE_04_START = BASELINE_04_DATE  # the name this module has always exported


# --- finding items ----------------------------------------------------------------------------


def _time_bounds(time: Sequence[Any] | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if time is None:
        return None
    if isinstance(time, str) or len(time) != 2:
        raise ValueError(f"time must be (start, end); got {time!r}")
    start = pd.Timestamp(time[0]).tz_localize(None).normalize()
    end = pd.Timestamp(time[1]).tz_localize(None).normalize() + pd.Timedelta(days=1)
    if end <= start:
        raise ValueError(f"time range ends ({time[1]}) before it starts ({time[0]})")
    return start, end


def _item_time(item: pystac.Item) -> pd.Timestamp:
    ts = pd.Timestamp(item.datetime or item.properties["start_datetime"])
    return ts.tz_convert(None) if ts.tz else ts


def _search_api(
    url: str,
    *,
    collection: str,
    lonlat_bbox: tuple[float, float, float, float] | None,
    time: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> list[pystac.Item]:
    import pystac_client  # noqa: PLC0415  (only the API path needs it)

    kwargs: dict[str, Any] = {"collections": [collection]}
    if lonlat_bbox is not None:
        kwargs["bbox"] = list(lonlat_bbox)
    if time is not None:
        last = time[1] - pd.Timedelta(seconds=1)
        kwargs["datetime"] = f"{time[0].isoformat()}Z/{last.isoformat()}Z"
    try:
        client = pystac_client.Client.open(url)
        items = list(client.search(**kwargs).items())
    except pystac_client.exceptions.APIError as exc:
        raise ServiceError(f"STAC API {url} refused the search: {exc}; check the URL") from None
    except OSError as exc:  # connection errors from requests are OSErrors
        raise ServiceError(f"STAC API {url} could not be reached ({type(exc).__name__})") from None
    log.info("STAC search at %s found %d item(s)", url, len(items))
    return items


def _read_catalog(path: Path) -> list[pystac.Item]:
    # links are followed by the input gate (local ones inside the catalogue, remote ones only
    # with remote access on), never by pystac on its own
    if path.is_dir():
        path = path / "catalog.json"
    return list(walk_stac(path))


def _keep(
    items: Iterable[pystac.Item],
    *,
    collection: str | None,
    lonlat_bbox: tuple[float, float, float, float] | None,
    time: tuple[pd.Timestamp, pd.Timestamp] | None,
    max_cloud: float | None,
) -> list[pystac.Item]:
    """Items of ``collection`` in the time range and area, no cloudier than ``max_cloud``."""
    area = shapely.box(*lonlat_bbox) if lonlat_bbox is not None else None
    kept = []
    for it in items:
        if collection and it.collection_id and it.collection_id != collection:
            continue
        if time is not None and not time[0] <= _item_time(it) < time[1]:
            continue
        if area is not None and it.bbox is not None and not area.intersects(shapely.box(*it.bbox)):
            continue
        cc = it.properties.get("eo:cloud_cover")
        if max_cloud is not None and cc is not None and float(cc) > max_cloud:
            continue
        kept.append(it)
    return kept


# --- bands, scale and offset ------------------------------------------------------------------


#: Resolution suffixes of Copernicus Data Space asset keys, finest first.
_RES_SUFFIXES = ("10m", "20m", "60m")


def _asset_keys(items: Sequence[pystac.Item], names: Sequence[str]) -> dict[str, str]:
    """Canonical name -> asset key present in the items (the finest of ``B04_10m``/``_20m``)."""
    present = set().union(*(it.assets for it in items))
    out = {}
    for name in names:
        base = ASSET_ALIASES.get(name, (name,))
        aliases = (*base, *(f"{name}_{r}" for r in _RES_SUFFIXES))
        key = next((a for a in aliases if a in present), None)
        if key is None:
            raise MissingBandError(
                f"no asset for band {name!r} in the STAC items (looked for {list(aliases)}; "
                f"assets found: {sorted(present)}); choose bands the catalogue has",
                band=name,
            )
        out[name] = key
    return out


_BASELINE_IN_ID = re.compile(r"_N(\d{2})(\d{2})(?:_|$)")


def _raster_fields(item: pystac.Item, key: str) -> dict[str, Any]:
    """Scale, offset and nodata of one asset from the raster extension: the asset's own
    ``raster:bands`` (STAC 1.0) or ``raster:scale``/``raster:offset``/``nodata`` fields (STAC
    1.1, as Copernicus Data Space writes them), else the item's ``raster:bands``."""
    asset = item.assets[key].extra_fields
    out: dict[str, Any] = {}
    for source in (
        (asset.get("raster:bands") or [{}])[0],
        {k.split(":", 1)[-1]: v for k, v in asset.items() if k in ("raster:scale", "raster:offset")}
        | ({"nodata": asset["nodata"]} if "nodata" in asset else {}),
        (item.properties.get("raster:bands") or [{}])[0],
    ):
        for k in ("scale", "offset", "nodata"):
            if k in source and k not in out:
                out[k] = source[k]
    return out


def _baseline(item: pystac.Item) -> tuple[int, int] | None:
    """Processing baseline of an item: ``s2:processing_baseline``, ``processing:version``, or
    the ``_Nxxyy_`` of a product id (Copernicus Data Space, Planetary Computer)."""
    for key in ("s2:processing_baseline", "processing:version"):
        value = item.properties.get(key)
        if value is not None:
            try:
                major, minor = (int(p) for p in str(value).strip().lstrip("N").split(".")[:2])
            except ValueError:
                continue
            return major, minor
    m = _BASELINE_IN_ID.search(str(item.properties.get("s2:product_uri", "")) + "_" + item.id)
    return (int(m[1]), int(m[2])) if m else None


def offset_rule(item: pystac.Item, key: str) -> tuple[float, float, float | None, str]:
    """(scale, offset, nodata, why) turning one asset's numbers into reflectance.

    The rules, in order, read the item's own metadata and never its pixels, so every date of
    one product gets the same decision:

    1. ``earthsearch:boa_offset_applied: true`` (Earth Search v1): the offset is already in the
       numbers, so none is added, whatever ``raster:bands`` says (that catalogue's maintainers
       say the flag, not ``raster:bands``, tells).
    2. The raster extension (asset level, then item level): its ``scale`` and ``offset``.
    3. The processing baseline (``s2:processing_baseline``, ``processing:version`` or the
       ``_N0511_`` of the id): -0.1 from 04.00 on, else 0.
    4. The acquisition date: -0.1 from 2022-01-25 on.

    Quality layers (``SCL``) are classes: scale 1, offset 0.
    """
    fields = _raster_fields(item, key)
    nodata = fields.get("nodata", item.assets[key].extra_fields.get("nodata", 0))
    scale = float(fields.get("scale", 1e-4))
    if item.properties.get("earthsearch:boa_offset_applied") is True:
        return scale, 0.0, nodata, "earthsearch:boa_offset_applied (offset already in the data)"
    if "scale" in fields or "offset" in fields:
        return scale, float(fields.get("offset", 0.0)), nodata, "raster extension scale/offset"
    baseline = _baseline(item)
    if baseline is not None:
        off = -0.1 if baseline >= (4, 0) else 0.0
        return 1e-4, off, nodata, f"processing baseline {baseline[0]:02d}.{baseline[1]:02d}"
    shifted = _item_time(item) >= BASELINE_04_START
    return 1e-4, (-0.1 if shifted else 0.0), nodata, "acquisition date (no baseline given)"


def _scale_offset_nodata(item: pystac.Item, key: str) -> tuple[float, float, float | None]:
    """(scale, offset, nodata) of one asset by :func:`offset_rule`."""
    return offset_rule(item, key)[:3]


def _per_time(
    times: pd.DatetimeIndex, items: Sequence[pystac.Item], key: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[float | None], list[str]]:
    """Scale, offset, nodata and item ids per loaded time step (nearest item in time)."""
    item_times = np.array([_item_time(it).to_datetime64() for it in items])
    scales, offsets, nodatas, ids = [], [], [], []
    for t in times:
        k = int(np.argmin(np.abs(item_times - t.to_datetime64())))
        s, o, n = _scale_offset_nodata(items[k], key)
        scales.append(s)
        offsets.append(o)
        nodatas.append(n)
        ids.append(items[k].id)
    return np.array(scales), np.array(offsets), nodatas, ids


# --- area ------------------------------------------------------------------------------------


def _lonlat_area(
    bbox: Sequence[float] | None, geometry: Any, crs: Any
) -> tuple[tuple[float, float, float, float] | None, shapely.Geometry | None, Any]:
    """(lon/lat bbox for searching, geometry in its own CRS, that CRS)."""
    if bbox is not None and geometry is not None:
        raise ValueError("pass bbox= or geometry=, not both")
    if bbox is not None:
        if len(bbox) != 4 or not bbox[0] < bbox[2] or not bbox[1] < bbox[3]:
            raise ValueError(f"bbox must be (minlon, minlat, maxlon, maxlat); got {bbox}")
        return (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])), None, None
    if geometry is None:
        return None, None, None
    gcrs = getattr(geometry, "crs", None) or crs or "EPSG:4326"
    if hasattr(geometry, "geometry"):
        geometry = shapely.union_all(np.asarray(geometry.geometry))
    if not isinstance(geometry, shapely.Geometry):
        geometry = shapely.geometry.shape(geometry)
    tr = pyproj.Transformer.from_crs(gcrs, "EPSG:4326", always_xy=True)
    ll = tr.transform_bounds(*geometry.bounds)
    return (ll[0], ll[1], ll[2], ll[3]), geometry, gcrs


def _proj_code(fields: dict[str, Any]) -> str | None:
    if fields.get("proj:code"):
        return str(fields["proj:code"])
    return f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None


def _native_crs(items: Sequence[pystac.Item]) -> str | None:
    """The most common CRS of the items: item ``proj:code``/``proj:epsg``, else their assets'
    (Copernicus Data Space keeps the CRS on the assets)."""
    codes: Counter[str] = Counter()
    for it in items:
        code = _proj_code(it.properties)
        if code is None:
            code = next((c for a in it.assets.values() if (c := _proj_code(a.extra_fields))), None)
        if code:
            codes[code] += 1
    return codes.most_common(1)[0][0] if codes else None


# --- the loader -------------------------------------------------------------------------------


def search_stac(
    source: str | Path | Sequence[pystac.Item] | pystac.ItemCollection,
    *,
    bbox: Sequence[float] | None = None,
    geometry: Any = None,
    crs: Any = None,
    time: Sequence[Any] | None = None,
    collection: str = "sentinel-2-l2a",
    max_cloud: float | None = None,
) -> pystac.ItemCollection:
    """The items :func:`load_stac` would load: searched, filtered by area, time and cloud.

    Parameters are those of :func:`load_stac`. A scan freezes this answer into its results
    folder (``ItemCollection.save_object``) so every worker and every resume reads the same
    scenes.

    Raises
    ------
    ImageryReadError
        When no item matches.
    """
    trange = _time_bounds(time)
    ll_bbox, _, _ = _lonlat_area(bbox, geometry, crs)
    if isinstance(source, (str, Path)) and is_remote(source):
        if not str(source).lower().startswith(("http://", "https://")):
            raise InputPathError(
                f"a STAC API is reached over http(s); got {str(source)!r}: give an https:// "
                "address or the path of a local catalogue",
                path=str(source),
            )
        check_remote_href(str(source), what="STAC API")  # remote access on, host allowed
        found = _search_api(str(source), collection=collection, lonlat_bbox=ll_bbox, time=trange)
        where = str(source)
    elif isinstance(source, (str, Path)):
        path = local_path(source, what="STAC catalogue")
        found = _read_catalog(path)
        where = str(path)
    else:
        found = list(source)
        where = "items"
    items = _keep(
        found, collection=collection, lonlat_bbox=ll_bbox, time=trange, max_cloud=max_cloud
    )
    if not items:
        raise ImageryReadError(
            f"no {collection!r} item in {where} matches the area, time range and cloud limit "
            f"({len(found)} item(s) looked at); widen the search or raise max_cloud"
        )
    return pystac.ItemCollection(items, clone_items=False)


def load_stac(
    source: str | Path | Sequence[pystac.Item] | pystac.ItemCollection,
    *,
    bbox: Sequence[float] | None = None,
    geometry: Any = None,
    time: Sequence[Any] | None = None,
    collection: str = "sentinel-2-l2a",
    bands: Sequence[str] = DEFAULT_BANDS,
    quality: Sequence[str] = ("SCL",),
    resolution: float = 10.0,
    crs: Any = None,
    chunks: dict[str, int | Literal["auto"]] | None = None,
    max_cloud: float | None = None,
    check_values: bool = True,
) -> xr.Dataset:
    """Sentinel-2 L2A from a STAC API, a static STAC catalogue or a list of items, as a cube.

    Parameters
    ----------
    source
        A STAC API URL (``https://...``, searched with pystac-client), the path of a static
        catalogue, collection or item JSON (read with pystac), or STAC items.
    bbox
        ``(minlon, minlat, maxlon, maxlat)`` in lon/lat, as in STAC searches.
    geometry
        Instead of ``bbox``: a shapely geometry (lon/lat unless ``crs``), GeoSeries or
        GeoDataFrame; pixels outside it are not ``valid``. Without either, the items' extent.
    time
        ``(start, end)`` dates, both included.
    collection
        STAC collection id.
    bands, quality
        Canonical reflectance bands (``B04``...) and classification layers (``SCL``), found
        under their catalogue names (:data:`ASSET_ALIASES`).
    resolution
        Pixel size in units of the output CRS (metres).
    crs
        Output CRS; default: the items' own (``proj:code``/``proj:epsg``). Also the CRS of a
        bare shapely ``geometry``.
    chunks
        Dask chunks (e.g. ``{"x": 512, "y": 512}``) for a lazy cube; None loads into memory.
    max_cloud
        Skip items whose ``eo:cloud_cover`` exceeds this percentage.
    check_values
        Sample the reflectances and refuse implausible ones
        (:func:`~agrilend.remote_sensing.sanity.check_values`); ``False`` only where the grid is
        wanted and the same cube's values are checked elsewhere.

    Returns
    -------
    xarray.Dataset
        A contract cube: float32 reflectance, ``SCL`` (uint8), ``valid`` from
        :func:`~agrilend.remote_sensing.masks.mask_clouds` (and inside ``geometry``), CRS;
        ``attrs["scene_ids"]`` lists the items used.

    Raises
    ------
    ImageryReadError
        No item matched, or the catalogue is unreadable.
    MissingBandError, ServiceError, InputPathError

    Examples
    --------
    >>> cube = load_stac("https://earth-search.aws.element84.com/v1",
    ...                  bbox=(117.01, 36.60, 117.03, 36.62),
    ...                  time=("2024-05-01", "2024-05-31"), max_cloud=40)  # doctest: +SKIP
    """
    ll_bbox, geom, geom_crs = _lonlat_area(bbox, geometry, crs)
    items = list(
        search_stac(
            source, bbox=bbox, geometry=geometry, crs=crs, time=time, collection=collection,
            max_cloud=max_cloud,
        )
    )  # fmt: skip
    where = str(source) if isinstance(source, (str, Path)) else "items"
    names = [*bands, *quality]
    keys = _asset_keys(items, names)
    check_stac_items(items, keys.values())  # every href read passes the gate first
    out_crs = crs or _native_crs(items)
    if out_crs is None:
        raise CRSError("the STAC items carry no proj:code/proj:epsg; pass crs='EPSG:...'")
    if pyproj.CRS.from_user_input(out_crs).is_geographic:
        raise CRSError(f"output CRS {out_crs} is geographic; pass a projected crs (metres)")
    area: dict[str, Any] = {}
    if geom is not None:
        area["geopolygon"] = _odc_geom(geom, geom_crs)
    elif ll_bbox is not None:
        area["bbox"] = ll_bbox
    log.info(
        "loading %d STAC item(s) from %s at %g m in %s", len(items), where, resolution, out_crs
    )
    try:
        with _quiet_odc(), raster_env():
            raw = odc.stac.load(
                items,
                bands=[keys[n] for n in names],
                groupby="solar_day",
                crs=out_crs,
                resolution=resolution,
                chunks=chunks,
                # classes by nearest neighbour (no class invented), reflectance bilinearly
                # (a 20 m band on a 10 m grid; identical to nearest on its own grid)
                resampling={keys[n]: ("nearest" if n in quality else "bilinear") for n in names},
                **area,
            )
    except (OSError, RuntimeError) as exc:
        raise ImageryReadError(f"odc-stac could not read the items from {where}: {exc}") from None
    with _quiet_odc():
        return _to_contract(
            raw, items, keys, bands=bands, quality=quality, geom=geom, geom_crs=geom_crs,
            check_values=check_values,
        )  # fmt: skip


@contextlib.contextmanager
def _quiet_odc() -> Iterator[None]:
    """Silence two deprecation notices raised inside odc-geo, which are its to fix.

    odc-geo multiplies Affine objects with ``*`` (affine >= 3.1 flags it) and calls
    ``shapely.ops.transform`` (deprecated in shapely 2.2); neither says anything to a user.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="The 'shapely.ops.transform", category=DeprecationWarning
        )
        yield


def _odc_geom(geom: shapely.Geometry, crs: Any) -> Any:
    from odc.geo.geom import Geometry  # noqa: PLC0415  (odc-geo comes with odc-stac)

    return Geometry(geom, crs=str(pyproj.CRS.from_user_input(crs).to_string()))


def _to_contract(
    raw: xr.Dataset,
    items: Sequence[pystac.Item],
    keys: dict[str, str],
    *,
    bands: Sequence[str],
    quality: Sequence[str],
    geom: shapely.Geometry | None,
    geom_crs: Any,
    check_values: bool = True,
) -> xr.Dataset:
    times = pd.DatetimeIndex(raw["time"].values)
    out: dict[str, xr.DataArray] = {}
    scene_ids: list[str] = []
    rules = sorted({offset_rule(it, keys[b])[3] for it in items for b in bands})
    for name in bands:
        da = raw[keys[name]]
        scale, offset, nodata, ids = _per_time(times, items, keys[name])
        scene_ids = scene_ids or ids
        sc = xr.DataArray(scale.astype("float32"), dims="time")
        of = xr.DataArray(offset.astype("float32"), dims="time")
        nd = xr.DataArray(
            np.array([np.nan if n is None else n for n in nodata], dtype="float64"), dims="time"
        )
        refl = (da.astype("float32") * sc + of).where(da != nd)
        out[name] = refl.astype("float32").drop_attrs()
    for name in quality:
        out[name] = raw[keys[name]].astype("uint8").drop_attrs()
    cube = xr.Dataset(out).assign_coords(time=times.tz_localize(None).normalize())
    cube = mask_clouds(cube)
    if geom is not None:
        cube["valid"] = cube["valid"] & _inside(raw, geom, geom_crs)
    cube = cube.drop_vars([c for c in cube.coords if c not in ("time", "y", "x", "spatial_ref")])
    cube = cube.rio.write_crs(raw.odc.crs.to_wkt())
    cube.attrs.update(
        source=f"stac:{items[0].collection_id or 'items'}",
        processing_level="L2A",
        scene_ids=",".join(scene_ids),
        boa_offset="; ".join(rules),
    )
    if check_values:
        cube = with_value_check(cube, name="STAC cube")
    return validate_cube(cube, name="STAC cube")


def _inside(raw: xr.Dataset, geom: shapely.Geometry, geom_crs: Any) -> xr.DataArray:
    """True for pixels whose centre lies in ``geom`` (reprojected to the cube's CRS)."""
    tr = pyproj.Transformer.from_crs(geom_crs, raw.odc.crs.to_wkt(), always_xy=True)
    g = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    affine = raw.odc.geobox.affine
    ny, nx = raw.sizes["y"], raw.sizes["x"]
    mask = ~geometry_mask([g], out_shape=(ny, nx), transform=affine)
    return xr.DataArray(mask, dims=("y", "x"), coords={"y": raw["y"], "x": raw["x"]})


__all__ = [
    "ASSET_ALIASES",
    "BASELINE_04_START",
    "DEFAULT_BANDS",
    "load_stac",
    "offset_rule",
    "search_stac",
]
