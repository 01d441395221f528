"""A fake Sentinel Hub on 127.0.0.1: OAuth token endpoint, Process API and Statistical API.

It answers from a cube of harmonised L2A digital numbers (``B02``... uint16, reflectance x 10000;
``SCL``; optional ``CLM``/``CLP``) the way the service would: the requested grid is cut from the
cube by nearest-neighbour reprojection, ``dataMask`` is 1 where the cube has data (and inside the
request geometry), scenes are the cube's dates in the time range, most recent first, and a
scripted list of failure codes (429 with ``Retry-After`` in milliseconds, 500) is served first.

The evalscripts are not run (no JavaScript here): the fake reads the input band list, the
normalised-difference formulas and the clear SCL classes from the script text, which is all the
agrilend evalscripts say.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import tarfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pyproj
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from affine import Affine
from rasterio.features import geometry_mask
from sentinelhub import SHConfig

CLOUDY_SCL = (3, 8, 9, 10)


def harmonised_source(ds: xr.Dataset) -> xr.Dataset:
    """A shared-data cube as harmonised DN: ``time`` dim, ``B0x`` uint16 without the offset."""
    ds = ds.rename({"t": "time"}) if "t" in ds.dims else ds
    out = {}
    for name in ds.data_vars:
        short = str(name).removeprefix("S2-L2A-")
        if short.startswith("B"):
            arr = ds[name].values
            if np.issubdtype(arr.dtype, np.floating):  # reflectance floats
                dn = np.where(np.isfinite(arr), np.round(arr * 10000), 0).clip(0, 65535)
            else:  # L2A DN of baseline >= 04.00 carry +1000; 0 is no data
                dn = np.where(arr == 0, 0, np.clip(arr.astype("int64") - 1000, 1, 65535))
            out[short] = (("time", "y", "x"), dn.astype("uint16"))
        elif short in ("SCL", "CLM", "CLP"):
            arr = np.nan_to_num(ds[name].values, nan=0 if short == "SCL" else 255)
            out[short] = (("time", "y", "x"), arr.astype("uint8"))
    src = xr.Dataset(out, coords={"time": ds["time"].values, "y": ds["y"], "x": ds["x"]})
    return src.rio.write_crs(ds.rio.crs).rio.write_transform(grid_transform(ds))


def synthetic_source(seed: int = 0, *, shape: tuple[int, int, int] = (4, 12, 10)) -> xr.Dataset:
    """A small seeded source cube in EPSG:32650 with a cloud patch on the second date."""
    rng = np.random.default_rng(seed)
    nt, ny, nx = shape
    red = rng.integers(300, 900, size=shape)
    nir = rng.integers(2500, 4500, size=shape)
    scl = np.full(shape, 4, dtype="uint8")
    scl[1, : ny // 2, : nx // 2] = 9
    data = {
        "B02": red - 100,
        "B03": red + 100,
        "B04": red,
        "B08": nir,
    }
    ds = xr.Dataset(
        {k: (("time", "y", "x"), v.astype("uint16")) for k, v in data.items()}
        | {"SCL": (("time", "y", "x"), scl)},
        coords={
            "time": pd.date_range("2024-05-01", periods=nt, freq="5D"),
            "y": 4_000_000 - 10 * (np.arange(ny) + 0.5),
            "x": 500_000 + 10 * (np.arange(nx) + 0.5),
        },
    )
    return ds.rio.write_crs("EPSG:32650").rio.write_transform(
        Affine(10, 0, 500_000, 0, -10, 4_000_000)
    )


def seasonal_source(
    seed: int = 0, *, peak: str = "2024-07-01", shape: tuple[int, int] = (12, 10)
) -> xr.Dataset:
    """A 2024 season every 5 days, March to November: NDVI 0.2 + 0.6 exp(-((t - peak)/30 d)^2).

    About one scene in six is cloudy over a random half of the grid (SCL 9).
    """
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", "2024-11-30", freq="5D")
    days = np.asarray((times - pd.Timestamp(peak)).days, dtype="float64")
    ndvi = 0.2 + 0.6 * np.exp(-((days / 30.0) ** 2))
    ny, nx = shape
    red = rng.normal(800, 30, size=(len(times), ny, nx))
    nir = red * (1 + ndvi[:, None, None]) / (1 - ndvi[:, None, None])
    scl = np.full((len(times), ny, nx), 4, dtype="uint8")
    for k in np.flatnonzero(rng.random(len(times)) < 1 / 6):
        scl[k, : ny // 2] = 9
    data = {"B02": red - 200, "B03": red + 100, "B04": red, "B08": nir}
    ds = xr.Dataset(
        {k: (("time", "y", "x"), np.round(v).astype("uint16")) for k, v in data.items()}
        | {"SCL": (("time", "y", "x"), scl)},
        coords={
            "time": times,
            "y": 4_000_000 - 10 * (np.arange(ny) + 0.5),
            "x": 500_000 + 10 * (np.arange(nx) + 0.5),
        },
    )
    return ds.rio.write_crs("EPSG:32650").rio.write_transform(
        Affine(10, 0, 500_000, 0, -10, 4_000_000)
    )


def grid_transform(ds: xr.Dataset) -> Affine:
    """The affine transform of a north-up cube from its x/y centre coordinates.

    (``ds.rio.transform()`` multiplies Affine objects with ``*``, which affine >= 3.1 flags with
    a PendingDeprecationWarning, an error under this test suite's settings.)
    """
    x, y = ds["x"].values, ds["y"].values
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    return Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)


def _epsg(url: str) -> int:
    if url.endswith("CRS84"):
        return 4326
    return int(url.rstrip("/").rsplit("/", 1)[-1])


class FakeSentinelHub:
    """The fake service; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, source: xr.Dataset, *, client_id: str, client_secret: str) -> None:
        self.source = source
        self._transform = grid_transform(source)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.script: list[int] = []  # status codes to answer (in order) before real answers
        self.retry_after_ms = 10
        self.hits: Counter[str] = Counter()
        self.answers: list[tuple[str, int]] = []
        self.bodies: list[str] = []  # raw request bodies, for the canary test
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                status, headers, payload = fake.handle(self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSentinelHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def config(self, **kw: Any) -> SHConfig:
        """An SHConfig pointing at this server (credentials from the environment unless given)."""
        return SHConfig(
            sh_base_url=self.url,
            sh_token_url=f"{self.url}/oauth/token",
            download_sleep_time=kw.pop("download_sleep_time", 0.01),
            **kw,
        )

    # -- dispatch --
    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.hits[path] += 1
            self.bodies.append(body.decode("utf-8", "replace"))
        status, out_headers, payload = self._answer(path, headers, body)
        with self._lock:
            self.answers.append((path, status))
        return status, out_headers, payload

    def _answer(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/oauth/token":
            return self._token(body)
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _json(401, {"error": {"status": 401, "reason": "Unauthorized"}})
        with self._lock:
            scripted = self.script.pop(0) if self.script else None
        if scripted == 429:
            return (
                429,
                {"Retry-After": str(self.retry_after_ms), "Content-Type": "application/json"},
                b'{"error": {"status": 429, "reason": "Too Many Requests"}}',
            )
        if scripted is not None:
            return _json(scripted, {"error": {"status": scripted, "reason": "scripted failure"}})
        request = json.loads(body)
        if path == "/api/v1/process":
            return 200, {"Content-Type": "application/tar"}, self._process(request)
        if path == "/api/v1/statistics":
            return _json(200, self._statistics(request))
        return _json(404, {"error": {"status": 404, "reason": f"no endpoint {path}"}})

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return _json(401, {"error": "invalid_client", "error_description": "Bad credentials"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens.add(token)
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    # -- imagery --
    def _dates(self, data: dict[str, Any]) -> list[pd.Timestamp]:
        rng = data["dataFilter"]["timeRange"]
        lo = pd.Timestamp(rng["from"]).tz_localize(None)
        hi = pd.Timestamp(rng["to"]).tz_localize(None)
        times = pd.DatetimeIndex(self.source["time"].values)
        chosen = [t for t in times if lo <= t <= hi]
        max_cc = data["dataFilter"].get("maxCloudCoverage")
        if max_cc is not None and "SCL" in self.source:
            scl = self.source["SCL"]
            cc = {
                t: 100.0 * float(np.isin(scl.sel(time=t).values, CLOUDY_SCL).mean()) for t in chosen
            }
            chosen = [t for t in chosen if cc[t] <= max_cc]
        return chosen

    def _warp(
        self, t: pd.Timestamp, layer: str, transform: Affine, shape: tuple[int, int], epsg: int
    ) -> np.ndarray:
        if layer == "dataMask":
            src = np.ones(self.source["B04"].shape[1:], dtype="uint8")
            for b in ("B02", "B04", "B08"):
                if b in self.source:
                    src &= (self.source[b].sel(time=t).values != 0).astype("uint8")
        else:
            src = self.source[layer].sel(time=t).values
        # nearest neighbour by pixel centre (no GDAL: its warnings would fire in this thread)
        rows, cols = np.indices(shape)
        xs = transform.c + transform.a * (cols + 0.5)
        ys = transform.f + transform.e * (rows + 0.5)
        src_crs = self.source.rio.crs
        if src_crs.to_epsg() != epsg:
            tr = pyproj.Transformer.from_crs(epsg, src_crs, always_xy=True)
            xs, ys = tr.transform(xs, ys)
        st = self._transform
        c = np.floor((np.asarray(xs) - st.c) / st.a).astype(int)
        r = np.floor((np.asarray(ys) - st.f) / st.e).astype(int)
        ok = (r >= 0) & (r < src.shape[0]) & (c >= 0) & (c < src.shape[1])
        dst = np.zeros(shape, dtype=src.dtype)
        dst[ok] = src[r[ok], c[ok]]
        return dst

    def _process(self, req: dict[str, Any]) -> bytes:
        bounds = req["input"]["bounds"]
        epsg = _epsg(bounds["properties"]["crs"])
        minx, miny, maxx, maxy = bounds["bbox"]
        res_x, res_y = req["output"]["resx"], req["output"]["resy"]
        width, height = round((maxx - minx) / res_x), round((maxy - miny) / res_y)
        transform = Affine(res_x, 0, minx, 0, -res_y, maxy)
        layers = json.loads(re.search(r"bands:\s*(\[[^\]]*\])", req["evalscript"]).group(1))
        inside = np.ones((height, width), dtype=bool)
        if "geometry" in bounds:
            geom = shapely.geometry.shape(bounds["geometry"])
            inside = ~geometry_mask([geom], out_shape=(height, width), transform=transform)
        scenes, dates = [], []
        for t in sorted(self._dates(req["input"]["data"][0]), reverse=True):  # most recent first
            stack = [self._warp(t, lay, transform, (height, width), epsg) for lay in layers]
            mask = (stack[layers.index("dataMask")] == 1) & inside
            if not mask.any():
                continue  # the orbit does not reach this tile
            scenes.append(np.stack([np.where(mask, a, 0).astype("uint16") for a in stack]))
            dates.append(f"{t.isoformat()}Z")
        arr = (
            np.concatenate(scenes)
            if scenes
            else np.zeros((len(layers), height, width), dtype="uint16")
        )
        tif = io.BytesIO()
        profile = {
            "driver": "GTiff",
            "count": arr.shape[0],
            "height": height,
            "width": width,
            "dtype": "uint16",
            "crs": f"EPSG:{epsg}",
            "transform": transform,
        }
        with rasterio.MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(arr)
            tif.write(mem.read())
        meta = json.dumps({"layers": layers, "dates": dates}).encode()
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            for name, data in (("default.tif", tif.getvalue()), ("userdata.json", meta)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()

    def _statistics(self, req: dict[str, Any]) -> dict[str, Any]:
        bounds = req["input"]["bounds"]
        epsg = _epsg(bounds["properties"]["crs"])
        geom = shapely.geometry.shape(bounds["geometry"])
        agg = req["aggregation"]
        res = float(agg["resx"])
        minx, miny, maxx, maxy = geom.bounds
        width = max(1, round((maxx - minx) / res))
        height = max(1, round((maxy - miny) / res))
        transform = Affine(res, 0, minx, 0, -res, maxy)
        inside = ~geometry_mask([geom], out_shape=(height, width), transform=transform)
        script = agg["evalscript"]
        formulas = re.findall(r"(\w+): \[nd\(s\.(\w+), s\.(\w+)\)\]", script)
        clear_classes = json.loads(re.search(r"const CLEAR = (\[[^\]]*\])", script).group(1))
        pct = (
            req.get("calculations", {})
            .get("default", {})
            .get("statistics", {})
            .get("default", {})
            .get("percentiles", {})
            .get("k", [])
        )
        data = []
        for t in self._dates(req["input"]["data"][0]):
            has = (self._warp(t, "dataMask", transform, (height, width), epsg) == 1) & inside
            if not has.any():
                continue
            scl = self._warp(t, "SCL", transform, (height, width), epsg)
            clear = has & np.isin(scl, clear_classes)
            outputs = {}
            for name, a, b in formulas:
                va = self._warp(t, a, transform, (height, width), epsg).astype("float64")
                vb = self._warp(t, b, transform, (height, width), epsg).astype("float64")
                with np.errstate(divide="ignore", invalid="ignore"):
                    nd = ((va - vb) / (va + vb)).astype("float32")
                ok = clear & np.isfinite(nd)
                vals = nd[ok].astype("float64")
                stats: dict[str, Any] = {
                    "sampleCount": int(width * height),
                    "noDataCount": int(width * height - ok.sum()),
                }
                if vals.size:
                    stats |= {
                        "min": float(vals.min()),
                        "max": float(vals.max()),
                        "mean": float(vals.mean()),
                        "stDev": float(vals.std()),
                    }
                    if pct:
                        stats["percentiles"] = {
                            str(float(k)): float(np.percentile(vals, k)) for k in pct
                        }
                else:
                    stats |= {"min": "NaN", "max": "NaN", "mean": "NaN", "stDev": "NaN"}
                outputs[name] = {"bands": {"B0": {"stats": stats}}}
            day = t.normalize()
            data.append(
                {
                    "interval": {
                        "from": f"{day.isoformat()}Z",
                        "to": f"{(day + pd.Timedelta(days=1)).isoformat()}Z",
                    },
                    "outputs": outputs,
                }
            )
        return {"data": data, "status": "OK"}


def _json(status: int, obj: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()
