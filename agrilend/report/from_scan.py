"""A household's report straight from a finished county scan: the scan's own rows, one truth.

When a household was scanned, its report shows exactly the scan's parcel rows and decision (the
out-of-fold crops, the line, the reasons): :func:`scan_assessment` reads them from the results
folder (``parcels.parquet``, ``households.parquet``, the NDVI curves kept in ``parts/``, the
county context's peer curves and yields) without deciding anything again, in about a second
whatever the county's size.

:func:`normalise_id` and :func:`check_target` answer a mistyped id before any heavy work.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import xarray as xr

from agrilend.errors import UnknownTargetError

log = logging.getLogger(__name__)

#: The scan's part columns holding a parcel's NDVI (per date), smoothed curve and clear share
#: (agrilend.scan.parts; named here so a report does not import the scan machinery).
NDVI, SMOOTH, VALID = "_ndvi", "_smooth", "_valid"
#: Step of the smoothed curves' grid (as the pipeline cleans them).
CURVE_STEP = "5D"

_PSEUDONYM = re.compile(r"^h-([0-9a-f]{12})$", re.IGNORECASE)


def normalise_id(target_id: str) -> str:
    """A household pseudonym in its one spelling (``H-`` and lower-case hex); others stripped.

    Examples
    --------
    >>> normalise_id(" h-00E8E12AC35E "), normalise_id("1311991012010100001")
    ('H-00e8e12ac35e', '1311991012010100001')
    """
    tid = str(target_id).strip()
    m = _PSEUDONYM.match(tid)
    return f"H-{m.group(1).lower()}" if m else tid


def check_target(target_id: str, households: Any, parcel_ids: Any, *, where: str) -> str:
    """``target_id`` normalised, when it names a household or a parcel; else a clear error.

    Parameters
    ----------
    target_id
        What the user typed.
    households, parcel_ids
        The known household pseudonyms and parcel ids.
    where
        What was searched, for the message (e.g. "the scan in out/").

    Raises
    ------
    UnknownTargetError
        Naming the closest known ids.

    Examples
    --------
    >>> check_target("h-0000000000AA", ["H-0000000000aa"], ["P1"], where="here")
    'H-0000000000aa'
    """
    tid = normalise_id(target_id)
    hh = {str(h) for h in households}
    pids = {str(p) for p in parcel_ids}
    if tid in hh or tid in pids:
        return tid
    close = difflib.get_close_matches(tid, sorted(hh | pids), n=3, cutoff=0.6)
    examples = close or sorted(hh)[:2] + sorted(pids)[:1]
    raise UnknownTargetError(
        f"no household or parcel {target_id.strip()!r} in {where} ({len(hh)} households, "
        f"{len(pids)} parcels); {'did you mean' if close else 'give an id such as'} "
        f"{', '.join(examples) or '-'}? (a household is H- and 12 hex digits; the scan's "
        "households.html lists them all)",
        target_id=tid,
    )


#: Folder of a scan's reports (the household list page links into it).
REPORTS_DIR = "reports"


def report_path(root: str | Path, target: str, lang: str) -> Path:
    """Where a scan's report of ``target`` goes: ``reports/<id>-<lang>.html`` in the scan.

    Examples
    --------
    >>> report_path("scan", "H-00e8e12ac35e", "zh").as_posix()
    'scan/reports/H-00e8e12ac35e-zh.html'
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in target)
    return Path(root) / REPORTS_DIR / f"{safe}-{lang}.html"


@dataclass(frozen=True)
class ScanFolder:
    """The files of a finished scan that a report reads."""

    root: Path

    @classmethod
    def find(cls, path: str | Path) -> ScanFolder | None:
        """The scan results folder at ``path`` (or its parent, for its ``context/``), or None."""
        p = Path(path)
        for cand in (p, p.parent):
            if (cand / "households.parquet").exists() and (cand / "parcels.parquet").exists():
                return cls(cand)
        return None

    def ids(self) -> tuple[list[str], list[str]]:
        """Every household pseudonym and parcel id of the scan (two columns read, no more)."""
        hh = pd.read_parquet(self.root / "households.parquet", columns=["owner_ref"])
        parcels = pd.read_parquet(self.root / "parcels.parquet", columns=["parcel_id"])
        return hh["owner_ref"].astype(str).tolist(), parcels["parcel_id"].astype(str).tolist()

    def manifest(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _owner_of(folder: ScanFolder, target: str) -> str:
    if target.startswith("H-"):
        return target
    hit = pd.read_parquet(
        folder.root / "parcels.parquet",
        columns=["parcel_id", "owner_ref"],
        filters=[("parcel_id", "==", target)],
    )
    return str(hit["owner_ref"].iloc[0])


def _curves(folder: ScanFolder, ids: list[str], times: pd.DatetimeIndex) -> xr.Dataset | None:
    """The NDVI curves the scan kept for ``ids`` (its parts), as a parcel series."""
    parts = sorted((folder.root / "parts").glob("*.parquet"))
    if not parts or not len(times):
        return None
    table = (
        pads.dataset([str(p) for p in parts], format="parquet")
        .to_table(
            columns=["parcel_id", NDVI, SMOOTH, VALID], filter=pads.field("parcel_id").isin(ids)
        )
        .to_pandas()
    )
    table = table.drop_duplicates("parcel_id").set_index("parcel_id").reindex(ids)

    def stack(col: str, width: int) -> np.ndarray[Any, Any]:
        out = np.full((len(ids), width), np.nan)
        for i, v in enumerate(table[col]):
            if v is not None and not isinstance(v, float) and len(v) == width:
                out[i] = np.asarray(v, dtype=float)
        return out

    grid = curve_grid(times)
    raw = stack(NDVI, len(times))
    valid = stack(VALID, len(times))
    smooth = _on_dates(stack(SMOOTH, len(grid)), grid, times)
    return xr.Dataset(
        {
            "NDVI_mean": (("parcel", "time"), raw),
            "valid_fraction": (("parcel", "time"), valid),
            "NDVI_clear": (("parcel", "time"), np.isfinite(raw)),
            "NDVI_smooth": (("parcel", "time"), smooth),
        },
        coords={"parcel": np.asarray(ids, dtype=object), "time": times},
    )


def curve_grid(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The dates of the scan's smoothed curves: every :data:`CURVE_STEP` from the first image,
    the last one nearest to the last image (the grid ``clean_series`` cleans on; a test keeps
    the two equal, without this module paying for the series kernels).
    """
    if not len(times):
        return pd.DatetimeIndex([])
    start, end, step = times.min(), times.max(), pd.Timedelta(CURVE_STEP)
    n = int(np.floor((end - start) / step + 0.5)) + 1
    return pd.DatetimeIndex([start + i * step for i in range(n)])


def _on_dates(
    values: np.ndarray[Any, Any], grid: pd.DatetimeIndex, times: pd.DatetimeIndex
) -> np.ndarray[Any, Any]:
    """Each row linearly from the curves' grid to the imagery dates (NaN outside its span)."""
    g, t = grid.asi8.astype(float), times.asi8.astype(float)
    out = np.full((values.shape[0], len(times)), np.nan)
    for i, row in enumerate(values):
        ok = np.isfinite(row)
        if ok.sum() >= 2:
            inside = (t >= g[ok][0]) & (t <= g[ok][-1])
            out[i, inside] = np.interp(t[inside], g[ok], row[ok])
    return out


def _context(folder: ScanFolder) -> ScanContext:
    """The county context's peer curves, yields and versions (not its crop model: not needed)."""
    ctx_dir = folder.root / "context"
    ctx = ScanContext()
    county = ctx_dir / "county.json"
    if county.exists():
        info = json.loads(county.read_text(encoding="utf-8"))
        ctx.county_yields = {str(k): float(v) for k, v in info.get("county_yields", {}).items()}
        ctx.meta = dict(info.get("meta", {}))
    if (ctx_dir / "peer_curves.nc").exists():
        with xr.open_dataset(ctx_dir / "peer_curves.nc") as ds:
            ctx.peer_curves = ds.load()
    return ctx


def _saved(folder: ScanFolder, name: str, owner: str | None = None) -> pd.DataFrame:
    """A table the scan saved for its reports (the season's weather, matched subsidies)."""
    path = folder.root / name
    if not path.exists():
        return pd.DataFrame()
    table = pd.read_parquet(path)
    if owner is not None and "owner_ref" in table.columns:
        table = table[table["owner_ref"].astype(str) == owner].reset_index(drop=True)
    return table


@dataclass
class ScanContext:
    """What a report reads of the county context (not the crop model: nothing is predicted)."""

    peer_curves: xr.Dataset | None = None
    county_yields: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanAssessment:
    """A household's part of a scan, shaped as :class:`agrilend.pipeline.Assessment` (the
    report reads it the same way) without importing the pipeline and its models."""

    parcels: gpd.GeoDataFrame
    households: pd.DataFrame
    series: xr.Dataset | None
    context: ScanContext
    subsidies: pd.DataFrame = field(default_factory=pd.DataFrame)
    season_weather: pd.DataFrame = field(default_factory=pd.DataFrame)
    provenance: dict[str, Any] = field(default_factory=dict)


def scan_assessment(folder: ScanFolder, target: str) -> ScanAssessment:
    """The scan's own assessment of ``target``'s household (its rows, not a new decision).

    Parameters
    ----------
    folder
        A finished scan (:meth:`ScanFolder.find`).
    target
        A household pseudonym or parcel id, already checked (:func:`check_target`).

    Returns
    -------
    ScanAssessment
        The household's parcels and decision as the scan wrote them, the season's weather and
        subsidy records it matched.
    """
    owner = _owner_of(folder, target)
    parcels = gpd.read_parquet(
        folder.root / "parcels.parquet", filters=[("owner_ref", "==", owner)]
    )
    if "title_row" in parcels.columns:  # a scan's dataset, one file per chunk: title order
        parcels = parcels.sort_values("title_row", kind="stable").drop(columns="title_row")
    parcels = parcels.reset_index(drop=True)
    households = pd.read_parquet(
        folder.root / "households.parquet", filters=[("owner_ref", "==", owner)]
    ).reset_index(drop=True)
    for col in ("quality_flags", "reason_codes", "reasons_en", "reasons_zh", "parcel_ids"):
        for frame in (parcels, households):
            if col in frame and frame[col].dtype == object:
                frame[col] = [_json_list(v) for v in frame[col]]
    manifest = folder.manifest()
    times = pd.DatetimeIndex(pd.to_datetime(manifest.get("imagery_dates", [])))
    series = _curves(folder, parcels["parcel_id"].astype(str).tolist(), times)
    season = _saved(folder, "season_weather.parquet")
    subs = _saved(folder, "subsidies.parquet", owner)
    provenance = {
        "agrilend_version": manifest.get("agrilend_version"),
        "model_version": manifest.get("model_version"),
        "policy_version": manifest.get("policy_version"),
        "as_of": manifest.get("as_of"),
        "imagery": {"dates": [t.date().isoformat() for t in times]},
        "inputs": {
            k: {"file": Path(str(v.get("path", ""))).name, "checksum": v.get("checksum", "")}
            for k, v in (manifest.get("inputs") or {}).items()
            if isinstance(v, dict)
        },
        "source": "scan",
        "scan": str(folder.root),
    }
    return ScanAssessment(
        parcels=parcels,
        households=households,
        series=series,
        context=_context(folder),
        subsidies=subs,
        season_weather=season,
        provenance=provenance,
    )


def scan_neighbours(folder: ScanFolder, parcels: gpd.GeoDataFrame, margin_m: float) -> Any:
    """The scan's parcels within ``margin_m`` of ``parcels`` (read by bounding box)."""
    minx, miny, maxx, maxy = parcels.total_bounds
    gpkg = folder.root / "parcels.gpkg"
    box = (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
    if gpkg.exists():
        return gpd.read_file(gpkg, layer="parcels", bbox=box, columns=["parcel_id", "owner_ref"])
    every = gpd.read_parquet(
        folder.root / "parcels.parquet", columns=["parcel_id", "owner_ref", "geometry"]
    )
    return every.cx[box[0] : box[2], box[1] : box[3]]


def scan_files(folder: ScanFolder, given: Any) -> Any:
    """The scan's own input files (from its manifest) when they are still there, else ``given``."""
    from agrilend.inputs import InputFiles  # noqa: PLC0415

    inputs = folder.manifest().get("inputs") or {}
    paths = {k: str(v["path"]) for k, v in inputs.items() if isinstance(v, dict) and v.get("path")}
    if {"titles", "imagery"} <= set(paths) and all(Path(p).exists() for p in paths.values()):
        try:
            return InputFiles.from_paths(**paths)
        except TypeError:  # a manifest of another version: fields differ
            return given
    return given


def open_from_scan(
    folder: ScanFolder, target: str, *, files: Any = None, margin_m: float = 1500.0
) -> tuple[Any, Any, Any]:
    """``(assessment, cube, neighbours)`` for the report of ``target`` from a finished scan.

    The cube is opened lazily (the maps read the household's window only); imagery given as a
    STAC search is not opened (the report then draws outlines only).
    """
    from agrilend.remote_sensing import is_imagery_spec, open_cube  # noqa: PLC0415

    assessment = scan_assessment(folder, target)
    cube = None
    imagery = getattr(files, "imagery", None)
    if imagery is not None and not is_imagery_spec(imagery):
        cube = open_cube(imagery, chunks={})
    neighbours = scan_neighbours(folder, assessment.parcels, margin_m)
    return assessment, cube, neighbours


def _json_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


__all__ = [
    "REPORTS_DIR",
    "ScanFolder",
    "check_target",
    "curve_grid",
    "normalise_id",
    "open_from_scan",
    "report_path",
    "scan_assessment",
    "scan_files",
    "scan_neighbours",
]
