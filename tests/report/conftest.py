"""Fixtures of the report tests: a hand-built assessment and its rendered pages."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr

from agrilend.pipeline import Assessment
from agrilend.report import render_report
from agrilend.report._chromium import Chromium, find_chromium
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """Headless Chromium for the tests that look at pages as a person does (marker
    ``browser``): skipped with a reason when it is not installed, required when ``CI=true``."""
    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("Chromium is required in CI (CI=true) but was not found")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk)")
    with Chromium(exe) as b:
        yield b
