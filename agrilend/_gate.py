"""The content half of the input gate: what a file *is*, before GDAL is let near it.

:func:`agrilend._paths.local_path` checks the name a user gave. A name says little: GDAL picks a
driver by the file's bytes, and some drivers reach out by themselves: an OGR VRT (under any
suffix, or inside a zip) opens the sources it names, ``WFS:`` and ``/vsicurl/`` sources included;
a GeoJSON ``"crs"`` of type ``link`` is fetched; a SQLite virtual table can read another file; a
GeoPackage layer can be an SQL view that never ends. So every vector file is identified here from
its first bytes, only the formats a registry comes in are let through, and each is checked for the
few ways it can point elsewhere. GDAL itself is configured by :func:`gdal_options` so that no
driver reaches the network while remote access is off (HTTP goes to a closed local proxy; the
GML driver downloads no schema; VRT Python and raw-file sources are off), a second wall behind
the first.

An OGR VRT is read only when asked (``AGRILEND_ALLOW_VRT=1``), and then its sources pass this
gate too: local files in the VRT's own folder, or hosts allowed for remote access.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agrilend._limits import check_zip, limit
from agrilend.errors import AgrilendError, ResourceLimitError, UnsafeInputError
from agrilend.settings import get_settings

#: Vector formats a land registry is read from, by what their bytes say.
VECTOR_FORMATS = ("GPKG", "ESRI Shapefile", "FlatGeobuf", "GeoJSON", "GML", "KML", "Parquet", "zip")
#: SQLite virtual-table modules that hold data in the file itself (others can read other files).
_SQLITE_MODULES = {"rtree", "rtree_i32", "fts3", "fts4", "fts5"}
#: XML roots of the GML and KML a registry exports; anything else (OGRVRTDataSource,
#: OGRWFSDataSource, VRTDataset, WMS services...) is refused.
_XML_ROOTS = {"featurecollection", "kml", "featurecollectiontype"}
_CLOSED_PROXY = "127.0.0.1:1"
#: Leading bytes of the binary formats.
_MAGIC = (
    (b"SQLite format 3\x00", "GPKG"),
    (b"\x00\x00\x27\x0a", "ESRI Shapefile"),
    (b"fgb", "FlatGeobuf"),
    (b"PAR1", "Parquet"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"II*\x00", "GeoTIFF"),
    (b"MM\x00*", "GeoTIFF"),
    (b"II+\x00", "GeoTIFF"),
    (b"MM\x00+", "GeoTIFF"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
)


def gdal_options(*, allow_remote: bool | None = None) -> dict[str, str]:
    """GDAL configuration options under which no driver reaches the network by itself.

    With remote access allowed only the always-on options remain (no GML schema download, no
    VRT Python or raw-file sources).

    Examples
    --------
    >>> gdal_options(allow_remote=False)["GML_DOWNLOAD_WFS_SCHEMA"]
    'NO'
    >>> "GDAL_HTTP_PROXY" in gdal_options(allow_remote=True)
    False
    """
    if allow_remote is None:
        allow_remote = get_settings().allow_remote
    opts = {
        "GML_DOWNLOAD_WFS_SCHEMA": "NO",
        "GML_SKIP_RESOLVE_ELEMS": "ALL",
        "GDAL_VRT_ENABLE_PYTHON": "NO",
        "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
        "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
    }
    if not allow_remote:
        opts |= {
            # GDAL has no switch that turns HTTP off: every request goes to a closed local port
            "GDAL_HTTP_PROXY": _CLOSED_PROXY,
            "GDAL_HTTPS_PROXY": _CLOSED_PROXY,
            "GDAL_HTTP_MAX_RETRY": "0",
            "GDAL_HTTP_TIMEOUT": "2",
            "CPL_VSIL_CURL_ALLOWED_FILENAME": "/agrilend/remote-access-is-off",
        }
    return opts


def configure_ogr(*, allow_remote: bool | None = None) -> None:
    """Apply :func:`gdal_options` to pyogrio's GDAL (process-wide, cheap to repeat)."""
    import pyogrio  # noqa: PLC0415

    opts: dict[str, Any] = dict(gdal_options(allow_remote=allow_remote))
    if allow_remote or (allow_remote is None and get_settings().allow_remote):
        for key in ("GDAL_HTTP_PROXY", "GDAL_HTTPS_PROXY", "CPL_VSIL_CURL_ALLOWED_FILENAME"):
            opts[key] = None  # unset what an earlier call set
    pyogrio.set_gdal_config_options(opts)


@contextlib.contextmanager
def raster_env() -> Iterator[None]:
    """A ``rasterio.Env`` with :func:`gdal_options` (rasterio has its own GDAL)."""
    import rasterio  # noqa: PLC0415

    with rasterio.Env(**gdal_options()):
        yield


# --- identifying a file -------------------------------------------------------------------------


def sniff(head: bytes) -> str:
    """The format of a file from its first bytes: a name of :data:`VECTOR_FORMATS`, ``"GeoTIFF"``,
    ``"NetCDF"``, ``"HDF5"``, ``"XML"`` (other XML), ``"text"`` or ``"unknown"``.

    Examples
    --------
    >>> sniff(b"SQLite format 3\\x00..."), sniff(b'  {"type": "FeatureCollection"}')
    ('GPKG', 'GeoJSON')
    >>> sniff(b"<OGRVRTDataSource><OGRVRTLayer/></OGRVRTDataSource>")
    'XML'
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:3] == b"CDF" and head[3:4] in (b"\x01", b"\x02", b"\x05"):
        return "NetCDF"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"{":
        return "GeoJSON"
    kind = "unknown"
    if text[:1] == b"<":
        root = _xml_root(text)
        gml = root in {"featurecollection", "featurecollectiontype"}
        kind = "GML" if gml or root.endswith(":featurecollection") else "XML"
        kind = "KML" if root == "kml" else kind
    elif head and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:256]):
        kind = "text"
    return kind


def _xml_root(text: bytes) -> str:
    """The local name of the first element of an XML text (lower case), skipping prolog."""
    pos = 0
    while True:
        start = text.find(b"<", pos)
        if start < 0:
            return ""
        if text.startswith(b"<?", start) or text.startswith(b"<!--", start):
            end = text.find(b"?>" if text[start + 1 : start + 2] == b"?" else b"-->", start)
            if end < 0:
                return ""
            pos = end + 2
            continue
        if text.startswith(b"<!", start):  # DOCTYPE: entity declarations are refused below
            return "!doctype"
        m = re.match(rb"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)", text[start:])
        return m.group(1).decode("ascii", "replace").lower() if m else ""


def _refuse(what: str, path: Any, why: str, todo: str) -> UnsafeInputError:
    return UnsafeInputError(f"{what} {str(path)!r} {why}; {todo}", path=str(path))


def check_vector(path: Path, *, what: str = "titles file") -> str:
    """Identify a local vector file from its bytes and refuse what could reach elsewhere.

    Returns the format (one of :data:`VECTOR_FORMATS`, ``"CSV"``, ``"OGR VRT"`` when
    ``AGRILEND_ALLOW_VRT=1`` let one through, or what :func:`sniff` says for anything else,
    which the caller refuses with its own read error: such a file is no registry, not an
    attack).

    Raises
    ------
    UnsafeInputError
        For a VRT or WFS description (unless allowed), a GeoJSON whose CRS is a link or a file,
        a SQLite virtual table over another file, GML or KML that refers to other sources.
    ResourceLimitError
        For an SQL view that runs longer than ``AGRILEND_SQL_VIEW_SECONDS``.
    """
    if path.is_dir():
        return "folder"
    with path.open("rb") as fh:
        head = fh.read(4096)
    kind = sniff(head)
    if kind == "GPKG":
        check_sqlite(path, what=what)
    elif kind == "GeoJSON":
        check_geojson(path, what=what)
    elif kind in ("GML", "KML"):
        _check_xml_text(path, kind, what=what)
    elif kind == "zip":
        with zipfile.ZipFile(path) as zf:
            check_zip(zf, what, path=path)
    elif kind == "XML" and _xml_root(head.lstrip()) == "ogrvrtdatasource":
        return check_vrt(path, what=what)
    elif kind in ("text", "unknown") and path.suffix.lower() == ".csv":
        kind = (
            "CSV"  # a table (GDAL's CSV driver takes only .csv names); no geometry is refused later
        )
    return kind


def check_member(head: bytes, name: str, *, what: str, path: Any) -> str:
    """:func:`check_vector` for a zip member, from its first bytes.

    Shapefiles, FlatGeobuf, GeoPackage, GML, KML and GeoJSON are read from zips; a VRT or
    anything else inside a zip is refused.
    """
    kind = sniff(head)
    if kind in ("ESRI Shapefile", "FlatGeobuf", "GPKG"):
        return kind  # a GeoPackage is checked whole by the caller
    if kind in ("GML", "KML"):
        _scan_references(head.decode("utf-8", "replace"), f"{what} member {name!r}", path)
        return kind
    if kind == "GeoJSON":
        return kind  # its crs is checked on the whole member by the caller
    raise _refuse(
        f"{what} member {name!r} of", path, f"is {kind}, not a format read from a zip",
        "zip a Shapefile, GeoPackage, FlatGeobuf, GeoJSON or GML file",
    )  # fmt: skip


# --- format checks ------------------------------------------------------------------------------

_LINKS = re.compile(
    r"(?i)(?:OGRVRTDataSource|OGRWFSDataSource|VRTDataset|<\s*NetworkLink|xlink:href\s*=\s*[\"']"
    r"(?:https?|ftp|file):|\bWFS:|/vsi(?:curl|s3|gs|az|http|adls|oss|swift|webhdfs)\w*/|"
    r"<!ENTITY)"
)


def _scan_references(text: str, what: str, path: Any) -> None:
    m = _LINKS.search(text)
    if m:
        raise _refuse(
            what, path, f"refers to something outside itself ({m.group(0)[:40]!r})",
            "export the data itself, not a description that points at a service or other files",
        )  # fmt: skip


def _check_xml_text(path: Path, kind: str, *, what: str) -> None:
    with path.open("rb") as fh:
        text = fh.read(int(limit("AGRILEND_MAX_JSON_BYTES"))).decode("utf-8", "replace")
    _scan_references(text, what, path)


def check_geojson(path: Path, *, what: str) -> None:
    """Refuse a GeoJSON whose ``crs`` is a link or names anything but a plain CRS code.

    The file is streamed, never held whole: each ``"crs"`` member found is decoded from a small
    window after it (a GeoJSON registry may be gigabytes).
    """
    block, overlap = 8 * 2**20, 16
    with path.open("rb") as fh:
        offset, tail = 0, b""
        while chunk := fh.read(block):
            data = tail + chunk
            start = offset - len(tail)
            for m in re.finditer(rb'"crs"', data):
                here = fh.tell()
                fh.seek(start + m.start())
                _check_crs_member(fh.read(_CRS_WINDOW), what=what, path=path)
                fh.seek(here)
            offset += len(chunk)
            tail = data[-overlap:]


def check_geojson_bytes(raw: bytes, *, what: str, path: Any) -> None:
    """The ``crs`` check of :func:`check_geojson` on the bytes of a GeoJSON document."""
    for m in re.finditer(rb'"crs"', raw):
        _check_crs_member(raw[m.start() : m.start() + _CRS_WINDOW], what=what, path=path)


_CRS_WINDOW = 16_384
_CRS_NAME = re.compile(r"(?i)(urn:ogc:def:crs:[a-z]+:[\w.]*:\w+|EPSG:\d+|[A-Z]+:\w+)")


def _check_crs_member(window: bytes, *, what: str, path: Any) -> None:
    """Check the value of one ``"crs":`` member starting ``window`` (an object, or ignored)."""
    text = window.decode("utf-8", "replace")
    m = re.match(r'"crs"\s*:\s*', text)
    if m is None or not text[m.end() :].startswith("{"):
        return  # a string "crs" elsewhere, or a value GDAL ignores (null, text)
    try:
        crs, _ = json.JSONDecoder().raw_decode(text, m.end())
    except (ValueError, RecursionError):
        crs = {"unreadable": text[m.end() : m.end() + 80]}
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    if not (
        isinstance(crs, dict)
        and crs.get("type") == "name"
        and isinstance(name, str)
        and _CRS_NAME.fullmatch(name)
    ):
        raise _refuse(
            what, path,
            f"declares its CRS as {json.dumps(crs)[:120]} (a link or other reference GDAL "
            "would fetch)",
            'give the CRS as {"type": "name", "properties": {"name": "EPSG:..."}} or leave it '
            "out and pass the CRS in the titles mapping",
        )  # fmt: skip


def check_sqlite(path: Path, *, what: str) -> None:
    """Refuse virtual tables over other files and SQL views slower than the limit.

    A GeoPackage layer may be a view; GDAL counts its rows on opening, so a view that never ends
    (a recursive query) would hang every command. Each view is counted here under a deadline.
    """
    seconds = limit("AGRILEND_SQL_VIEW_SECONDS")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise _refuse(
            what, path, f"is not a readable SQLite file ({exc})", "check the file"
        ) from None
    try:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        for _kind, name, sql in rows:
            m = re.search(r"(?is)CREATE\s+VIRTUAL\s+TABLE.*?\bUSING\s+(\w+)", sql or "")
            if m and m.group(1).lower() not in _SQLITE_MODULES:
                raise _refuse(
                    what, path, f"holds a virtual table {name!r} using {m.group(1)!r}, which "
                    "can read other files", "export the layer as a plain GeoPackage table",
                )  # fmt: skip
        deadline = time.monotonic() + seconds
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        for kind, name, _sql in rows:
            if kind != "view":
                continue
            try:
                quoted = name.replace('"', '""')  # an identifier, quoted; the file is read-only
                con.execute(f'SELECT COUNT(*) FROM "{quoted}"').fetchone()  # noqa: S608
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise ResourceLimitError(
                        f"{what} {str(path)!r}: the SQL view {name!r} did not finish within "
                        f"{seconds:g} s (AGRILEND_SQL_VIEW_SECONDS); export the layer as a "
                        "table",
                        what=what,
                        path=path,
                    ) from None
                # a view GDAL cannot read either: its error comes from GDAL with the file's name
    except sqlite3.DatabaseError as exc:
        raise _refuse(what, path, f"is a damaged SQLite file ({exc})", "export it again") from None
    finally:
        con.close()


def check_vrt(path: Path, *, what: str) -> str:
    """An OGR VRT, read only with ``AGRILEND_ALLOW_VRT=1``; its sources must pass the gate."""
    if os.environ.get("AGRILEND_ALLOW_VRT", "") not in {"1", "true", "yes"}:
        raise _refuse(
            what, path, "is an OGR VRT (a description that makes GDAL open other sources)",
            "give the data file itself, or set AGRILEND_ALLOW_VRT=1 if you wrote this VRT",
        )  # fmt: skip
    from agrilend._paths import local_path  # noqa: PLC0415

    raw = path.read_bytes()
    if b"<!ENTITY" in raw or b"<!DOCTYPE" in raw:
        raise _refuse(what, path, "declares a DOCTYPE or XML entities", "remove them")
    try:
        root = ET.fromstring(raw)  # noqa: S314  (no DOCTYPE, so no entities)
    except ET.ParseError as exc:
        raise _refuse(what, path, f"is not well-formed XML ({exc})", "fix the VRT") from None
    base = path.resolve().parent
    for src in root.iter("SrcDataSource"):
        text = (src.text or "").strip()
        relative = src.get("relativeToVRT", "0") == "1"
        if re.match(r"(?i)^[A-Z][A-Z0-9_]+:", text) and not re.match(r"(?i)^[a-z]:\\", text):
            raise _refuse(what, path, f"has a source {text[:60]!r} that is a service", "remove it")
        target = local_path((base / text) if relative else text, what=f"{what} source")
        if isinstance(target, Path):
            if base not in target.resolve().parents:
                raise _refuse(
                    what, path, f"has a source {text[:60]!r} outside its own folder",
                    "keep a VRT's sources beside it",
                )  # fmt: skip
            if check_vector(target, what=f"{what} source") == "OGR VRT":
                raise _refuse(what, path, "nests another VRT", "point at the data itself")
    return "OGR VRT"


# --- STAC: links and asset hrefs ----------------------------------------------------------------

#: Objects a local STAC catalogue may lead to (catalogues, collections, items together).
MAX_STAC_OBJECTS = 100_000
#: Leading bytes of the image files a STAC asset may be, read locally.
_IMAGE_KINDS = ("GeoTIFF",)
_JP2 = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")


def check_remote_href(href: str, *, what: str) -> None:
    """A remote STAC href or URL is used only with remote access on, and to an allowed host."""
    from agrilend._paths import local_path  # noqa: PLC0415

    local_path(href, what=what)  # refuses while AGRILEND_ALLOW_REMOTE is off; checks the host


def check_asset_href(href: str, *, what: str) -> None:
    """Refuse an asset href that would reach the network with remote access off, or read a local
    file that is not an image (an href may name any readable file: ``/etc/passwd``, a VRT...).

    Raises
    ------
    InputPathError, UnsafeInputError
    """
    from agrilend._paths import is_remote, local_path  # noqa: PLC0415

    if is_remote(href):
        check_remote_href(href, what=what)
        return
    path = local_path(href.removeprefix("file://"), what=what)
    if path.is_dir():
        raise _refuse(what, href, "is a folder", "point the asset at a GeoTIFF/COG")
    with path.open("rb") as fh:
        head = fh.read(16)
    if sniff(head) not in _IMAGE_KINDS and not head.startswith(_JP2):
        raise _refuse(
            what, href, f"is not an image (its bytes look like {sniff(head)})",
            "point STAC assets at GeoTIFF/COG (or JPEG 2000) files",
        )  # fmt: skip


def walk_stac(path: Path, *, what: str = "STAC catalogue") -> list[Any]:
    """The items of a local STAC file (item, item collection, catalogue or collection).

    Links are followed here, not by pystac: a remote child or item link only with remote access
    on (then read by pystac), a local one only inside the catalogue's folder; a catalogue that
    lists itself or an ancestor is read once; every JSON file passes the size and nesting limits.

    Raises
    ------
    ImageryReadError
        For a file that is not STAC, or a link to a missing file.
    InputPathError, UnsafeInputError, ResourceLimitError
    """
    import pystac  # noqa: PLC0415

    from agrilend._limits import load_json  # noqa: PLC0415
    from agrilend._paths import is_remote  # noqa: PLC0415
    from agrilend.errors import ImageryReadError  # noqa: PLC0415

    def bad(msg: str) -> ImageryReadError:
        return ImageryReadError(f"{what} {str(path)!r}: {msg}", path=path)

    root = path.resolve().parent
    items: list[Any] = []
    seen: set[str] = set()
    todo: list[Path | str] = [path.resolve()]
    while todo:
        here = todo.pop()
        key = str(here)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > MAX_STAC_OBJECTS:
            raise bad(f"leads to more than {MAX_STAC_OBJECTS:,} STAC objects; split it")
        if isinstance(here, Path) and not here.is_file():
            raise bad(f"links to {key!r}, which does not exist")
        try:
            if isinstance(here, str):  # remote, allowed: pystac reads it
                doc = pystac.StacIO.default().read_json(here)
            else:
                doc = load_json(here, f"STAC file {str(here)!r}", error=bad)
        except AgrilendError:
            raise
        except (OSError, ValueError) as exc:
            raise bad(f"cannot read {key!r} ({type(exc).__name__}: {str(exc)[:120]})") from None
        if not isinstance(doc, dict):
            raise bad(f"{key!r} is not a STAC object (JSON object expected)")
        base = here.parent if isinstance(here, Path) else here.rsplit("/", 1)[0]
        try:
            if doc.get("type") == "FeatureCollection":
                items.extend(pystac.ItemCollection.from_dict(doc, preserve_dict=False))
                continue
            if doc.get("type") == "Feature":
                items.append(pystac.Item.from_dict(doc, href=key, preserve_dict=False))
                continue
        except (pystac.STACError, pystac.STACTypeError, AttributeError, KeyError, TypeError,
                ValueError) as exc:  # fmt: skip
            raise bad(f"{key!r} is not valid STAC ({type(exc).__name__}: {exc})") from None
        if doc.get("type") not in ("Catalog", "Collection"):
            raise bad(f"{key!r} is not a STAC catalogue, collection, item or item collection")
        for link in doc.get("links") or []:
            if not isinstance(link, dict) or link.get("rel") not in ("child", "item"):
                continue
            href = str(link.get("href", ""))
            if is_remote(href):
                check_remote_href(href, what=f"{what} link")
                todo.append(href)
                continue
            if isinstance(base, str):  # a relative link of a remote catalogue
                todo.append(f"{base}/{href}")
                continue
            target = (base / href.removeprefix("file://")).resolve()
            if root not in target.parents:
                raise _refuse(
                    f"{what} link", href, f"leads outside the catalogue's folder {str(root)!r}",
                    "keep a static catalogue's files under its root",
                )  # fmt: skip
            todo.append(target)
    return items


def check_stac_items(items: Any, keys: Any, *, what: str = "STAC asset") -> None:
    """:func:`check_asset_href` on the assets that will be read (``keys``) of every item."""
    for item in items:
        for key in keys:
            asset = item.assets.get(key)
            if asset is not None:
                check_asset_href(str(asset.get_absolute_href() or asset.href),
                                 what=f"{what} {key!r} of item {item.id!r}")  # fmt: skip


__all__ = [
    "MAX_STAC_OBJECTS",
    "VECTOR_FORMATS",
    "check_asset_href",
    "check_geojson",
    "check_geojson_bytes",
    "check_member",
    "check_remote_href",
    "check_sqlite",
    "check_stac_items",
    "check_vector",
    "check_vrt",
    "configure_ogr",
    "gdal_options",
    "raster_env",
    "sniff",
    "walk_stac",
]
