"""The crop-declaration check under simulated false declarations (France LPIS, sample county).

Run: ``python benchmarks/bench_mismatch.py`` (about 3 minutes on 2 shared cores).

For each data set, honest declarations are the parcels' real crops (France: the LPIS label;
sample county: the generator's true crop); 5, 10 and 20 % of parcels (3 seeds each) then declare
another crop drawn uniformly among the others. Each run is what the pipeline does: out-of-fold
probabilities (the declarations audited are the ones trained on), the check at the default
policy's false-alarm rate and one cleaning round (:func:`audit_declarations`). Printed per noise
level (means over seeds): recall (false declarations flagged), precision (flags that are false
declarations), honest parcels flagged, the AUC of the mismatch score, the estimated share of
false declarations; and the old rule (another crop at confidence >= 0.8) beside it. Also the
sample county's own declarations (the generator's mis-declarations, 12 %).

The last line: ``mismatch at 10 %: recall 0.xx precision 0.xx honest flagged x.x %`` (France
LPIS, the harder set; the sample county's figures are in the table above it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from agrilend.credit import load_policy
from agrilend.yield_models.crop_type import CropTypeClassifier, crop_mismatch, predict_out_of_fold
from agrilend.yield_models.declaration import audit_declarations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_crop_france import FILE, load

RATES = (0.05, 0.10, 0.20)
SEEDS = (0, 1, 2)


def flip(truth: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Declarations with ``rate`` of them changed to another crop (uniform); the flipped mask."""
    rng = np.random.default_rng(1000 + seed)
    classes = np.unique(truth)
    n = truth.size
    idx = rng.choice(n, size=round(rate * n), replace=False)
    declared = truth.astype(object).copy()
    for i in idx:
        declared[i] = rng.choice(classes[classes != truth[i]])
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return declared, mask


def judge(
    X: np.ndarray, declared: np.ndarray, template: CropTypeClassifier, rate: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The old rule's inputs (plain out-of-fold) and the check as the pipeline runs it."""
    oof = predict_out_of_fold(X, list(declared), model=template)
    return oof, audit_declarations(X, list(declared), model=template, false_alarm_rate=rate)


def scores(flags: np.ndarray, false: np.ndarray) -> tuple[float, float, float]:
    recall = float(flags[false].mean()) if false.any() else float("nan")
    precision = float(false[flags].mean()) if flags.any() else float("nan")
    return recall, precision, float(flags[~false].mean())


def run_set(
    name: str, X: np.ndarray, truth: np.ndarray, template: CropTypeClassifier, alpha: float
) -> dict[float, np.ndarray]:
    print(f"\n{name}: {truth.size} parcels, {np.unique(truth).size} crops", flush=True)
    table: dict[float, np.ndarray] = {}
    for rate in RATES:
        rows = []
        for seed in SEEDS:
            declared, false = flip(truth, rate, seed)
            oof, check = judge(X, declared, template, alpha)
            flags = check["crop_mismatch"].to_numpy(bool)
            old = crop_mismatch(
                [str(d) for d in declared], oof["crop"].astype(str), oof["crop_confidence"]
            )
            auc = roc_auc_score(false, check["mismatch_score"].fillna(0).to_numpy())
            rows.append(
                (*scores(flags, false), auc, check.attrs["estimated_false_share"],
                 *scores(old, false))
            )  # fmt: skip
        table[rate] = np.nanmean(np.array(rows, dtype=float), axis=0)
    print(
        "| noise | recall | precision | honest flagged | AUC | estimated false share | "
        "old rule (conf >= 0.8): recall / precision / honest flagged |"
    )
    print("|---|---|---|---|---|---|---|")
    for rate, r in table.items():
        print(
            f"| {rate:.0%} | {r[0]:.2f} | {r[1]:.2f} | {100 * r[2]:.1f} % | {r[3]:.3f} | "
            f"{100 * r[4]:.1f} % | {r[5]:.2f} / {r[6]:.2f} / {100 * r[7]:.1f} % |",
            flush=True,
        )
    return table


def sample_county() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[object]]:
    from agrilend.inputs import InputFiles, load_inputs, sample_data_dir  # noqa: PLC0415
    from agrilend.pipeline import gather_evidence  # noqa: PLC0415

    inputs = load_inputs(InputFiles.sample())
    ev = gather_evidence(inputs.cube, inputs.titles)
    ok = (ev.parcels["status"] != "error").to_numpy()
    ids = ev.parcels["parcel_id"].astype(str).to_numpy()[ok]
    truth = pd.read_csv(sample_data_dir() / "truth.csv", dtype={"parcel_id": str})
    t = truth.set_index("parcel_id").reindex(ids)
    return (
        ev.ndvi[ok],
        t["true_crop"].astype(str).to_numpy(),
        t["declared_crop"].astype(str).to_numpy(),
        t["misdeclared"].astype(bool).to_numpy(),
        list(ev.times),
    )


def main() -> int:
    if not FILE.exists():
        print(f"{FILE} not found; set AGRILEND_SHARED_DATA", file=sys.stderr)
        return 1
    t0, c0 = time.time(), time.process_time()
    print(f"load average {os.getloadavg()[0]:.1f} (shared machine)")
    alpha = load_policy().crop_false_alarm_rate
    print(f"policy false-alarm rate {alpha}")

    Xs, truth_s, decl_s, misdecl, times_s = sample_county()
    county = run_set(
        "sample county (NDVI, 5-day)", Xs, truth_s, CropTypeClassifier(times=times_s), alpha
    )
    _, check = judge(Xs, decl_s, CropTypeClassifier(times=times_s), alpha)
    got = scores(check["crop_mismatch"].to_numpy(bool), misdecl)
    print(
        f"sample county, the generator's own declarations ({misdecl.mean():.1%} mis-declared): "
        f"recall {got[0]:.2f} precision {got[1]:.2f} honest flagged {100 * got[2]:.1f} %"
    )

    ch, times, y, _ = load()
    names = list(ch)
    X = np.hstack([ch[c] for c in names])
    france = run_set(
        "France LPIS (16 channels, dekads)",
        X,
        y,
        CropTypeClassifier(times=times, channels=names, step="dekad", n_jobs=2),
        alpha,
    )
    print(
        f"\nwall {time.time() - t0:.0f} s, CPU {time.process_time() - c0:.0f} s "
        f"(ratio {(time.process_time() - c0) / max(time.time() - t0, 1e-9):.2f}), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    c10 = county[0.10]
    print(
        f"sample county at 10 %: recall {c10[0]:.2f} precision {c10[1]:.2f} "
        f"honest flagged {100 * c10[2]:.1f} %"
    )
    r = france[0.10]
    line = f"recall {r[0]:.2f} precision {r[1]:.2f} honest flagged {100 * r[2]:.1f} %"
    print(f"mismatch at 10 %: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
