"""Generated counties for the scan tests (cached per test session), and a light crop model.

The scan's county step trains a calibrated 300-tree forest out of fold, which dominates a small
test's time; the tests that exercise the scan machinery (kill, resume, distribution) pass a
county context holding a small forest instead, fitted here on the county's own curves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.inputs import InputFiles

REPO = Path(__file__).resolve().parents[1]


#: Side (pixels) of the imagery's storage tiles in the test counties.
TILE_PX = 64


def make_county(folder: Path, *, size: int, seed: int = 5) -> InputFiles:
    """A synthetic county of ``size`` x ``size`` pixels (10-day revisit) with every input.

    The imagery is stored in spatial tiles (:data:`TILE_PX`, every date in a tile), as a county
    cube in Zarr or tiled GeoTIFF would be: the generator writes one whole frame per date and
    band, which makes every chunk of a scan decode the whole county (reading was 80 % of a
    scan's time). The values are the same.
    """
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
    _tile_imagery(paths["imagery.nc"], TILE_PX)
    return InputFiles(
        titles=paths["titles.gpkg"],
        imagery=paths["imagery.nc"],
        weather=paths["weather.csv"],
        subsidies=paths["subsidies.csv"],
        policy=folder / "policy.toml",
        county_yields=paths["county_yields.csv"],
        titles_mapping=folder / "titles_mapping.toml",
    )


def _tile_imagery(path: Path, tile: int) -> None:
    """Rewrite a NetCDF cube in place with spatial storage tiles (raw values and attributes
    kept: read without CF decoding, written back with the same attributes)."""
    import xarray as xr  # noqa: PLC0415

    with xr.open_dataset(path, decode_cf=False) as ds:
        raw = ds.load()
    encoding = {
        name: {
            "zlib": True,
            "complevel": 1,
            "shuffle": True,
            "chunksizes": (var.sizes["time"], min(tile, var.sizes["y"]), min(tile, var.sizes["x"])),
        }
        for name, var in raw.data_vars.items()
        if var.dims == ("time", "y", "x")
    }
    tmp = path.with_name(f".tmp-{path.name}")
    raw.to_netcdf(tmp, encoding=encoding)
    tmp.replace(path)


def make_light_context(files: InputFiles, folder: Path) -> Path:
    """Save a county context with a small crop forest trained on the county's declarations."""
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.pipeline import CountyContext, gather_evidence  # noqa: PLC0415
    from agrilend.scan import save_context  # noqa: PLC0415
    from agrilend.yield_models import CropTypeClassifier  # noqa: PLC0415

    inputs = load_inputs(files)
    titles = inputs.titles.iloc[:200]
    evidence = gather_evidence(inputs.cube, titles)
    ok = (evidence.parcels["status"] != "error").to_numpy()
    declared = evidence.parcels["declared_crop"].fillna("").astype(str).to_numpy()
    keep = ok & (declared != "")
    times: Any = pd.DatetimeIndex(evidence.times)  # a sequence of dates
    model = CropTypeClassifier(times=times, n_estimators=20, calibration=None).fit(
        evidence.ndvi[keep], np.asarray(declared[keep])
    )
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
