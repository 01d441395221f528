"""Generated counties for the scan tests (cached per test session), and a light crop model.

The scan's county step trains a calibrated 300-tree forest out of fold, which dominates a small
test's time; the tests that exercise the scan machinery (kill, resume, distribution) pass a
county context holding a small forest instead, fitted here on the county's own curves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from agrilend.inputs import InputFiles

REPO = Path(__file__).resolve().parents[1]


def make_county(folder: Path, *, size: int, seed: int = 5) -> InputFiles:
    """A synthetic county of ``size`` x ``size`` pixels (10-day revisit) with every input."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415

    paths = generate_county(
        folder,
        seed=seed,
        size_px=(size, size),
        revisit_days=10,
        weather_start="2014-01-01",
        fine=2,
        overwrite=True,
    )
    for name in ("titles_mapping.toml", "policy.toml"):
        shutil.copy(REPO / "sample_data" / name, folder / name)
    return InputFiles(
        titles=paths["titles.gpkg"],
        imagery=paths["imagery.nc"],
        weather=paths["weather.csv"],
        subsidies=paths["subsidies.csv"],
        policy=folder / "policy.toml",
        county_yields=paths["county_yields.csv"],
        titles_mapping=folder / "titles_mapping.toml",
    )


def make_light_context(files: InputFiles, folder: Path) -> Path:
    """Save a county context with a small crop forest trained on the county's declarations."""
    from agrilend.assess import CountyContext, gather_evidence  # noqa: PLC0415
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.scan import save_context  # noqa: PLC0415
    from agrilend.yield_models import CropTypeClassifier  # noqa: PLC0415

    inputs = load_inputs(files)
    titles = inputs.titles.iloc[:200]
    evidence = gather_evidence(inputs.cube, titles)
    ok = (evidence.parcels["status"] != "error").to_numpy()
    declared = evidence.parcels["declared_crop"].fillna("").astype(str).to_numpy()
    keep = ok & (declared != "")
    model = CropTypeClassifier(
        times=pd.DatetimeIndex(evidence.times), n_estimators=20, calibration=None
    ).fit(evidence.ndvi[keep], np.asarray(declared[keep]))
    return save_context(CountyContext(crop_model=model), folder)


def cli_args(files: InputFiles, out: Path) -> list[str]:
    """``agrilend scan`` arguments for ``files`` into ``out``."""
    assert files.weather
    assert files.subsidies
    assert files.policy
    assert files.county_yields
    assert files.titles_mapping
    return [
        "scan",
        "--titles", str(files.titles), "--mapping", str(files.titles_mapping),
        "--imagery", str(files.imagery), "--weather", str(files.weather),
        "--subsidies", str(files.subsidies), "--policy", str(files.policy),
        "--yields", str(files.county_yields), "--out", str(out),
    ]  # fmt: skip
