"""The report on the real pipeline: ``assess`` on (a small copy of) the sample county.

These tests prove the page carries the pipeline's numbers, in both languages, and no raw
owner identifier of the registry.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from agrilend.inputs import InputFiles, load_inputs
from agrilend.pipeline import Assessment, assess
from agrilend.report import render_report
from tests.report import _sample
from tests.report._dom import figure_values, parse

pytestmark = pytest.mark.slow
GENERATED = dt.datetime(2025, 1, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def county(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (sample_data / "titles.gpkg").exists():
        pytest.skip("sample_data is not generated")
    return _sample.small_county(sample_data, tmp_path_factory.mktemp("county"))


@pytest.fixture(scope="module")
def real(county: Path, monkeypatch_module: pytest.MonkeyPatch) -> tuple[Assessment, xr.Dataset]:
    monkeypatch_module.setenv("AGRILEND_SAMPLE_DATA", str(county))
    files = InputFiles.sample()
    inputs = load_inputs(files)
    result = assess(inputs)
    result.provenance.setdefault("inputs", files.describe())
    return result, inputs.cube


@pytest.fixture(scope="module")
def monkeypatch_module() -> pytest.MonkeyPatch:
    mp = pytest.MonkeyPatch()
    yield mp  # type: ignore[misc]
    mp.undo()


@pytest.fixture(scope="module")
def household(real: tuple[Assessment, xr.Dataset]) -> str:
    hh = real[0].households
    return str(
        hh.sort_values(["n_parcels", "owner_ref"], ascending=[False, True]).iloc[0]["owner_ref"]
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_carries_the_pipeline_numbers(
    real: tuple[Assessment, xr.Dataset], household: str, lang: str, tmp_path: Path
) -> None:
    assessment, cube = real
    out = render_report(assessment, household, cube=cube, lang=lang, out=tmp_path / "r.html",
                        generated=GENERATED)  # type: ignore[arg-type]  # fmt: skip
    assert isinstance(out, Path)
    html = out.read_text(encoding="utf-8")
    hh = assessment.households.set_index("owner_ref").loc[household]
    for name in ("credit_line", "expected_revenue", "input_cost", "subsidy_income"):
        assert figure_values(html, name) == [pytest.approx(float(hh[name]))], name
    assert figure_values(html, "tenor_months") == [float(hh["tenor_months"])]
    mine = assessment.parcels[assessment.parcels["owner_ref"] == household]
    for col in ("yield_t_ha", "cultivated_area_ha", "crop_confidence"):
        np.testing.assert_allclose(figure_values(html, col), mine[col].to_numpy(float), err_msg=col)
    p = parse(html)
    maps = [i.get("data-map") for i in p.images if i.get("data-map")]
    assert maps == ["rgb", "ndvi", "overview"]
    assert [i.get("data-curve") for i in p.images if i.get("data-curve")] == list(mine["parcel_id"])
    # provenance: the input files with their checksums
    for name, info in assessment.provenance["inputs"].items():
        assert info["checksum"] in html, name


def test_no_raw_owner_id_reaches_any_report(
    real: tuple[Assessment, xr.Dataset], sample_data: Path
) -> None:
    assessment, _ = real
    raw = _sample.raw_owner_ids(sample_data)
    for owner in assessment.households["owner_ref"].iloc[:3]:
        html = render_report(assessment, owner, lang="zh", generated=GENERATED)
        assert isinstance(html, str)
        assert owner in html
        # as a whole number: parcel codes (19 digits) start with their village's code digits
        numbers = set(re.findall(r"(?<!\d)\d{18}(?!\d)", html))
        assert not numbers & raw
