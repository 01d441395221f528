"""``agrilend check``: what is wrong with each input, exit codes, JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from agrilend.cli.main import cli

POLICY = Path(str(resources.files("agrilend.credit").joinpath("default_policy.toml")))


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["check", *args])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def titles(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {
            "parcel_id": ["A1", "A2", "A3"],
            "owner_id": ["370101001", "370101001", "370101002"],
            "declared_crop": ["maize", "maize", "soybean"],
            "area_ha": [1.0, 0.5, 0.01],
        },
        geometry=[box(0, 0, 100, 100), box(200, 0, 250, 100), box(400, 0, 405, 5)],
        crs="EPSG:32650",
    )
    path = tmp_path / "titles.gpkg"
    gdf.to_file(path, layer="titles")
    return path


def test_a_good_policy_passes() -> None:
    code, out, _ = run("--policy", str(POLICY))
    assert code == 0
    assert out.startswith("OK")
    code, out, _ = run("--policy", str(POLICY), "--json")
    payload = json.loads(out)
    assert payload["ok"] is True
    assert [i["input"] for i in payload["inputs"]] == ["policy"]


def test_a_broken_policy_fails_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("this is = = not toml\n", encoding="utf-8")
    code, out, _ = run("--policy", str(bad))
    assert code == 1
    assert "ERROR" in out
    assert "policy.toml" in out
    payload = json.loads(run("--policy", str(bad), "--json")[1])
    assert payload["ok"] is False
    assert payload["inputs"][0]["status"] == "error"
    assert payload["inputs"][0]["problems"][0]["message"]


def test_bad_subsidy_records_are_listed_by_record(tmp_path: Path) -> None:
    csv = tmp_path / "subsidies.csv"
    csv.write_bytes(
        "scheme,year,owner_id,parcel_id,area_mu,amount_cny\n"
        "耕地地力保护补贴,2024,370101001,A1,15,1500\n"
        "耕地地力保护补贴,2024,370101001,A2,7.5,-20\n".encode("gbk")
    )
    payload = json.loads(run("--subsidies", str(csv), "--json")[1])
    subs = payload["inputs"][0]
    assert subs["status"] == "error"
    assert subs["problems"][0]["where"] == "record 2"
    assert run("--subsidies", str(csv))[0] == 1


def test_titles_problems_are_per_parcel(titles: Path) -> None:
    code, out, _ = run("--titles", str(titles), "--json")
    assert code == 1  # the 5 m x 5 m parcel is under one pixel
    res = json.loads(out)["inputs"][0]
    assert res["input"] == "titles"
    errors = [p for p in res["problems"] if p["severity"] == "error"]
    assert [p["where"] for p in errors] == ["parcel A3"]
    assert "3 titles" in res["summary"]


def test_subsidies_are_matched_to_the_titles(titles: Path, tmp_path: Path) -> None:
    csv = tmp_path / "subsidies.csv"
    csv.write_text(
        "scheme,year,owner_id,parcel_id,area_mu,amount_cny\n"
        "耕地地力保护补贴,2024,370101001,A1,15,1500\n"
        "耕地地力保护补贴,2024,,ZZ9,3,300\n",
        encoding="utf-8",
    )
    payload = json.loads(run("--titles", str(titles), "--subsidies", str(csv), "--json")[1])
    subs = next(i for i in payload["inputs"] if i["input"] == "subsidies")
    assert subs["status"] == "warning"
    assert [p["where"] for p in subs["problems"]] == ["parcel ZZ9"]
    # warnings alone pass, unless --strict
    assert run("--subsidies", str(csv))[0] == 0
    assert run("--subsidies", str(csv), "--strict")[0] == 0  # no titles: nothing unmatched
    strict = run("--titles", str(titles), "--subsidies", str(csv), "--strict", "--json")
    assert strict[0] == 1


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    code, out, err = run("--policy", str(tmp_path / "nope.toml"))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "nope.toml" in err
    assert "Traceback" not in err


def test_help_has_examples_and_usage_errors_exit_2() -> None:
    res = CliRunner().invoke(cli, ["check", "--help"])
    assert res.exit_code == 0
    assert "Examples:" in res.stdout
    assert "agrilend check --titles" in res.stdout
    assert CliRunner().invoke(cli, ["check", "--no-such-option"]).exit_code == 2


@pytest.mark.slow
def test_the_installed_command_runs(tmp_path: Path) -> None:
    exe = shutil.which("agrilend") or str(Path(sys.executable).with_name("agrilend"))
    if not Path(exe).exists():
        pytest.skip("the agrilend command is not installed (pip install -e .)")
    ok = subprocess.run(
        [exe, "check", "--policy", str(POLICY), "-q"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [exe, "check", "--policy", str(tmp_path / "x.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error:")
    usage = subprocess.run([exe, "check", "--bogus"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
