"""Opening registry files for :mod:`agrilend.parcels.titles`: one GeoDataFrame per file.

Every failure becomes a :class:`~agrilend.errors.TitlesReadError` that names the file and says
what to do; GDAL's remarks about a file go to the log.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from agrilend._gate import (
    VECTOR_FORMATS,
    check_geojson_bytes,
    check_member,
    check_sqlite,
    check_vector,
    configure_ogr,
)
from agrilend._limits import check_parquet, check_wkb_column, check_zip, read_zip_member
from agrilend.errors import AgrilendError, TitlesReadError

log = logging.getLogger(__name__)

OGR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite")
PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
WKB_COLUMNS = ("geometry", "geom", "wkb_geometry", "the_geom", "shape")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _not_readable(name: str, exc: BaseException, path: Any) -> TitlesReadError:
    return TitlesReadError(
        f"titles file {name!r} could not be opened ({first_line(exc)}); check that it is a "
        "GeoPackage, Shapefile (with its .shx and .dbf), zipped Shapefile, GeoJSON, FlatGeobuf, "
        "GML or (Geo)Parquet file and that it is complete",
        path=path,
    )


def _log_caught(caught: list[warnings.WarningMessage], name: str) -> None:
    # GDAL's remarks about a file (odd field widths, unknown encodings) are facts about the
    # input, not faults of the caller: they go to the log with the file's name.
    for w in caught:
        log.info("reading %s: %s", name, w.message)


def _read_ogr(
    src: str, *, name: str, path: Any, layer: str | None, encoding: str | None, max_features: int
) -> gpd.GeoDataFrame:
    """Read one layer with pyogrio; errors name the file and say what to do."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            layers = pyogrio.list_layers(src)
        except Exception as exc:  # pyogrio raises DataSourceError, OSError, ... on bad bytes
            raise _not_readable(name, exc, path) from exc
        names = [str(row[0]) for row in layers]
        if not names:
            raise TitlesReadError(f"titles file {name!r} holds no layer", path=path)
        try:
            if layer is None:
                layer = _pick_layer(src, names, name=name, path=path)
            elif layer not in names:
                raise TitlesReadError(
                    f"titles file {name!r} has no layer {layer!r}; its layers are {names}: pass "
                    "one of them as layer=",
                    path=path,
                )
            info = pyogrio.read_info(src, layer=layer, encoding=encoding)
            _check_layer(info, name=name, layer=layer, path=path, max_features=max_features)
            gdf = pyogrio.read_dataframe(src, layer=layer, encoding=encoding)
        except TitlesReadError:
            raise
        except LookupError as exc:  # an unknown encoding name
            raise TitlesReadError(
                f"titles file {name!r}: encoding {encoding!r} is unknown ({first_line(exc)}); "
                "pass a Python codec name such as 'gbk', 'gb18030', 'cp1252' or 'utf-8'",
                path=path,
            ) from exc
        except Exception as exc:  # any GDAL failure inside a damaged file
            raise _not_readable(name, exc, path) from exc
    _log_caught(caught, name)
    if (
        src.lower().endswith(".shp")
        and encoding is None
        and not Path(src[: -len(".shp")] + ".cpg").exists()
        and not src.startswith("/vsi")
    ):
        log.info(
            "%s has no .cpg file: its text was decoded as the DBF header says (or Latin-1); if "
            "names look garbled, pass encoding= (e.g. 'gbk' for Chinese registries)",
            name,
        )
    return gdf


def _pick_layer(src: str, names: list[str], *, name: str, path: Any) -> str:
    if len(names) == 1:
        return names[0]
    usable = []
    for lyr in names:
        info = pyogrio.read_info(src, layer=lyr)
        if info["geometry_type"] is not None and info["features"] != 0:
            usable.append((lyr, int(info["features"])))
    if len(usable) == 1:
        log.info("%s: read layer %r (the only one with features and geometry)", name, usable[0][0])
        return usable[0][0]
    if not usable:
        raise TitlesReadError(
            f"titles file {name!r} has layers {names} but none holds features with geometry; "
            "export the parcel polygons from the registry",
            path=path,
        )
    listed = ", ".join(f"{lyr!r} ({n} features)" for lyr, n in usable)
    raise TitlesReadError(
        f"titles file {name!r} holds several layers with geometry: {listed}; pass layer= (or "
        "layer in the titles mapping) to say which one holds the titles",
        path=path,
    )


def _check_layer(
    info: dict[str, Any], *, name: str, layer: str, path: Any, max_features: int
) -> None:
    if info["geometry_type"] is None:
        raise TitlesReadError(
            f"layer {layer!r} of {name!r} has no geometry (fields: {list(info['fields'])[:8]}); "
            "point read_titles at the layer with the parcel polygons, or join this table to "
            "them first",
            path=path,
        )
    if info["features"] == 0:
        raise TitlesReadError(
            f"layer {layer!r} of {name!r} holds no features; pass the layer that holds the "
            "titles (layer=)",
            path=path,
        )
    if max_features and info["features"] > max_features:
        raise TitlesReadError(
            f"layer {layer!r} of {name!r} holds {info['features']} features, more than "
            f"max_features={max_features}; split the registry (e.g. by village) or raise "
            "max_features",
            path=path,
        )


def _read_zip(
    p: Path, *, layer: str | None, encoding: str | None, max_features: int
) -> gpd.GeoDataFrame:
    try:
        with zipfile.ZipFile(p) as zf:
            check_zip(zf, f"titles zip {p.name!r}", path=p)
            members = [i.filename for i in zf.infolist() if not i.is_dir()]
    except AgrilendError:
        raise
    except Exception as exc:  # BadZipFile, NotImplementedError (odd versions), struct.error...
        raise _not_readable(p.name, exc, p) from exc
    candidates = [
        m
        for m in members
        if m.lower().endswith((*OGR_SUFFIXES, *PARQUET_SUFFIXES)) and not m.startswith("__MACOSX/")
    ]
    if not candidates:
        shown = members[:6] + (["..."] if len(members) > 6 else [])
        raise TitlesReadError(
            f"the zip {p.name!r} holds no .shp, .gpkg, .geojson, .fgb, .gml or .parquet (it holds "
            f"{shown}); unzip it and point read_titles at the layer file",
            path=p,
        )
    inner_layer = layer
    if len(candidates) > 1:
        chosen = [m for m in candidates if layer is not None and Path(m).stem == layer]
        if len(chosen) != 1:
            raise TitlesReadError(
                f"the zip {p.name!r} holds several vector files {candidates}; pass layer= with "
                "the name of the one that holds the titles (without its suffix)",
                path=p,
            )
        candidates, inner_layer = chosen, None
    member = candidates[0]
    if member.lower().endswith(PARQUET_SUFFIXES):
        return _parquet_in_zip(p, member)
    if member.lower().endswith(".shp"):
        stem = member[:-4]
        missing = [
            s for s in (".shx", ".dbf") if not any(m.lower() == (stem + s).lower() for m in members)
        ]
        if missing:
            raise TitlesReadError(
                f"the shapefile {member!r} in {p.name!r} lacks its {missing} part(s); zip the "
                "whole shapefile (.shp, .shx, .dbf, .prj, .cpg) again",
                path=p,
            )
        if inner_layer == Path(member).stem or inner_layer == Path(p).stem:
            inner_layer = None
    _check_zip_member(p, member)
    log.info("%s: reading %s from the zip", p.name, member)
    return _read_ogr(
        f"/vsizip/{p.resolve()}/{member}",
        name=f"{p.name}/{member}",
        path=p,
        layer=inner_layer,
        encoding=encoding,
        max_features=max_features,
    )


def _check_zip_member(p: Path, member: str) -> None:
    """The content gate for the member GDAL will read (a VRT inside a zip is refused)."""
    what = f"titles zip {p.name!r}"
    try:
        with zipfile.ZipFile(p) as zf, zf.open(member) as fh:
            head = fh.read(4096)
            kind = check_member(head, member, what=what, path=p)
            if kind == "GeoJSON":
                raw = read_zip_member(zf, member, what, path=p)
                check_geojson_bytes(raw, what=f"{what} member {member!r}", path=p)
            elif kind == "GPKG":  # sqlite reads files only: check a copy (its size is bounded)
                with tempfile.TemporaryDirectory(prefix="agrilend-gate-") as tmp:
                    copy = Path(tmp) / "member.gpkg"
                    copy.write_bytes(read_zip_member(zf, member, what, path=p))
                    check_sqlite(copy, what=f"{what} member {member!r}")
    except AgrilendError:
        raise
    except Exception as exc:  # a damaged member
        raise _not_readable(p.name, exc, p) from exc


#: Largest (uncompressed) Parquet member read out of a zip.
MAX_ZIPPED_PARQUET_BYTES = 2_000_000_000


def _parquet_in_zip(p: Path, member: str) -> gpd.GeoDataFrame:
    """A (Geo)Parquet member of a zip, extracted to a private temporary folder and read."""
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo(member)
        if info.file_size > MAX_ZIPPED_PARQUET_BYTES:
            raise TitlesReadError(
                f"{member!r} in {p.name!r} is {info.file_size / 1e9:.1f} GB uncompressed; unzip "
                "it and read the Parquet file directly",
                path=p,
            )
        log.info("%s: reading %s from the zip", p.name, member)
        with tempfile.TemporaryDirectory(prefix="agrilend-zip-") as tmp:
            target = Path(tmp) / Path(member).name
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            return _read_parquet(target)


def _read_parquet(p: Path) -> gpd.GeoDataFrame:
    import pyarrow.parquet as pq  # noqa: PLC0415  (pyarrow is heavy; only Parquet needs it)

    try:
        schema = pq.read_schema(p)
        check_parquet(p, f"titles file {p.name!r}")  # from the footer, before inflating anything
    except AgrilendError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... on bad bytes
        raise _not_readable(p.name, exc, p) from exc
    meta = schema.metadata or {}
    try:
        table = pq.read_table(p)
        table.validate(full=True)  # invalid UTF-8 would otherwise surface later, far from here
        for name in _wkb_columns(table.schema.names, meta):
            check_wkb_column(table.column(name), f"titles file {p.name!r}", path=p)
        if b"geo" in meta:
            return gpd.read_parquet(p)
        df = table.to_pandas()
    except AgrilendError:
        raise
    except Exception as exc:
        raise _not_readable(p.name, exc, p) from exc
    lower = {str(c).lower(): c for c in df.columns}
    col = next((lower[c] for c in WKB_COLUMNS if c in lower), None)
    if col is None:
        raise TitlesReadError(
            f"Parquet file {p.name!r} has neither GeoParquet metadata nor a WKB geometry column "
            f"({', '.join(WKB_COLUMNS)}); write it with GeoDataFrame.to_parquet",
            path=p,
        )
    try:
        geoms = shapely.from_wkb(df[col].to_numpy(dtype=object))
    except Exception as exc:  # shapely raises GEOSException or TypeError on bad WKB
        raise TitlesReadError(
            f"column {col!r} of {p.name!r} is not valid WKB ({first_line(exc)}); write the "
            "geometries as WKB (shapely.to_wkb) or as GeoParquet",
            path=p,
        ) from exc
    log.info(
        "%s: plain Parquet without GeoParquet metadata; geometry decoded from WKB column %r, "
        "CRS unknown unless the mapping gives one",
        p.name,
        col,
    )
    return gpd.GeoDataFrame(df.drop(columns=[col]), geometry=geoms, crs=None)


def _wkb_columns(names: list[str], meta: dict[bytes, bytes]) -> list[str]:
    """Columns GEOS will decode as WKB: GeoParquet's geometry columns, else the usual names."""
    import json  # noqa: PLC0415

    try:
        geo = json.loads(meta[b"geo"]) if b"geo" in meta else {}
        cols = [str(c) for c in (geo.get("columns") or {})]
    except (ValueError, TypeError, AttributeError):
        cols = []
    lower = {n.lower(): n for n in names}
    return [c for c in cols if c in names] or [lower[c] for c in WKB_COLUMNS if c in lower]


def open_vector(
    p: Path | str, *, layer: str | None, encoding: str | None, max_features: int
) -> gpd.GeoDataFrame:
    if isinstance(p, str):  # a remote path that was explicitly allowed
        configure_ogr(allow_remote=True)
        return _read_ogr(
            p if p.startswith("/vsi") else "/vsicurl/" + p,
            name=p,
            path=p,
            layer=layer,
            encoding=encoding,
            max_features=max_features,
        )
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (*OGR_SUFFIXES, ".zip"))
        if len(files) != 1:
            raise TitlesReadError(
                f"titles folder {p.name!r} holds {len(files)} vector files "
                f"({[f.name for f in files][:6]}); point read_titles at one file",
                path=p,
            )
        p = files[0]
    configure_ogr()
    try:
        kind = check_vector(p)  # what the bytes are, before any driver sees them
    except AgrilendError:
        raise
    except Exception as exc:  # a damaged zip or SQLite header, unreadable bytes
        raise _not_readable(p.name, exc, p) from exc
    if kind not in (*VECTOR_FORMATS, "CSV", "OGR VRT", "folder"):
        raise TitlesReadError(
            f"titles file {p.name!r} is not a registry format agrilend reads (its bytes look like "
            f"{kind}); export the titles as GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GML or "
            "GeoParquet",
            path=p,
        )
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES or kind == "Parquet":
        return _read_parquet(p)
    if suffix == ".zip" or kind == "zip":
        return _read_zip(p, layer=layer, encoding=encoding, max_features=max_features)
    return _read_ogr(
        str(p), name=p.name, path=p, layer=layer, encoding=encoding, max_features=max_features
    )


__all__ = ["first_line", "open_vector"]
