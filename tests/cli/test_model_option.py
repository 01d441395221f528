"""``--model`` on ``agrilend scan`` and ``agrilend report``: a file from ``agrilend train`` is
the crop model the pipeline uses; a file that is not a crop model is refused."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from agrilend.cli import report as report_cli
from agrilend.cli._crop_model import with_crop_model
from agrilend.cli.main import cli
from agrilend.errors import ModelVersionError
from agrilend.pipeline import CountyContext
from agrilend.yield_models import CropTypeClassifier, save_model


class _Stop(Exception):
    """Raised by the fakes once they have seen what the command passed on."""


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = pd.date_range("2024-03-01", "2024-10-31", freq="10D")
    rng = np.random.default_rng(0)
    X = rng.random((20, t.size))
    y = ["maize"] * 10 + ["soybean"] * 10
    model = CropTypeClassifier(times=t, n_estimators=5).fit(X, y)
    return save_model(model, tmp_path_factory.mktemp("m") / "crops.agm")


def test_with_crop_model_replaces_only_the_model(model_file: Path) -> None:
    county = CountyContext(county_yields={"maize": 7.0})
    got = with_crop_model(county, model_file)
    assert isinstance(got.crop_model, CropTypeClassifier)
    assert got.county_yields == {"maize": 7.0}
    assert county.crop_model is None  # the caller's context is left as it was
    assert with_crop_model(None, model_file).crop_model is not None


def test_a_file_that_is_not_a_crop_model_is_refused(tmp_path: Path) -> None:
    other = save_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "lr.agm")
    with pytest.raises(ModelVersionError, match="CropTypeClassifier"):
        with_crop_model(None, other)


def test_scan_takes_the_model(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_scan(files: Any, out: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise _Stop

    scan_pkg = importlib.import_module("agrilend.scan")
    monkeypatch.setattr(scan_pkg, "scan", fake_scan)
    res = CliRunner().invoke(
        cli, ["scan", "--out", str(tmp_path / "o"), "--model", str(model_file)]
    )
    assert isinstance(res.exception, _Stop)
    assert isinstance(seen["context"].crop_model, CropTypeClassifier)
    assert list(seen["context"].crop_model.classes_) == ["maize", "soybean"]


def test_report_passes_the_model_on(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(files: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(report_cli, "run_assessment", fake_run)
    # the id is checked against the titles before anything heavy: this one is taken as known
    monkeypatch.setattr(report_cli, "check_id", lambda files, target: target)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["report", "H-000000000000", "--model", str(model_file)])
    assert isinstance(res.exception, _Stop)
    assert Path(seen["model"]) == model_file
