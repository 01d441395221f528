"""A county scanned straight from a STAC search: searched once, frozen, read window by window.

The county's imagery is written as a catalogue of Cloud-Optimised GeoTIFFs (one item per date,
Earth Search asset names, raster extension) served by a fake STAC API on 127.0.0.1; the scan
of that search must equal the scan of the same imagery as a local file, parcel for parcel.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from agrilend.inputs import InputFiles
from agrilend.scan import load_context, scan
from tests._scan_county import make_county, make_light_context
from tests.remote_sensing._fake_stac import FakeStacApi, write_catalog

pytestmark = [
    pytest.mark.slow,
    # assess._peer_curves: nanquantile over dates no parcel of a small crop observed
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
    # odc-geo multiplies Affine objects with `*` while dask computes the windows
    pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning"),
]

CHUNK = 48


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path, Path]:
    root = tmp_path_factory.mktemp("stac-county")
    files = make_county(root / "county", size=80, seed=21)
    with xr.open_dataset(files.imagery, decode_coords="all") as opened:
        raw = opened.load()
    catalog = write_catalog(raw, root / "stac")
    return files, catalog, make_light_context(files, root / "ctx")


def _spec(folder: Path, catalogue: str, files: InputFiles) -> Path:
    with xr.open_dataset(files.imagery) as raw:
        times = pd.DatetimeIndex(raw["time"].values)
    path = folder / "imagery.toml"
    path.write_text(
        f'[stac]\ncatalogue = "{catalogue}"\nstart = {times.min():%Y-%m-%d}\n'
        f"end = {times.max():%Y-%m-%d}\n",
        encoding="utf-8",
    )
    return path


def _parcels(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "parcels.parquet").drop(columns=["geometry"])
    return frame.sort_values("parcel_id").reset_index(drop=True)


def test_a_stac_search_scans_like_the_local_cube_and_resumes_without_searching(
    county: tuple[InputFiles, Path, Path], tmp_path: Path
) -> None:
    files, catalog, ctx = county
    local = scan(
        files, tmp_path / "local", workers=0, chunk_size_px=CHUNK, context=load_context(ctx)
    )
    with FakeStacApi(catalog) as api:
        stac_files = dataclasses.replace(files, imagery=_spec(tmp_path, api.url, files))
        out = tmp_path / "from-stac"
        remote = scan(stac_files, out, workers=0, chunk_size_px=CHUNK, context=load_context(ctx))
        searches = api.hits["/search"]
        assert searches >= 1
        assert (out / "imagery_items.json").exists()
        # a lost part is computed again from the frozen items: no new search
        part = sorted((out / "parts").glob("*.parquet"))[0]
        part.unlink()
        (out / "manifest.json").unlink()
        again = scan(
            stac_files, out, workers=0, chunk_size_px=CHUNK, resume=True, context=load_context(ctx)
        )
        assert api.hits["/search"] == searches
        assert again.computed == 1
    assert remote.summary["parcels"] == local.summary["parcels"]
    # reflectance is scaled in float32 by odc-stac's path and by open_cube's, in a different
    # order: numbers agree to float32 precision; every label, flag and decision exactly
    pd.testing.assert_frame_equal(
        _parcels(out), _parcels(tmp_path / "local"), check_exact=False, rtol=1e-5, atol=1e-6
    )
    assert remote.summary["decisions"] == local.summary["decisions"]
