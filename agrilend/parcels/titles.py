"""Land titles from any registry into one schema.

:func:`read_titles` opens a registry extract (GeoPackage, Shapefile -- also zipped, also in a
sub-folder of the zip --, GeoJSON, GeoParquet, plain Parquet with a WKB ``geometry`` column,
FlatGeobuf, GML), and :func:`as_titles` maps its columns to the titles schema of DEVELOPERS.md:

=================== =====================================================================
column              meaning
=================== =====================================================================
``parcel_id``       registry parcel code as text (generated ``P-000001``... when absent)
``owner_ref``       keyed pseudonym of the holder (:func:`~agrilend.parcels.pseudonymize`)
``declared_area_ha`` declared area in hectares (NaN when the registry has none)
``declared_crop``   declared crop, through ``crop_codes`` when given (``""`` when absent)
``geometry``        in a projected CRS (a geographic one is projected to the local UTM zone)
=================== =====================================================================

plus the columns the mapping ``keep`` names. The raw owner id and the ``personal`` columns are
dropped before anything leaves this module.

Which registry column is which is a :class:`TitleMapping`, given as arguments, a TOML file or one
of the presets in :data:`MAPPINGS`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from pyproj import CRS

from agrilend._paths import is_remote, local_path
from agrilend.errors import CRSError, MissingCRSError, TitleMappingError, TitlesReadError
from agrilend.parcels._title_files import first_line, open_vector
from agrilend.parcels.crs import _utm_crs, check_crs
from agrilend.parcels.mapping import (
    AREA_UNITS_HA,
    DEFAULT_MAX_FEATURES,
    MAPPINGS,
    TITLE_COLUMNS,
    TitleMapping,
    _guess_mapping,
    _resolve_mapping,
)
from agrilend.parcels.pseudonym import _normalise, pseudonymize

log = logging.getLogger(__name__)


def _column(gdf: pd.DataFrame, col: str, role: str, source: str) -> str:
    """The actual column name (exact, else case-insensitive match), or an error."""
    if col in gdf.columns:
        return col
    folded = [c for c in gdf.columns if str(c).lower() == col.lower()]
    if len(folded) == 1:
        log.info("%s: mapping column %r matched %r ignoring case", source, col, folded[0])
        return str(folded[0])
    have = [str(c) for c in gdf.columns if c != getattr(gdf, "_geometry_column_name", None)]
    raise TitlesReadError(
        f"column {col!r} ({role}) is not in {source}; its columns are {have[:30]}: fix the "
        "titles mapping",
        path=source,
    )


def _texts(values: Any) -> list[str]:
    return [_normalise(v) for v in values]


def _as_titles(
    gdf: Any,
    mapping: TitleMapping | None,
    *,
    key: str | bytes | None,
    source: str,
    given: Mapping[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    if isinstance(gdf, pd.DataFrame) and not isinstance(gdf, gpd.GeoDataFrame):
        if "geometry" not in gdf.columns:
            raise TitlesReadError(
                f"{source} is a table without a geometry column; titles need parcel polygons",
                path=source,
            )
        gdf = gpd.GeoDataFrame(gdf, geometry="geometry")
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TitlesReadError(
            f"{source} must be a GeoDataFrame, got {type(gdf).__name__}; read files with "
            "read_titles",
            path=source,
        )
    try:
        geometry_name = gdf.geometry.name
    except AttributeError as exc:
        raise TitlesReadError(
            f"{source} has no active geometry column; set one with gdf.set_geometry(...)",
            path=source,
        ) from exc
    if mapping is None:
        mapping = _guess_mapping(gdf, given or {}, source)
    if gdf.crs is None:
        if mapping.crs is None:
            raise MissingCRSError(
                f"{source} has no CRS; pass the CRS the registry uses as crs= (e.g. "
                "crs='EPSG:4490' for CGCS2000 longitude/latitude)"
            )
        gdf = gdf.set_crs(mapping.crs)
        log.info("%s: no CRS in the file; assigned %s from the mapping", source, mapping.crs)
    elif mapping.crs is not None and CRS.from_user_input(mapping.crs) != gdf.crs:
        log.info(
            "%s: the file states its CRS (%s); the mapping's crs=%s is only used for files "
            "without one",
            source,
            gdf.crs.to_string(),
            mapping.crs,
        )
    check_crs(gdf, what=source)

    n = len(gdf)
    out: dict[str, Any] = {}
    if mapping.parcel_id:
        col = _column(gdf, mapping.parcel_id, "parcel_id", source)
        out["parcel_id"] = _texts(gdf[col])
    else:
        width = max(6, len(str(n)))
        out["parcel_id"] = [f"P-{i + 1:0{width}d}" for i in range(n)]
    if mapping.owner:
        col = _column(gdf, mapping.owner, "owner", source)
        out["owner_ref"] = list(pseudonymize(gdf[col], key=key))
    else:
        out["owner_ref"] = [""] * n
        log.info("%s: no owner column mapped; owner_ref is empty", source)
    if mapping.declared_area:
        col = _column(gdf, mapping.declared_area, "declared_area", source)
        raw = gdf[col]
        if raw.dtype == np.float32:  # 0.45 stored as float32 reads 0.44999998807907104
            raw = pd.Series([float(str(v)) for v in raw.to_numpy()], index=raw.index)
        area = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        bad = int((np.isnan(area) & raw.notna().to_numpy()).sum())
        if bad:
            log.warning("%s: %d values of %r are not numbers; read as NaN", source, bad, col)
        out["declared_area_ha"] = area * AREA_UNITS_HA[mapping.declared_area_unit]
    else:
        out["declared_area_ha"] = np.full(n, np.nan)
    if mapping.declared_crop:
        col = _column(gdf, mapping.declared_crop, "declared_crop", source)
        crops = _texts(gdf[col])
        if mapping.crop_codes:
            codes = mapping.crop_codes
            unknown = sorted({c for c in crops if c and c not in codes})
            if unknown:
                log.info(
                    "%s: crop codes not in crop_codes kept as they are: %s", source, unknown[:10]
                )
            crops = [codes.get(c, c) for c in crops]
        out["declared_crop"] = crops
    else:
        out["declared_crop"] = [""] * n
    kept = {}
    for name in mapping.keep:
        col = _column(gdf, name, "keep", source)
        if col in TITLE_COLUMNS or col == geometry_name:
            continue
        kept[col] = gdf[col].to_numpy()

    geo = gdf.geometry
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        target = _utm_crs(geo)
        log.info("%s: geographic CRS %s projected to %s", source, crs.to_string(), target.name)
        geo = geo.to_crs(target)
    elif not crs.is_projected:
        raise CRSError(
            f"{source} is in {crs.to_string()}, neither geographic nor projected; reproject it "
            "to a projected CRS first"
        )
    frame = pd.DataFrame(
        {
            "parcel_id": pd.array(out["parcel_id"], dtype="str"),
            "owner_ref": pd.array(out["owner_ref"], dtype="str"),
            "declared_area_ha": out["declared_area_ha"],
            "declared_crop": pd.array(out["declared_crop"], dtype="str"),
            **kept,
        }
    )
    titles = gpd.GeoDataFrame(frame, geometry=geo.to_numpy(), crs=geo.crs)
    titles.attrs["source"] = source
    return titles


def as_titles(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    *,
    mapping: TitleMapping | str | Path | None = None,
    key: str | bytes | None = None,
) -> gpd.GeoDataFrame:
    """Map any ``GeoDataFrame`` of land titles to the titles schema.

    Parameters
    ----------
    gdf
        Registry records with a geometry (a ``DataFrame`` with a shapely ``geometry`` column is
        accepted too).
    mapping
        A :class:`TitleMapping`, a preset name from :data:`MAPPINGS`, or a TOML file. None guesses
        common column names and logs the guesses.
    key
        Pseudonym key; defaults to ``Settings.pseudonym_key``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id``, ``owner_ref``, ``declared_area_ha``, ``declared_crop``, the kept columns
        and ``geometry``, in a projected CRS. Raw owner ids and personal columns are gone.

    Raises
    ------
    TitlesReadError
        A mapped column is missing, or the input has no geometry.
    MissingCRSError, CRSError
        No CRS and none in the mapping; or a CRS that contradicts the coordinates.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"DKBM": ["1301", "1302"], "CBFBM": ["A1", "A1"],
    ...     "HTMJM": [3.0, 1.5], "CBFMC": ["张三", "张三"]}, crs="EPSG:32650",
    ...     geometry=[shapely.box(0, 0, 100, 200), shapely.box(100, 0, 200, 100)])
    >>> t = as_titles(g, mapping=TitleMapping(parcel_id="DKBM", owner="CBFBM",
    ...     declared_area="HTMJM", declared_area_unit="mu", personal=("CBFMC",)), key="k")
    >>> list(t.columns)
    ['parcel_id', 'owner_ref', 'declared_area_ha', 'declared_crop', 'geometry']
    >>> t["declared_area_ha"].round(2).tolist(), t["owner_ref"].nunique()
    ([0.2, 0.1], 1)
    """
    return _as_titles(gdf, _resolve_mapping(mapping), key=key, source="titles frame")


def read_titles(
    path: str | Path,
    *,
    mapping: TitleMapping | str | Path | None = None,
    key: str | bytes | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    allow_remote: bool | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    **mapping_overrides: Any,
) -> gpd.GeoDataFrame:
    """Read land titles from a registry file into the titles schema.

    Parameters
    ----------
    path
        GeoPackage, Shapefile, zip holding a shapefile or GeoPackage (also in a sub-folder),
        GeoJSON, FlatGeobuf, GML, GeoParquet or Parquet with a WKB ``geometry`` column. URLs
        and GDAL virtual paths are refused unless ``allow_remote`` (or
        ``AGRILEND_ALLOW_REMOTE=1``).
    mapping
        A :class:`TitleMapping`, a preset name from :data:`MAPPINGS`, or a TOML file. None guesses
        the columns the keyword overrides leave open (and logs the guesses).
    key
        Pseudonym key; defaults to ``Settings.pseudonym_key``.
    layer, encoding
        Override the mapping's layer and text encoding (e.g. ``encoding="gbk"``).
    allow_remote
        Let URLs and ``/vsi*/`` paths through.
    max_features
        Refuse larger files (a registry of a whole province is better read by village).
    **mapping_overrides
        Any :class:`TitleMapping` field (``parcel_id="DKBM"``, ``declared_area_unit="mu"``...).

    Returns
    -------
    geopandas.GeoDataFrame
        See :func:`as_titles`.

    Raises
    ------
    InputPathError
        A remote path that is not allowed, or a missing file.
    TitlesReadError
        The file cannot be opened or mapped; the message names the file and says what to do.
    TitleMappingError
        The mapping is invalid.
    MissingCRSError, CRSError
        As in :func:`as_titles`.

    Notes
    -----
    Geometries are read as they are: run :func:`~agrilend.parcels.validate_titles` next to
    repair them and flag slivers, overlaps, duplicates and parcels off the imagery.

    Examples
    --------
    >>> import geopandas as gpd, shapely, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "titles.gpkg"
    >>> gpd.GeoDataFrame({"DKBM": ["1301"], "CBFBM": ["A1"], "HTMJM": [1.5]},
    ...     geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:32650").to_file(f)
    >>> t = read_titles(f, parcel_id="DKBM", owner="CBFBM", declared_area="HTMJM",
    ...                 declared_area_unit="mu", key="k")
    >>> t["parcel_id"].tolist(), t["declared_area_ha"].tolist()
    (['1301'], [0.1])
    """
    resolved = _resolve_mapping(mapping)
    known = {f.name for f in dataclasses.fields(TitleMapping)}
    unknown = sorted(set(mapping_overrides) - known)
    if unknown:
        raise TitleMappingError(
            f"read_titles got unknown mapping keys {unknown}; allowed: {sorted(known)}",
            key=unknown[0],
        )
    given = dict(mapping_overrides)
    if layer is not None:
        given["layer"] = layer
    if encoding is not None:
        given["encoding"] = encoding
    final: TitleMapping | None
    if resolved is not None:
        final = dataclasses.replace(resolved, **given) if given else resolved
    else:
        final = None
    remote = is_remote(path)
    checked = local_path(path, what="titles", allow_remote=allow_remote)
    src: Path | str = str(path) if remote else checked
    lyr = final.layer if final else given.get("layer")
    enc = final.encoding if final else given.get("encoding")
    gdf = open_vector(src, layer=lyr, encoding=enc, max_features=max_features)
    name = Path(str(path)).name
    if final is None:
        final = _guess_mapping(gdf, given, name)
    try:
        titles = _as_titles(gdf, final, key=key, source=name)
    except (UnicodeDecodeError, pa.ArrowException) as exc:  # text a damaged file garbled
        raise TitlesReadError(
            f"text in {name!r} is not valid in its encoding ({first_line(exc)}); pass the "
            "registry's encoding as encoding= (e.g. 'gbk')",
            path=checked,
        ) from exc
    log.info("%s: read %d titles", name, len(titles))
    return titles


__all__ = [
    "AREA_UNITS_HA",
    "DEFAULT_MAX_FEATURES",
    "MAPPINGS",
    "TITLE_COLUMNS",
    "TitleMapping",
    "as_titles",
    "read_titles",
]
