"""Fixtures of the reliability suite: one small county with bad parcels mixed in, assessed once."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from tests.reliability._builders import mixed_titles

#: The small county of the batch catalogue: 60 x 60 pixels hold 35 titles, enough declared
#: parcels of two crops for the out-of-fold crop model.
SIZE_PX = (60, 60)


@pytest.fixture(scope="session")
def small_cube() -> Any:
    from agrilend.testing import make_test_cube  # noqa: PLC0415

    return make_test_cube(seed=0, size_px=SIZE_PX)


@pytest.fixture(scope="session")
def small_titles() -> Any:
    from agrilend.testing import make_test_titles  # noqa: PLC0415

    return make_test_titles(seed=0, size_px=SIZE_PX)


@pytest.fixture(scope="session")
def mixed_batch(small_cube: Any, small_titles: Any) -> tuple[Any, Any, dict[str, set[str]]]:
    """``(assessment, titles, expected statuses of the bad ids)`` of the good and bad parcels."""
    from agrilend.assess import assess  # noqa: PLC0415
    from agrilend.errors import GeometryRepairedWarning  # noqa: PLC0415
    from agrilend.yield_models.yields import read_county_yields  # noqa: PLC0415
    from tests.conftest import SAMPLE_DATA  # noqa: PLC0415

    titles, expected = mixed_titles(small_titles, small_cube.rio.bounds())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeometryRepairedWarning)
        result = assess(
            small_cube, titles, county_yields=read_county_yields(SAMPLE_DATA / "county_yields.csv")
        )
    # the only warning the batch may give: invalid geometries were repaired (and which)
    kinds = {type(w.message) for w in caught}
    assert kinds <= {GeometryRepairedWarning}, kinds
    return result, titles, expected
