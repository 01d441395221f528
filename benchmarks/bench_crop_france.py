"""Crop-type accuracy on real French LPIS parcels (WorldCereal dekadal extractions).

Run: ``python benchmarks/bench_crop_france.py`` (a few minutes on 2 cores).

Classes with at least 10 parcels, stratified 5-fold cross-validation. Prints overall accuracy
(OA) and macro F1 (mean +- std over folds), per-class F1, the baseline (random forest on the raw,
linearly interpolated band series) computed in the same run, and the reliability of the
confidence (expected calibration error and Brier score) with and without calibration, then
all variants as one Markdown table. Channels: the nine L2A bands (65535 = gap, DN / 10000),
NDVI, NDMI, NDRE, NDWI, Sentinel-1 VV and VH in dB (``20 log10(DN) - 83``) and their ratio.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from agrilend.yield_models.crop_type import (
    CropTypeClassifier,
    brier_score,
    expected_calibration_error,
)

DATA = Path(
    os.environ.get("AGRILEND_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
FILE = DATA / "crop_labels" / "france_lpis_2023_dekadal.geoparquet"
BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B11", "B12")
NODATA = 65535


def load(
    path: Path = FILE, *, min_parcels: int = 10
) -> tuple[dict[str, np.ndarray], pd.DatetimeIndex, np.ndarray, pd.Index]:
    """Long table -> per-channel (parcel, dekad) arrays, dates, labels (class names), parcel ids."""
    df = pd.read_parquet(path)
    labels = df.groupby("sample_id")["ewoc_code"].first()
    counts = labels.value_counts()
    labels = labels[labels.isin(counts[counts >= min_parcels].index)]
    legend = path.parent / "crop_type_class_mappings.csv"
    names: dict[int, str] = {}
    if legend.exists():
        m = pd.read_csv(legend, sep=";", encoding="utf-8-sig")
        names = dict(
            zip(m["ewoc_code"].str.replace("-", "").astype("int64"), m["label_full"], strict=True)
        )
    times = pd.DatetimeIndex(np.sort(df["timestamp"].unique()))

    def grid(col: str) -> np.ndarray:
        wide = df.pivot_table(index="sample_id", columns="timestamp", values=col, aggfunc="first")
        a = wide.reindex(index=labels.index, columns=times).to_numpy(dtype="float64").copy()
        a[a == NODATA] = np.nan
        return a

    ch = {b: grid(f"S2-L2A-{b}") / 10000.0 for b in BANDS}
    with np.errstate(all="ignore"):
        nd = lambda a, b: (a - b) / (a + b)  # noqa: E731
        ch["NDVI"] = nd(ch["B08"], ch["B04"])
        ch["NDMI"] = nd(ch["B08"], ch["B11"])
        ch["NDRE"] = nd(ch["B08"], ch["B05"])
        ch["NDWI"] = nd(ch["B03"], ch["B08"])
        # Sentinel-1 sigma0 is stored as a compressed DN: dB = 20 log10(DN) - 83 (WorldCereal)
        ch["VV"] = 20.0 * np.log10(grid("S1-SIGMA0-VV")) - 83.0
        ch["VH"] = 20.0 * np.log10(grid("S1-SIGMA0-VH")) - 83.0
        ch["VHVV"] = ch["VH"] - ch["VV"]  # cross-pol ratio in dB: volume scattering
    y = np.array([names.get(int(c), str(c)) for c in labels.to_numpy()])
    return ch, times, y, labels.index


def _interp_rows(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    x = np.arange(a.shape[1])
    for i, row in enumerate(a):
        m = np.isfinite(row)
        out[i] = np.interp(x, x[m], row[m]) if m.sum() >= 2 else (row[m][0] if m.any() else 0.0)
    return out


def main() -> int:
    if not FILE.exists():
        print(f"{FILE} not found; set AGRILEND_SHARED_DATA", file=sys.stderr)
        return 1
    t0 = time.time()
    ch, times, y, _ = load()
    names = list(ch)
    X = np.hstack([ch[c] for c in names])
    Xbase = np.hstack([_interp_rows(ch[b]) for b in BANDS])
    print(
        f"{len(y)} parcels, {len(np.unique(y))} classes, {len(times)} dekads, "
        f"{np.isnan(ch['B04']).mean():.0%} cloud gaps; channels {names}"
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    models = {
        "baseline RF raw bands": None,
        "agrilend uncalibrated": CropTypeClassifier(
            times=times, channels=names, step="dekad", calibration=None, n_jobs=2
        ),
        "agrilend (sigmoid)": CropTypeClassifier(
            times=times, channels=names, step="dekad", n_jobs=2
        ),
    }
    pred = {k: np.empty(len(y), dtype=object) for k in models}
    proba: dict[str, np.ndarray] = {}
    scores: dict[str, list[tuple[float, float]]] = {k: [] for k in models}
    classes = np.unique(y)
    for k, m in models.items():
        proba[k] = np.zeros((len(y), classes.size))
        t = time.time()
        for tr, te in cv.split(X, y):
            if m is None:
                rf = RandomForestClassifier(500, random_state=0, n_jobs=2).fit(Xbase[tr], y[tr])
                p = rf.predict_proba(Xbase[te])
            else:
                fitted = m.__class__(**m.get_params()).fit(X[tr], y[tr])
                p = fitted.predict_proba(X[te])
            proba[k][te] = p
            pred[k][te] = classes[p.argmax(1)]
            scores[k].append(
                (accuracy_score(y[te], pred[k][te]), f1_score(y[te], pred[k][te], average="macro"))
            )
        s = np.array(scores[k])
        ece = expected_calibration_error(y, proba[k], classes)
        print(
            f"{k:28s} OA {s[:, 0].mean():.3f} +- {s[:, 0].std():.3f}   "
            f"macro F1 {s[:, 1].mean():.3f} +- {s[:, 1].std():.3f}   ECE {ece:.3f}   "
            f"Brier {brier_score(y, proba[k], classes):.3f}   ({time.time() - t:.0f} s)",
            flush=True,
        )
    best = "agrilend (sigmoid)"
    f1s = f1_score(y, pred[best].astype(str), labels=classes, average=None)
    fb = f1_score(y, pred["baseline RF raw bands"].astype(str), labels=classes, average=None)
    print("\nper-class F1 (agrilend vs baseline, n parcels):")
    for c, a, b in zip(classes, f1s, fb, strict=True):
        print(f"  {c:40s} {a:.2f}  {b:.2f}  n={int((y == c).sum())}")
    conf = proba[best].max(1)
    hi = conf >= 0.8
    print(
        f"\nconfidence >= 0.8: {hi.mean():.0%} of parcels, "
        f"accuracy there {np.mean(pred[best][hi] == y[hi]):.3f}"
    )
    s = np.array(scores[best])
    print(
        "targets OA >= 0.78, macro F1 >= 0.62: "
        f"OA {s[:, 0].mean():.3f}, macro F1 {s[:, 1].mean():.3f}"
    )
    print("\n| model | OA (mean +- sd over folds) | macro F1 | ECE | Brier |")
    print("|---|---|---|---|---|")
    for k in models:
        s = np.array(scores[k])
        print(
            f"| {k} | {s[:, 0].mean():.3f} +- {s[:, 0].std():.3f} | "
            f"{s[:, 1].mean():.3f} +- {s[:, 1].std():.3f} | "
            f"{expected_calibration_error(y, proba[k], classes):.3f} | "
            f"{brier_score(y, proba[k], classes):.3f} |"
        )
    print(f"total {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
