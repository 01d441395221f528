"""The county step's crop types, computed where the chunks' curves are: on the workers.

:func:`agrilend.pipeline.decide` predicts every parcel's crop in one process
(:func:`agrilend.yield_models.county_crops.county_crops`): out of fold on the county's training
sample (every declaration, or a stratified sample above
:data:`agrilend.pipeline.CROP_TRAINING_CAP`), then every parcel outside the sample by the
county's model; or every parcel by a county context's model. :func:`crop_plan` and
:meth:`CropPlan.chunk_crops` give the same predictions with the per-parcel work on the workers:

- a worker reads the declarations and clear-observation counts (small columns per parcel,
  kept beside the parts) and draws the training sample and the folds exactly as the
  one-process path draws them (:mod:`agrilend.scan.crop_sample`); the workers compute the
  sample's features from the parts (profile bins as wide as the sample's observations ask;
  several chunks' a task, :data:`FEATURE_BATCH`), train one fold model per task (at most
  about ``CROP_TRAINING_CAP`` rows, whatever the county's size) and predict its held-out rows;
  on a cluster the sample's features stay on the workers (a copy on each) and the county's
  model is grown there too, in parts of its trees spread over the workers, and written into
  the scan's context by its worker (:class:`ModelOnWorkers`); in process it is trained in a
  thread while the chunks' crops are computed, when no parcel waits for it;
- each chunk's task (:mod:`agrilend.scan.county_step`) takes its sample parcels' out-of-fold
  probabilities as given and predicts its other usable parcels with the county's (or the
  context's) model, sent to the workers once, flattened. On a cluster their features are
  computed ahead, by tasks of low priority that run when the fold models, the declaration
  check and the county's model leave a worker idle (:func:`features_ahead`), and kept beside
  the parts until the chunk's task reads them (:func:`proba_ahead`).

So the client never holds a column of every parcel, nor the county's curves or features, and
the predictions are those of ``decide``.
"""

from __future__ import annotations

import itertools
import logging
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from agrilend.errors import ScanError
from agrilend.scan.crop_sample import N_SPLITS, Draw, Groups, draw_sample, subset
from agrilend.scan.parts import NDVI, Chunk, read_columns, read_light, stack
from agrilend.yield_models.county_crops import classes_of
from agrilend.yield_models.declaration import DEFAULT_FALSE_ALARM_RATE

log = logging.getLogger(__name__)

#: Each fold's forest is grown in this many parts, one task each (the same trees as one fit):
#: five folds of whole forests keep two workers busy for three fits' time, twenty parts for
#: two and a half, and eight workers for three quarters of a fit instead of one.
TREE_PARTS = 4

#: The training sample's features are computed this many parcels (or more) a task, several
#: chunks' at once: a call costs about 8 ms whatever its rows, and a chunk holds a few hundred
#: of the sample's (at 10^5: 96 tasks of 17 ms, 1.6 s of CPU, became 8 of about 6 ms).
FEATURE_BATCH = 2_500

#: ``map(fn, list of argument tuples)`` -> results in order (in process, or on Dask workers).
Mapper = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


def read_curves(part: str, positions: Sequence[int], width: int) -> np.ndarray[Any, Any]:
    """The clear-only NDVI curves (float64) of rows ``positions`` of a chunk's part file."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(part, columns=[NDVI])
    cells = table.column(NDVI).to_pandas()
    return stack(cells.iloc[list(positions)].reset_index(drop=True), width)


#: What predicts a chunk's parcels: a fitted crop model, the imagery's dates to read the curves
#: on (None: the dates it learnt) and the columns of the plan's classes its classes fill.
Predictor = tuple[Any, np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]


def chunk_proba(
    part: str, positions: Sequence[int], width: int, predictor: Predictor, n_classes: int
) -> np.ndarray[Any, Any]:
    """Class probabilities of some rows of one part (runs on a worker): the predictor's model
    on their curves (its own profile bins), in its columns of the plan's ``n_classes``."""
    X = read_curves(part, positions, width)
    model, times, cols = predictor
    proba = np.zeros((len(X), n_classes))
    if len(X):
        got = model.predict_proba(X) if times is None else \
            model.predict_proba(X, times=list(times))  # fmt: skip
        proba[:, cols] = got
    return proba


def read_features(
    rows: Sequence[tuple[str, Sequence[int]]], template: Any, profile_days: int
) -> Any:
    """The crop model's features of some rows of some chunks' parts (``rows``: each part and
    its positions), end to end (runs on a worker):
    :meth:`~agrilend.yield_models.CropTypeClassifier._features` of their curves with profile
    bins ``profile_days`` wide, in one call (a call costs milliseconds whatever its rows)."""
    width = len(template.times)
    curves = [read_curves(part, positions, width) for part, positions in rows]
    X = np.concatenate(curves) if curves else np.full((0, width), np.nan)
    return clone(template)._features(X, width=profile_days).reset_index(drop=True)


def runs_of(sizes: Sequence[int], at_least: int) -> list[range]:
    """Consecutive items in runs whose ``sizes`` add up to at least ``at_least`` (the last run
    may hold less): runs by weight, where :func:`agrilend.scan.county_step.batched` cuts by count.

    Examples
    --------
    >>> runs_of([5, 1, 3, 1, 2], 4)
    [range(0, 1), range(1, 3), range(3, 5)]
    >>> runs_of([], 4)
    []
    """
    out, start, held = [], 0, 0
    for i, n in enumerate(sizes):
        held += n
        if held >= at_least:
            out.append(range(start, i + 1))
            start, held = i + 1, 0
    if start < len(sizes):
        out.append(range(start, len(sizes)))
    return out


def features_file(part: str | Path) -> Path:
    """Where :func:`features_ahead` keeps a part's features beside it."""
    return Path(str(part).removesuffix(".parquet") + ".features.npz")


def features_ahead(
    part: str, fixed: np.ndarray[Any, Any], template: Any, profile_days: int
) -> str | None:
    """The crop model's features of the part's usable parcels but ``fixed`` (those the
    county's model will predict), profile bins ``profile_days`` wide, kept beside the part
    (:func:`features_file`); returns the file (runs on a worker at low priority, while the
    fold models are grown, checked and the county's model is grown: the chunks' crops tasks
    then only predict, :func:`proba_ahead`). None when there are none to keep: the crops task
    computes them itself, and reports whatever is wrong with the part."""
    from agrilend.outputs import atomic_write  # noqa: PLC0415

    path = features_file(part)
    path.unlink(missing_ok=True)
    try:
        positions = np.setdiff1d(usable_positions(part), fixed)
        X = read_curves(part, positions.tolist(), len(template.times))
        if not positions.size or np.isinf(X).any():  # infinite curves: the model's own check
            return None
        feats = clone(template)._features(X, width=profile_days)
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, positions=positions, values=feats.to_numpy(dtype="float64"),
                     columns=np.asarray([str(c) for c in feats.columns]),
                     width=np.int64(profile_days))  # fmt: skip
    except Exception as exc:  # the crops task computes them again and says what is wrong
        log.info("features of %s not computed ahead: %s", Path(part).name, exc)
        return None
    return str(path)


def proba_ahead(
    path: str, positions: np.ndarray[Any, Any], predictor: Predictor, n_classes: int
) -> np.ndarray[Any, Any] | None:
    """:func:`chunk_proba` of rows ``positions`` from the features :func:`features_ahead` kept
    (the file is removed); None when they are not those the predictor's model would compute
    (other rows, bins or columns, another model's dates): the caller computes them then.

    Examples
    --------
    >>> proba_ahead("/nonexistent.features.npz", np.arange(2), (None, None, []), 2) is None
    True
    """
    model, times, cols = predictor
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as got:
            kept, values = got["positions"], got["values"]
            columns, width = got["columns"].tolist(), int(got["width"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.info("features kept ahead unreadable (%s): computed again", exc)
        return None
    finally:
        Path(path).unlink(missing_ok=True)
    if (times is not None or width != getattr(model, "profile_days_", None)
            or columns != list(getattr(model, "feature_schema_", ()))
            or not np.array_equal(kept, positions)):  # fmt: skip
        return None
    proba = np.zeros((len(positions), n_classes))
    proba[:, cols] = model._proba_features(pd.DataFrame(values, columns=columns))
    return proba


def stack_features(
    template: Any, width: int, profile_days: int, take: np.ndarray[Any, Any], *frames: Any
) -> pd.DataFrame:
    """The sample's features from the chunks' (:func:`read_features`, end to end), rows
    ``take`` of them in that order (runs where the features are: a worker, with
    ``crop_plan(keep=...)``)."""
    if not frames:
        return clone(template)._features(np.full((0, width), np.nan), width=profile_days)
    return pd.concat(frames, ignore_index=True).iloc[take].reset_index(drop=True)


def fit_trees(  # noqa: PLR0917 (a Dask task: positional arguments)
    feats: pd.DataFrame,
    rows: np.ndarray[Any, Any],
    labels: np.ndarray[Any, Any],
    template: Any,
    profile_days: int,
    times: pd.DatetimeIndex,
    trees: tuple[int, int] | None,
) -> Any:
    """Trees ``trees`` of the county's model (None: all of them), grown on rows ``rows`` of the
    sample's features (runs on a worker; :func:`joined_trees` puts the parts together)."""
    model = clone(template)
    if _in_dask_worker():  # one thread per worker process (the same trees: seeds are drawn first)
        model.set_params(n_jobs=1)
    fit_on = feats.iloc[rows].reset_index(drop=True)
    return model._fit_computed(fit_on, labels, width=profile_days, times=times, trees=trees)


def joined_trees(template: Any, *parts: Any) -> Any:
    """The county's model from the parts of its forest (:func:`fit_trees`, in order): the
    forest one fit of ``template`` grows, as its own settings left it.

    Examples
    --------
    >>> from agrilend.yield_models import CropTypeClassifier
    >>> t = pd.date_range("2024-01-01", periods=12, freq="30D")
    >>> template = CropTypeClassifier(times=list(t), n_estimators=6, random_state=1)
    >>> X = np.vstack([np.linspace(0.2, 0.8, 12), np.linspace(0.8, 0.2, 12)] * 6)
    >>> X = X + np.random.default_rng(0).normal(0, 0.05, X.shape)
    >>> y, feats = np.array(["a", "b"] * 6), template._features(X, width=30)
    >>> rows = np.arange(12)
    >>> whole = fit_trees(feats, rows, y, template, 30, t, None)
    >>> joined = joined_trees(template, *[fit_trees(feats, rows, y, template, 30, t, p)
    ...                                   for p in ((0, 2), (2, 6))])
    >>> len(joined.estimator_.estimators_), joined.estimator_.n_estimators
    (6, 6)
    >>> bool(np.allclose(joined.predict_proba(X), whole.predict_proba(X), rtol=0, atol=1e-12))
    True
    """
    import copy  # noqa: PLC0415

    model, forest = copy.copy(parts[0]), copy.copy(parts[0].estimator_)  # the parts left as given
    model.estimator_ = forest
    forest.estimators_ = [tree for part in parts for tree in part.estimator_.estimators_]
    forest.set_params(n_estimators=len(forest.estimators_))
    model.set_params(n_jobs=template.n_jobs)
    if "n_jobs" in forest.get_params():
        forest.set_params(n_jobs=template.n_jobs)
    return model


def flat_plan_predictor(model: Any, classes: Any) -> Predictor | None:
    """:func:`flat_predictor` of the county's model predicting columns ``classes`` (runs where
    the model is)."""
    return flat_predictor((model, None, classes_of(model, classes)))


def part_paths(out: Path, chunks: list[Chunk], quarantined: dict[str, str]) -> dict[str, str]:
    """The part file of every computed chunk of the results folder ``out``."""
    return {
        c.id: str((out / "parts" / f"{c.id}.parquet").resolve())
        for c in chunks
        if c.id not in quarantined
    }


def _in_process(fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
    return [fn(*a) for a in args]


@dataclass(frozen=True)
class SavedModel:
    """A crop model written to ``path`` (:func:`save_crop_model`) instead of held in this
    process; :func:`agrilend.scan.context.save_context` copies the file (or leaves it, when
    it is the context's own)."""

    path: str


@dataclass
class ModelOnWorkers:
    """The county's crop model left on the worker that grew it (``future``; a scan's client
    never fetches it: about 30 MB at 10^5 parcels, and as much again while it is unpickled).
    ``attrs`` are set on it when its worker writes it (the declaration check's threshold)."""

    future: Any
    attrs: dict[str, Any] = field(default_factory=dict)

    def fetch(self) -> Any:
        """The model itself, fetched from its worker."""
        return self.future.result()

    def start_saving(self, path: str | Path) -> Any:
        """Have its worker write it to ``path`` (a folder both see), ``attrs`` set; returns the
        task's future (its ``result()`` waits for the file)."""
        return self.future.client.submit(save_crop_model, self.future, str(path),
                                         dict(self.attrs), pure=False)  # fmt: skip

    def save(self, path: str | Path) -> SavedModel:
        """:meth:`start_saving`, waited for."""
        self.start_saving(path).result()
        return SavedModel(str(path))


def save_crop_model(model: Any, path: str, attrs: dict[str, Any]) -> str:
    """Write a crop model, ``attrs`` set, to ``path``, atomically
    (:func:`agrilend.yield_models.save_model`; a task where the model is on a worker)."""
    from agrilend.outputs import atomic_write  # noqa: PLC0415
    from agrilend.yield_models.persistence import save_model  # noqa: PLC0415

    if attrs:  # on a copy: the model itself is left as it was
        import copy  # noqa: PLC0415

        model = copy.copy(model)
        for name, value in attrs.items():
            setattr(model, name, value)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(Path(path)) as tmp:
        tmp.unlink()
        save_model(model, tmp, overwrite=True)
    return path


def usable_positions(part: str) -> np.ndarray[Any, Any]:
    """The rows of a part whose parcels are usable (status other than ``"error"``), as the
    county step's light rows read its status (:func:`agrilend.scan.parts.read_light`)."""
    light = read_light(part)
    status = light["status"] if light is not None else read_columns(part, ["status"])["status"]
    return np.flatnonzero((status != "error").to_numpy(dtype=bool))


@dataclass
class CropPlan:
    """What predicts each usable parcel's crop, for tasks that run chunk by chunk.

    ``mode`` is ``"context"`` (a given model predicts every parcel), ``"sample"`` (every parcel
    is in the training sample: out-of-fold probabilities only) or ``"county"`` (the county's
    model predicts the parcels outside the sample); ``predictor`` (:data:`Predictor`, None in
    ``"sample"``) predicts the positions ``predict`` maps each chunk id to (None: every usable
    parcel of the chunk's part that ``fixed`` does not hold, found by the chunk's task);
    ``classes`` are the probability columns; ``fixed`` maps a chunk id to the positions (rows
    of its part) and probabilities of its parcels predicted out of fold on the workers.
    """

    mode: str
    predictor: Predictor | None
    classes: list[Any]
    fixed: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]
    predict: dict[str, np.ndarray[Any, Any]] | None
    pending: Any = None
    #: Chunk id -> its :func:`features_ahead` task (a Dask future), on a cluster with a county's
    #: model to predict; given to the chunk's crops task beside the plan.
    ahead: dict[str, Any] | None = None
    #: Seconds of wall per stage of the plan (``crop_features``, ``crop_folds``, ...).
    timings: dict[str, float] = field(default_factory=dict)

    def finish(self, context: Any) -> None:
        """Wait for the county's model trained in the background (if any) and set it as
        ``context.crop_model`` (a :class:`ModelOnWorkers` when the workers grew it)."""
        from agrilend.scan.cluster import is_remote  # noqa: PLC0415

        if is_remote(self.pending):
            context.crop_model = ModelOnWorkers(self.pending)
        elif self.pending is not None:
            context.crop_model = self.pending.result()
        self.pending = None

    def chunk_crops(
        self, chunk_id: str, part: str, width: int, predictor: Any = None, ahead: Any = None
    ) -> Any:
        """Crop, confidence and ``p_<class>`` of the chunk's usable parcels, indexed by their
        position in the part (runs on a worker; ``predictor`` the broadcast copy; ``ahead`` the
        file of the features computed ahead, :func:`features_ahead`)."""
        predictor = self.predictor if predictor is None else predictor
        k = len(self.classes)
        pos_fix, p_fix = self.fixed.get(chunk_id, (np.zeros(0, np.int64), np.zeros((0, k))))
        if self.predict is None:  # the part's usable parcels, but those predicted out of fold
            pos_pred = np.setdiff1d(usable_positions(part), pos_fix)
        else:
            pos_pred = self.predict.get(chunk_id, np.zeros(0, dtype=np.int64))
        positions = np.concatenate([pos_fix, pos_pred]).astype(np.int64)
        proba = np.zeros((positions.size, k))
        proba[: pos_fix.size] = p_fix
        if pos_pred.size:
            if predictor is None:
                raise ScanError(f"chunk {chunk_id}: parcels to predict but no model to predict")
            got = None if ahead is None else proba_ahead(ahead, pos_pred, predictor, k)
            if got is None:
                got = chunk_proba(part, pos_pred.tolist(), width, predictor, k)
            proba[pos_fix.size :] = got
        order = np.argsort(positions, kind="stable")
        positions, proba = positions[order], proba[order]
        classes = np.asarray(self.classes)
        best = proba.argmax(axis=1) if k else np.zeros(0, dtype=int)
        crops = pd.DataFrame(
            {"crop": classes[best] if positions.size else np.zeros(0, dtype=object),
             "crop_confidence": proba[np.arange(best.size), best]},
            index=pd.Index(positions, name="position"),
        )  # fmt: skip
        return _with_proba(crops, proba, list(self.classes))


def crop_plan(
    parcels: pd.DataFrame | Draw,
    chunks: list[Chunk],
    parts: dict[str, str],
    *,
    times: pd.DatetimeIndex,
    context: Any,
    crop_training_cap: int | None,
    mapper: Mapper | None = None,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    share: Callable[[Any], Any] | None = None,
    background: bool = False,
    keep: Callable[..., Any] | None = None,
) -> CropPlan:
    """The crop step up to the per-chunk predictions: the context's model, or the fold models
    trained on the workers (one task per fold) on the training sample's features (computed by
    the workers from the parts, then ``share``-d with every worker once).

    ``parcels`` is the draw (:func:`agrilend.scan.crop_sample.draw_sample`, made on a worker in
    a scan), or the light rows it is drawn from: ``status``, ``declared_crop`` (text or
    categories) and ``n_clear_obs`` of every title, in title row order. Without a context
    model, ``context.crop_model`` is set to the county's model, as
    :func:`agrilend.pipeline.decide` does. The features' profile bins are as wide as the
    observation density of every usable parcel asks
    (:func:`agrilend.yield_models.features.width_of_counts`, as ``decide`` reads it from the
    county's series): the same width for the folds' sample and for every chunk.

    With ``background``, the county's model is trained in a thread of this process while the
    caller goes on (the workers predicting the chunks): :meth:`CropPlan.finish` waits for it
    and sets ``context.crop_model``.

    With ``keep`` (:func:`agrilend.scan.cluster.keeper`: run a function on a worker and leave
    its result there), the sample's features never come to this process: they are put
    together on a worker, and the county's model is grown there in parts of its trees
    (:func:`fit_trees`, :func:`joined_trees`) and flattened there for the chunks; the plan's
    ``predictor`` is then the workers' copy, and :meth:`CropPlan.finish` sets a
    :class:`ModelOnWorkers` as the context's model (its worker writes it where asked).
    """
    from agrilend.pipeline import (  # noqa: PLC0415
        _PARALLEL_TRAINING,
        _check_model_dates,
    )
    from agrilend.yield_models.crop_type import CropTypeClassifier  # noqa: PLC0415
    from agrilend.yield_models.declaration import (  # noqa: PLC0415
        check_declarations,
        suspect_declarations,
    )
    from agrilend.yield_models.features import width_of_counts  # noqa: PLC0415

    run = mapper or _in_process
    share = share or (lambda x: x)
    width = len(times)
    draw = parcels if isinstance(parcels, Draw) else draw_sample(
        parcels, chunks, parts, crop_training_cap=crop_training_cap,
        context_model=context.crop_model is not None)  # fmt: skip
    del parcels

    def gather(groups: Groups, selected: np.ndarray[Any, Any], bins: int) -> Any:
        """Features of usable positions ``selected`` (their chunks' ``groups``; computed by the
        workers from their curves, profile bins ``bins`` days wide), in that order (with
        ``keep``: left on a worker)."""
        rows = [(parts[chunks[k].id], pos.tolist()) for k, pos, _ in groups]
        jobs = [([rows[i] for i in run_of], template, bins)
                for run_of in runs_of([len(pos) for _, pos in rows], FEATURE_BATCH)]  # fmt: skip
        order = np.concatenate([u for *_, u in groups]) if groups else np.zeros(0, np.int64)
        at = {int(u): i for i, u in enumerate(order)}
        take = np.asarray([at[int(u)] for u in selected], dtype=np.int64)
        if keep is None:
            return stack_features(template, width, bins, take, *run(read_features, jobs))
        # on every worker: the fold models' and the county model's tasks may run on any
        return keep(stack_features, template, width, bins, take,
                    *[keep(read_features, *job) for job in jobs], everywhere=True)  # fmt: skip

    if draw.context_model != (context.crop_model is not None):
        raise ScanError("the crop plan's draw was made for a county with"
                        f"{'' if draw.context_model else 'out'} a model; this county has "
                        f"{'one' if context.crop_model is not None else 'none'}")  # fmt: skip
    if context.crop_model is not None:
        model = context.crop_model
        _check_model_dates(model, times)
        dates = np.asarray(times) if hasattr(model, "check_dates") else None
        predictor = (model, dates, np.arange(len(model.classes_)))
        return CropPlan("context", predictor, list(model.classes_), {}, None)

    names, inside = draw.names, draw.inside
    template = CropTypeClassifier(
        times=list(times), n_jobs=-1 if draw.n_train > _PARALLEL_TRAINING else 1
    )
    learnt = names[draw.learnt_codes]  # sorted: the codes sort as the text
    log.info(
        "crop model: %d parcels in the folds, %d predicted on the workers by the county's model",
        inside.size, draw.n_usable - inside.size,
    )  # fmt: skip
    # the folds' profile bins: as wide as their parcels' observations ask (as the audit of the
    # training sample reads them from its series)
    bins = width_of_counts(draw.n_obs_in, times)
    rest = draw.n_usable - inside.size if draw.sampled else 0
    ahead = None
    if keep is not None and rest:  # what the workers do when the folds leave them nothing
        in_sample = {chunks[k].id: pos for k, pos, _ in draw.groups_in}
        none = np.zeros(0, dtype=np.int64)
        ahead = {cid: keep(features_ahead, part, in_sample.get(cid, none), template, bins,
                           priority=-1)
                 for cid, part in parts.items()}  # fmt: skip
    clock = time.perf_counter()
    took: dict[str, float] = {}
    feats = gather(draw.groups_in, inside, bins)
    took["crop_features"] = time.perf_counter() - clock
    lab_in = names[draw.codes_in]  # text (shared strings): the sample's parcels only
    codes_in, folds_in, trainable_in = draw.codes_in, draw.folds_in, draw.trainable_in

    # the sample's features go to each worker once (kept on the workers: there already)
    shared = feats if keep is not None else share(feats)

    n_trees = int(template.n_estimators)
    cuts = np.linspace(0, n_trees, min(TREE_PARTS, n_trees) + 1).round().astype(int)
    parts_of_trees = [(int(a), int(b)) for a, b in itertools.pairwise(cuts)]
    if template.calibration is not None:  # a calibrated model is fitted whole
        parts_of_trees = [(0, n_trees)]

    def fold_pass(learn: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Each fold's model trained and its held-out rows predicted: one task per part of
        each fold's trees, the parts' probabilities weighted by their share of the trees and
        summed per fold (:func:`fold_sum`; with ``keep``, on the workers: one array per fold
        comes back). The tasks take the sample's folds and labels (codes) once, not per task."""
        sample = FoldSample(codes_in, names, folds_in, learn)
        sample_there = keep(_same, sample) if keep is not None else share(sample)
        proba = np.zeros((inside.size, learnt.size))
        sizes = [int((folds_in == k).sum()) for k in range(N_SPLITS)]
        folds = [k for k in range(N_SPLITS) if sizes[k]]
        shares = [(b - a) / n_trees for a, b in parts_of_trees]
        tasks = [(shared, sample_there, k, template, learnt, trees)
                 for k in folds for trees in parts_of_trees]  # fmt: skip
        per = len(parts_of_trees)
        if keep is not None:
            grown = [keep(fit_fold, *t, spread=True) for t in tasks]
            sums = run(fold_sum, [(sizes[k], learnt.size, shares, *grown[i * per : (i + 1) * per])
                                  for i, k in enumerate(folds)])  # fmt: skip
        else:
            done = run(fit_fold, tasks)
            sums = [fold_sum(sizes[k], learnt.size, shares, *done[i * per : (i + 1) * per])
                    for i, k in enumerate(folds)]  # fmt: skip
        for k, summed in zip(folds, sums, strict=True):
            proba[folds_in == k] = summed
        return proba

    def check(proba: np.ndarray[Any, Any]) -> pd.DataFrame:
        return check_declarations(proba, list(learnt), list(lab_in),
                                  false_alarm_rate=false_alarm_rate)  # fmt: skip

    # the declaration check's cleaning round, as audit_declarations runs it for decide: the fold
    # models are trained again without the most suspect declarations of the folds (all of the
    # county's below the training cap; above it, the stratified sample's)
    clock = time.perf_counter()
    proba_in = fold_pass(trainable_in)
    took["crop_folds"] = time.perf_counter() - clock
    aside = suspect_declarations(check(proba_in), list(lab_in))
    if aside.any():
        log.info("crop model: trained again without %d suspect declarations", int(aside.sum()))
        clock = time.perf_counter()
        proba_in = fold_pass(trainable_in & ~aside)
        took["crop_folds_again"] = time.perf_counter() - clock
    suspect_in = check(proba_in)["crop_mismatch"].to_numpy(dtype=bool)
    fixed: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    at_in = {int(u): i for i, u in enumerate(inside)}
    for k, pos, us in draw.groups_in:
        fixed[chunks[k].id] = (pos, proba_in[[at_in[int(u)] for u in us]])
    # the county's model: the training sample's declarations (all of them in a small county)
    # of a learnt crop that the check did not flag, as decide trains it (county_model_rows)
    unflagged = ~np.isin(draw.fit, inside[suspect_in])
    fit_rows = draw.fit[unflagged]
    # fit() reads the bins' width from the observations of the rows it learns from
    fit_bins = width_of_counts(draw.n_obs_fit[unflagged], times)
    if fit_bins == bins and all(int(u) in at_in for u in fit_rows):
        feats_fit, fit_take = feats, np.asarray([at_in[int(u)] for u in fit_rows], np.int64)
    else:  # the sample is the pool, so only when its rows' observations ask other bins
        groups_fit = subset(draw.groups_fit, fit_rows)
        feats_fit, fit_take = gather(groups_fit, fit_rows, fit_bins), np.arange(fit_rows.size)
    y_fit = names[draw.codes_fit[unflagged]]

    def county_model() -> Any:
        return fit_trees(feats_fit, fit_take, y_fit, template, fit_bins, times, None)

    def county_model_on_workers(keep: Callable[..., Any]) -> Any:  # its future, grown in parts
        grown = [keep(fit_trees, feats_fit, fit_take, y_fit, template, fit_bins, times,
                      None if template.calibration is not None else trees, spread=True)
                 for trees in parts_of_trees]  # fmt: skip
        return keep(joined_trees, template, *grown)

    del draw  # only the sample's features stay
    if rest:  # a sampled county: the county's model predicts every other parcel
        if keep is not None:  # grown, flattened and kept on the workers
            model_on_workers = county_model_on_workers(keep)
            plan = CropPlan("county", keep(flat_plan_predictor, model_on_workers, learnt),
                            list(learnt), fixed, None, ahead=ahead, timings=took)  # fmt: skip
            plan.pending = model_on_workers
            return plan
        clock = time.perf_counter()
        model = county_model()
        took["crop_county_model"] = time.perf_counter() - clock
        context.crop_model = model
        predictor = (model, None, classes_of(model, learnt))  # the dates it learnt: these
        return CropPlan("county", predictor, list(learnt), fixed, None,
                        timings=took)  # fmt: skip
    plan = CropPlan("sample", None, list(learnt), fixed, {}, timings=took)
    if keep is not None:  # grown on the workers while they predict the chunks
        plan.pending = county_model_on_workers(keep)
        return plan
    if background:  # while the workers predict the chunks; ``finish`` waits for it
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        executor = ThreadPoolExecutor(1, thread_name_prefix="county-crop-model")
        plan.pending = executor.submit(county_model)
        executor.shutdown(wait=False)
    else:
        context.crop_model = county_model()
    return plan


@dataclass(frozen=True)
class FoldSample:
    """What every fold task needs of the training sample besides its features: each row's
    declaration (``names[codes]``), fold and whether it may be learnt from."""

    codes: np.ndarray[Any, Any]
    names: np.ndarray[Any, Any]
    folds: np.ndarray[Any, Any]
    learn: np.ndarray[Any, Any]


def _same(value: Any) -> Any:
    return value


def fit_fold(  # noqa: PLR0917 (a Dask task: positional arguments)
    feats: pd.DataFrame,
    sample: FoldSample,
    fold: int,
    template: Any,
    learnt: np.ndarray[Any, Any],
    trees: tuple[int, int] | None = None,
) -> tuple[np.ndarray[Any, Any] | None, np.ndarray[Any, Any] | None]:
    """One fold of the crop step (runs on a worker): the fold's model trained on the rows of
    the sample's features out of fold ``fold`` that may be learnt from, and its held-out rows
    predicted, as :func:`agrilend.yield_models.predict_out_of_fold` does it; with
    ``trees=(start, stop)`` only those trees of the fold's forest
    (:func:`agrilend.yield_models.crop_type.some_trees`). Returns the model's columns among
    ``learnt`` and the held-out rows' probabilities (the model itself stays on the worker);
    ``(None, None)`` for a fold with fewer than two crops to learn.
    """
    test = sample.folds == fold
    fit_on = (~test) & sample.learn
    labels = sample.names[sample.codes[fit_on]]
    if np.unique(labels).size < 2:
        return None, None
    model = clone(template)
    if _in_dask_worker():  # one thread per worker process (the same trees: seeds are drawn first)
        model.set_params(n_jobs=1)
    model = model._fit_features(feats.iloc[np.flatnonzero(fit_on)], labels, trees=trees)
    cols = np.searchsorted(learnt, model.classes_)
    return cols, model._proba_features(feats.iloc[np.flatnonzero(test)])


def fold_sum(n_rows: int, n_learnt: int, shares: list[float], *parts: Any) -> np.ndarray[Any, Any]:
    """A fold's probabilities for its ``n_rows`` held-out rows (columns: the ``n_learnt`` crops
    learnt) from its parts' :func:`fit_fold` results, each weighted by its ``shares`` of the
    trees and added in order (a part that learnt nothing spreads its share evenly).

    Examples
    --------
    >>> fold_sum(1, 3, [0.5, 0.5], (np.array([0, 2]), np.array([[0.2, 0.8]])), (None, None))
    array([[0.26666667, 0.16666667, 0.56666667]])
    """
    out = np.zeros((n_rows, n_learnt))
    for share, (cols, p) in zip(shares, parts, strict=True):
        if cols is None:
            out += share / n_learnt
        else:
            out[:, cols] += share * p
    return out


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker  # noqa: PLC0415

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def flat_predictor(predictor: Predictor | None) -> Predictor | None:
    """The plan's predictor as the workers get it: its forest flattened into arrays
    (:func:`agrilend.scan._flat_forest.fast_crop_model`, the same probabilities).

    A worker unpickles arrays in a blink where it rebuilds scikit-learn's trees node by node,
    and the flat forest predicts in one compiled loop, in the worker's one thread (a Dask worker
    is one process per core; a forest asking joblib for more cores there only warns). The
    caller's model (a context's) is left as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from agrilend.yield_models import CropTypeClassifier
    >>> t = pd.date_range("2024-01-01", periods=12, freq="30D")
    >>> X = np.vstack([np.linspace(0.2, 0.8, 12), np.linspace(0.8, 0.2, 12)] * 5)
    >>> model = CropTypeClassifier(times=list(t), n_estimators=5).fit(X, ["a", "b"] * 5)
    >>> flat, _, cols = flat_predictor((model, None, np.arange(2)))
    >>> type(flat.estimator_).__name__, type(model.estimator_).__name__, cols.tolist()
    ('FlatForest', 'ExtraTreesClassifier', [0, 1])
    """
    from agrilend.scan._flat_forest import fast_crop_model  # noqa: PLC0415

    if predictor is None:
        return None
    model, dates, cols = predictor
    return fast_crop_model(model, keep=False), dates, cols


def _with_proba(crops: pd.DataFrame, proba: Any, classes: list[Any]) -> pd.DataFrame:
    """The crops with one ``p_<class>`` column per class (the declaration check reads them)."""
    out = crops.copy()
    for j, c in enumerate(classes):
        out[f"p_{c}"] = proba[:, j]
    out.attrs["classes"] = classes
    return out


__all__ = [
    "FEATURE_BATCH",
    "CropPlan",
    "ModelOnWorkers",
    "SavedModel",
    "chunk_proba",
    "crop_plan",
    "features_ahead",
    "features_file",
    "fit_trees",
    "flat_plan_predictor",
    "flat_predictor",
    "joined_trees",
    "part_paths",
    "proba_ahead",
    "read_curves",
    "runs_of",
    "save_crop_model",
    "stack_features",
]
