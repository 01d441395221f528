"""A local static STAC catalogue of COGs written from a cube, and a tiny STAC API serving it.

The catalogue looks like Earth Search's ``sentinel-2-l2a``: one item per date, assets ``blue``,
``green``, ``red``, ``nir`` and ``scl`` as Cloud-Optimised GeoTIFFs, the projection extension
(``proj:code``, ``proj:shape``, ``proj:transform``) and the raster extension (scale, offset,
no-data) -- or, with ``raster_ext=False`` and canonical asset names, like a catalogue that leaves
scaling to the reader.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pyproj
import pystac
import rasterio
import shapely
import xarray as xr
from pystac.extensions.projection import ProjectionExtension

from tests.remote_sensing._fake_sentinelhub import CLOUDY_SCL, grid_transform

EARTH_SEARCH = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "SCL": "scl"}
COLLECTION = "sentinel-2-l2a"


def l2a_dn(harmonised: xr.Dataset) -> xr.Dataset:
    """Harmonised DN back to L2A DN of baseline >= 04.00 (+1000 where there is data)."""
    out = harmonised.copy()
    for b in ("B02", "B03", "B04", "B08"):
        v = harmonised[b].values
        out[b] = (harmonised[b].dims, np.where(v > 0, v + 1000, 0).astype("uint16"))
    return out


def write_catalog(
    dn: xr.Dataset,
    root: Path,
    *,
    earth_search_names: bool = True,
    raster_ext: bool = True,
    baseline: str = "05.09",
) -> Path:
    """Write a static catalogue of ``dn`` (uint16 DN with the +1000 offset, ``SCL``) under ``root``.

    Returns the path of ``catalog.json``.
    """
    crs = dn.rio.crs
    transform = grid_transform(dn)
    ny, nx = dn.sizes["y"], dn.sizes["x"]
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * nx, top + transform.e * ny
    ll = to_ll.transform_bounds(left, bottom, right, top)
    footprint = shapely.box(*ll)
    catalog = pystac.Catalog(id="agrilend-test", description="COGs written from a test cube")
    collection = pystac.Collection(
        id=COLLECTION,
        description="Sentinel-2 L2A test items",
        extent=pystac.Extent(
            pystac.SpatialExtent([list(ll)]),
            pystac.TemporalExtent([[None, None]]),
        ),
    )
    catalog.add_child(collection)
    for t in pd.DatetimeIndex(dn["time"].values):
        item_id = f"S2_TEST_{t:%Y%m%d}"
        scl = dn["SCL"].sel(time=t).values
        item = pystac.Item(
            id=item_id,
            geometry=shapely.geometry.mapping(footprint),
            bbox=list(ll),
            datetime=(t + pd.Timedelta(hours=10, minutes=47)).tz_localize("UTC").to_pydatetime(),
            properties={
                "eo:cloud_cover": round(100 * float(np.isin(scl, CLOUDY_SCL).mean()), 2),
                "s2:processing_baseline": baseline,
                "platform": "sentinel-2a",
            },
        )
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        proj.apply(epsg=crs.to_epsg(), shape=[ny, nx], transform=list(transform)[:6], bbox=None)
        for band in [b for b in ("B02", "B03", "B04", "B08", "SCL") if b in dn]:
            key = EARTH_SEARCH[band] if earth_search_names else band
            path = root / "cogs" / item_id / f"{key}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            arr = dn[band].sel(time=t).values
            with rasterio.open(
                path,
                "w",
                driver="COG",
                width=nx,
                height=ny,
                count=1,
                dtype=arr.dtype,
                crs=crs,
                transform=transform,
                nodata=0,
            ) as dst:
                dst.write(arr, 1)
            extra: dict[str, Any] = {}
            if raster_ext:
                rb: dict[str, Any] = {"nodata": 0, "data_type": str(arr.dtype)}
                if band != "SCL":
                    rb |= {"scale": 0.0001, "offset": -0.1}
                extra["raster:bands"] = [rb]
            item.add_asset(
                key,
                pystac.Asset(
                    href=str(path.resolve()),
                    media_type=pystac.MediaType.COG,
                    roles=["data"],
                    extra_fields=extra,
                ),
            )
        if raster_ext:
            item.stac_extensions.append(
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
            )
        collection.add_item(item)
    catalog.normalize_hrefs(str(root / "stac"))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "stac" / "catalog.json"


class FakeStacApi:
    """A STAC API on 127.0.0.1: landing page, ``/search`` (GET and POST), from a catalogue."""

    def __init__(self, catalog_json: Path) -> None:
        cat = pystac.Catalog.from_file(str(catalog_json))
        self.items = [it.to_dict() for it in cat.get_items(recursive=True)]
        for d, it in zip(self.items, cat.get_items(recursive=True), strict=True):
            d["links"] = []
            for asset_d, asset in zip(d["assets"].values(), it.assets.values(), strict=True):
                asset_d["href"] = asset.get_absolute_href()
        self.hits: Counter[str] = Counter()
        self.searches: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeStacApi:
        fake = self
        # a user who searches an API allows remote access, here to this one host only
        self._allowed = os.environ.get("AGRILEND_ALLOW_REMOTE")
        os.environ["AGRILEND_ALLOW_REMOTE"] = "127.0.0.1"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, obj: Any, status: int = 200) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                fake.hits[parsed.path] += 1
                if parsed.path in ("", "/"):
                    self._reply(fake.landing())
                elif parsed.path == "/search":
                    q = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                    if "bbox" in q:
                        q["bbox"] = [float(v) for v in q["bbox"].split(",")]
                    if "collections" in q:
                        q["collections"] = q["collections"].split(",")
                    self._reply(fake.search(q))
                else:
                    self._reply({"code": "NotFound"}, 404)

            def do_POST(self) -> None:
                parsed = urlparse(self.path)
                fake.hits[parsed.path] += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if parsed.path == "/search":
                    self._reply(fake.search(body))
                else:
                    self._reply({"code": "NotFound"}, 404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._allowed is None:
            os.environ.pop("AGRILEND_ALLOW_REMOTE", None)
        else:
            os.environ["AGRILEND_ALLOW_REMOTE"] = self._allowed
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog",
            "id": "fake-stac-api",
            "stac_version": "1.0.0",
            "description": "a fake STAC API for tests",
            "conformsTo": [
                "https://api.stacspec.org/v1.0.0/core",
                "https://api.stacspec.org/v1.0.0/item-search",
            ],
            "links": [
                {"rel": "self", "href": self.url, "type": "application/json"},
                {"rel": "root", "href": self.url, "type": "application/json"},
                {
                    "rel": "search",
                    "href": f"{self.url}/search",
                    "type": "application/geo+json",
                    "method": "POST",
                },
            ],
        }

    def search(self, q: dict[str, Any]) -> dict[str, Any]:
        self.searches.append(q)
        feats = self.items
        if q.get("collections"):
            feats = [f for f in feats if f.get("collection") in q["collections"]]
        if q.get("bbox"):
            area = shapely.box(*q["bbox"])
            feats = [f for f in feats if area.intersects(shapely.box(*f["bbox"]))]
        if q.get("datetime"):
            lo, hi = (
                pd.Timestamp(p).tz_localize(None) if p not in ("", "..") else None
                for p in (s.replace("Z", "") for s in q["datetime"].split("/"))
            )
            keep = []
            for f in feats:
                t = pd.Timestamp(f["properties"]["datetime"]).tz_localize(None)
                if (lo is None or t >= lo) and (hi is None or t <= hi):
                    keep.append(f)
            feats = keep
        return {"type": "FeatureCollection", "features": feats, "links": []}
