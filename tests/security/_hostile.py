"""Builders of hostile inputs and listeners that count what reaches them (127.0.0.1 only)."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from agrilend.testing import make_test_titles


class Listener:
    """An HTTP server on 127.0.0.1 that answers 404 and counts every request it receives."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        hits = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _count(self) -> None:
                hits.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = _count

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def listening() -> Iterator[Listener]:
    lst = Listener()
    try:
        yield lst
    finally:
        lst.close()


@contextmanager
def silent_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def titles(n: int = 3) -> gpd.GeoDataFrame:
    """A few titles in the agrilend schema (owner refs already pseudonymous)."""
    return make_test_titles(seed=2, size_px=(30, 30), n_parcels=n)


def ogr_vrt(source: str) -> str:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="titles"><SrcDataSource>{source}</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )


def geojson_with_crs(crs: dict[str, Any]) -> str:
    doc = json.loads(titles(2).to_crs(4326).to_json())
    doc["crs"] = crs
    return json.dumps(doc)


def nested_collection_wkb(depth: int) -> bytes:
    """WKB of a point wrapped in ``depth`` geometry collections (little-endian)."""
    blob = b"\x01\x01\x00\x00\x00" + struct.pack("<dd", 1.0, 2.0)
    head = b"\x01\x07\x00\x00\x00" + struct.pack("<I", 1)
    return head * depth + blob


def geoparquet_with_wkb(path: Path, blobs: list[bytes]) -> Path:
    """A GeoParquet file whose geometry column holds ``blobs`` as they are."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": []}},
    }
    table = pa.table(
        {
            "parcel_id": [f"P-{i}" for i in range(len(blobs))],
            "owner_ref": ["H-000000000001"] * len(blobs),
            "geometry": pa.array(blobs, type=pa.binary()),
        }
    ).replace_schema_metadata({"geo": json.dumps(geo)})
    pq.write_table(table, path)
    return path


def box_wkb() -> bytes:
    return bytes(shapely.to_wkb(shapely.box(500000, 4000000, 500100, 4000100)))


def huge_tiff_header(path: Path, side: int = 1_000_000) -> Path:
    """A 200-byte GeoTIFF whose header declares ``side`` x ``side`` uint16 pixels (EPSG-less,
    georeferenced by a pixel scale and a tie point)."""
    n = 11
    data_at = 8 + 2 + n * 12 + 4
    scale = struct.pack("<3d", 10.0, 10.0, 0.0)
    tie = struct.pack("<6d", 0, 0, 0, 500000.0, 4000000.0, 0)
    entries = [  # tag, type (3 SHORT, 4 LONG, 12 DOUBLE), count, value or offset
        (256, 4, 1, side),
        (257, 4, 1, side),
        (258, 3, 1, 16),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, data_at),
        (277, 3, 1, 1),
        (278, 4, 1, side),
        (279, 4, 1, 2),
        (33550, 12, 3, data_at),
        (33922, 12, 6, data_at + len(scale)),
    ]
    ifd = struct.pack("<H", n)
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    ifd += b"\0\0\0\0"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + scale + tie)
    return path


def zip_with_zeros(
    path: Path, member: str, n_bytes: int, *, extra: dict[str, bytes] | None = None
) -> Path:
    """A zip whose ``member`` inflates to ``n_bytes`` zeros (about a thousand times smaller)."""
    import zipfile  # noqa: PLC0415

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        with zf.open(member, "w", force_zip64=True) as fh:
            chunk = bytes(2**20)
            for _ in range(n_bytes // len(chunk)):
                fh.write(chunk)
    return path
