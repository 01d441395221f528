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
