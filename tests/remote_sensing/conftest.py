"""Fixtures shared by the STAC tests: a small seeded source and its static COG catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from tests.remote_sensing._fake_sentinelhub import synthetic_source
from tests.remote_sensing._fake_stac import l2a_dn, write_catalog


@pytest.fixture(scope="module")
def synthetic() -> xr.Dataset:
    """A 4-date, 12 x 10 px source in EPSG:32650 with a cloud patch on the second date."""
    return synthetic_source(seed=3)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, synthetic: xr.Dataset) -> Path:
    """``synthetic`` as a static catalogue of COGs (``catalog.json``)."""
    return write_catalog(l2a_dn(synthetic), tmp_path_factory.mktemp("stac"))
