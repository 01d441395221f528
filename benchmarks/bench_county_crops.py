"""Parcels outside a county's training sample: the county's one model against the fold models' mean.

Run: ``python benchmarks/bench_county_crops.py [--seeds N]`` (3 seeds: about 2 minutes on 2
cores; needs ``../shared/data`` for France, or ``AGRILEND_SHARED_DATA``).

Above ``max_train`` declarations a county trains its crop models on a stratified sample.
``county_crops`` (what ``decide`` and the scan run) predicts every parcel outside the sample with
the county's model (one forest, trained on the sample's declarations the audit did not flag),
as a household decided later from the county's context is; ``audit_declarations(max_train=...)``
predicts them with the mean of the five fold models' probabilities (five forests). For each set
(the sample county's NDVI with its generator's true crops; France LPIS NDVI with its true crops)
the declarations are the true crops with 10 % of them changed to another crop (the parcels a
declaration check should flag), the training sample is half of the parcels, and for three seeds
this prints, for the parcels outside the sample (each way draws its own: the same share,
stratified by crop): overall accuracy against the true crop, recall of the changed declarations
and false-alarm rate on the honest ones (the check at 1 %), the share of parcels whose flag
differs between the two ways (when they drew the same sample), and each way's CPU seconds (all
threads). The last line: ``outside the sample: county model OA minus fold mean OA ...``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from bench_crop_france import FILE, _sample_county, load

from agrilend.yield_models.county_crops import county_crops
from agrilend.yield_models.crop_type import CropTypeClassifier
from agrilend.yield_models.declaration import audit_declarations

NOISE = 0.10


def _noisy(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Declarations: the true crops with ``NOISE`` of them changed to another crop."""
    rng = np.random.default_rng(100 + seed)
    classes = np.unique(y)
    flip = rng.random(y.size) < NOISE
    declared = y.copy()
    for i in np.flatnonzero(flip):
        declared[i] = rng.choice(classes[classes != y[i]])
    return declared, flip


def _score(crops: pd.DataFrame, y: np.ndarray, flip: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    crop = crops["crop"].to_numpy().astype(str)[out]
    flag = crops["crop_mismatch"].to_numpy(dtype=bool)[out]
    return {
        "oa": float((crop == y[out]).mean()),
        "recall": float(flag[flip[out]].mean()),
        "false_alarms": float(flag[~flip[out]].mean()),
        "flags": flag,
    }


def _one_set(
    name: str, X: np.ndarray, y: np.ndarray, times: pd.DatetimeIndex, seeds: range
) -> list[float]:
    cap = y.size // 2
    print(f"\n{name}: {y.size} parcels, {np.unique(y).size} crops, training sample {cap}; "
          f"{NOISE:.0%} of declarations changed; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("  seed  way          OA     recall  false alarms  CPU s")
    gaps = []
    for seed in seeds:
        declared, flip = _noisy(y, seed)
        model = CropTypeClassifier(times=list(times), n_jobs=1)
        c0 = time.process_time()
        ours, _ = county_crops(X, declared, model=model, max_train=cap, random_state=seed)
        c1 = time.process_time()
        folds = audit_declarations(X, declared, model=model, max_train=cap, random_state=seed)
        c2 = time.process_time()
        # each way draws its sample from the labels as it encodes them: the same share, not
        # always the same parcels (both stratified by crop), so each is scored on its own
        out_a, out_b = (ours["fold"] == -1).to_numpy(), (folds["fold"] == -1).to_numpy()
        a, b = _score(ours, y, flip, out_a), _score(folds, y, flip, out_b)
        for way, s, cpu in (("county model", a, c1 - c0), ("fold mean", b, c2 - c1)):
            row = f"{s['oa']:.3f}  {s['recall']:.3f}   {s['false_alarms']:.3f}        {cpu:5.1f}"
            print(f"  {seed:4d}  {way:12s} {row}")
        if np.array_equal(out_a, out_b):
            print(f"        flags differ on {(a['flags'] != b['flags']).mean():.1%} of the "
                  f"{int(out_a.sum())} parcels outside the sample")  # fmt: skip
        gaps.append(a["oa"] - b["oa"])
    return gaps


def main() -> int:
    seeds = range(int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 3)
    Xs, ys, ts = _sample_county()
    gaps = _one_set("sample county", Xs, ys, ts, seeds)
    if FILE.exists():
        ch, tf, yf, _ = load()
        gaps += _one_set("France LPIS (NDVI)", ch["NDVI"], yf, tf, seeds)
    else:
        print(f"\n{FILE} not found: France skipped (set AGRILEND_SHARED_DATA)")
    print(
        f"\noutside the sample: county model OA minus fold mean OA {np.mean(gaps):+.3f} "
        f"(min {np.min(gaps):+.3f}, max {np.max(gaps):+.3f} over sets and seeds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
