from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from agrilend.errors import OutputExistsError
from agrilend.outputs import atomic_write, write_json, write_parcels, write_table


def test_atomic_write_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"

    def half_write() -> None:
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        half_write()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with (
        pytest.raises(OutputExistsError, match="--overwrite"),
        atomic_write(target, overwrite=False),
    ):
        pass
    assert target.read_text() == "old"


def test_parcels_round_trip_with_nested_cells(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b"], "flags": [["x", "y"], []], "v": [1.5, 2.0]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
        crs="EPSG:32650",
    )
    for name in ("p.parquet", "p.gpkg"):
        path = write_parcels(gdf, tmp_path / name)
        back = gpd.read_file(path) if name.endswith("gpkg") else gpd.read_parquet(path)
        assert list(back["parcel_id"]) == ["a", "b"]
        assert json.loads(back["flags"].iloc[0]) == ["x", "y"]
        assert back.crs == gdf.crs


def test_table_and_json(tmp_path: Path) -> None:
    df = pd.DataFrame({"owner_ref": ["H-1"], "reasons": [[{"code": "AREA", "n": 1}]]})
    write_table(df, tmp_path / "h.csv")
    write_table(df, tmp_path / "h.parquet")
    assert pd.read_parquet(tmp_path / "h.parquet")["owner_ref"].tolist() == ["H-1"]
    write_json({"n": 3, "when": pd.Timestamp("2024-06-01")}, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["when"].startswith("2024-06-01")


def test_geopackage_has_parcels_and_households_with_real_numbers(tmp_path: Path) -> None:
    import pyogrio  # noqa: PLC0415

    from agrilend.outputs import write_geopackage  # noqa: PLC0415
    from tests.report import _fixtures  # noqa: PLC0415

    a, _ = _fixtures.build()
    path = write_geopackage(a.parcels, a.households, tmp_path / "p.gpkg")
    parcels = pyogrio.read_info(path, layer="parcels")
    types = dict(zip(parcels["fields"], parcels["dtypes"], strict=True))
    for col in ("crop_confidence", "vigour", "yield_t_ha", "cultivated_area_ha"):
        assert types[col] == "float64", col
    households = pyogrio.read_info(path, layer="households")
    assert households["features"] == len(a.households)
    assert households["geometry_type"] == "MultiPolygon"


def test_csv_has_a_byte_order_mark_for_excel(tmp_path: Path) -> None:
    path = write_table(pd.DataFrame({"reasons_zh": ["额度上限"]}), tmp_path / "h.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(path, encoding="utf-8-sig")["reasons_zh"].tolist() == ["额度上限"]


def test_household_outline_is_its_polygons_in_parcel_order() -> None:
    from shapely.geometry import MultiPolygon  # noqa: PLC0415

    from agrilend.outputs import household_areas  # noqa: PLC0415

    a, b, c, d = (box(i, 0, i + 1, 1) for i in range(4))
    parcels = gpd.GeoDataFrame(
        {"owner_ref": ["h2", "h1", "h2", "h3", "h2"]},
        geometry=[a, b, MultiPolygon([c, d]), None, box(9, 9, 10, 10)],
        crs="EPSG:32650",
    )
    households = pd.DataFrame({"owner_ref": ["h1", "h2", "h3", "h4"], "n": [1, 3, 1, 0]})
    out = household_areas(parcels, households)
    assert out["owner_ref"].tolist() == ["h1", "h2", "h3", "h4"]
    assert out.crs == parcels.crs
    assert out.geometry.iloc[0].equals_exact(MultiPolygon([b]), 0)
    # h2's parcels in row order, a MultiPolygon's parts in place
    assert out.geometry.iloc[1].equals_exact(MultiPolygon([a, c, d, box(9, 9, 10, 10)]), 0)
    assert out.geometry.iloc[2] is None  # a household whose only parcel has no outline
    assert out.geometry.iloc[3] is None  # a household without parcels here
