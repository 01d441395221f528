"""The county step on the workers, in passes over the chunk parts: the client holds summaries.

:func:`agrilend.pipeline.decide` needs a few county-level tables beside each parcel's own
evidence: the crop model, the peers (per crop: median and robust spread of four season
metrics, and the p10/p50/p90 band of the smoothed curves), the declaration check's threshold,
the season's weather and the county yields. A scan computes them from the chunk parts without
ever putting the county's parcels together in one process:

1. *Crops and histograms* (one task per part): the part's crops are predicted (the broadcast
   :class:`agrilend.scan.county.CropPlan`) and kept beside the part (``<chunk>.crops.parquet``);
   the task returns sparse histograms of the peer values and of the declaration scores.
2. *Exact peers* (three more light passes): the medians, the robust spreads (median absolute
   deviation) and the curve quantiles are order statistics. Each pass sends the bins (the top
   :data:`BITS` bits of the values' order-preserving integer form, so no range is needed) that
   hold the wanted ranks, the parts send back the values inside them, and the client picks the
   exact values: the peers are those of :func:`agrilend.yield_models.peer_statistics` and of
   ``pipeline._peer_curves`` on the whole county, to the last bit (the curves are stored as
   float32 in the parts).
3. *Decide* (one task per part): :func:`agrilend.pipeline.decide_with_crops` on the part with
   the county's tables, writing the part's final parcel rows into the ``parcels.parquet``
   dataset folder; the task returns counts for the summary.
4. *Households* (one task per partition of households, by a hash of ``owner_ref``): each reads
   its households' rows from the dataset, sizes them with the subsidies matched on the client,
   and writes one file of the ``households.parquet`` folder.

*Peers by tiles.* A parcel's vigour is its season against its peers'. Across a county of
10^5-10^6 parcels, the weather (a hailstorm, a dry valley, a late frost) and the soils differ
from one side to the other: against county peers, every parcel of a dry corner scores ``poor``
for the corner's weather, not for its farming, and its households' lines are cut for it. So
the parts are grouped into peer tiles (:data:`PEER_TILE_PX` pixels, about 10 km, made of whole
chunks) and each crop in a tile is judged against its own parcels there, the county's peers
standing in where a tile holds fewer than :data:`MIN_TILE_PEERS` of them. The tiles' medians
and spreads are exact too (more groups in the same passes). A county smaller than a tile has
one tile: its peers are the county's, as :func:`agrilend.assess` makes them.

The declaration check's threshold (:func:`agrilend.yield_models.declaration.check_declarations`)
comes from histograms of the scores on a grid of ``2**-SCORE_BITS`` (about 1e-6): a parcel's
flag can differ from the one-process check only when its score is within that of the threshold
or when the grid moves the estimated share of false declarations (stated tolerance: the
threshold to within 1e-5 on the test counties).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.errors import ScanError
from agrilend.scan.parts import (
    LIGHT,
    NDVI,
    ROW,
    SMOOTH,
    VALID,
    light_columns,
    light_frame,
    positions_of,
    read_columns,
    read_light,
    stack,
)
from agrilend.scan.title_store import BOUNDS_COLUMNS, CHUNK, read_title_columns

log = logging.getLogger(__name__)

#: Bits of a value's order-preserving integer form that make its histogram bin.
BITS = 24
#: Bits of the coarse bins of the first histograms (a bounded number per group, whatever the
#: county's size); the wanted coarse bins are then split into :data:`BITS`-bit ones.
COARSE = 16
#: Declaration scores are binned on a grid of ``2**-SCORE_BITS``.
SCORE_BITS = 20
#: The season metrics the peers are made of (as :func:`peer_statistics` names them).
PEER_METRICS = ("season_integral", "peak_ndvi", "sos_doy", "season_length_days")
#: Quantiles of the peer curves (as ``pipeline._peer_curves``).
CURVE_QUANTILES = (0.1, 0.5, 0.9)
#: Side of a peer tile, in imagery pixels (1024 px = 10.24 km at 10 m): vigour compares a
#: parcel with the parcels of its crop in its tile, which share its weather and soils.
PEER_TILE_PX = 1024
#: A crop with fewer parcels than this in a tile is compared with the county's peers instead
#: (a median and a median absolute deviation from fewer are too noisy to judge a parcel by).
MIN_TILE_PEERS = 30
#: Column of the final parcel rows giving the title's row in the registry (title order).
TITLE_ROW = "title_row"

Mapper = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


@dataclass(frozen=True)
class PartSpec:
    """One chunk's part in the county step: its part file (None for a quarantined chunk, whose
    ``errors`` rows stand in), where its crops go, where its final rows go, and its peer tile
    (-1: county peers only)."""

    chunk: str
    part: str | None
    crops: str
    final: str
    width: int
    grid_width: int
    errors: Any = None
    tile: int = -1


def bins(values: np.ndarray[Any, Any], bits: int = BITS) -> np.ndarray[Any, Any]:
    """The histogram bin of each float64 value: the top :data:`BITS` bits of its
    order-preserving unsigned integer form (bins are ordered as the values are).

    Examples
    --------
    >>> import numpy as np
    >>> b = bins(np.array([-2.0, -0.5, 0.0, 0.25, 1.0, 1e9]))
    >>> bool(np.all(np.diff(b.astype(np.int64)) > 0))
    True
    """
    u = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    neg = (u >> np.uint64(63)) == 1
    u = np.where(neg, ~u, u | np.uint64(1 << 63))
    return u >> np.uint64(64 - bits)


def _keys(
    groups: np.ndarray[Any, Any], values: np.ndarray[Any, Any], bits: int = BITS
) -> np.ndarray[Any, Any]:
    return (groups.astype(np.uint64) << np.uint64(bits)) | bins(values, bits)


def _coarse_of(fine: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The coarse key (:data:`COARSE` bits) of each fine key (:data:`BITS` bits)."""
    fine = np.asarray(fine, dtype=np.uint64)
    group = fine >> np.uint64(BITS)
    low = (fine & np.uint64((1 << BITS) - 1)) >> np.uint64(BITS - COARSE)
    return (group << np.uint64(COARSE)) | low


def _histogram(keys: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    k, n = np.unique(keys, return_counts=True)
    return k, n.astype(np.int64)


def merge_histograms(
    hists: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Sum sparse histograms ``(sorted keys, counts)`` into one."""
    if not hists:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    keys = np.concatenate([h[0] for h in hists])
    counts = np.concatenate([h[1] for h in hists])
    k, inv = np.unique(keys, return_inverse=True)
    return k, np.bincount(inv, weights=counts, minlength=k.size).astype(np.int64)


def _rank_keys(
    keys: np.ndarray[Any, Any],
    counts: np.ndarray[Any, Any],
    wanted: dict[int, list[int]],
    bits: int = BITS,
) -> dict[int, list[tuple[int, int, int]]]:
    """For each group, each wanted rank as ``(rank, key of its bin, values before that bin)``."""
    groups = (keys >> np.uint64(bits)).astype(np.int64)
    out: dict[int, list[tuple[int, int, int]]] = {}
    for g, ranks in wanted.items():
        lo, hi = np.searchsorted(groups, [g, g + 1])
        cum = np.cumsum(counts[lo:hi])
        found = []
        for r in ranks:
            i = int(np.searchsorted(cum, r, side="right"))
            found.append((r, int(keys[lo + i]), int(cum[i - 1]) if i else 0))
        out[g] = found
    return out


def distinct(
    keys: np.ndarray[Any, Any],
    values: np.ndarray[Any, Any],
    counts: np.ndarray[Any, Any] | None = None,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each distinct ``(key, value)`` once, ordered by key then value, with how many times it
    came (``counts``: how many each given pair stands for; None: one each).

    Examples
    --------
    >>> k, v, n = distinct(np.array([7, 5, 7, 7], np.uint64), np.array([0.3, 9.0, 0.1, 0.3]))
    >>> k.tolist(), v.tolist(), n.tolist()
    ([5, 7, 7], [9.0, 0.1, 0.3], [1, 1, 2])
    """
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    n = np.ones(k.size, np.int64) if counts is None else np.asarray(counts, np.int64)[order]
    if not k.size:
        return k, v, n
    new = np.ones(k.size, dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (v[1:] != v[:-1])
    first = np.flatnonzero(new)
    return k[first], v[first], np.add.reduceat(n, first)


def _order_values(
    located: dict[int, list[tuple[int, int, int]]],
    picked: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> dict[tuple[int, int], float]:
    """The exact value of each ``(group, rank)`` from the parts' distinct values inside the
    bins, with their counts (:func:`distinct`; the ``picked`` list is emptied: its arrays are
    joined, then let go). Within the bin holding a rank, the wanted value is the first whose
    running count passes the rank: the value a full sort of every value would put there.

    Values are counted by distinct value, so what comes here is bounded whatever the county's
    size: the metrics' ties (days of the year, season lengths) are one value each, and a
    :data:`BITS`-bit bin holds at most ``2**(BITS - 12)`` distinct float32 values (the curves).

    Examples
    --------
    >>> picked = [distinct(np.array([7, 5, 7], np.uint64), np.array([0.3, 9.0, 0.1])),
    ...           distinct(np.array([7, 7], np.uint64), np.array([0.2, 0.3]))]
    >>> _order_values({0: [(2, 7, 1), (3, 7, 1), (4, 7, 1)]}, picked)  # 1 value before bin 7
    {(0, 2): 0.2, (0, 3): 0.3, (0, 4): 0.3}
    """
    if picked:
        keys, vals, counts = distinct(*(np.concatenate(c) for c in zip(*picked, strict=True)))
    else:
        keys, vals, counts = np.zeros(0, np.uint64), np.zeros(0), np.zeros(0, np.int64)
    picked.clear()
    out: dict[tuple[int, int], float] = {}
    for g, found in located.items():
        for r, key, before in found:
            lo = int(np.searchsorted(keys, np.uint64(key), side="left"))
            hi = int(np.searchsorted(keys, np.uint64(key), side="right"))
            cum = np.cumsum(counts[lo:hi])
            out[(g, r)] = float(vals[lo + int(np.searchsorted(cum, r - before, side="right"))])
    return out


# --- what a part holds ------------------------------------------------------------------------

_CRS: dict[str, Any] = {}


def read_geo(path: str | Path, columns: list[str] | None = None, *, rows: Any = None) -> Any:
    """A GeoParquet file as a GeoDataFrame, its CRS parsed once per process (``pyproj`` takes
    about 20 ms per parse, which ``geopandas.read_parquet`` pays on every file of a dataset).
    ``rows``: only the rows whose title row (:data:`ROW`) is one of these (kept in Arrow: only
    their outlines are decoded).

    Only WKB geometry (what geopandas writes) is read this way; anything else goes through
    ``geopandas.read_parquet``.
    """
    import geopandas as gpd  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(path, columns=columns)
    if rows is not None:
        keep = pc.is_in(table.column(ROW), value_set=pa.array(np.asarray(rows, dtype=np.int64)))
        table = table.filter(keep)
    frame = geo_frame(table)
    if frame is not None:
        return frame
    frame = gpd.read_parquet(path, columns=columns)
    return frame if rows is None else frame[frame[ROW].isin(rows)]


@dataclass(frozen=True)
class Outlines:
    """A part's outlines kept as the WKB its file holds, for rows that only pass them through
    (:func:`read_outlines_apart`): not decoded and encoded again for the same bytes (at 10^5
    parcels, reading the parts fell from 1.46 to 1.10 s of CPU and making their final tables
    from 0.99 to 0.79 s).

    ``wkb`` (an Arrow array) is aligned with ``rows`` (the rows' :data:`ROW`); ``column`` is the
    part's GeoParquet metadata of its geometry column (its types and bounds hold for any table
    of the same rows).
    """

    name: str
    wkb: Any
    rows: np.ndarray[Any, Any]
    column: dict[str, Any]

    def put(self, table: Any, rows: np.ndarray[Any, Any]) -> Any:
        """``table`` (GeoPandas' GeoParquet table of the same rows, in the order ``rows``,
        geometry left empty) with these outlines in its geometry column and its ``geo``
        metadata; the table GeoPandas makes from the decoded outlines."""
        import json  # noqa: PLC0415

        import pyarrow as pa  # noqa: PLC0415

        at = positions_of(self.rows, rows) if len(rows) == len(self.rows) else None
        if at is None:
            raise ScanError("the final rows are not the rows whose outlines were kept")
        i = table.schema.get_field_index(self.name)
        field = table.schema.field(i)
        taken = self.wkb.take(pa.array(at, type=pa.int64())).cast(field.type)
        table = table.set_column(i, field, taken)
        meta = dict(table.schema.metadata or {})
        geo = json.loads(meta.get(b"geo", b"{}") or b"{}")
        entry = geo.setdefault("columns", {}).setdefault(self.name, {})
        for key in ("geometry_types", "bbox"):
            entry.pop(key, None)
            if key in self.column:
                entry[key] = self.column[key]
        meta[b"geo"] = json.dumps(geo).encode()
        return table.replace_schema_metadata(meta)


def read_outlines_apart(path: str | Path, columns: list[str]) -> tuple[Any, Outlines | None]:
    """A part as :func:`read_geo` reads it, but with its outlines left as WKB
    (:class:`Outlines`) and the frame's geometry empty; ``(frame, None)`` when the file's
    geometry is not WKB (then decoded as ``read_geo`` does)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(path, columns=columns)
    meta = geo_metadata(table.schema)
    name = meta.get("primary_column")
    info = meta.get("columns", {}).get(name, {}) if name else {}
    if (not name or name not in table.column_names or ROW not in table.column_names
            or info.get("encoding", "WKB") != "WKB"):  # fmt: skip
        return read_geo(path, columns=columns), None
    i = table.schema.get_field_index(name)
    wkb = table.column(i).combine_chunks()
    empty = table.set_column(i, table.schema.field(i), pa.nulls(len(table), wkb.type))
    frame = geo_frame(empty)
    rows = np.asarray(table.column(ROW).to_numpy(), dtype=np.int64)
    return frame, Outlines(name=name, wkb=wkb, rows=rows, column=info)


def geo_metadata(schema: Any) -> dict[str, Any]:
    """The GeoParquet ``geo`` metadata of an Arrow schema (empty when it has none)."""
    import json  # noqa: PLC0415

    meta: dict[str, Any] = json.loads((schema.metadata or {}).get(b"geo", b"{}") or b"{}")
    return meta


def geo_frame(table: Any) -> Any:
    """An Arrow table read from GeoParquet as a GeoDataFrame (:func:`read_geo`), or None when
    its geometry is not WKB."""
    import json  # noqa: PLC0415

    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415
    from pyproj import CRS  # noqa: PLC0415

    meta = geo_metadata(table.schema)
    col = meta.get("primary_column")
    info = meta.get("columns", {}).get(col, {}) if col else {}
    if not col or col not in table.column_names or info.get("encoding", "WKB") != "WKB":
        return None
    raw = info.get("crs", "OGC:CRS84")
    crs = None
    if raw is not None:
        key = json.dumps(raw, sort_keys=True)
        if key not in _CRS:
            _CRS[key] = CRS.from_user_input(raw) if isinstance(raw, str) else \
                CRS.from_json_dict(raw)  # fmt: skip
        crs = _CRS[key]
    frame = table.to_pandas()
    frame[col] = gpd.GeoSeries(shapely.from_wkb(frame[col].to_numpy()), index=frame.index,
                               crs=crs)  # fmt: skip
    return gpd.GeoDataFrame(frame, geometry=col, crs=crs)


def _peer_values(
    spec: PartSpec, classes: list[str], curves: bool
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(group, value)`` pairs of the part's usable parcels (NaN values left out), and the
    number of usable parcels of each crop. Group ``c * G + m``: crop ``c``, then the metrics of
    :data:`PEER_METRICS`, then (``curves``) one group per date of the smoothed curves."""
    n_groups = len(PEER_METRICS) + spec.grid_width
    per_crop = np.zeros(len(classes), dtype=np.int64)
    empty = (np.zeros(0, np.int64), np.zeros(0), per_crop)
    if spec.part is None:
        return empty
    cols = ["status", "season_integral", "peak_ndvi", "sos", "season_length_days"]
    frame = read_columns(spec.part, cols + ([SMOOTH] if curves else []))
    crops = pd.read_parquet(spec.crops, columns=["position", "crop"])
    if not len(crops):
        return empty
    pos = crops["position"].to_numpy()
    code = pd.Index(classes).get_indexer(pd.Index(crops["crop"].astype(str)))
    if (code < 0).any():
        raise ScanError(f"chunk {spec.chunk}: a predicted crop is not a class of the model")
    per_crop = np.bincount(code, minlength=len(classes)).astype(np.int64)
    rows = frame.iloc[pos]
    sos = pd.to_datetime(rows["sos"]).dt.day_of_year.to_numpy(dtype="float64")
    metrics = np.column_stack(
        [rows["season_integral"].to_numpy(dtype="float64"),
         rows["peak_ndvi"].to_numpy(dtype="float64"), sos,
         rows["season_length_days"].to_numpy(dtype="float64")]
    )  # fmt: skip
    blocks = [metrics]
    if curves:
        blocks.append(stack(rows[SMOOTH].reset_index(drop=True), spec.grid_width))
    values = np.concatenate(blocks, axis=1)
    m = values.shape[1]
    groups = code[:, None] * n_groups + np.arange(m)[None, :]
    if spec.tile >= 0:  # the same metrics again, as peers of the part's tile
        n_metrics = len(PEER_METRICS)
        base = len(classes) * n_groups
        tile_groups = base + (spec.tile * len(classes) + code)[:, None] * n_metrics
        groups = np.concatenate([groups, tile_groups + np.arange(n_metrics)[None, :]], axis=1)
        values = np.concatenate([values, metrics], axis=1)
    ok = np.isfinite(values)
    return groups[ok].astype(np.int64), values[ok], per_crop


def peers_file(spec: PartSpec) -> Path:
    """Where pass 1 leaves the part's peer values for the light passes (beside its crops)."""
    return Path(spec.crops.removesuffix(".crops.parquet") + ".peers.npz")


def _save_peer_values(spec: PartSpec, groups: np.ndarray[Any, Any], values: Any) -> None:
    from agrilend.outputs import atomic_write  # noqa: PLC0415

    with atomic_write(peers_file(spec)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, groups=groups, values=values)


def _light_peer_values(
    spec: PartSpec, classes: list[str]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The part's ``(group, value)`` pairs with the curves, as pass 1 left them (one small
    file, instead of reading and stacking the part's curves again in every light pass); read
    from the part when pass 1 left none."""
    path = peers_file(spec)
    if path.exists():
        with np.load(path) as got:
            return got["groups"], got["values"]
    groups, values, _ = _peer_values(spec, classes, curves=True)
    return groups, values


def _scores(
    crops: pd.DataFrame, declared: np.ndarray[Any, Any], classes: list[str]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The declaration scores of the judged parcels, and what a false declaration scores with
    its weight (as :func:`agrilend.yield_models.declaration.check_declarations` makes them)."""
    from agrilend.yield_models.declaration import declared_positions  # noqa: PLC0415

    p = crops[[f"p_{c}" for c in classes]].to_numpy(dtype="float64")
    col = declared_positions(list(declared), classes)
    judged = col >= 0
    if not p.size:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    top = p.max(axis=1)
    rows = np.arange(len(col))
    p_decl = np.where(judged, p[rows, np.maximum(col, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(judged & (top > 0), 1.0 - p_decl / top, np.nan)
    score = np.where(judged & ~(top > 0), 0.0, score)
    pj = p[judged]
    if not pj.size or len(classes) < 2:
        return score[judged], np.zeros(0), np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = 1.0 - pj / np.where(top[judged] > 0, top[judged], 1.0)[:, None]
    other = np.ones_like(pj, dtype=bool)
    other[np.arange(pj.shape[0]), col[judged]] = False
    false = ratio[other]
    return score[judged], false, np.full(false.size, 1.0 / (len(classes) - 1))


def _grid(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.floor(np.asarray(values, dtype="float64") * 2.0**SCORE_BITS).astype(np.int64)


# --- the tasks ---------------------------------------------------------------------------------


def crops_task(
    spec: PartSpec, plan: Any, predictor: Any, need_scores: bool, ahead: str | None = None
) -> dict[str, Any]:
    """Pass 1 on a worker: the part's crops (written beside it), the histograms of its peer
    values, its declaration scores (on the grid) and its clear fractions per date. ``ahead``:
    the file of its features computed ahead (:func:`agrilend.scan.county.features_ahead`)."""
    from agrilend.outputs import atomic_write  # noqa: PLC0415

    out: dict[str, Any] = {"chunk": spec.chunk}
    if spec.part is None:
        crops = pd.DataFrame({"position": np.zeros(0, np.int64), "crop": np.zeros(0, object)})
        declared = np.zeros(0, dtype=object)
    else:
        found = plan.chunk_crops(spec.chunk, spec.part, spec.width, predictor, ahead)
        crops = found.reset_index()
        frame = read_columns(spec.part, ["declared_crop", VALID])
        declared = (
            frame["declared_crop"].fillna("").astype(str).to_numpy()[crops["position"].to_numpy()]
        )
        valid = stack(frame[VALID], spec.width) if VALID in frame else np.zeros((0, spec.width))
        out["valid_sum"] = np.nansum(valid, axis=0)
        out["valid_n"] = np.isfinite(valid).sum(axis=0)
    with atomic_write(Path(spec.crops)) as tmp:
        crops.to_parquet(tmp, index=False)
    groups, values, per_crop = _peer_values(spec, list(plan.classes), curves=True)
    _save_peer_values(spec, groups, values)
    out["hist"] = _histogram(_keys(groups, values, COARSE))
    out["per_crop"] = per_crop
    if need_scores and len(crops):
        score, false, weight = _scores(crops, declared, list(plan.classes))
        g, n = np.unique(_grid(score), return_counts=True)
        # every false score weighs 1/(classes - 1): the threshold needs only their counts
        del weight
        f, fn = np.unique(_grid(false), return_counts=True)
        out["scores"] = (g, n.astype(np.int64), f, fn.astype(np.int64))
    return out


def pick_task(
    spec: PartSpec,
    classes: list[str],
    wanted: np.ndarray[Any, Any],
    centers: np.ndarray[Any, Any] | None,
    mode: str,
) -> Any:
    """The light passes on a worker, over the part's peer values (or, with ``centers``, the
    metrics' absolute deviations from them, one per group, NaN for groups left out):
    ``"coarse"`` their histogram on coarse bins; ``"fine"`` the histogram on fine bins of the
    values inside the ``wanted`` coarse bins; ``"pick"`` the distinct values inside the
    ``wanted`` fine bins, with their keys and counts (:func:`distinct`). The deviations'
    passes (``centers`` NaN for the curves' groups) leave the curves out."""
    groups, values = _light_peer_values(spec, classes)
    if centers is not None:
        c = centers[groups]
        keep = np.isfinite(c)
        groups, values = groups[keep], np.abs(values[keep] - c[keep])
    if mode == "coarse":
        return _histogram(_keys(groups, values, COARSE))
    keys = _keys(groups, values, BITS)
    if mode == "fine":
        return _histogram(keys[np.isin(_coarse_of(keys), wanted)])
    hit = np.isin(keys, wanted)
    return distinct(keys[hit], values[hit])


def pick_batch(
    specs: list[PartSpec],
    classes: list[str],
    wanted: np.ndarray[Any, Any],
    centers: np.ndarray[Any, Any] | None,
    mode: str,
) -> Any:
    """:func:`pick_task` over a batch of parts in one task, their results merged here: one
    histogram for ``"coarse"`` and ``"fine"``, one ``(keys, values, counts)`` of distinct
    values for ``"pick"``
    (a light pass is a few milliseconds a part: a task per part costs more to send and fold
    than to run)."""
    got = [pick_task(s, classes, wanted, centers, mode) for s in specs]
    if mode != "pick":
        return merge_histograms(got)
    if not got:
        return np.zeros(0, np.uint64), np.zeros(0), np.zeros(0, np.int64)
    return distinct(*(np.concatenate(c) for c in zip(*got, strict=True)))


def batched(items: list[Any], n: int) -> list[list[Any]]:
    """``items`` in at most ``n`` batches of consecutive items, of sizes that differ by one
    at most (none empty).

    >>> batched(list(range(5)), 2), batched([1, 2], 4)
    ([[0, 1], [2, 3, 4]], [[1], [2]])
    """
    n = max(1, min(n, len(items)))
    cuts = np.linspace(0, len(items), n + 1).round().astype(int)
    return [items[a:b] for a, b in itertools.pairwise(cuts.tolist()) if b > a]


def _resolve(
    coarse: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    wanted: dict[int, list[int]],
    pass_: Callable[[str, np.ndarray[Any, Any]], Any],
) -> dict[tuple[int, int], float]:
    """The exact values of the wanted ranks of each group: coarse bins holding them, then the
    fine bins inside those (``pass_("fine", coarse keys)``, merged), then the distinct values
    inside the fine bins (``pass_("pick", fine keys)``, a list of ``(keys, values, counts)``)."""
    keys, counts = coarse
    located = _rank_keys(keys, counts, wanted, bits=COARSE)
    targets = np.unique([k for f in located.values() for _, k, _ in f]).astype(np.uint64)
    fkeys, fcounts = pass_("fine", targets)
    fcoarse = _coarse_of(fkeys)
    fine: dict[int, list[tuple[int, int, int]]] = {}
    for g, found in located.items():
        out = []
        for r, key, before in found:
            lo, hi = np.searchsorted(fcoarse, [np.uint64(key), np.uint64(key + 1)])
            cum = np.cumsum(fcounts[lo:hi])
            i = int(np.searchsorted(cum, r - before, side="right"))
            out.append((r, int(fkeys[lo + i]), before + (int(cum[i - 1]) if i else 0)))
        fine[g] = out
    ftargets = np.unique([k for f in fine.values() for _, k, _ in f]).astype(np.uint64)
    return _order_values(fine, pass_("pick", ftargets))


def light_part(spec: PartSpec, columns: list[str]) -> pd.DataFrame:
    """A part's :data:`ROW` and a few small columns, its words as categories: those its chunk
    task kept beside it when they are the crop plan's (:data:`LIGHT`), else read from the part
    (runs where the part is read: a worker, whose Arrow buffers stay there)."""
    if spec.part is None:
        return light_frame(pd.DataFrame(spec.errors.drop(columns="geometry")), columns)
    kept = read_light(spec.part) if tuple(columns) == LIGHT else None
    return kept if kept is not None else light_columns(spec.part, columns)


# --- the county tables from the summaries --------------------------------------------------------


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation of quantiles (``numpy.lib._function_base_impl._lerp``)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@dataclass
class Peers:
    """The peers of a county: statistics per crop, curve quantiles, and per peer tile the
    statistics its parcels are compared with (the tile's own for crops with at least
    :data:`MIN_TILE_PEERS` parcels in it, the county's for the others)."""

    stats: pd.DataFrame
    curves: Any
    tiles: dict[int, pd.DataFrame] = field(default_factory=dict)
    tile_crops: int = 0
    own: dict[int, pd.DataFrame] = field(default_factory=dict)


Reducer = Callable[..., Any]


def add_histograms(acc: Any, hist: Any) -> Any:
    """Two sparse histograms summed (a combine of a :data:`Reducer`)."""
    return hist if acc is None else merge_histograms([acc, hist])


def _listed(acc: Any, item: Any) -> Any:
    return [*(acc or []), item]


def exact_peers(
    specs: list[PartSpec],
    hist: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    per_crop_of: dict[str, np.ndarray[Any, Any]],
    *,
    classes: list[str],
    grid: pd.DatetimeIndex,
    reduce: Reducer,
    batches: int = 4,
) -> Peers:
    """The county's peer statistics and curves from pass 1's merged coarse histogram
    (``hist``) and each part's usable parcels per crop, with light passes over the parts
    (``reduce(fn, args, combine)`` runs them and folds their results as they come): the
    values of the wanted ranks (:func:`_resolve`), then the same for the deviations. Each
    pass is ``batches`` tasks (:func:`pick_batch`), each over a batch of the parts."""
    import xarray as xr  # noqa: PLC0415

    n_metrics, width = len(PEER_METRICS), len(grid)
    n_groups = n_metrics + width
    base = len(classes) * n_groups  # the tiles' groups come after the county's
    n_tiles = max([s.tile for s in specs], default=-1) + 1
    keys, counts = hist
    per_crop = np.zeros(len(classes), dtype=np.int64)
    per_tile = np.zeros((max(n_tiles, 1), len(classes)), dtype=np.int64)
    for spec in specs:
        got = per_crop_of.get(spec.chunk)
        if got is None:
            continue
        per_crop += got
        if spec.tile >= 0:
            per_tile[spec.tile] += got
    groups = (keys >> np.uint64(COARSE)).astype(np.int64)
    size = pd.Series(counts).groupby(groups).sum() if keys.size else pd.Series(dtype=np.int64)
    total = {int(g): int(n) for g, n in zip(size.index, size.to_numpy(), strict=True)}

    def metric(g: int) -> bool:
        return g >= base or g % n_groups < n_metrics

    def ranks(g: int) -> list[int]:
        n = total.get(g, 0)
        if not n:
            return []
        if metric(g):
            return sorted({(n - 1) // 2, n // 2})
        out = set()
        for q in CURVE_QUANTILES:
            h = q * (n - 1)
            lo = int(np.floor(h))
            out |= {lo, min(lo + 1, n - 1)}
        return sorted(out)

    groups_of_parts = batched(specs, batches)

    def passes(centers: np.ndarray[Any, Any] | None) -> Callable[[str, Any], Any]:
        def run_pass(mode: str, wanted: Any) -> Any:
            args = [(b, classes, wanted, centers, mode) for b in groups_of_parts]
            if mode == "fine":
                got = reduce(pick_batch, args, add_histograms)
                return got if got is not None else merge_histograms([])
            return reduce(pick_batch, args, _listed) or []

        return run_pass

    value = _resolve(hist, {g: ranks(g) for g in total}, passes(None))

    def median(g: int) -> float:
        n = total.get(g, 0)
        if not n:
            return float("nan")
        a, b = value[(g, (n - 1) // 2)], value[(g, n // 2)]
        return a if n % 2 else float(np.mean([a, b]))

    centers = np.full(base + n_tiles * len(classes) * n_metrics, np.nan)
    for g in total:
        if metric(g):
            centers[g] = median(g)
    dev = reduce(pick_batch, [(b, classes, np.zeros(0, np.uint64), centers, "coarse")
                              for b in groups_of_parts], add_histograms)  # fmt: skip
    dkeys, dcounts = dev if dev is not None else merge_histograms([])
    dgroups = (dkeys >> np.uint64(COARSE)).astype(np.int64)
    dsize = pd.Series(dcounts).groupby(dgroups).sum() if dkeys.size else pd.Series(dtype=int)
    dtotal = {int(g): int(n) for g, n in zip(dsize.index, dsize.to_numpy(), strict=True)}
    dwanted = {g: sorted({(n - 1) // 2, n // 2}) for g, n in dtotal.items()}
    dvalue = _resolve((dkeys, dcounts), dwanted, passes(centers))

    def mad(g: int) -> float:
        n = dtotal.get(g, 0)
        a, b = dvalue[(g, (n - 1) // 2)], dvalue[(g, n // 2)]
        return a if n % 2 else float(np.mean([a, b]))

    def record(n: int, first_group: int) -> dict[str, Any]:
        """One crop's row of :func:`peer_statistics` (its metrics' groups follow
        ``first_group``)."""
        rec: dict[str, Any] = {"n": n, "enough_peers": bool(n >= 5)}
        for m, col in enumerate(PEER_METRICS):
            g = first_group + m
            med = median(g)
            if not np.isfinite(med):
                rec[f"{col}_median"], rec[f"{col}_scale"] = float("nan"), float("nan")
                continue
            rec[f"{col}_median"] = med
            rec[f"{col}_scale"] = max(mad(g) * 1.4826, 0.05 * abs(med), 1e-6)
        return rec

    def table(rows: dict[str, dict[str, Any]]) -> pd.DataFrame:
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "crop"
        return out

    rows = {name: record(int(per_crop[c]), c * n_groups)
            for c, name in enumerate(classes) if per_crop[c]}  # fmt: skip
    stats = table(rows)
    tiles: dict[int, pd.DataFrame] = {}
    own_rows: dict[int, pd.DataFrame] = {}
    tile_crops = 0
    for t in range(n_tiles):
        own = {}
        for c, name in enumerate(classes):
            n = int(per_tile[t, c])
            if n >= MIN_TILE_PEERS:
                own[name] = record(n, base + (t * len(classes) + c) * n_metrics)
        tile_crops += len(own)
        tiles[t] = table({name: own.get(name, rec) for name, rec in rows.items()})
        if own:
            own_rows[t] = table(own)
    names = sorted(rows)
    q = np.full((len(names), len(CURVE_QUANTILES), width), np.nan)
    for i, name in enumerate(names):
        c = classes.index(name)
        for t in range(width):
            g = c * n_groups + n_metrics + t
            n = total.get(g, 0)
            for k, quant in enumerate(CURVE_QUANTILES):
                if not n:
                    continue
                h = quant * (n - 1)
                lo = int(np.floor(h))
                a, b = value[(g, lo)], value[(g, min(lo + 1, n - 1))]
                q[i, k, t] = _lerp(a, b, h - lo)
    curves = xr.Dataset(
        {f"p{p}": (("crop", "time"), q[:, k]) for k, p in enumerate((10, 50, 90))},
        coords={"crop": names, "time": grid},
    )
    return Peers(stats=stats, curves=curves, tiles=tiles, tile_crops=tile_crops, own=own_rows)


def add_scores(acc: Any, scores: Any) -> Any:
    """Two score histograms ``(grid cells, counts, false cells, weights)`` summed."""
    if acc is None:
        return scores
    g = pd.Series(np.concatenate([acc[1], scores[1]])).groupby(
        np.concatenate([acc[0], scores[0]])).sum()  # fmt: skip
    f = pd.Series(np.concatenate([acc[3], scores[3]])).groupby(
        np.concatenate([acc[2], scores[2]])).sum()  # fmt: skip
    return (g.index.to_numpy(), g.to_numpy(), f.index.to_numpy(), f.to_numpy())


def threshold_from_histograms(scores: Any, alpha: float) -> float:
    """The declaration check's threshold from the county's score histograms (module doc;
    ``scores`` as :func:`add_scores` folds them, None when no parcel was judged)."""
    from agrilend.yield_models import declaration as dec  # noqa: PLC0415

    if scores is None:
        return float("inf")
    g = pd.Series(scores[1], index=scores[0]).sort_index()
    f = pd.Series(scores[3], index=scores[2]).sort_index()
    g_vals, g_n = g.index.to_numpy() / 2.0**SCORE_BITS, g.to_numpy(dtype="float64")
    f_vals, f_w = f.index.to_numpy() / 2.0**SCORE_BITS, f.to_numpy(dtype="float64")
    n = g_n.sum()
    if n == 0:
        return float("inf")
    cand = g_vals[g_vals > 0][::-1]
    if cand.size == 0:
        return float("inf")
    # tails at each candidate (values on the grid: a score is >= c exactly when its bin is)
    g_cum = np.cumsum(g_n[::-1])[::-1]
    g_tail = g_cum[np.searchsorted(g_vals, cand, side="left")] / n
    f_cum = np.cumsum(f_w[::-1])[::-1]
    pos = np.searchsorted(f_vals, cand, side="left")
    f_tail = np.where(pos < f_vals.size, f_cum[np.minimum(pos, f_vals.size - 1)], 0.0)
    f_tail = f_tail / max(float(f_w.sum()), 1e-12)
    usable = f_tail >= dec._MIN_TAIL
    noise = float(np.clip(np.min(g_tail[usable] / f_tail[usable]), 0.0, 0.5)) if usable.any() \
        else 0.0  # fmt: skip
    honest = np.maximum(g_tail - noise * f_tail, 0.0) / (1.0 - noise)
    over = np.flatnonzero(honest > alpha)
    stop = int(over[0]) if over.size else cand.size
    return float("inf") if stop == 0 else float(cand[stop - 1])


# --- deciding a part ---------------------------------------------------------------------------


@dataclass
class CountyTables:
    """What every part's decision needs of the county (sent to the workers once)."""

    classes: list[str]
    threshold: float
    context: Any
    policy: Any
    weather: Any
    county_yields: Any
    as_of: Any
    times: pd.DatetimeIndex
    grid: pd.DatetimeIndex
    source: str = ""
    changes: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    tile_peers: dict[int, pd.DataFrame] = field(default_factory=dict)


def _no_households(*_: Any, **__: Any) -> pd.DataFrame:
    return pd.DataFrame({"owner_ref": pd.Series([], dtype=str)})


def part_evidence(spec: PartSpec, tables: CountyTables) -> tuple[Any, Outlines | None]:
    """The part as :class:`agrilend.assessment.Evidence` (the overlaps between chunks applied),
    and its outlines apart (:class:`Outlines`; None when the frame holds them): deciding reads
    no outline, so they are not decoded."""
    import geopandas as gpd  # noqa: PLC0415
    import xarray as xr  # noqa: PLC0415

    from agrilend.assessment import Evidence  # noqa: PLC0415

    outlines: Outlines | None = None
    if spec.part is None:
        parcels = spec.errors.copy()
    else:
        import pyarrow.parquet as pq  # noqa: PLC0415

        # the smoothed curves only make peers: the county's are made before decide
        curves = tables.context.peer_stats is None
        leave = {NDVI} if curves else {NDVI, SMOOTH}
        try:
            names = [n for n in pq.read_schema(spec.part).names if n not in leave]
            parcels, outlines = read_outlines_apart(spec.part, names)
        except Exception as exc:  # as read_part names a damaged part
            raise ScanError(
                f"chunk part {spec.part!r} cannot be read ({exc}); delete it and resume the "
                "scan to compute that chunk again"
            ) from exc
    rows = parcels[ROW].to_numpy()
    if tables.changes:
        for i, r in enumerate(rows):
            change = tables.changes.get(int(r))
            if change is not None:
                for col, v in zip(("title_flags", "title_status", "message"), change,
                                  strict=True):  # fmt: skip
                    parcels.loc[parcels.index[i], col] = v
    n_t, n_g = len(tables.times), len(tables.grid)
    smooth = (
        stack(parcels[SMOOTH], n_g) if SMOOTH in parcels else np.full((len(parcels), n_g), np.nan)
    )
    valid = stack(parcels.get(VALID, pd.Series([None] * len(parcels))), n_t)
    if "n_pixels" in parcels:
        parcels["n_pixels"] = pd.to_numeric(parcels["n_pixels"]).fillna(0).astype(int)
    parcels = parcels.drop(columns=[c for c in (NDVI, SMOOTH, VALID) if c in parcels])
    parcels = gpd.GeoDataFrame(parcels.reset_index(drop=True), geometry="geometry",
                               crs=parcels.crs)  # fmt: skip
    ids = parcels["parcel_id"].astype(str).to_numpy()
    series = xr.Dataset(
        {"valid_fraction": (("parcel", "time"), valid)},
        coords={"parcel": ids, "time": tables.times},
        attrs={"source": tables.source},
    )
    evidence = Evidence(
        parcels=parcels, series=series, times=tables.times, ndvi=np.empty((len(parcels), 0)),
        grid=tables.grid, smooth=smooth,
    )  # fmt: skip
    return evidence, outlines


def decide_task(spec: PartSpec, tables: CountyTables, households: Any = None) -> dict[str, Any]:
    """Pass 5 on a worker: the part's final parcel rows, written to its file of the dataset by
    household partition (``households``: :class:`agrilend.scan.households.PartHouseholds`,
    :func:`agrilend.scan.households.write_final`); ``groups`` in the result names the row group
    of each partition."""
    from agrilend.pipeline import decide_with_crops  # noqa: PLC0415
    from agrilend.scan.households import write_final  # noqa: PLC0415
    from agrilend.scan.memory import resident_mb  # noqa: PLC0415
    from agrilend.yield_models.declaration import check_declarations  # noqa: PLC0415

    evidence, outlines = part_evidence(spec, tables)
    frame = evidence.parcels
    rows = frame[ROW].to_numpy().copy()
    frame = frame.drop(columns=[ROW])
    evidence.parcels = frame
    ok = (frame["status"] != "error").to_numpy()
    classes = tables.classes
    found = pd.read_parquet(spec.crops)
    if not np.array_equal(found["position"].to_numpy(), np.flatnonzero(ok)):
        raise ScanError(f"chunk {spec.chunk}: its crops do not match its usable parcels")
    ids = frame.loc[ok, "parcel_id"].astype(str).to_numpy()
    crops = found.drop(columns=["position"]).set_axis(pd.Index(ids, name="parcel_id"))
    for col in ("crop_confidence", *(f"p_{c}" for c in classes)):
        if col not in crops:
            crops[col] = 0.0
    declared = frame.loc[ok, "declared_crop"].fillna("").astype(str).to_numpy()
    alarm = float(getattr(tables.policy, "crop_false_alarm_rate", 0.01))
    if len(crops):
        check = check_declarations(
            crops[[f"p_{c}" for c in classes]].to_numpy(dtype=float), classes, list(declared),
            false_alarm_rate=alarm, index=list(ids), threshold=tables.threshold,
        )  # fmt: skip
        crops = crops.join(check[["p_declared", "mismatch_score", "crop_mismatch"]])
    else:
        crops = crops.assign(p_declared=np.nan, mismatch_score=np.nan, crop_mismatch=False)
    context = tables.context
    if spec.tile in tables.tile_peers:  # this tile's peers (the county's where too few)
        context = context.copy()
        context.peer_stats = tables.tile_peers[spec.tile]
    if ok.any():
        result = decide_with_crops(
            evidence, crops, weather=tables.weather, subsidies=None, policy=tables.policy,
            county_yields=tables.county_yields, context=context, as_of=tables.as_of,
            sizer=_no_households,
        )  # fmt: skip
        parcels = result.parcels
    else:  # nothing to decide (a quarantined chunk): its error rows, flagged as decide does
        from agrilend.pipeline import _finish_parcels  # noqa: PLC0415

        parcels = _finish_parcels(frame.copy())
    parcels[TITLE_ROW] = rows
    groups = write_final(parcels, spec.final, households, outlines)
    usable = (parcels["status"] != "error").to_numpy()
    flags: Counter[str] = Counter()
    for cell in parcels["quality_flags"]:
        flags.update(str(x) for x in cell)
    return {
        "chunk": spec.chunk,
        "rows": len(parcels),
        "status": Counter(parcels["status"].astype(str)),
        "flags": flags,
        "usable": int(usable.sum()),
        "clear": _counts(parcels, usable, "n_clear_obs"),
        "cloud": _counts(parcels, usable, "cloud_fraction"),
        "groups": groups,
        "rss_mb": resident_mb(),  # the worker's resident memory, the part decided
    }


def _counts(frame: pd.DataFrame, rows: np.ndarray[Any, Any], col: str) -> Counter[float]:
    """How often each value of column ``col`` occurs in ``rows`` (numbers only)."""
    if col not in frame.columns or not rows.any():
        return Counter()
    values = pd.to_numeric(frame.loc[rows, col], errors="coerce").dropna()
    return Counter(values.astype(float).tolist())


def median_of_counts(counts: Counter[float]) -> float | None:
    """The median of a multiset given as value counts (as ``pandas.Series.median``).

    Examples
    --------
    >>> median_of_counts(Counter({1.0: 2, 3.0: 1, 10.0: 1}))
    2.0
    """
    if not counts:
        return None
    vals = np.array(sorted(counts))
    cum = np.cumsum([counts[v] for v in vals])
    n = int(cum[-1])
    a = float(vals[np.searchsorted(cum, (n - 1) // 2, side="right")])
    b = float(vals[np.searchsorted(cum, n // 2, side="right")])
    return a if n % 2 else float(np.mean([a, b]))


__all__ = [
    "BITS",
    "MIN_TILE_PEERS",
    "PEER_TILE_PX",
    "CountyTables",
    "PartSpec",
    "Peers",
    "add_histograms",
    "add_scores",
    "batched",
    "bins",
    "crops_task",
    "cross_chunk_rows",
    "decide_task",
    "exact_peers",
    "geo_frame",
    "median_of_counts",
    "merge_histograms",
    "peers_file",
    "pick_batch",
    "pick_task",
    "read_geo",
    "threshold_from_histograms",
]


# --- the client's side ---------------------------------------------------------------------------


def light_rows(
    specs: list[PartSpec],
    chunks: list[Any],
    n_titles: int,
    columns: list[str] | tuple[str, ...] = LIGHT,
    *,
    run: Mapper | None = None,
) -> pd.DataFrame:
    """A few small columns of every parcel, in title row order (the index: the title rows;
    the crop plan's input): each part's, as its chunk task kept them beside it
    (:func:`agrilend.scan.parts.read_light`, when they are ``columns``) or read from the part,
    by ``run`` (the workers; None: in this process)."""
    del chunks  # the specs follow the chunks
    args = [(spec, list(columns)) for spec in specs]
    frames: list[Any] = run(light_part, args) if run is not None else [light_part(*a) for a in args]
    at = [f[ROW].to_numpy() for f in frames]
    n_seen = sum(a.size for a in at)
    hit = np.zeros(n_titles, dtype=bool)
    for a in at:
        if a.size and (a.min() < 0 or a.max() >= n_titles):
            n_seen = -1  # a row of another county
            break
        hit[a] = True
    if n_seen != n_titles or not hit.all():
        raise ScanError(
            f"the parts hold {sum(a.size for a in at)} rows for {n_titles} titles; delete the "
            "parts folder and resume to compute them again"
        )
    del hit
    # each column made whole first, then every part put in place and let go: no copy of the
    # county's rows end to end, no part kept once it is in
    outs = {c: _whole([f[c] for f in frames], n_titles) for c in columns}
    for i in range(len(specs)):
        for c in columns:
            _put_part(outs[c], frames[i][c], at[i])
        frames[i] = None
    return pd.DataFrame({c: _finished(outs[c]) for c in columns})


def _whole(columns: list[pd.Series], n: int) -> tuple[np.ndarray[Any, Any], Any]:
    """An empty column of ``n`` rows for the parts' ``columns`` and its categories (None:
    values): categories of categories, in the order
    :func:`pandas.api.types.union_categoricals` gives them, their codes as small as they go
    (``pd.concat`` would make strings of categories that differ between parts); else values,
    numbers of the parts' common type or objects.

    Examples
    --------
    >>> a, b = pd.Series(["x", "y"], dtype="category"), pd.Series(["z"], dtype="category")
    >>> whole = _whole([a, b], 3)
    >>> _put_part(whole, a, np.array([0, 2])); _put_part(whole, b, np.array([1]))
    >>> list(_finished(whole)), list(_finished(whole).categories)
    (['x', 'z', 'y'], ['x', 'y', 'z'])
    >>> whole = _whole([pd.Series([1, 2]), pd.Series([3.5])], 3)
    >>> _put_part(whole, pd.Series([1, 2]), np.array([2, 0]))
    >>> _put_part(whole, pd.Series([3.5]), np.array([1]))
    >>> _finished(whole).tolist()
    [2.0, 3.5, 1.0]
    """
    if columns and all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        kinds = {c.cat.categories.dtype for c in columns}
        if len(kinds) == 1:  # union_categoricals joins these (else: values, as below)
            cats = pd.Index(pd.unique(np.concatenate(
                [c.cat.categories.to_numpy(dtype=object) for c in columns])))  # fmt: skip
            cats = cats.astype(columns[0].cat.categories.dtype)
            small = np.int8 if len(cats) < 2**7 else np.int16 if len(cats) < 2**15 else np.int32
            return np.full(n, -1, dtype=small), cats
    if columns and all(pd.api.types.is_numeric_dtype(c.dtype) and
                       not isinstance(c.dtype, pd.CategoricalDtype) for c in columns):  # fmt: skip
        return np.empty(n, dtype=np.result_type(*[c.to_numpy().dtype for c in columns])), None
    return np.empty(n, dtype=object), None


def _put_part(whole: tuple[np.ndarray[Any, Any], Any], part: pd.Series, rows: Any) -> None:
    """A part's column put at its ``rows`` of the :func:`_whole` column."""
    out, cats = whole
    if cats is not None:
        own = part.cat.codes.to_numpy()
        to = cats.get_indexer(part.cat.categories)
        out[rows] = np.where(own >= 0, to[np.maximum(own, 0)], -1)
    else:
        out[rows] = part.to_numpy(dtype=object) if out.dtype == object else part.to_numpy()


def _finished(whole: tuple[np.ndarray[Any, Any], Any]) -> Any:
    out, cats = whole
    return pd.Categorical.from_codes(out, categories=cats) if cats is not None else out


#: Titles boxed at a time when looking for the titles near another chunk.
_BOX_BATCH = 50_000


def cross_chunk_rows(
    bounds: np.ndarray[Any, Any], chunk_of: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """The rows whose bounds meet the bounds of a row of another chunk, sorted.

    ``bounds`` are ``(minx, miny, maxx, maxy)`` per row (NaN: no outline, meets nothing),
    ``chunk_of`` each row's chunk. A row can only meet a row of chunk ``k`` if it meets the
    extent of chunk ``k``'s rows, so rows are first tested against the chunks' extents, a
    batch of boxes at a time, then the few near another chunk against each other: memory
    stays that of a batch, not of a box per title.

    Examples
    --------
    >>> b = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6], [10, 0, 11, 1.0]])
    >>> cross_chunk_rows(b, np.array([0, 1, 1, 0])).tolist()
    [0, 1]
    """
    import shapely  # noqa: PLC0415

    b = np.nan_to_num(np.asarray(bounds, dtype=float), nan=np.inf)
    n_chunks = int(chunk_of.max()) + 1 if len(chunk_of) else 0
    lo = np.full((n_chunks, 2), np.inf)
    hi = np.full((n_chunks, 2), -np.inf)
    finite = np.isfinite(b).all(axis=1)
    np.minimum.at(lo, chunk_of[finite], b[finite, :2])
    np.maximum.at(hi, chunk_of[finite], b[finite, 2:])
    has = np.isfinite(lo).all(axis=1)
    extents = np.flatnonzero(has)
    tree = shapely.STRtree(shapely.box(lo[has, 0], lo[has, 1], hi[has, 0], hi[has, 1]))
    near = []
    for start in range(0, len(b), _BOX_BATCH):
        part = b[start : start + _BOX_BATCH]
        i, k = tree.query(shapely.box(part[:, 0], part[:, 1], part[:, 2], part[:, 3]),
                          predicate="intersects")  # fmt: skip
        other = extents[k] != chunk_of[start + i]
        near.append(start + np.unique(i[other]))
    rows = np.concatenate(near) if near else np.empty(0, dtype=np.int64)
    if not rows.size:
        return rows
    c = b[rows]
    boxes = shapely.box(c[:, 0], c[:, 1], c[:, 2], c[:, 3])
    i, j = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    cross = chunk_of[rows[i]] != chunk_of[rows[j]]
    return np.unique(np.r_[rows[i[cross]], rows[j[cross]]])


def overlap_changes(
    specs: list[PartSpec], titles: str | Path, crs: Any
) -> dict[int, tuple[str, str, str]]:
    """Title rows whose flags change because they overlap a title of another chunk: row ->
    ``(title_flags, title_status, message)``, from the titles' bounds and chunks (read from
    the scan's ``titles`` file, :mod:`agrilend.scan.title_store`) and their ``crs``. A task of
    its own on a worker: it reads only that file's bounds and the parts.

    Only titles whose bounds meet the bounds of a title of another chunk can overlap one, so
    only those rows (:func:`cross_chunk_rows`) are read back from the parts (their validated
    geometry and flags) and judged by
    :func:`agrilend.parcels.validate.flag_overlaps_between_parts`.
    """
    import geopandas as gpd  # noqa: PLC0415

    from agrilend.parcels.validate import flag_overlaps_between_parts  # noqa: PLC0415

    if len(specs) < 2:
        return {}
    where = read_title_columns(titles, [*BOUNDS_COLUMNS, CHUNK])
    wanted = cross_chunk_rows(where[list(BOUNDS_COLUMNS)].to_numpy(dtype=float),
                              where[CHUNK].to_numpy())  # fmt: skip
    del where
    if not wanted.size:
        return {}
    cols = [ROW, "title_flags", "title_status", "message", "geometry"]
    frames = []
    for spec in specs:
        if spec.part is None:
            part = spec.errors
        else:
            import pyarrow.parquet as pq  # noqa: PLC0415

            names = set(pq.read_schema(spec.part).names)
            part = read_geo(spec.part, columns=[c for c in cols if c in names], rows=wanted)
        frames.append(part[part[ROW].isin(wanted)].reindex(columns=cols))
    near = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=crs)  # fmt: skip
    after = flag_overlaps_between_parts(near)
    was = near["title_flags"].to_numpy(dtype=object)
    now = after["title_flags"].to_numpy(dtype=object)
    changed = [k for k in range(len(now)) if isinstance(now[k], str) and now[k] != was[k]]
    rows = after[ROW].to_numpy()
    status = after["title_status"].to_numpy(dtype=object)
    message = after["message"].to_numpy(dtype=object)
    return {int(rows[k]): (now[k], str(status[k]), str(message[k])) for k in changed}
