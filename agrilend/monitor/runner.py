"""One monitoring run over a scanned loan book: new dates appended, events, actions, summary."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend._paths import local_path
from agrilend.errors import ScanError
from agrilend.manifest import read_manifest
from agrilend.monitor.actions import household_actions
from agrilend.monitor.dryness import dryness
from agrilend.monitor.events import BARE_SOIL_NDVI, detect_events, normal_amplitude
from agrilend.monitor.funding import funding_calendar
from agrilend.monitor.portfolio import build_portfolio, map_svg, portfolio_html
from agrilend.monitor.store import (
    MANIFEST,
    clean_temporaries,
    known_dates,
    list_runs,
    read_plan,
    read_series,
    run_dir,
    write_plan,
)
from agrilend.monitor.thresholds import MonitorPolicy
from agrilend.monitor.update import Progress, append_new_dates, open_cube_once, plan_chunks
from agrilend.outputs import atomic_write, write_json, write_table

log = logging.getLogger(__name__)

MONITOR_FORMAT = 1


@dataclass
class MonitorResult:
    """What a monitoring run did.

    Attributes
    ----------
    run
        The run number (0 when nothing was written).
    dates
        The new image dates the run appended.
    written
        False when there was no new imagery (nothing written).
    summary
        The run's ``summary.json``.
    events, households, funding
        The run's tables.
    timings
        Seconds: ``read`` (new dates, chunks), ``analyse``, ``total``.
    """

    run: int
    dates: list[str]
    written: bool
    summary: dict[str, Any] = field(default_factory=dict)
    events: pd.DataFrame | None = None
    households: pd.DataFrame | None = None
    funding: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _loan_book(scan: Path) -> tuple[dict[str, Any], gpd.GeoDataFrame, pd.DataFrame]:
    if not (scan / MANIFEST).exists() or not (scan / "parcels.parquet").exists():
        raise ScanError(
            f"{str(scan)!r} is not a finished scan (manifest.json or parcels.parquet missing); "
            "run `agrilend scan` to the end first"
        )
    manifest = read_manifest(scan / MANIFEST)
    from agrilend.scan.outputs import read_households, read_parcels  # noqa: PLC0415

    # a scan's datasets (one file per chunk, per partition), in title and owner order
    return manifest, read_parcels(scan), read_households(scan)


def _new_dates(cube_times: pd.DatetimeIndex, after: pd.Timestamp, until: Any) -> list[str]:
    times = cube_times[cube_times > after]
    if until is not None:
        times = times[times <= pd.Timestamp(until)]
    return [t.isoformat() for t in times]


def monitor(
    scan_dir: str | Path,
    imagery: str | Path,
    *,
    weather: str | Path | None = None,
    until: Any = None,
    workers: int | None = 0,
    scheduler: str | None = None,
    chunk_size_px: int = 256,
    progress: Progress | None = None,
) -> MonitorResult:
    """Append the new image dates of ``imagery`` to a scanned loan book and judge the season.

    Parameters
    ----------
    scan_dir
        A finished ``agrilend scan`` results folder (the loan book); the monitoring history is
        kept in its ``monitor/`` folder.
    imagery
        A local cube on the scan's grid holding dates after the decision date.
    weather
        Daily weather of the season to date; the scan's own weather file is its history.
    until
        Only dates up to this one are read (what has arrived so far).
    workers, scheduler
        As for :func:`agrilend.scan.scan` (default: in this process).
    chunk_size_px
        Side of a spatial chunk in pixels.
    progress
        Called with ``(parcels done, parcels total)``.

    Returns
    -------
    MonitorResult
        ``written`` is False when the cube holds no date after those already monitored.

    Raises
    ------
    ScanError
        ``scan_dir`` is not a finished scan, or a resumed run's dates are missing from the cube.

    Examples
    --------
    >>> r = monitor("county-scan", "sample_data/monitor_imagery.nc",
    ...             weather="sample_data/monitor_weather.csv")   # doctest: +SKIP
    >>> r.summary["events_by_kind"]                               # doctest: +SKIP
    {'failure': 20, 'drought': 70, ...}
    """
    t0 = time.perf_counter()
    scan = local_path(scan_dir, what="scan results folder")
    imagery_path = local_path(imagery, what="imagery")
    manifest, parcels, households = _loan_book(scan)
    clean_temporaries(scan)
    runs = list_runs(scan)
    cube = open_cube_once(str(imagery_path))
    open_runs = [r for r, done in runs if not done]
    if open_runs:  # a run was killed: resume it with its own dates
        run = open_runs[0]
        dates = list(read_plan(scan, run)["dates"])
        missing = set(pd.DatetimeIndex(dates)) - set(pd.DatetimeIndex(cube.indexes["time"]))
        if missing:
            raise ScanError(
                f"monitoring run {run} in {str(scan)!r} was planned on dates {sorted(missing)[:3]} "
                f"that {str(imagery_path)!r} lacks; give the imagery it started with"
            )
    else:
        as_of = pd.Timestamp(manifest.get("as_of") or "1970-01-01")
        known = known_dates(scan)
        after = max([as_of - pd.Timedelta(days=1), *known])
        dates = _new_dates(pd.DatetimeIndex(cube.indexes["time"]), after, until)
        if not dates:
            log.info("no image date after %s in %s: nothing to do", after.date(), imagery_path)
            return MonitorResult(run=0, dates=[], written=False)
        run = (runs[-1][0] + 1) if runs else 1
        write_plan(scan, run, {
            "monitor_format": MONITOR_FORMAT, "run": run, "dates": dates,
            "imagery": str(imagery_path), "weather": str(weather) if weather else None,
            "chunk_size_px": chunk_size_px,
        })  # fmt: skip
    book = watched(parcels)
    if book.crs is not None and cube.rio.crs is not None and book.crs != cube.rio.crs:
        book = book.to_crs(cube.rio.crs.to_wkt())
    chunks = plan_chunks(book, cube, chunk_size_px=int(read_plan(scan, run)["chunk_size_px"]))
    append_new_dates(
        scan, run, titles=book[["parcel_id", "geometry"]], imagery=str(imagery_path),
        dates=dates, chunks=chunks, workers=workers, scheduler=scheduler, progress=progress,
    )  # fmt: skip
    t_read = time.perf_counter() - t0

    t1 = time.perf_counter()
    context = peer_context(scan)
    weather_paths = [manifest.get("inputs", {}).get("weather", {}).get("path"), weather]
    result = analyse(
        scan, run, dates, parcels=parcels, households=households, context=context,
        weather_paths=[str(w) for w in weather_paths if w and Path(str(w)).exists()],
        policy_path=manifest.get("inputs", {}).get("policy", {}).get("path"),
    )  # fmt: skip
    result.timings = {"read": t_read, "analyse": time.perf_counter() - t1,
                      "total": time.perf_counter() - t0}  # fmt: skip
    return result


@dataclass
class _Peers:
    """The part of a scan's county context the monitor needs (the crop model is not loaded)."""

    peer_curves: Any = None


def peer_context(scan: Path) -> _Peers:
    """The peer curves of a scan's county context (``context/peer_curves.nc``), if any."""
    import xarray as xr  # noqa: PLC0415

    path = scan / "context" / "peer_curves.nc"
    if not path.exists():
        return _Peers()
    with xr.open_dataset(path) as ds:
        return _Peers(ds.load())


def watched(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcels a monitor follows: usable, and found cultivated by the scan.

    A parcel the scan found idle (``area_flag`` ``not_cultivated``) carried no crop revenue;
    it staying idle is no news.
    """
    keep = (parcels["status"] != "error") & (
        parcels.get("area_flag", pd.Series("", index=parcels.index)).astype(str) != "not_cultivated"
    )
    return parcels[keep].reset_index(drop=True)


def _policy(path: str | None) -> Any:
    from agrilend.credit import load_policy  # noqa: PLC0415

    return load_policy(path) if path and Path(path).exists() else load_policy()


def _weather(paths: list[str]) -> pd.DataFrame | None:
    from agrilend.yield_models.weather import read_weather  # noqa: PLC0415

    frames = [read_weather(p) for p in paths]
    if not frames:
        return None
    w = pd.concat(frames)
    return w[~w.index.duplicated(keep="last")].sort_index()


def analyse(
    scan: Path,
    run: int,
    dates: list[str],
    *,
    parcels: gpd.GeoDataFrame,
    households: pd.DataFrame,
    context: Any,
    weather_paths: list[str],
    policy_path: str | None,
) -> MonitorResult:
    """Judge the season from every stored observation and write the run's outputs."""
    policy = _policy(policy_path)
    mp = MonitorPolicy.from_policy(policy)
    finished = [r for r, done in list_runs(scan) if done and r < run]
    ids, times, x = read_series(scan, [*finished, run])
    book = parcels.set_index(parcels["parcel_id"].astype(str)).reindex(ids.astype(str))
    book = book.reset_index(drop=True)
    book["parcel_id"] = ids.astype(str)
    crops = book["crop"].fillna("").astype(str).to_numpy()
    normal = normal_amplitude(context.peer_curves, crops, times)
    peak_ref = _peer_peaks(context.peer_curves)
    ref = np.array([peak_ref.get(c, np.nan) for c in crops])
    with np.errstate(all="ignore"):
        level = (book["peak_ndvi"].to_numpy(dtype=float) - BARE_SOIL_NDVI) / ref
    cent = gpd.GeoSeries(book.geometry.to_numpy(), crs=parcels.crs).centroid
    frame = pd.DataFrame({
        "parcel_id": book["parcel_id"], "owner_ref": book["owner_ref"].astype(str),
        "crop": crops, "level": np.nan_to_num(level, nan=1.0), "x": cent.x, "y": cent.y,
    })  # fmt: skip
    weather = _weather(weather_paths)
    dry = spi = None
    if weather is not None and len(times):
        d = dryness(weather, times)
        spi = d["spi_60d"].to_numpy(dtype=float)
        spell = d["dry_spell_days"].to_numpy(dtype=float)
        known = np.isfinite(spi) | np.isfinite(spell)
        is_dry = (np.nan_to_num(spi, nan=0.0) <= mp.spi_dry) | (spell >= mp.dry_spell_days)
        dry = np.where(known, is_dry.astype(float), np.nan)
    events = detect_events(x, times, frame, normal=normal, dry=dry, spi=spi, rules=mp.event_rules())
    condition = _condition(x, normal, frame["level"].to_numpy(dtype=float), ids)
    delay = _late_delay(events, x, times, ids)
    as_of = pd.Timestamp(households["limits"].map(_as_of).dropna().min() or times.min())
    harvest_late, tenor_events = _harvest_vs_tenor(
        households, parcels, delay, year=int(times.max().year), as_of=as_of, events=events
    )
    events = pd.concat([events, tenor_events], ignore_index=True) if len(tenor_events) else events
    hh = household_actions(households, parcels, events, condition, policy=policy, mp=mp,
                           harvest_late=harvest_late)  # fmt: skip
    stopped = {
        str(r.parcel_id): pd.Timestamp(str(r.date))
        for r in events[events["kind"] == "failure"].itertuples()
    }
    funding = funding_calendar(households, parcels, year=int(times.max().year), mp=mp,
                               delay_days=delay, stopped=stopped)  # fmt: skip
    previous = []
    for r in finished:
        p = run_dir(scan, r) / "summary.json"
        if p.exists():
            s = json.loads(p.read_text("utf-8"))
            previous.append(
                {
                    k: s[k]
                    for k in (
                        "run",
                        "dates",
                        "households",
                        "credit_book",
                        "exposure_at_risk",
                        "events",
                        "new_events",
                    )
                }
            )
    new_events = int((pd.to_datetime(events["date"]) >= pd.Timestamp(dates[0])).sum()) if len(
        events) else 0  # fmt: skip
    summary = build_portfolio(run, [d[:10] for d in dates], parcels, hh, events,
                              previous=previous, new_events=new_events,
                              currency=str(getattr(policy, "currency", "")))  # fmt: skip
    _write_run(scan, run, summary, parcels, events, hh, funding)
    return MonitorResult(run=run, dates=dates, written=True, summary=summary, events=events,
                         households=hh, funding=funding)  # fmt: skip


def _as_of(limits: Any) -> Any:
    try:
        return json.loads(limits)["tenor"]["as_of"]
    except (TypeError, ValueError, KeyError):
        return None


def _peer_peaks(curves: Any) -> dict[str, float]:
    if curves is None:
        return {}
    out = {}
    for c in curves["crop"].values:
        v = curves["p50"].sel(crop=c).to_numpy().astype(float)
        if np.isfinite(v).any():
            out[str(c)] = float(np.nanmax(v)) - BARE_SOIL_NDVI
    return out


def _condition(
    x: np.ndarray[Any, Any], normal: np.ndarray[Any, Any], level: np.ndarray[Any, Any], ids: Any
) -> pd.Series:
    """Each parcel's vigour against normal now: median of its last two comparable dates."""
    with np.errstate(all="ignore"):
        exp = normal * np.clip(level, 0.5, 1.2)[:, None]
        rn = np.where(exp >= 0.25, (x - BARE_SOIL_NDVI) / exp, np.nan)
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        v = rn[i][np.isfinite(rn[i])]
        if v.size:
            out[i] = float(np.median(v[-2:]))
    return pd.Series(out, index=pd.Index(ids).astype(str))


def _late_delay(
    events: pd.DataFrame, x: np.ndarray[Any, Any], times: pd.DatetimeIndex, ids: Any
) -> pd.Series:
    """Days a late-sown parcel is behind: its green-up against its alert date's peers (>= 15)."""
    late = events[events["kind"] == "late_sowing"]
    pos = {p: i for i, p in enumerate(pd.Index(ids).astype(str))}
    out = {}
    for r in late.itertuples():
        i = pos[str(r.parcel_id)]
        green = np.flatnonzero(np.nan_to_num(x[i], nan=0.0) - BARE_SOIL_NDVI >= 0.25)
        alert = pd.Timestamp(str(r.date))
        if green.size and times[green[0]] > alert:
            out[str(r.parcel_id)] = float((times[green[0]] - alert).days) + 15.0
        else:
            out[str(r.parcel_id)] = float((times[-1] - alert).days) + 15.0
    return pd.Series(out, dtype=float)


def _harvest_vs_tenor(
    households: pd.DataFrame,
    parcels: pd.DataFrame,
    delay: pd.Series,
    *,
    year: int,
    as_of: pd.Timestamp,
    events: pd.DataFrame,
) -> tuple[set[str], pd.DataFrame]:
    """Parcels whose expected harvest now falls after their loan is due, and those events."""
    from agrilend.monitor.funding import crop_calendar  # noqa: PLC0415

    cal = crop_calendar(parcels, year)
    crop_of = parcels.set_index(parcels["parcel_id"].astype(str))["crop"].astype(str)
    owner_of = parcels.set_index(parcels["parcel_id"].astype(str))["owner_ref"].astype(str)
    tenor = households.set_index("owner_ref")["tenor_months"]
    late: set[str] = set()
    rows = []
    alert = events[events["kind"] == "late_sowing"].set_index("parcel_id")["date"]
    for pid, days in delay.items():
        crop = str(crop_of.get(str(pid), ""))
        if crop not in cal.index:
            continue
        harvest = pd.Timestamp(str(cal.loc[crop, "harvest"])) + pd.Timedelta(days=float(days))
        months = tenor.get(owner_of.get(pid), None)
        if months is None or pd.isna(months):
            continue
        due = as_of + pd.DateOffset(months=int(months))
        if harvest > due:
            late.add(str(pid))
            rows.append({"parcel_id": pid, "owner_ref": owner_of.get(pid),
                         "kind": "harvest_after_tenor", "date": alert.get(pid),
                         "severity": "medium", "extent": "field",
                         "evidence": {"harvest": harvest.date().isoformat(),
                                      "due": due.date().isoformat()}})  # fmt: skip
    return late, pd.DataFrame(rows)


def _write_run(  # noqa: PLR0917  (private: the run's parts, in order)
    scan: Path,
    run: int,
    summary: dict[str, Any],
    parcels: gpd.GeoDataFrame,
    events: pd.DataFrame,
    households: pd.DataFrame,
    funding: pd.DataFrame,
) -> None:
    """The run's outputs, each atomically; the manifest last (it marks the run finished)."""
    d = run_dir(scan, run)
    write_table(events, d / "events.parquet", overwrite=True)
    write_table(households, d / "households.parquet", overwrite=True)
    write_table(funding, d / "funding.parquet", overwrite=True)
    write_json(summary, d / "summary.json", overwrite=True)
    svg = map_svg(parcels, events)
    for lang in ("en", "zh"):
        page = portfolio_html(summary, lang, map_svg=svg)
        with atomic_write(d / f"summary.{lang}.html") as tmp:
            tmp.write_text(page, encoding="utf-8")
    write_json({"monitor_format": MONITOR_FORMAT, "run": run, "finished": True},
               d / MANIFEST, overwrite=True)  # fmt: skip


__all__ = ["MONITOR_FORMAT", "MonitorResult", "analyse", "monitor"]
