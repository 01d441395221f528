"""The scan's titles file: what a worker reads is what the client read."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely import box

from agrilend.errors import ScanError
from agrilend.scan.parts import Chunk
from agrilend.scan.title_store import TITLES_FILE, read_titles, write_titles


def _titles(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "parcel_id": [f"p{i}" for i in range(n)],
            "owner_ref": [f"o{i % 3}" for i in range(n)],
            "declared_area_ha": np.linspace(0.1, 1.0, n),
            "declared_crop": ["maize", None, "rice", "wheat"] * (n // 4),
        },
        geometry=[box(i, 0, i + 0.5, 1) for i in range(n)],
        crs="EPSG:32650",
    )


def test_each_chunk_and_its_guests_read_back_as_the_titles_gave_them(tmp_path: Path) -> None:
    titles = _titles(12)
    titles.loc[5, "geometry"] = None  # a title without an outline stays one
    chunks = [Chunk("a", (0, 3, 7), (0, 1, 0, 1)), Chunk("b", (1, 2, 4, 5, 6), (0, 1, 1, 2)),
              Chunk("c", (8, 9, 10, 11), (0, 1, 2, 3))]  # fmt: skip
    path = tmp_path / TITLES_FILE
    write_titles(titles, chunks, path)
    for i, c in enumerate(chunks):
        assert_geodataframe_equal(
            read_titles(path, i, c), titles.iloc[list(c.rows)].reset_index(drop=True)
        )
    guests = (10, 2, 9)  # from two other chunks, in an order of their own
    got = read_titles(path, 0, chunks[0], guests)
    assert_geodataframe_equal(got, titles.iloc[[0, 3, 7, *guests]].reset_index(drop=True))


def test_a_column_of_mixed_values_is_kept_as_text(tmp_path: Path) -> None:
    titles = _titles(4)
    titles["DKLB"] = [1, "10", None, 2.5]  # what a hand-edited registry column can hold
    chunks = [Chunk("a", (0, 1, 2, 3), (0, 1, 0, 4))]
    write_titles(titles, chunks, tmp_path / TITLES_FILE)
    got = read_titles(tmp_path / TITLES_FILE, 0, chunks[0])
    assert got["DKLB"].tolist()[:2] == ["1", "10"]
    assert got["DKLB"].isna().tolist() == [False, False, True, False]


def test_titles_of_another_plan_are_refused_by_name(tmp_path: Path) -> None:
    titles = _titles(4)
    path = tmp_path / TITLES_FILE
    write_titles(titles, [Chunk("a", (0, 1), (0, 1, 0, 2)), Chunk("b", (2, 3), (0, 1, 2, 4))], path)
    with pytest.raises(ScanError, match=r"titles\.parquet.*do not hold chunk b"):
        read_titles(path, 0, Chunk("b", (2, 3), (0, 1, 2, 4)))
    with pytest.raises(ScanError, match="bug in agrilend"):
        write_titles(titles, [Chunk("a", (0, 1, 1), (0, 1, 0, 2))], path)
    path.write_bytes(b"not parquet")
    with pytest.raises(ScanError, match=r"cannot be read.*resume the scan"):
        read_titles(path, 0, Chunk("a", (0, 1), (0, 1, 0, 2)))
