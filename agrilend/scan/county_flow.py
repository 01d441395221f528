"""The county step of a scan, orchestrated from the client (:mod:`agrilend.scan.county_step`
holds the tasks): what it leaves is an :class:`Outcome`, summaries only, and the files.

One way for every scan, :func:`county_on_workers`: passes over the parts on the workers; the
client holds the county tables, the crop model's training sample (drawn on a worker from a
few small columns of every title: :mod:`agrilend.scan.crop_sample`) and the households'
partitions (:func:`agrilend.scan.households.plan_households`, planned on a worker from the
titles file's owners while the crops are made); no column of the titles, which the workers
read from the titles file; on a cluster the crop model's sample and the county's model stay on the
workers (:func:`agrilend.scan.county.crop_plan` with ``keep``). Credit extras (prices,
transfers, insurance, own evidence) are sized on the workers too, in the same partitions
(:mod:`agrilend.scan.households`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.assessment import CountyContext
from agrilend.scan.cluster import is_remote, launcher
from agrilend.scan.county import (
    ModelOnWorkers,
    crop_plan,
    features_file,
    flat_predictor,
    part_paths,
)
from agrilend.scan.county_step import (
    MIN_TILE_PEERS,
    PEER_TILE_PX,
    CountyTables,
    PartSpec,
    add_histograms,
    add_scores,
    crops_task,
    decide_task,
    exact_peers,
    median_of_counts,
    merge_histograms,
    overlap_changes,
    peers_file,
    threshold_from_histograms,
)
from agrilend.scan.crop_sample import draw_task
from agrilend.scan.households import (
    part_households,
    plan_from_titles,
    size_in_partitions,
    without_parts,
)
from agrilend.scan.memory import give_back
from agrilend.scan.parts import Chunk, error_rows
from agrilend.scan.title_store import TITLES_FILE, read_titles

log = logging.getLogger(__name__)

#: Folders of the results: the parcels and households datasets (one file per part).
PARCELS, HOUSEHOLDS = "parcels.parquet", "households.parquet"
#: Folder of the county step's own files: each chunk's crops, each partition's outlines.
STEP = "county"

Mapper = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


@dataclass
class Outcome:
    """What the county step leaves for the outputs: summaries and file names, never a county
    table. ``finals`` are the parcels dataset's files (chunk order), ``households`` the
    households dataset's files and ``areas`` their outlines (GeoParquet, for the GeoPackage)."""

    summary: dict[str, Any]
    context: CountyContext
    provenance: dict[str, Any]
    season_weather: pd.DataFrame
    subsidies: pd.DataFrame
    finals: list[str]
    households: list[str]
    areas: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def _specs(
    out: Path,
    chunks: list[Chunk],
    quarantined: dict[str, str],
    *,
    width: int,
    grid_width: int,
    peer_tile_px: int | None,
) -> list[PartSpec]:
    parts = part_paths(out, chunks, quarantined)
    tiles = peer_tiles(chunks, peer_tile_px)
    (out / PARCELS).mkdir(exist_ok=True)
    (out / STEP).mkdir(exist_ok=True)
    return [
        PartSpec(
            chunk=c.id,
            part=parts.get(c.id),
            crops=str((out / STEP / f"{c.id}.crops.parquet").resolve()),
            final=str((out / PARCELS / f"{c.id}.parquet").resolve()),
            width=width,
            grid_width=grid_width,
            errors=error_rows(read_titles(out / TITLES_FILE, i, c), c, quarantined[c.id])
            if c.id in quarantined
            else None,
            tile=tile,
        )
        for i, (c, tile) in enumerate(zip(chunks, tiles, strict=True))
    ]


def peer_tiles(chunks: list[Chunk], tile_px: int | None) -> list[int]:
    """The peer tile of each chunk: the square of ``tile_px`` imagery pixels holding its
    window's centre, numbered in order of first appearance (-1 for all when ``tile_px`` is
    None: county peers only).

    Examples
    --------
    >>> from agrilend.scan.parts import Chunk
    >>> cs = [Chunk("a", (0,), (0, 10, 0, 10)), Chunk("b", (1,), (0, 10, 900, 1000)),
    ...       Chunk("c", (2,), (0, 10, 1100, 1200))]
    >>> peer_tiles(cs, 1024), peer_tiles(cs, None)
    ([0, 0, 1], [-1, -1, -1])
    """
    if tile_px is None:
        return [-1] * len(chunks)
    numbers: dict[tuple[int, int], int] = {}
    return [numbers.setdefault(k, len(numbers)) for k in tile_keys(chunks, tile_px)]


def tile_key(window: tuple[int, int, int, int], tile_px: int) -> tuple[int, int]:
    """The peer tile ``(tile row, tile column)`` of a pixel window: the tile of its centre."""
    if tile_px < 1:
        raise ValueError(f"peer_tile_px must be at least 1 pixel, got {tile_px}")
    r0, r1, c0, c1 = window
    return (r0 + r1) // 2 // tile_px, (c0 + c1) // 2 // tile_px


def tile_keys(chunks: list[Chunk], tile_px: int) -> list[tuple[int, int]]:
    """The peer tile of each chunk (:func:`tile_key` of its window)."""
    return [tile_key(c.window, tile_px) for c in chunks]


def county_grid(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The regular grid of the cleaned curves (as :func:`agrilend.pipeline.gather_evidence`)."""
    from agrilend.remote_sensing import clean_series  # noqa: PLC0415

    _, grid = clean_series(np.full((1, len(times)), np.nan), times, step="5D")
    return pd.DatetimeIndex(grid)


def _provenance(  # noqa: PLR0917
    policy: Any, context: CountyContext, as_of: Any, times: pd.DatetimeIndex,
    cloud_sum: np.ndarray[Any, Any], cloud_n: np.ndarray[Any, Any], n_parcels: int, source: str,
) -> dict[str, Any]:  # fmt: skip
    """:func:`agrilend.pipeline._provenance` from the parts' sums of clear fractions."""
    import xarray as xr  # noqa: PLC0415

    from agrilend.assessment import Evidence  # noqa: PLC0415
    from agrilend.pipeline import _provenance as provenance  # noqa: PLC0415

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cloud_n > 0, cloud_sum / np.maximum(cloud_n, 1), np.nan)
    series = xr.Dataset({"valid_fraction": (("parcel", "time"), mean[None, :])},
                        coords={"time": times}, attrs={"source": source})  # fmt: skip
    ev = Evidence(parcels=pd.DataFrame(index=range(n_parcels)), series=series, times=times,
                  ndvi=np.empty((0, 0)), grid=times, smooth=np.empty((0, 0)))  # fmt: skip
    return provenance(ev, policy, context, as_of)


def county_on_workers(
    out: Path,
    chunks: list[Chunk],
    *,
    n_titles: int,
    crs: Any,
    quarantined: dict[str, str],
    times: pd.DatetimeIndex,
    cube: Any,
    inputs: Any,
    county: CountyContext,
    run: Mapper,
    share: Callable[[Any], Any],
    crop_training_cap: int | None,
    reduce: Callable[..., Any] | None = None,
    peer_tile_px: int | None = PEER_TILE_PX,
    slots: int = 1,
    launch: Callable[..., Callable[[], Any]] | None = None,
    keep: Callable[..., Any] | None = None,
) -> Outcome:
    """The county step as passes over the parts on the workers (module doc). Vigour compares
    each parcel with the parcels of its crop in its peer tile (``peer_tile_px``; None: the
    county's), or the county's where the tile holds fewer than
    :data:`agrilend.scan.county_step.MIN_TILE_PEERS` of them. ``slots``: how many tasks the
    workers run at once (the households' partitions come in whole rounds of them).
    ``launch(fn, *args)`` starts a task at once and returns a function waiting for its result
    (:func:`agrilend.scan.cluster.launcher`; None: run in this process when needed): the
    overlaps between chunks are judged on a worker while the crops are made. ``keep(fn, *args)``
    (:func:`agrilend.scan.cluster.keeper`) leaves a task's result on a worker: the crop model's
    training sample and fit stay there."""
    import time  # noqa: PLC0415

    from agrilend.credit import load_policy  # noqa: PLC0415
    from agrilend.pipeline import _county_weather  # noqa: PLC0415
    from agrilend.yield_models.weather import weather_normals  # noqa: PLC0415

    tm: dict[str, float] = {}
    t0 = time.perf_counter()
    reduce = reduce or in_order(run)
    policy = inputs.policy if inputs.policy is not None else load_policy()
    grid = county_grid(times)
    tiled = peer_tile_px if county.peer_stats is None else None  # a context's peers: as given
    specs = _specs(out, chunks, quarantined, width=len(times), grid_width=len(grid),
                   peer_tile_px=tiled)  # fmt: skip
    launch = launch or launcher(None)
    titles_file = str((out / TITLES_FILE).resolve())
    as_of = (pd.Timestamp(times.max()) + pd.Timedelta(days=1)).date() if len(times) else None
    # the chunks' title rows (4 bytes a title) go to the workers once, for the two tasks below
    chunks_there = share(chunks)
    # on a worker first: the crop plan's draw from every title's light rows (kept beside the
    # parts by the chunk tasks); no column of every title comes to the client
    drawn = launch(draw_task, specs, chunks_there, n_titles, crop_training_cap,
                   county.crop_model is not None)  # fmt: skip
    # on the workers while the crops are made, at low priority (needed only at the decisions:
    # a worker with crop-model tasks waiting runs those first): both read the titles file
    overlaps = launch(overlap_changes, specs, titles_file, crs, priority=-1)
    plan_args = (titles_file, chunks_there, n_titles, inputs.subsidies, inputs.credit_extras,
                 policy, as_of, slots)  # fmt: skip
    # on a cluster the households' plan stays on its worker: each part's households go from
    # there to the part's task (8 bytes a title), the client gets the rest of the plan
    planned = keep(plan_from_titles, *plan_args, priority=-1) if keep is not None else \
        launch(plan_from_titles, *plan_args, priority=-1)  # fmt: skip
    del chunks_there, plan_args
    draw = drawn()
    tm["county_light_rows"] = time.perf_counter() - t0
    parts = {s.chunk: s.part for s in specs if s.part is not None}
    alarm = float(getattr(policy, "crop_false_alarm_rate", 0.01))
    plan = crop_plan(draw, chunks, parts, times=times, context=county,
                     crop_training_cap=crop_training_cap, mapper=run, share=share,
                     false_alarm_rate=alarm, background=True, keep=keep)  # fmt: skip
    del draw  # the sample is drawn: no column of every parcel came to this process
    give_back("the crop plan")
    given = getattr(county.crop_model, "mismatch_threshold_", None) if plan.mode == "context" \
        else None  # fmt: skip
    tm["county_crop_model"] = time.perf_counter() - t0  # part of county_crops
    tm.update({f"county_{k}": v for k, v in plan.timings.items()})  # parts of county_crop_model
    # the workers' flat copy of the model (kept there already, or sent now)
    predictor = plan.predictor if is_remote(plan.predictor) else \
        share(flat_predictor(plan.predictor))  # fmt: skip

    def plan_of(cid: str) -> Any:  # only this chunk's positions travel with its task
        return replace(plan, predictor=None, pending=None, timings={}, ahead=None,
                       fixed={cid: plan.fixed[cid]} if cid in plan.fixed else {},
                       predict=None if plan.predict is None else
                       {cid: plan.predict[cid]} if cid in plan.predict else {})  # fmt: skip

    ahead = plan.ahead or {}  # each chunk's features computed ahead: its task waits for them
    first = reduce(crops_task, [(s, plan_of(s.chunk), predictor, given is None,
                                 ahead.get(s.chunk)) for s in specs],
                   _fold_first) or _fold_first(None, None)  # fmt: skip
    del predictor, ahead  # the chunks are predicted
    plan.ahead = None
    plan.finish(county)  # the county's model, trained meanwhile (here or on the workers)
    tm["county_crops"] = time.perf_counter() - t0
    threshold = float(given) if given is not None else \
        threshold_from_histograms(first["scores"], alarm)  # fmt: skip
    if isinstance(county.crop_model, ModelOnWorkers):  # set by its worker, which writes it
        county.crop_model.attrs["mismatch_threshold_"] = threshold
    elif plan.mode != "context":  # households decided later from the context use this threshold
        county.crop_model.mismatch_threshold_ = threshold
    classes = [str(c) for c in plan.classes]
    tile_peers: dict[int, pd.DataFrame] = {}
    peer_note: dict[str, Any] = {"tile_px": None}
    county.peer_tiles = None  # only this scan's tiles, if any (a given context's judged none)
    if county.peer_stats is None:
        hist = first["hist"] if first["hist"] is not None else merge_histograms([])
        peers = exact_peers(specs, hist, first["per_crop"], classes=classes, grid=grid,
                            reduce=reduce, batches=2 * slots)  # fmt: skip
        county.peer_stats, county.peer_curves = peers.stats, peers.curves
        tile_peers = peers.tiles
        if tiled is not None and peers.own:
            county.peer_tiles = _tile_table(peers.own, specs, chunks, tiled)
        peer_note = {"tile_px": tiled, "min_tile_peers": MIN_TILE_PEERS,
                     "tiles": len(peers.tiles), "tile_crops": peers.tile_crops}  # fmt: skip
    for spec in specs:  # pass 1's copies of the peer values, for the light passes: done with
        peers_file(spec).unlink(missing_ok=True)
        if spec.part is not None:  # features computed ahead and not used (their task removes them)
            features_file(spec.part).unlink(missing_ok=True)
    tm["county_peers"] = time.perf_counter() - t0 - tm["county_crops"]

    weather, season_table, climate = inputs.weather, pd.DataFrame(), None
    if weather is not None and len(times):
        climate, season_table = _county_weather(weather, (times.min(), times.max()),
                                                county.tables)  # fmt: skip
        if county.weather_normals is None:
            county.weather_normals = weather_normals(weather)
    if inputs.county_yields:
        county.county_yields = dict(inputs.county_yields)
    worker_context = county.copy()
    worker_context.crop_model = None  # the crops are made: the decide tasks need no model
    tables = CountyTables(
        classes=classes, threshold=threshold, context=worker_context, policy=policy,
        weather=weather, county_yields=inputs.county_yields, as_of=as_of, times=times,
        grid=grid, source=str(cube.attrs.get("source", "")),
        changes=overlaps(), tile_peers=tile_peers,
    )  # fmt: skip
    shared = share(tables)
    t_plan = time.perf_counter()
    if keep is not None:
        households = launch(without_parts, planned)()
        of_part = [keep(part_households, planned, k) for k in range(len(specs))]
    else:
        households = planned()
        of_part = households.parts
    del planned
    tm["county_households_plan"] = time.perf_counter() - t_plan
    decided = run(decide_task, [(s, shared, of_part[k]) for k, s in enumerate(specs)])
    households.parts, of_part = [], []  # sent; the plan keeps the households' partitions only
    launch(conform, [s.final for s in specs])()  # on a worker: Arrow's buffers stay there
    tm["county_decide"] = time.perf_counter() - t0 - tm["county_crops"] - tm["county_peers"]
    tm["decide_worker_rss_mb"] = max((r.get("rss_mb", 0.0) for r in decided), default=0.0)

    finals = [s.final for s in specs]
    risk = None if climate is None else float(climate["risk_score"])
    sized, subs_table, hh_files, areas = size_in_partitions(
        out / HOUSEHOLDS, out / STEP, households,
        [(s.final, r["groups"]) for s, r in zip(specs, decided, strict=True)],
        subsidies=inputs.subsidies, climate=risk, as_of=as_of,
        reference_yields=county.county_yields or None, run=run,
    )  # fmt: skip
    kept = [i for i, r in enumerate(sized) if r["households"]]
    tm["county_households"] = (
        time.perf_counter()
        - t0
        - sum(tm[k] for k in ("county_crops", "county_peers", "county_decide"))
    )
    tm["county_households_cpu"] = sum(r.get("cpu_s", 0.0) for r in sized)
    grown = [r["rss_mb"][1] - r["rss_mb"][0] for r in sized if "rss_mb" in r]
    tm["households_task_rss_growth_mb"] = max(grown, default=0.0)
    tm["households_worker_peak_mb"] = max((r.get("peak_mb", 0.0) for r in sized), default=0.0)

    valid_sum = first["valid_sum"] + np.zeros(len(times))
    valid_n = first["valid_n"] + np.zeros(len(times))
    provenance = _provenance(policy, county, as_of, times, valid_sum, valid_n, n_titles,
                             str(cube.attrs.get("source", "")))  # fmt: skip
    county.meta.update(
        {k: provenance[k] for k in ("agrilend_version", "model_version", "policy_version")}
    )
    summary = summary_from_parts(decided, sized, quarantined=quarantined, n_chunks=len(chunks),
                                 provenance=provenance)  # fmt: skip
    summary["peers"] = peer_note
    return Outcome(
        summary=summary, context=county, provenance=provenance, season_weather=season_table,
        subsidies=subs_table, finals=finals, households=[hh_files[i] for i in kept],
        areas=[areas[i] for i in kept], timings=tm,
    )  # fmt: skip


def _tile_table(
    own: dict[int, pd.DataFrame], specs: list[PartSpec], chunks: list[Chunk], tile_px: int
) -> pd.DataFrame:
    """The tiles' own peer rows as one table keyed by tile (the county context keeps it)."""
    key_of = {s.tile: tile_key(c.window, tile_px) for s, c in zip(specs, chunks, strict=True)}
    frames = []
    for t, rows in sorted(own.items()):
        r, c = key_of[t]
        frames.append(rows.reset_index().assign(tile_px=tile_px, tile_row=r, tile_col=c))
    out = pd.concat(frames, ignore_index=True)
    first = ["tile_px", "tile_row", "tile_col", "crop"]
    return out[first + [x for x in out.columns if x not in first]]


def tile_peer_stats(context: CountyContext, window: tuple[int, int, int, int]) -> Any:
    """The peers a parcel of the chunk with pixel ``window`` was judged against by its
    county's scan: the county's, with the rows of the crops its tile judged by their own
    parcels."""
    tiles = context.peer_tiles
    if tiles is None or context.peer_stats is None or not len(tiles):
        return context.peer_stats
    return peers_of_tile(context, tile_key(window, int(tiles["tile_px"].iloc[0])))


def peers_of_tile(context: CountyContext, key: tuple[int, int] | None) -> Any:
    """The peers of the parcels of peer tile ``key`` (``(tile row, tile column)``; None: the
    county's): the county's, with the rows of the crops the tile judged by their own parcels."""
    tiles, county = context.peer_tiles, context.peer_stats
    if key is None or tiles is None or county is None or not len(tiles):
        return county
    # kept in the context's tables: households decided one by one judge by the same tiles
    cached = context.tables.get(("peers_of_tile", key))
    if cached is not None and cached[0] is tiles and cached[1] is county:
        return cached[2]
    out = _peers_of_tile(tiles, county, key)
    context.tables[("peers_of_tile", key)] = (tiles, county, out)
    return out


def _peers_of_tile(tiles: pd.DataFrame, county: pd.DataFrame, key: tuple[int, int]) -> Any:
    mine = tiles[(tiles["tile_row"] == key[0]) & (tiles["tile_col"] == key[1])]
    if not len(mine):
        return county
    own = mine.drop(columns=["tile_px", "tile_row", "tile_col"]).set_index("crop")
    out = county.copy()
    for crop, row in own.iterrows():
        out.loc[crop, list(own.columns)] = row.to_numpy()
    return out


def in_order(run: Mapper) -> Callable[..., Any]:
    """A reducer from a mapper: every result first, then folded in order (for a mapper that
    cannot stream its results)."""

    def reduce(fn: Callable[..., Any], args: list[tuple[Any, ...]],
               combine: Callable[[Any, Any], Any]) -> Any:  # fmt: skip
        acc = None
        for r in run(fn, args):
            acc = combine(acc, r)
        return acc

    return reduce


def _fold_first(acc: Any, r: Any) -> dict[str, Any]:
    """Pass 1's results folded as they come: histograms summed, the parts' crop counts kept."""
    out = acc or {"hist": None, "scores": None, "per_crop": {}, "valid_sum": 0.0,
                  "valid_n": 0}  # fmt: skip
    if r is None:
        return out
    out["hist"] = add_histograms(out["hist"], r["hist"])
    if "scores" in r:
        out["scores"] = add_scores(out["scores"], r["scores"])
    out["per_crop"][r["chunk"]] = r["per_crop"]
    if "valid_sum" in r:
        out["valid_sum"] = out["valid_sum"] + r["valid_sum"]
        out["valid_n"] = out["valid_n"] + r["valid_n"]
    return out


def conform(paths: list[str]) -> None:
    """Give every file of a dataset the same schema (a column that is all null in one part is
    typed as in the others; a column missing from a part is added, null), keeping each file's
    row groups (a part's households partitions)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.outputs import atomic_write  # noqa: PLC0415

    schemas = [pq.read_schema(p) for p in paths]
    if not schemas:
        return
    widest = sorted(schemas, key=lambda sc: -len(sc.names))  # its column order is kept
    unified = pa.unify_schemas(widest, promote_options="permissive")
    unified = unified.with_metadata(widest[0].metadata)
    for path, schema in zip(paths, schemas, strict=True):
        if schema.remove_metadata().equals(unified.remove_metadata()):
            continue
        source = pq.ParquetFile(path)  # rewritten row group by row group: the groups are kept
        with atomic_write(Path(path)) as tmp, pq.ParquetWriter(str(tmp), unified) as writer:
            for g in range(source.num_row_groups):
                table = source.read_row_group(g)
                cols = []
                for f in unified:
                    if f.name in table.column_names:
                        cols.append(table.column(f.name).cast(f.type))
                    else:
                        cols.append(pa.nulls(len(table), f.type))
                writer.write_table(pa.Table.from_arrays(cols, schema=unified))


def summary_from_parts(
    decided: list[dict[str, Any]],
    sized: list[dict[str, Any]],
    *,
    quarantined: dict[str, str],
    n_chunks: int,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """The scan's summary (:func:`agrilend.scan.outputs.build_summary`) from the parts' counts."""
    status: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    clear: Counter[float] = Counter()
    cloud: Counter[float] = Counter()
    decisions: Counter[str] = Counter()
    n = usable = 0
    for r in decided:
        status.update(r["status"])
        flags.update(r["flags"])
        clear.update(r["clear"])
        cloud.update(r["cloud"])
        n += r["rows"]
        usable += r["usable"]
    credit: Counter[str] = Counter()
    currency, n_hh = "", 0
    for r in sized:
        if not r["households"]:
            continue
        decisions.update(r["decisions"])
        credit.update(r["credit"])
        currency = currency or r["currency"]
        n_hh += r["households"]
    return {
        "parcels": n,
        "households": n_hh,
        "status": _by_count(status),
        "decisions": _by_count(decisions),
        # approved lines; referred households' proposed lines apart (a person decides them)
        "credit_total": float(credit["approved"]),
        "credit_referred": float(credit["referred"]),
        "currency": currency,
        "flags": dict(sorted(flags.items())),
        "data_quality": {
            "usable_share": float(usable / n) if n else 0.0,
            "median_clear_observations": median_of_counts(clear),
            "median_cloud_fraction": median_of_counts(cloud),
            "imagery_dates": len(provenance.get("imagery", {}).get("dates", [])),
        },
        "chunks": n_chunks,
        "quarantined_chunks": dict(sorted(quarantined.items())),
        "as_of": provenance.get("as_of"),
    }


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


__all__ = [
    "HOUSEHOLDS",
    "PARCELS",
    "STEP",
    "Outcome",
    "conform",
    "county_grid",
    "county_on_workers",
    "peer_tiles",
    "peers_of_tile",
    "summary_from_parts",
    "tile_key",
    "tile_keys",
    "tile_peer_stats",
]
