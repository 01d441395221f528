"""Fixtures of the report tests: a hand-built assessment and its rendered pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xarray as xr

from agrilend.pipeline import Assessment
from agrilend.report import render_report
from tests.report import _fixtures

#: The report's time stamp is fixed so pages are comparable run to run.
GENERATED = dt.datetime(2024, 12, 20, 8, 0, tzinfo=dt.UTC)
HOUSEHOLD = _fixtures.OWNERS[0]


@pytest.fixture(scope="session")
def built() -> tuple[Assessment, xr.Dataset]:
    """The fixture assessment and cube."""
    return _fixtures.build()


@pytest.fixture(scope="session")
def pages(
    built: tuple[Assessment, xr.Dataset], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The first household's report, rendered once per language."""
    assessment, cube = built
    out = tmp_path_factory.mktemp("reports")
    paths = {}
    for lang in ("en", "zh"):
        p = render_report(
            assessment,
            HOUSEHOLD,
            cube=cube,
            lang=lang,  # type: ignore[arg-type]
            out=out / f"report_{lang}.html",
            generated=GENERATED,
        )
        assert isinstance(p, Path)
        paths[lang] = p
    return paths
