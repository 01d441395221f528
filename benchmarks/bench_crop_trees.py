"""How many trees the crop model needs: accuracy and the declaration check against CPU time.

Run: ``python benchmarks/bench_crop_trees.py`` (about 5 minutes on 2 idle cores).

The county scan's crop step is mostly growing forests (five fold models and the county's model
of ``CropTypeClassifier``, 300 extra-trees each by default). This measures what fewer trees
cost in evidence, on the two labelled sets (the sample county, 9 crops on 5-day NDVI; the
French LPIS parcels, 12 classes on 16 channels of dekads), the same folds and the same false
declarations for every tree count, in one run:

- crop type against the true crop, out of fold (stratified 5-fold): overall accuracy and macro F1;
- the declaration check as the pipeline runs it (:func:`audit_declarations`, the default policy's
  false-alarm rate, one cleaning round) after 10 % of declarations are changed to another crop
  (``--seeds`` draws): recall, precision, honest parcels flagged;
- the CPU seconds of this process for each tree count (every fit runs here, ``n_jobs=1``).

The last lines, per set and tree count N: ``trees N: OA x.xxx (300: x.xxx), recall at 10 %:
x.xx (300: x.xx), CPU x.xx of 300``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from agrilend.credit import load_policy
from agrilend.yield_models.crop_type import CropTypeClassifier, predict_out_of_fold
from agrilend.yield_models.declaration import audit_declarations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_crop_france import FILE, load
from bench_mismatch import flip, sample_county, scores


def one_set(
    name: str, X: np.ndarray, truth: np.ndarray, make: Any, trees: list[int], seeds: int,
    alpha: float,
) -> dict[int, tuple[float, ...]]:  # fmt: skip
    print(f"\n{name}: {truth.size} parcels, {np.unique(truth).size} crops", flush=True)
    print("| trees | OA | macro F1 | recall at 10 % | precision | honest flagged | CPU s |")
    print("|---|---|---|---|---|---|---|")
    out: dict[int, tuple[float, ...]] = {}
    for n in trees:
        c0 = time.process_time()
        oof = predict_out_of_fold(X, list(truth), model=make(n))
        pred = oof["crop"].astype(str).to_numpy()
        oa = float((pred == truth.astype(str)).mean())
        f1 = float(f1_score(truth.astype(str), pred, average="macro"))
        checks = []
        for seed in range(seeds):
            declared, false = flip(truth, 0.10, seed)
            check = audit_declarations(X, list(declared), model=make(n), false_alarm_rate=alpha)
            checks.append(scores(check["crop_mismatch"].to_numpy(bool), false))
        r, p, h = np.nanmean(np.array(checks, dtype=float), axis=0)
        cpu = time.process_time() - c0
        out[n] = (oa, f1, r, p, h, cpu)
        print(
            f"| {n} | {oa:.3f} | {f1:.3f} | {r:.2f} | {p:.2f} | {100 * h:.1f} % | {cpu:.1f} |",
            flush=True,
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, nargs="+", default=[50, 100, 150, 300])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    if not FILE.exists():
        print(f"{FILE} not found; set AGRILEND_SHARED_DATA", file=sys.stderr)
        return 1
    trees = sorted(set(args.trees) | {300})
    t0 = time.time()
    print(f"load average {os.getloadavg()[0]:.1f}")
    alpha = load_policy().crop_false_alarm_rate

    Xs, truth_s, _, _, times_s = sample_county()
    county = one_set(
        "sample county (NDVI, 5-day)", Xs, truth_s,
        lambda n: CropTypeClassifier(times=times_s, n_estimators=n), trees, args.seeds, alpha,
    )  # fmt: skip
    ch, times, y, _ = load()
    names = list(ch)
    X = np.hstack([ch[c] for c in names])
    france = one_set(
        "France LPIS (16 channels, dekads)", X, np.asarray(y),
        lambda n: CropTypeClassifier(times=times, channels=names, step="dekad", n_estimators=n),
        trees, args.seeds, alpha,
    )  # fmt: skip
    print(f"\nwall {time.time() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}")
    for name, res in (("sample county", county), ("France", france)):
        full = res[300]
        for n in trees:
            if n == 300:
                continue
            got = res[n]
            print(
                f"{name}, trees {n}: OA {got[0]:.3f} (300: {full[0]:.3f}), recall at 10 %: "
                f"{got[2]:.2f} (300: {full[2]:.2f}), CPU {got[5] / full[5]:.2f} of 300"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
