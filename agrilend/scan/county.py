"""The county step's crop types, computed where the chunks' curves are: on the workers.

:func:`agrilend.pipeline.decide` predicts every parcel's crop in one process: out of fold on
the county's declarations (a stratified training sample above
:data:`agrilend.pipeline.CROP_TRAINING_CAP`, every parcel outside it predicted by the mean of
the fold models), or with a county context's model. :func:`county_crops` gives the same
predictions with the per-parcel work on the workers:

- the client reads the declarations (one small column per parcel), draws the training sample
  and the folds exactly as :func:`agrilend.yield_models.predict_out_of_fold` draws them, and
  trains the fold models and the county's model on the sample's curves only (at most about
  ``CROP_TRAINING_CAP`` rows, whatever the county's size);
- each chunk's task reads its part's curves, computes the features of its parcels outside the
  sample and adds the fold models' probabilities in the same order as the one-process path
  (or applies the context's model to all of them): the models go to the workers once.

So the client never holds the county's curves or features, and the predictions are those of
``decide``. The remaining county steps (peers, yields, credit lines) run on the client with
:func:`agrilend.pipeline.decide_with_crops`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from agrilend.errors import InsufficientEvidenceError, ScanError
from agrilend.scan.parts import NDVI, Chunk, stack

log = logging.getLogger(__name__)

#: Out-of-fold settings of :func:`agrilend.yield_models.predict_out_of_fold` as ``decide``
#: calls it (its defaults).
N_SPLITS, MIN_CLASS_SIZE, RANDOM_STATE = 5, 5, 0

#: ``map(fn, list of argument tuples)`` -> results in order (in process, or on Dask workers).
Mapper = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


def read_curves(part: str, positions: Sequence[int], width: int) -> np.ndarray[Any, Any]:
    """The clear-only NDVI curves (float64) of rows ``positions`` of a chunk's part file."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(part, columns=[NDVI])
    cells = table.column(NDVI).to_pandas()
    return stack(cells.iloc[list(positions)].reset_index(drop=True), width)


def chunk_proba(  # noqa: PLR0917 (a Dask task: positional arguments)
    part: str,
    positions: Sequence[int],
    width: int,
    models: list[tuple[Any, np.ndarray[Any, Any] | None]],
    n_classes: int,
    mode: str,
    n_splits: int = N_SPLITS,
) -> np.ndarray[Any, Any]:
    """Class probabilities of some rows of one part (runs on a worker).

    ``mode="context"``: ``models`` holds one ``(model, None)``, applied to the rows.
    ``mode="folds"``: ``models`` holds each fold's ``(model, columns)`` (``model`` None for a
    fold with fewer than two trainable crops, which adds a uniform share) for the folds that
    hold parcels, summed in fold order and each divided by ``n_splits`` as
    :func:`agrilend.yield_models.predict_out_of_fold` does.
    """
    X = read_curves(part, positions, width)
    if mode == "context":
        model, times = models[0]  # the imagery's dates, read on the model's day-of-year grid
        if not len(X):
            return np.zeros((0, n_classes))
        if times is not None:
            return np.asarray(model.predict_proba(X, times=list(times)), dtype=float)
        return np.asarray(model.predict_proba(X), dtype=float)
    proba = np.zeros((len(X), n_classes))
    if not len(X):
        return proba
    template = next((m for m, _ in models if m is not None), None)
    feats = clone(template)._features(X).reset_index(drop=True) if template is not None else None
    for model, cols in models:
        if model is None:
            proba += 1.0 / n_classes / n_splits
        else:
            if feats is None or cols is None:  # a fold model always comes with its columns
                raise ScanError("a fold model came without its class columns")
            proba[:, cols] += model._proba_features(feats) / n_splits
    return proba


def part_paths(out: Path, chunks: list[Chunk], quarantined: dict[str, str]) -> dict[str, str]:
    """The part file of every computed chunk of the results folder ``out``."""
    return {
        c.id: str((out / "parts" / f"{c.id}.parquet").resolve())
        for c in chunks
        if c.id not in quarantined
    }


def _in_process(fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
    return [fn(*a) for a in args]


def county_crops(
    parcels: pd.DataFrame,
    chunks: list[Chunk],
    parts: dict[str, str],
    *,
    times: pd.DatetimeIndex,
    context: Any,
    crop_training_cap: int | None,
    mapper: Mapper | None = None,
    broadcast: Callable[[Any], Any] | None = None,
) -> pd.DataFrame:
    """Crop and confidence of the usable parcels (status not ``error``, in ``parcels`` order).

    ``parcels`` are the county's evidence rows sorted by title row (as the scan concatenates
    its parts); ``parts`` maps each computed chunk to its part file. ``context.crop_model`` is
    used when set; otherwise the out-of-fold path runs and ``context.crop_model`` is set to the
    county's model, as :func:`agrilend.pipeline.decide` does.
    """
    from agrilend.pipeline import (  # noqa: PLC0415
        _PARALLEL_TRAINING,
        _check_model_dates,
    )
    from agrilend.yield_models.crop_type import (  # noqa: PLC0415
        CropTypeClassifier,
        _fold_ids,
        training_sample,
    )

    run = mapper or _in_process
    share = broadcast or (lambda x: x)
    width = len(times)
    ok = (parcels["status"] != "error").to_numpy()
    ids = parcels.loc[ok, "parcel_id"].astype(str).to_numpy()
    lab = parcels.loc[ok, "declared_crop"].fillna("").astype(str).to_numpy()
    # where each usable parcel's curve is: its chunk's part, its row there
    where_chunk = np.empty(len(parcels), dtype=np.int64)
    where_pos = np.empty(len(parcels), dtype=np.int64)
    for k, c in enumerate(chunks):
        rows = np.asarray(c.rows, dtype=np.int64)
        where_chunk[rows] = k
        where_pos[rows] = np.arange(rows.size)
    usable_rows = np.flatnonzero(ok)
    chunk_of, pos_of = where_chunk[usable_rows], where_pos[usable_rows]
    for k in np.unique(chunk_of):
        if chunks[k].id not in parts:
            raise ScanError(f"chunk {chunks[k].id} holds usable parcels but has no part")

    def by_chunk(selected: np.ndarray[Any, Any]) -> list[tuple[int, np.ndarray[Any, Any]]]:
        """Usable positions ``selected`` grouped by chunk: ``(chunk index, usable positions)``."""
        if not selected.size:
            return []
        order = selected[np.argsort(chunk_of[selected], kind="stable")]
        ks, starts = np.unique(chunk_of[order], return_index=True)
        return list(zip(ks.tolist(), np.split(order, starts[1:]), strict=True))

    def gather(selected: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Curves of usable positions ``selected`` (read by the workers), in that order."""
        X = np.full((selected.size, width), np.nan)
        groups = by_chunk(selected)
        got = run(read_curves, [(parts[chunks[k].id], pos_of[g].tolist(), width)
                                for k, g in groups])  # fmt: skip
        at = {int(u): i for i, u in enumerate(selected)}
        for (_, g), rows in zip(groups, got, strict=True):
            X[[at[int(u)] for u in g]] = rows
        return X

    def spread(
        selected: np.ndarray[Any, Any], models: Any, n_classes: int, mode: str
    ) -> np.ndarray[Any, Any]:
        """Probabilities of usable positions ``selected``, computed chunk by chunk."""
        out = np.zeros((selected.size, n_classes))
        groups = by_chunk(selected)
        got = run(chunk_proba, [(parts[chunks[k].id], pos_of[g].tolist(), width, models,
                                 n_classes, mode) for k, g in groups])  # fmt: skip
        at = {int(u): i for i, u in enumerate(selected)}
        for (_, g), proba in zip(groups, got, strict=True):
            out[[at[int(u)] for u in g]] = proba
        return out

    everyone = np.arange(ids.size)
    if context.crop_model is not None:
        model = context.crop_model
        _check_model_dates(model, times)
        classes = np.asarray(model.classes_)
        dates = np.asarray(times) if hasattr(model, "check_dates") else None
        proba = spread(everyone, share([(model, dates)]), classes.size, "context")
        best = proba.argmax(axis=1)
        return _with_proba(
            pd.DataFrame(
                {"crop": classes[best], "crop_confidence": proba[np.arange(best.size), best]},
                index=pd.Index(ids, name="parcel_id"),
            ),
            proba,
            list(classes),
        )

    # out of fold, as predict_out_of_fold(X, lab, model=template, max_train=cap) does it
    train = training_sample(lab, max_train=crop_training_cap)
    template = CropTypeClassifier(
        times=list(times), n_jobs=-1 if train.sum() > _PARALLEL_TRAINING else 1
    )
    names, counts = np.unique(lab[lab != ""], return_counts=True)
    learnt = names[counts >= MIN_CLASS_SIZE]
    if learnt.size < 2:
        raise InsufficientEvidenceError(
            f"out-of-fold crop prediction needs two crops with at least {MIN_CLASS_SIZE} "
            f"declared parcels; got {dict(zip(names.tolist(), counts.tolist(), strict=True))}. "
            "Give a larger area or a model trained elsewhere"
        )
    pool = training_sample(
        lab, max_train=crop_training_cap, min_class_size=MIN_CLASS_SIZE,
        random_state=RANDOM_STATE,
    )  # fmt: skip
    sampled = crop_training_cap is not None and int((lab != "").sum()) > crop_training_cap
    folds = np.full(lab.size, -1)
    in_folds = pool if sampled else np.ones(lab.size, dtype=bool)
    folds[in_folds] = _fold_ids(lab[in_folds], N_SPLITS, RANDOM_STATE)
    trainable = np.isin(lab, learnt) & in_folds
    inside = np.flatnonzero(in_folds)
    outside = np.flatnonzero(folds < 0)
    log.info(
        "crop model: %d parcels in the folds, %d predicted on the workers by the fold models",
        inside.size, outside.size,
    )  # fmt: skip
    X_in = gather(inside)
    feats = clone(template)._features(X_in).reset_index(drop=True)
    proba = np.zeros((lab.size, learnt.size))
    fold_models: list[tuple[Any, np.ndarray[Any, Any] | None]] = []
    lab_in, folds_in, trainable_in = lab[inside], folds[inside], trainable[inside]
    for k in range(N_SPLITS):
        test = folds_in == k
        fit_on = (~test) & trainable_in
        if not test.any():
            continue
        if np.unique(lab_in[fit_on]).size < 2:
            proba[inside[test]] = 1.0 / learnt.size
            fold_models.append((None, None))
            continue
        m = clone(template)._fit_features(feats[fit_on], lab_in[fit_on])
        cols = np.searchsorted(learnt, m.classes_)
        proba[np.ix_(inside[test], cols)] = m._proba_features(feats[test])
        fold_models.append((m, cols))
    if outside.size:
        proba[outside] = spread(outside, share(fold_models), learnt.size, "folds")
    # the county's model: the training sample's declarations (all of them in a small county)
    fit_rows = np.flatnonzero(train)
    pos_in = {int(u): i for i, u in enumerate(inside)}
    missing = [u for u in fit_rows if int(u) not in pos_in]
    X_fit = X_in[[pos_in[int(u)] for u in fit_rows if int(u) in pos_in]]
    if missing:  # not expected: the sample is the pool; read them if it ever differs
        X_fit = gather(fit_rows)
    context.crop_model = clone(template).fit(X_fit, lab[fit_rows])
    best = proba.argmax(axis=1)
    return _with_proba(
        pd.DataFrame(
            {"crop": learnt[best], "crop_confidence": proba[np.arange(lab.size), best]},
            index=pd.Index(ids, name="parcel_id"),
        ),
        proba,
        list(learnt),
    )


def _with_proba(crops: pd.DataFrame, proba: Any, classes: list[Any]) -> pd.DataFrame:
    """The crops with one ``p_<class>`` column per class (the declaration check reads them)."""
    out = crops.copy()
    for j, c in enumerate(classes):
        out[f"p_{c}"] = proba[:, j]
    out.attrs["classes"] = classes
    return out


def size_part(  # noqa: PLR0917 (a Dask task: positional arguments)
    parcels: pd.DataFrame,
    policy: Any,
    subsidies: Any,
    climate: Any,
    as_of: Any,
    reference_yields: Any,
) -> pd.DataFrame:
    """:func:`agrilend.credit.size_households` on one partition of households (a worker task)."""
    from agrilend.credit import size_households  # noqa: PLC0415

    return size_households(
        parcels, policy, subsidies=subsidies, climate=climate, as_of=as_of,
        reference_yields=reference_yields,
    )  # fmt: skip


def partitioned_sizer(mapper: Mapper, n_parts: int) -> Callable[..., pd.DataFrame]:
    """A :func:`agrilend.credit.size_households` that sizes ``n_parts`` partitions of the
    households (by a hash of ``owner_ref``) through ``mapper``, e.g. on the scan's workers.

    A household's line depends on its own parcels, its subsidies and the county's climate
    score only, so each partition gives the rows ``size_households`` gives for the whole
    county; they are put back in its order (by ``owner_ref``). The parcels' geometry is not
    sent (sizing never reads it).
    """

    def sizer(
        parcels: pd.DataFrame,
        policy: Any,
        *,
        subsidies: Any = None,
        climate: Any = None,
        as_of: Any = None,
        reference_yields: Any = None,
    ) -> pd.DataFrame:
        from agrilend.credit import size_households  # noqa: PLC0415

        if n_parts <= 1 or len(parcels) == 0:
            return size_households(
                parcels, policy, subsidies=subsidies, climate=climate, as_of=as_of,
                reference_yields=reference_yields,
            )  # fmt: skip
        table = pd.DataFrame(parcels.drop(columns="geometry", errors="ignore"))
        owners = table["owner_ref"].astype(str).to_numpy(dtype=object)
        part = pd.util.hash_array(owners) % np.uint64(n_parts)
        groups = [table[part == i] for i in range(n_parts) if (part == i).any()]
        got = mapper(
            size_part,
            [(g, policy, subsidies, climate, as_of, reference_yields) for g in groups],
        )
        out: pd.DataFrame = pd.concat(got, ignore_index=True)
        order = np.argsort(out["owner_ref"].astype(str).to_numpy(dtype=object), kind="stable")
        return out.iloc[order].reset_index(drop=True)

    return sizer


__all__ = [
    "chunk_proba",
    "county_crops",
    "part_paths",
    "partitioned_sizer",
    "read_curves",
    "size_part",
]
