"""``agrilend check`` on real-world inputs: counts per kind first, --layer, zipped GeoParquet,
implausible imagery values and a season the imagery cannot see."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (the .rio accessor)
import shapely
import xarray as xr
from click.testing import CliRunner

from agrilend.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["check", *args])
    return res.exit_code, res.stdout


def _titles(n_big: int = 30, n_sliver: int = 12) -> gpd.GeoDataFrame:
    """Parcels whose AREA_HA column holds m2 (all 30 disagree), plus a dozen slivers."""
    x = 500_000 + 100.0 * np.arange(n_big)
    geoms = list(shapely.box(x, 4_000_000, x + 50, 4_000_050))
    geoms += list(shapely.box(x[:n_sliver], 4_000_200, x[:n_sliver] + 4, 4_000_204))
    n = n_big + n_sliver
    return gpd.GeoDataFrame(
        {
            "parcel_id": [f"P{i}" for i in range(n)],
            "owner_id": [f"37010100{i % 5}" for i in range(n)],
            "declared_crop": ["maize"] * n,
            "AREA_HA": [2500.0] * n_big + [0.0016] * n_sliver,
        },
        geometry=geoms,
        crs="EPSG:32650",
    )


def test_counts_per_kind_come_first_so_a_unit_error_is_never_hidden(tmp_path: Path) -> None:
    path = tmp_path / "titles.gpkg"
    _titles().to_file(path, layer="titles")
    code, out = run("--titles", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("ERROR")
    assert "12 error under_one_pixel" in lines[1]
    assert "30 warning area_mismatch" in lines[1]
    shown = "\n".join(lines[2:])
    assert "ratio 10000" in shown  # an example of the m2-as-ha problem, not only slivers
    payload = json.loads(run("--titles", str(path), "--json")[1])
    counts = {c["kind"]: c["count"] for c in payload["inputs"][0]["counts"]}
    assert counts == {"under_one_pixel": 12, "area_mismatch": 30}


def test_layer_picks_one_of_several(tmp_path: Path) -> None:
    path = tmp_path / "registry.gpkg"
    _titles(3, 0).to_file(path, layer="parcels_2024")
    _titles(4, 0).to_file(path, layer="parcels_2023")
    code, out = run("--titles", str(path))
    assert code == 1
    assert "several layers" in out
    code, out = run("--titles", str(path), "--layer", "parcels_2023", "--json")
    res = json.loads(out)["inputs"][0]
    assert "4 titles" in res["summary"]


def test_a_zip_holding_geoparquet_is_read(tmp_path: Path) -> None:
    pq = tmp_path / "titles.parquet"
    _titles(5, 0).to_parquet(pq)
    zipped = tmp_path / "registry.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.write(pq, "export/titles.parquet")
    _, out = run("--titles", str(zipped), "--json")
    res = json.loads(out)["inputs"][0]
    assert "5 titles" in res["summary"]
    assert all(p["kind"] != "unreadable" for p in res["problems"])


def _cube(path: Path, start: str, end: str, *, red_shift: float = 0.0) -> Path:
    times = pd.date_range(start, end, freq="5D")
    rng = np.random.default_rng(1)
    shape = (len(times), 12, 12)
    red = rng.uniform(0.03, 0.08, shape) + red_shift
    ds = xr.Dataset(
        {
            "B04": (("time", "y", "x"), red.astype("float32")),
            "B08": (("time", "y", "x"), (red + 0.3).astype("float32")),
            "SCL": (("time", "y", "x"), np.full(shape, 4, "uint8")),
        },
        coords={
            "time": times,
            "y": 4_000_055.0 - 10 * np.arange(12),
            "x": 500_005.0 + 10 * np.arange(12),
        },
    ).rio.write_crs("EPSG:32650")
    ds.to_netcdf(path)
    return path


def test_a_january_to_april_cube_warns_every_parcel_will_be_early_season(tmp_path: Path) -> None:
    cube = _cube(tmp_path / "jan_apr.nc", "2024-01-03", "2024-04-28")
    code, out = run("--imagery", str(cube))
    assert code == 0  # a warning; --strict makes it fail
    assert "early-season" in out
    assert "summer_maize (Jul-Oct)" in out
    assert run("--imagery", str(cube), "--strict")[0] == 1
    full = _cube(tmp_path / "full.nc", "2024-01-03", "2024-12-28")
    assert "early-season" not in run("--imagery", str(full))[1]


def test_an_offset_applied_twice_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    cube = _cube(tmp_path / "twice.nc", "2024-05-01", "2024-06-01", red_shift=-0.1)
    code, out = run("--imagery", str(cube))
    assert code == 1
    assert "boa_offset='none'" in out
    res = json.loads(run("--imagery", str(cube), "--json")[1])["inputs"][0]
    assert [p["kind"] for p in res["problems"]] == ["implausible values"]


def test_imagery_summary_carries_the_value_check(tmp_path: Path) -> None:
    cube = _cube(tmp_path / "ok.nc", "2024-05-01", "2024-06-01")
    res = json.loads(run("--imagery", str(cube), "--json")[1])["inputs"][0]
    kinds = {p["kind"] for p in res["problems"]}
    assert "value_check" in kinds
    msg = next(p["message"] for p in res["problems"] if p["kind"] == "value_check")
    assert "B04" in msg
    assert "NDVI" in msg
