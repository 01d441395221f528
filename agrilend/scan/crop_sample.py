"""The crop plan's draw: from a few columns of every title, the crop model's training sample
and its folds, and nothing of every parcel.

:func:`draw_sample` reads the columns :func:`agrilend.scan.county_step.light_rows` gives
(``status``, ``declared_crop``, ``n_clear_obs``, in title row order) and draws the sample and
the folds exactly as :func:`agrilend.pipeline.decide` draws them. What it returns, a
:class:`Draw`, holds the sample's parcels only (at most about
:data:`agrilend.pipeline.CROP_TRAINING_CAP` of them in a sampled county): each chunk's task
predicts its other usable parcels with the county's model. In a scan it runs on a worker
(:func:`draw_task`), so that the client never holds a column of every parcel:
:func:`agrilend.scan.county.crop_plan` takes the draw and trains the folds from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agrilend.errors import InsufficientEvidenceError, ScanError
from agrilend.scan.parts import Chunk
from agrilend.yield_models.county_crops import MIN_CLASS_SIZE, learnt_classes

#: Out-of-fold settings of :func:`agrilend.yield_models.predict_out_of_fold` as ``decide``
#: calls it (its defaults; the smallest learnt crop is
#: :data:`agrilend.yield_models.county_crops.MIN_CLASS_SIZE`).
N_SPLITS, RANDOM_STATE = 5, 0

#: ``(chunk index, rows of its part, usable positions)`` of some usable parcels, chunk by chunk.
Groups = list[tuple[int, np.ndarray[Any, Any], np.ndarray[Any, Any]]]


def _empty() -> np.ndarray[Any, Any]:
    return np.zeros(0, dtype=np.int64)


@dataclass
class Draw:
    """The crop plan's draw (module doc). Positions are usable positions: the rank of a usable
    parcel among the county's usable parcels, in title row order.

    ``names`` are the declarations' text (``names[code]``; 0: none) and ``learnt_codes`` the
    codes of the crops the models learn. The folds' parcels (``inside``, sorted) come with their
    code, fold, whether they are learnt from, clear observations and ``groups_in`` (their
    chunks). ``fit`` are the training sample's parcels of a learnt crop (sorted; the county's
    model learns those the declaration check does not flag), with their code, clear
    observations and ``groups_fit``. ``n_usable``: how many usable parcels the county has
    (those outside the folds are predicted by the county's model, or all by a context's);
    ``n_train``: the training sample's size.
    """

    context_model: bool
    names: np.ndarray[Any, Any]
    n_usable: int = 0
    learnt_codes: np.ndarray[Any, Any] = field(default_factory=_empty)
    sampled: bool = False
    n_train: int = 0
    inside: np.ndarray[Any, Any] = field(default_factory=_empty)
    groups_in: Groups = field(default_factory=list)
    codes_in: np.ndarray[Any, Any] = field(default_factory=_empty)
    folds_in: np.ndarray[Any, Any] = field(default_factory=_empty)
    trainable_in: np.ndarray[Any, Any] = field(default_factory=_empty)
    n_obs_in: np.ndarray[Any, Any] = field(default_factory=_empty)
    fit: np.ndarray[Any, Any] = field(default_factory=_empty)
    codes_fit: np.ndarray[Any, Any] = field(default_factory=_empty)
    n_obs_fit: np.ndarray[Any, Any] = field(default_factory=_empty)
    groups_fit: Groups = field(default_factory=list)


def subset(groups: Groups, selected: np.ndarray[Any, Any]) -> Groups:
    """The groups of the usable positions ``selected`` among those of ``groups`` (what
    grouping ``selected`` alone gives: the chunks in order, each one's rows in order).

    Examples
    --------
    >>> g = [(0, np.array([1, 3]), np.array([0, 1])), (2, np.array([0]), np.array([5]))]
    >>> [(k, p.tolist(), u.tolist()) for k, p, u in subset(g, np.array([1, 5]))]
    [(0, [3], [1]), (2, [0], [5])]
    """
    out = []
    for k, pos, u in groups:
        keep = np.isin(u, selected)
        if keep.any():
            out.append((k, pos[keep], u[keep]))
    return out


def draw_sample(
    parcels: pd.DataFrame,
    chunks: Sequence[Chunk],
    with_parts: Iterable[str],
    *,
    crop_training_cap: int | None,
    context_model: bool = False,
) -> Draw:
    """The draw from the light rows ``parcels`` of every title (module doc). ``with_parts``:
    the ids of the chunks that have a part (a chunk holding usable parcels must have one).
    With ``context_model`` (a model given by the county's context) nothing is drawn: every
    usable parcel is predicted."""
    from agrilend.yield_models.crop_type import (  # noqa: PLC0415
        _fold_ids,
        label_codes,
        sample_of_codes,
    )

    # a few bytes per parcel, in title order: whether usable, the declaration as a code
    # (names[codes] its text; 0: none, and the codes sort as the text does)
    ok = (parcels["status"] != "error").to_numpy(dtype=bool)
    codes, names = label_codes(parcels["declared_crop"])
    codes = codes[ok]
    if "n_clear_obs" not in parcels:
        raise ScanError("the crop plan needs each parcel's n_clear_obs (the parts' column)")
    n_obs_of = pd.to_numeric(parcels["n_clear_obs"], errors="coerce").to_numpy()
    n_titles = len(parcels)
    usable_rows = np.flatnonzero(ok).astype(np.int32)  # title row of each usable position
    del ok, parcels
    parted = set(with_parts)
    for c in chunks:
        if c.id not in parted and np.isin(np.asarray(c.rows), usable_rows).any():
            raise ScanError(f"chunk {c.id} holds usable parcels but has no part")

    def by_chunk(selected: np.ndarray[Any, Any]) -> Groups:
        """Usable positions ``selected`` by chunk (no array of every parcel but a flag each)."""
        mark = np.zeros(n_titles, dtype=bool)
        mark[usable_rows[selected]] = True
        out = []
        for k, c in enumerate(chunks):
            rows = np.asarray(c.rows)
            pos = np.flatnonzero(mark[rows])
            if pos.size:
                out.append((k, pos.astype(np.int32), np.searchsorted(usable_rows, rows[pos])))
        return out

    if context_model:
        return Draw(True, names, n_usable=codes.size)

    # out of fold, as predict_out_of_fold(X, lab, model=template, max_train=cap) does it
    train = sample_of_codes(codes, max_train=crop_training_cap)
    learnt_codes = learnt_classes(codes, none=0)
    if learnt_codes.size < 2:
        counts = np.bincount(codes, minlength=names.size)
        got = {str(names[c]): int(counts[c]) for c in range(1, names.size) if counts[c]}
        raise InsufficientEvidenceError(
            f"out-of-fold crop prediction needs two crops with at least {MIN_CLASS_SIZE} "
            f"declared parcels; got {got}. Give a larger area or a model trained elsewhere"
        )
    pool = sample_of_codes(
        codes, max_train=crop_training_cap, min_class_size=MIN_CLASS_SIZE,
        random_state=RANDOM_STATE,
    )  # fmt: skip
    sampled = crop_training_cap is not None and int((codes != 0).sum()) > crop_training_cap
    in_folds = pool if sampled else np.ones(codes.size, dtype=bool)
    inside = np.flatnonzero(in_folds)
    codes_in = codes[inside]
    folds_in = _fold_ids(codes_in, N_SPLITS, RANDOM_STATE).astype(np.int8)
    # the county's model learns from the training sample's parcels of a learnt crop (those the
    # declaration check of the folds does not flag: county_model_rows)
    fit = np.flatnonzero(train & np.isin(codes, learnt_codes))
    return Draw(
        False, names, n_usable=codes.size, learnt_codes=learnt_codes, sampled=sampled,
        n_train=int(train.sum()),
        inside=inside, groups_in=by_chunk(inside), codes_in=codes_in, folds_in=folds_in,
        trainable_in=np.isin(codes_in, learnt_codes), n_obs_in=n_obs_of[usable_rows[inside]]
        .astype(float), fit=fit, codes_fit=codes[fit],
        n_obs_fit=n_obs_of[usable_rows[fit]].astype(float), groups_fit=by_chunk(fit),
    )  # fmt: skip


def draw_task(
    specs: list[Any],
    chunks: list[Chunk],
    n_titles: int,
    crop_training_cap: int | None,
    context_model: bool,
) -> Draw:
    """:func:`draw_sample` of the county's light rows, put together here (a worker) from what
    the chunk tasks kept beside their parts (:func:`agrilend.scan.parts.read_light`)."""
    from agrilend.scan.county_step import light_rows  # noqa: PLC0415

    rows = light_rows(specs, chunks, n_titles)
    with_parts = [s.chunk for s in specs if s.part is not None]
    return draw_sample(rows, chunks, with_parts, crop_training_cap=crop_training_cap,
                       context_model=context_model)  # fmt: skip


__all__ = ["N_SPLITS", "RANDOM_STATE", "Draw", "draw_sample", "draw_task", "subset"]
