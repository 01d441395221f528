"""``agrilend train`` on (a small copy of) the sample county: declared crops or labels, JSON,
no overwriting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from agrilend.cli import train as train_cli
from agrilend.cli.main import cli
from agrilend.errors import InsufficientEvidenceError
from agrilend.yield_models import load_model
from tests.report._sample import small_county


@pytest.fixture(scope="module")
def sample(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (sample_data / "titles.gpkg").exists():
        pytest.skip("sample_data is not generated")
    return small_county(sample_data, tmp_path_factory.mktemp("county"))


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["train", *args])


@pytest.mark.slow
def test_train_on_declared_then_on_labels(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "crops.agm"
    base = ["--titles", str(sample / "titles.gpkg"), "--imagery", str(sample / "imagery.nc")]
    res = run(*base, "--out", str(out), "--folds", "3", "--json", "-q")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["trained_on"] == "declared_crops"
    assert 0.0 <= payload["accuracy"] <= 1.0
    assert sum(v["n"] for v in payload["per_crop"].values()) == payload["n_parcels"]
    model = load_model(out)
    assert sorted(model.classes_) == sorted(payload["per_crop"])

    again = run(*base, "--out", str(out))
    assert again.exit_code == 1
    assert "--overwrite" in again.stderr

    labels = tmp_path / "labels.csv"
    truth = pd.read_csv(sample / "truth.csv", dtype=str)
    truth[["parcel_id", "true_crop"]].to_csv(labels, index=False)
    res = run(*base, "--labels", str(labels), "--out", str(out), "--overwrite", "--folds", "3")
    assert res.exit_code == 0, res.output
    assert "out-of-fold accuracy" in res.stdout
    assert f"wrote {out}" in res.stdout


def test_labels_file_needs_its_columns(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("id,what\nA,maize\n", encoding="utf-8")
    with pytest.raises(Exception, match="needs a 'parcel_id' column"):
        train_cli.read_labels(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("parcel_id,crop\nA,maize\nA,rice\n", encoding="utf-8")
    with pytest.raises(Exception, match="labels parcel 'A' twice"):
        train_cli.read_labels(dup)


def test_training_labels_drop_small_crops_and_need_two() -> None:
    titles = pd.DataFrame(
        {"parcel_id": [f"P{i}" for i in range(13)],
         "declared_crop": ["maize"] * 6 + ["rice"] * 5 + ["cotton", ""]}
    )  # fmt: skip
    y = train_cli.training_labels(titles, None)
    assert sorted(y.unique()) == ["maize", "rice"]
    assert len(y) == 11
    labels = pd.Series(["maize"] * 6, index=[f"P{i}" for i in range(6)])
    with pytest.raises(InsufficientEvidenceError, match="at least two"):
        train_cli.training_labels(titles, labels)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("--titles", "t.gpkg", "--imagery", "c.nc").exit_code == 2  # no --out
    res = run("--help")
    assert res.exit_code == 0
    assert "Examples:" in res.stdout
    res = run("--titles", str(tmp_path / "t.gpkg"), "--imagery", "c.nc", "--out", "m.agm")
    assert res.exit_code == 1
    assert "t.gpkg" in res.stderr
