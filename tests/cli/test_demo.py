"""``agrilend demo``: the whole path on the sample county, as a new user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from agrilend.cli.main import cli


def test_demo_writes_every_output(demo_run: dict[str, object]) -> None:
    out = Path(str(demo_run["out"]))
    names = {p.name for p in out.iterdir()}
    assert {"parcels.parquet", "parcels.gpkg", "households.parquet", "households.csv"} <= names
    assert "manifest.json" in names
    assert any(n.startswith("report-H-") and n.endswith(".html") for n in names)
    parcels = gpd.read_parquet(out / "parcels.parquet")
    assert parcels.crs is not None
    assert parcels.crs.to_epsg() == 32650
    households = pd.read_parquet(out / "households.parquet")
    assert households["owner_ref"].is_unique
    assert not list(out.glob(".tmp-*"))  # no temporary file left behind


def test_demo_summary_matches_the_outputs(demo_run: dict[str, object]) -> None:
    out = Path(str(demo_run["out"]))
    summary = demo_run["summary"]
    assert isinstance(summary, dict)
    households = pd.read_parquet(out / "households.parquet")
    parcels = gpd.read_parquet(out / "parcels.parquet")
    assert summary["parcels"] == len(parcels)
    assert summary["households"] == len(households)
    assert sum(summary["decisions"].values()) == len(households)
    approved = households["decision"] == "approve"
    assert abs(summary["total_credit"] - households.loc[approved, "credit_line"].sum()) < 1e-6
    referred = households["decision"] == "refer"
    assert abs(summary["referred_credit"] - households.loc[referred, "credit_line"].sum()) < 1e-6
    assert summary["crop_mismatches"] == int(parcels["crop_mismatch"].sum())
    truth = summary["truth"]
    assert truth["crop_accuracy"] >= 0.8
    assert truth["area_mae_relative"] <= 0.12


def test_demo_manifest_names_inputs_and_versions(demo_run: dict[str, object]) -> None:
    manifest = json.loads((Path(str(demo_run["out"])) / "manifest.json").read_text())
    assert {"titles", "imagery", "weather", "subsidies", "policy"} <= set(manifest["inputs"])
    assert all(v["checksum"].startswith("sha256:") for v in manifest["inputs"].values())
    assert manifest["policy_version"]
    assert manifest["model_version"]
    assert len(manifest["imagery_dates"]) == 73


def test_demo_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 1
    assert "--overwrite" in result.output
    assert "Traceback" not in result.output
    assert (out / "keep.txt").read_text() == "mine"


def test_demo_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "agrilend demo" in result.output


def test_console_summary_speaks_words_not_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from agrilend.cli.demo import _print_summary  # noqa: PLC0415

    _print_summary(
        {
            "out": "agrilend-out", "parcels": 484, "parcels_with_error": 11, "households": 164,
            "decisions": {"approve": 150, "refer": 8, "decline": 6},
            "total_credit": 4.2e6, "currency": "CNY", "crop_mismatches": 33,
            "area_flags": {"partly_abandoned": 27, "not_cultivated": 22, "over_declared": 16},
            "report": "agrilend-out/report.html",
        }
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "refer to an officer 8" in out
    assert "partly abandoned 27" in out
    for code in ("partly_abandoned", "not_cultivated", "over_declared"):
        assert code not in out
