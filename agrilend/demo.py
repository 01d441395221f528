"""The demo: the whole path on the embedded sample county, scored against the generator's truth."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from agrilend.credit.sizing import credit_totals
from agrilend.inputs import InputFiles, load_inputs, sample_data_dir
from agrilend.manifest import write_manifest
from agrilend.outputs import write_geopackage, write_parcels, write_table
from agrilend.pipeline import Assessment, assess

log = logging.getLogger(__name__)


def score_against_truth(result: Assessment, truth: pd.DataFrame) -> dict[str, float]:
    """How right the pipeline is on the synthetic county (the truth is the generator's record).

    Returns the crop accuracy (observed crop vs true crop, usable parcels), the share of
    mis-declared parcels flagged as a crop mismatch, the share of correctly declared parcels
    wrongly flagged, and the mean absolute error of the cultivated area (ha and relative).
    """
    p = result.parcels.set_index(result.parcels["parcel_id"].astype(str))
    t = truth.set_index(truth["parcel_id"].astype(str)).reindex(p.index)
    usable = (p["status"] != "error").to_numpy()
    crop_ok = (p["crop"].astype(str) == t["true_crop"].astype(str)).to_numpy()
    mis = t["misdeclared"].astype(bool).to_numpy()
    flagged = p["crop_mismatch"].astype(bool).to_numpy()
    area_err = np.abs(
        p["cultivated_area_ha"].to_numpy(float) - t["true_cultivated_area_ha"].to_numpy(float)
    )
    true_area = t["true_cultivated_area_ha"].to_numpy(float)
    return {
        "crop_accuracy": float(crop_ok[usable].mean()),
        "misdeclared_caught": float(flagged[usable & mis].mean())
        if (usable & mis).any()
        else float("nan"),
        "false_mismatch_rate": float(flagged[usable & ~mis].mean()),
        "area_mae_ha": float(np.nanmean(area_err[usable])),
        "area_mae_relative": float(np.nansum(area_err[usable]) / np.nansum(true_area[usable])),
    }


def run_demo(
    out_dir: str | Path,
    *,
    lang: Literal["en", "zh"] = "en",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run :func:`agrilend.assess` on the sample county and write its outputs to ``out_dir``.

    Writes ``parcels.parquet`` (GeoParquet), ``parcels.gpkg``, ``households.parquet`` and
    ``households.csv``, ``manifest.json`` and ``report-<household>.html``; returns a summary.
    """
    from agrilend.report import render_report  # noqa: PLC0415  (matplotlib: import when needed)

    say = progress or (lambda _: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say("loading the sample county")
    files = InputFiles.sample()
    inputs = load_inputs(files)
    result = assess(inputs, progress=say)

    say("writing outputs")
    write_parcels(result.parcels, out / "parcels.parquet", overwrite=True)
    write_geopackage(result.parcels, result.households, out / "parcels.gpkg", overwrite=True)
    write_table(result.households, out / "households.parquet", overwrite=True)
    write_table(result.households, out / "households.csv", overwrite=True)
    write_manifest(out / "manifest.json", files=files, provenance=result.provenance)

    hh = result.households
    example = _example_household(result)
    say("rendering a report")
    report = render_report(
        result,
        example,
        cube=inputs.cube,
        lang=lang,
        out=out / f"report-{example}.html",
    )

    parcels = result.parcels
    credit = credit_totals(hh)
    summary: dict[str, Any] = {
        "out": str(out),
        "parcels": len(parcels),
        "parcels_with_error": int((parcels["status"] == "error").sum()),
        "households": len(hh),
        "decisions": {str(k): int(v) for k, v in hh["decision"].value_counts().items()},
        "total_credit": credit["approved"],  # approved lines only
        "referred_credit": credit["referred"],  # proposed, a person decides
        "currency": str(hh["currency"].iloc[0]) if len(hh) else "",
        "crop_mismatches": int(parcels["crop_mismatch"].astype(bool).sum()),
        "area_flags": {
            str(k): int(v)
            for k, v in parcels["area_flag"].value_counts().items()
            if str(k) not in {"ok", "unknown"}
        },
        "report": str(report),
    }
    truth_path = sample_data_dir() / "truth.csv"
    if truth_path.exists():
        summary["truth"] = score_against_truth(
            result, pd.read_csv(truth_path, dtype={"parcel_id": str})
        )
    return summary


def _example_household(result: Assessment) -> str:
    """A household worth showing: the one with the most parcels among those with a flag."""
    parcels = result.parcels
    flagged = set(parcels.loc[parcels["status"] == "flagged", "owner_ref"].astype(str))
    hh = result.households.copy()
    hh["_flagged"] = hh["owner_ref"].astype(str).isin(flagged)
    hh = hh.sort_values(["_flagged", "n_parcels", "owner_ref"], ascending=[False, False, True])
    return str(hh["owner_ref"].iloc[0])


__all__ = ["run_demo", "score_against_truth"]
