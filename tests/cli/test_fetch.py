"""``agrilend fetch``: Sentinel Hub and STAC into a local cube, against fakes on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner
from sentinelhub import SHConfig

from agrilend.cli.main import cli
from tests.remote_sensing._fake_sentinelhub import FakeSentinelHub, synthetic_source
from tests.remote_sensing._fake_stac import FakeStacApi, write_catalog

CLIENT_ID = "cli-test-client"
SECRET = "canary-cli-8d1e0b55-never-log-me"
BBOX = "500000,3999880,500100,4000000"
SEASON = ["--start", "2024-05-01", "--end", "2024-05-31"]


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["fetch", *args])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AGRILEND_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    monkeypatch.delenv("SH_PROFILE", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeSentinelHub]:
    with FakeSentinelHub(synthetic_source(), client_id=CLIENT_ID, client_secret=SECRET) as f:
        SHConfig(
            use_defaults=True,
            sh_base_url=f.url,
            sh_token_url=f"{f.url}/oauth/token",
            download_sleep_time=0.01,
        ).save("fake")
        yield f


def _sh(out: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        "sentinelhub", "--bbox", BBOX, "--crs", "EPSG:32650", *SEASON, "--profile", "fake",
        "--out", str(out), *extra,
    )  # fmt: skip


def test_help_has_examples() -> None:
    for args in ([], ["sentinelhub"], ["stac"]):
        code, out, _ = run(*args, "--help")
        assert code == 0
        assert "Examples:" in out
    group = cli.get_command(click.Context(cli), "fetch")
    assert isinstance(group, click.Group)
    for sub in group.commands.values():  # credentials are never options
        names = [o for p in sub.params for o in getattr(p, "opts", [])]
        assert not [n for n in names if "secret" in n or "client" in n or "token" in n]


def test_sentinelhub_to_netcdf_with_json(fake: FakeSentinelHub, tmp_path: Path) -> None:
    out = tmp_path / "cube.nc"
    code, stdout, stderr = _sh(out, "--json")
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["dates"] == 4
    assert payload["crs"] == "EPSG:32650"
    assert (payload["width"], payload["height"]) == (10, 12)
    with xr.open_dataset(out, decode_coords="all") as cube:
        np.testing.assert_allclose(cube["B04"].values, fake.source["B04"].values / 1e4, rtol=1e-6)
        assert cube["valid"].dtype == bool
        assert cube.rio.crs.to_epsg() == 32650


def test_no_overwrite_without_the_flag(fake: FakeSentinelHub, tmp_path: Path) -> None:
    out = tmp_path / "cube.nc"
    assert _sh(out)[0] == 0
    before = out.read_bytes()
    code, _, stderr = _sh(out)
    assert code == 1
    assert "already exists" in stderr
    assert "--overwrite" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert out.read_bytes() == before
    code, stdout, _ = _sh(out, "--overwrite")
    assert code == 0
    assert stdout.startswith("wrote")


def test_zarr_output(fake: FakeSentinelHub, tmp_path: Path) -> None:
    out = tmp_path / "cube.zarr"
    code, _, stderr = _sh(out, "-q")
    assert code == 0, stderr
    with xr.open_zarr(out) as cube:
        assert cube.sizes["time"] == 4


def test_area_from_titles(fake: FakeSentinelHub, tmp_path: Path) -> None:
    titles = tmp_path / "titles.gpkg"
    gpd.GeoDataFrame(
        {"DKBM": ["1"], "CBFMC": ["personal name"]},
        geometry=[shapely.box(500_010, 3_999_900, 500_060, 3_999_950)],
        crs="EPSG:32650",
    ).to_file(titles, layer="titles")
    out = tmp_path / "cube.nc"
    code, stdout, stderr = run(
        "sentinelhub", "--titles", str(titles), *SEASON, "--profile", "fake",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert (json.loads(stdout)["width"], json.loads(stdout)["height"]) == (5, 5)


def test_missing_credentials_one_line(
    fake: FakeSentinelHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SH_CLIENT_SECRET")
    code, _, stderr = _sh(tmp_path / "cube.nc")
    assert code == 1
    assert stderr.startswith("Error: Sentinel Hub credentials are missing")
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cube.nc").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    out = str(tmp_path / "cube.nc")
    assert run("sentinelhub", *SEASON, "--out", out)[0] == 2  # no area
    assert run("sentinelhub", "--bbox", "1,2,3", *SEASON, "--out", out)[0] == 2
    assert run("sentinelhub", "--bbox", BBOX, *SEASON, "--out", str(tmp_path / "c.tif"))[0] == 2
    assert run("sentinelhub", "--bbox", BBOX, *SEASON, "--out", out, "--client-secret", "x")[0] == 2
    assert run("stac", "--bbox", BBOX, *SEASON, "--out", out)[0] == 2  # neither --url nor --catalog


def test_stac_catalog_and_api(tmp_path: Path) -> None:
    src = synthetic_source(seed=5)
    dn = src.copy()
    for b in ("B02", "B03", "B04", "B08"):
        dn[b] = dn[b].where(dn[b] == 0, dn[b] + 1000).astype("uint16")
    catalog = write_catalog(dn, tmp_path / "stac")
    common = ["--bbox", BBOX, "--crs", "EPSG:32650", *SEASON]
    code, stdout, stderr = run(
        "stac", "--catalog", str(catalog), *common, "--out", str(tmp_path / "a.nc"), "--json"
    )
    assert code == 0, stderr
    assert json.loads(stdout)["dates"] == 4
    with FakeStacApi(catalog) as api:
        code, stdout, stderr = run(
            "stac", "--url", api.url, *common, "--out", str(tmp_path / "b.nc"), "--json"
        )
    assert code == 0, stderr
    with (
        xr.open_dataset(tmp_path / "a.nc", decode_coords="all") as a,
        xr.open_dataset(tmp_path / "b.nc", decode_coords="all") as b,
    ):
        sub = b.sel(x=a["x"], y=a["y"])
        np.testing.assert_allclose(sub["B04"].values, a["B04"].values)
        np.testing.assert_allclose(a["B04"].values, src["B04"].values / 1e4, atol=1e-6)


def test_canary_secret_not_in_any_output(
    fake: FakeSentinelHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ok_code, ok_out, ok_err = _sh(tmp_path / "ok.nc", "-vv", "--json")
    fake.script = [500] * 20
    bad_code, bad_out, bad_err = _sh(tmp_path / "bad.nc", "-vv", "--no-cache")
    assert ok_code == 0
    assert bad_code == 1
    assert "Traceback" in caplog.text or "Traceback" in bad_err  # -v shows the traceback
    for text in (ok_out, ok_err, bad_out, bad_err, caplog.text):
        assert SECRET not in text
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p
