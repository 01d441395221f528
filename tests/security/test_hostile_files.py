"""Hostile files that crashed, hung or exhausted memory (defects 6-11, 13-15 and weaknesses).

Each is made here, small on disk; each must end quickly in a typed agrilend error naming the
input (and, for limits, the variable that raises the limit).
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
import zipfile
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agrilend._limits import limit
from agrilend.cli.main import cli
from agrilend.credit import load_policy
from agrilend.errors import (
    AgrilendError,
    ImageryReadError,
    InputPathError,
    ModelVersionError,
    PolicyError,
    ResourceLimitError,
    ScanError,
    TableReadError,
    TitleMappingError,
)
from agrilend.parcels import TitleMapping, read_titles
from agrilend.remote_sensing import load_stac, open_cube, read_imagery_spec
from agrilend.yield_models.persistence import load_model
from agrilend.yield_models.weather import read_weather
from tests.security._hostile import (
    box_wkb,
    closed_port,
    geoparquet_with_wkb,
    huge_tiff_header,
    nested_collection_wkb,
    silent_port,
    titles,
    zip_with_zeros,
)

KEY = "security-tests-pseudonym-key"

# --- 6. geometry nested 100,000 deep (SIGSEGV in GEOS) ------------------------------------------


def test_deeply_nested_geometry_collection_is_refused_before_geos(tmp_path: Path) -> None:
    blob = nested_collection_wkb(100_000)
    path = geoparquet_with_wkb(tmp_path / "titles.parquet", [box_wkb(), blob])
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ResourceLimitError, match=r"row 1.*AGRILEND_MAX_NESTING"):
        read_titles(path, key=KEY)


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_nesting_hidden_inside_a_multipolygon_member_is_refused(tmp_path: Path, order: str) -> None:
    import struct  # noqa: PLC0415

    mark = b"\x01" if order == "<" else b"\x00"
    inner = nested_collection_wkb(60_000)
    multi = mark + struct.pack(order + "II", 6, 1) + inner  # a "polygon" that is a collection
    blobs = [box_wkb()] * 50 + [multi] + [box_wkb()] * 50
    path = geoparquet_with_wkb(tmp_path / "titles.parquet", blobs)
    with pytest.raises(ResourceLimitError, match="row 50"):
        read_titles(path, key=KEY)


def test_plain_wkb_parquet_with_nested_geometry_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    path = tmp_path / "titles.parquet"
    pq.write_table(pa.table({"geometry": [nested_collection_wkb(50_000)]}), path)
    with pytest.raises(ResourceLimitError, match="nested"):
        read_titles(path, key=KEY)


def test_check_survives_the_nested_geometry(tmp_path: Path) -> None:
    path = geoparquet_with_wkb(tmp_path / "titles.parquet", [nested_collection_wkb(100_000)])
    result = CliRunner().invoke(cli, ["check", "--titles", str(path)])
    assert result.exit_code == 1, result.output
    assert "AGRILEND_MAX_NESTING" in result.output
    assert "Traceback" not in result.output


# --- 8. raster headers declaring 10^6 x 10^6 pixels ---------------------------------------------


def test_huge_geotiff_header_is_refused_before_allocating(tmp_path: Path) -> None:
    path = huge_tiff_header(tmp_path / "imagery.tif")
    start = time.perf_counter()
    with pytest.raises(
        ResourceLimitError, match=r"1,000,000 x 1,000,000.*AGRILEND_MAX_RASTER_SIDE"
    ):
        open_cube(path)
    assert time.perf_counter() - start < 5


def test_huge_netcdf_dimensions_are_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "imagery.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 1)
        ds.createDimension("y", 1_000_000)
        ds.createDimension("x", 1_000_000)
        ds.createVariable("B04", "u2", ("time", "y", "x"), chunksizes=(1, 256, 256))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ResourceLimitError, match="B04"):
        open_cube(path)


def test_check_on_a_huge_raster_prints_one_line(tmp_path: Path) -> None:
    path = huge_tiff_header(tmp_path / "imagery.tif")
    result = CliRunner().invoke(cli, ["check", "--imagery", str(path)])
    assert result.exit_code == 1
    assert "AGRILEND_MAX_RASTER_SIDE" in result.output
    assert "MemoryError" not in result.output


def test_scan_on_a_huge_raster_stops_at_once(tmp_path: Path, sample_data: Path) -> None:
    from agrilend.inputs import InputFiles  # noqa: PLC0415
    from agrilend.scan import scan  # noqa: PLC0415

    files = InputFiles.from_paths(
        titles=sample_data / "titles.gpkg",
        titles_mapping=sample_data / "titles_mapping.toml",
        imagery=huge_tiff_header(tmp_path / "imagery.tif"),
    )
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError):
        scan(files, tmp_path / "out", workers=0)
    assert time.perf_counter() - start < 30


# --- 9. TOML bombs in a policy, an imagery spec and a mapping -----------------------------------

BOMBS = {
    "deep-array": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep-inline-table": "x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n",
    "5000-digit-number": "x = " + "9" * 5_000 + "\n",
    "200kB-dotted-key": "a" + ".a" * 100_000 + " = 1\n",
    "dotted-table-header": "[" + ".".join(["t"] * 50_000) + "]\n",
    "2MB-file": "# " + "x" * 2_100_000 + "\n",
}
READERS = {
    "policy": (load_policy, PolicyError),
    "imagery-spec": (read_imagery_spec, ImageryReadError),
    "mapping": (TitleMapping.from_toml, TitleMappingError),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_toml_bombs_are_refused_quickly(tmp_path: Path, bomb: str, reader: str) -> None:
    path = tmp_path / "bomb.toml"
    path.write_text(BOMBS[bomb])
    read, own_error = READERS[reader]
    start = time.perf_counter()
    with pytest.raises((ResourceLimitError, own_error)):
        read(path)
    assert time.perf_counter() - start < 2


# --- 10. damaged model zips and context folders -------------------------------------------------


def _model_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


GOOD_META = json.dumps({"model_format_version": 1, "agrilend_version": "0", "feature_schema": []})


@pytest.mark.parametrize(
    "members",
    [
        {"meta.json": b"{not json", "model.skops": b""},
        {"meta.json": b"[1, 2, 3]", "model.skops": b""},
        {"meta.json": ("[" * 10_000 + "]" * 10_000).encode()},
        {"model.skops": b""},
        {},
        {"meta.json": b"\xff\xfe not utf-8"},
    ],
    ids=["bad-json", "not-an-object", "deep-json", "no-metadata", "empty-zip", "not-utf8"],
)
def test_damaged_model_metadata_gives_a_typed_error(
    tmp_path: Path, members: dict[str, bytes]
) -> None:
    path = _model_zip(tmp_path / "model.agm", members)
    with pytest.raises(AgrilendError):
        load_model(path)


def test_pickle_in_place_of_the_model_is_not_executed(tmp_path: Path) -> None:
    from agrilend.yield_models import persistence  # noqa: PLC0415

    meta = json.loads(GOOD_META)
    meta["agrilend_version"] = persistence._agrilend_version()
    meta["sklearn_version"] = __import__("sklearn").__version__
    meta["model_format_version"] = persistence.MODEL_FORMAT_VERSION
    marker = tmp_path / "pwned"
    payload = pickle.dumps(eval)  # any pickle: skops must never unpickle it
    path = _model_zip(
        tmp_path / "model.agm",
        {"meta.json": json.dumps(meta).encode(), "model.skops": payload},
    )
    with pytest.raises(ModelVersionError):
        load_model(path)
    assert not marker.exists()


def test_model_member_inflating_far_beyond_its_size_is_refused(tmp_path: Path) -> None:
    path = zip_with_zeros(tmp_path / "model.agm", "meta.json", 64 * 2**20)
    assert path.stat().st_size < 200_000
    with pytest.raises(ResourceLimitError, match="AGRILEND_MAX_ZIP_RATIO"):
        load_model(path)


def _context(tmp_path: Path) -> Path:
    d = tmp_path / "context"
    d.mkdir()
    (d / "county.json").write_text(json.dumps({"county_yields": {"maize": 7.5}, "meta": {}}))
    return d


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("county.json", b"{broken"),
        ("county.json", b'{"county_yields": [1, 2]}'),
        ("county.json", b'{"county_yields": {"maize": "lots"}}'),
        ("county.json", b"[" * 50_000 + b"]" * 50_000),
        ("peer_curves.nc", b"CDF\x01 truncated"),
        ("peer_curves.nc", b"not a netcdf at all"),
        ("peer_stats.parquet", b"PAR1 truncated PAR1"),
    ],
    ids=["bad-json", "wrong-shape", "not-a-number", "deep-json", "truncated-nc", "junk-nc",
         "truncated-parquet"],
)  # fmt: skip
def test_damaged_context_folder_gives_a_typed_error(tmp_path: Path, name: str, body: bytes) -> None:
    from agrilend.scan import load_context  # noqa: PLC0415

    d = _context(tmp_path)
    (d / name).write_bytes(body)
    with pytest.raises((ScanError, ResourceLimitError)):
        load_context(d)


# --- 11. STAC catalogue files -------------------------------------------------------------------


def test_stac_catalogue_given_as_file_or_vsicurl_url_is_refused(tmp_path: Path) -> None:
    for source in (f"file://{tmp_path}/catalog.json", "/vsicurl/http://127.0.0.1:9/catalog.json"):
        with pytest.raises(InputPathError):
            load_stac(source)


def _write_catalog(folder: Path, links: list[dict[str, str]]) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "catalog.json"
    path.write_text(
        json.dumps(
            {"type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "d",
             "links": links}
        )
    )  # fmt: skip
    return path


def test_stac_catalogue_with_an_unresolved_child_names_it(tmp_path: Path) -> None:
    cat = _write_catalog(tmp_path / "stac", [{"rel": "child", "href": "./missing/catalog.json"}])
    with pytest.raises(ImageryReadError, match="does not exist"):
        load_stac(cat)


def test_stac_catalogue_listing_itself_ends(tmp_path: Path) -> None:
    cat = _write_catalog(
        tmp_path / "stac",
        [{"rel": "child", "href": "./catalog.json"}, {"rel": "item", "href": "./catalog.json"}],
    )
    start = time.perf_counter()
    with pytest.raises(ImageryReadError, match="no 'sentinel-2-l2a' item"):
        load_stac(cat)
    assert time.perf_counter() - start < 5


def test_stac_file_that_is_not_stac_gives_a_typed_error(tmp_path: Path) -> None:
    for i, body in enumerate(['{"type": "Feature"}', "[]", "{", '{"type": "Catalog"']):
        path = tmp_path / f"c{i}.json"
        path.write_text(body)
        with pytest.raises(ImageryReadError):
            load_stac(path)


# --- 13. --scheduler at a closed port and at a port that is not Dask ----------------------------


def test_scheduler_at_a_closed_port_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from agrilend._limits import connect_scheduler  # noqa: PLC0415

    monkeypatch.setenv("AGRILEND_SCHEDULER_TIMEOUT", "2")
    start = time.perf_counter()
    with pytest.raises(ScanError, match="no Dask scheduler"):
        connect_scheduler(f"tcp://127.0.0.1:{closed_port()}")
    assert time.perf_counter() - start < 3


def test_scheduler_at_a_port_that_is_not_dask_fails_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agrilend._limits import connect_scheduler  # noqa: PLC0415

    monkeypatch.setenv("AGRILEND_SCHEDULER_TIMEOUT", "1")
    with silent_port() as port:
        start = time.perf_counter()
        with pytest.raises(ScanError, match="does not speak Dask"):
            connect_scheduler(f"tcp://127.0.0.1:{port}")
        assert time.perf_counter() - start < 3


def test_default_scheduler_timeout_is_bounded() -> None:
    assert 0 < limit("AGRILEND_SCHEDULER_TIMEOUT") <= 60


# --- 15. a weather sheet without its DAY row ----------------------------------------------------


def test_weather_sheet_without_a_day_row_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "weather.xlsx"
    pd.DataFrame({"A": ["Site", "x", "y"], "B": [1, 2, 3]}).to_excel(path, index=False)
    with pytest.raises(TableReadError, match="DAY"):
        read_weather(path, fmt="pcse")


def test_weather_sheet_that_is_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = zip_with_zeros(tmp_path / "weather.xlsx", "xl/worksheets/sheet1.xml", 64 * 2**20)
    with pytest.raises(TableReadError, match="AGRILEND_MAX_ZIP_RATIO"):
        read_weather(path, fmt="pcse")


# --- weaknesses: zip members, SQL views, Parquet inflation --------------------------------------


def test_titles_zip_with_a_huge_member_is_refused_from_its_directory(tmp_path: Path) -> None:
    titles()[["parcel_id", "geometry"]].to_file(tmp_path / "t.shp")
    extra = {f"t{s}": (tmp_path / f"t{s}").read_bytes() for s in (".shx", ".dbf", ".prj")}
    path = zip_with_zeros(tmp_path / "titles.zip", "t.shp", 64 * 2**20, extra=extra)
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="AGRILEND_MAX_ZIP_RATIO"):
        read_titles(path, key=KEY)
    assert time.perf_counter() - start < 1


def test_geopackage_layer_that_is_an_endless_sql_view_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGRILEND_SQL_VIEW_SECONDS", "1")
    path = tmp_path / "titles.gpkg"
    titles().to_file(path, driver="GPKG", layer="titles")
    con = sqlite3.connect(path)
    con.execute(
        "CREATE VIEW endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT i AS fid, NULL AS geom FROM n"
    )
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
        "VALUES ('endless', 'features', 'endless', 32650)"
    )
    con.execute(
        "INSERT INTO gpkg_geometry_columns VALUES ('endless', 'geom', 'POLYGON', 32650, 0, 0)"
    )
    con.commit()
    con.close()
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match=r"endless.*AGRILEND_SQL_VIEW_SECONDS"):
        read_titles(path, key=KEY, layer="titles")
    assert time.perf_counter() - start < 5


def test_parquet_inflating_beyond_the_limit_is_refused_from_its_footer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    path = tmp_path / "titles.parquet"
    zeros = pa.array([bytes(2**20)] * 16, type=pa.binary())  # 16 MiB of zeros, ~20 kB on disk
    pq.write_table(pa.table({"geometry": zeros}), path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 200_000
    monkeypatch.setenv("AGRILEND_MAX_PARQUET_BYTES", str(8 * 2**20))
    with pytest.raises(ResourceLimitError, match=r"decompressed.*AGRILEND_MAX_PARQUET_BYTES"):
        read_titles(path, key=KEY)


def test_default_limits_stop_the_reviewed_bombs() -> None:
    # the review's files: a 312 kB Parquet inflating to 8 GiB, a 10 GiB zip member
    assert limit("AGRILEND_MAX_PARQUET_BYTES") < 8 * 2**30
    assert limit("AGRILEND_MAX_UNZIPPED_BYTES") < 10 * 2**30
    assert limit("AGRILEND_MAX_ZIP_RATIO") < 10 * 2**30 / 10_000_000


def test_a_limit_given_as_text_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGRILEND_MAX_NESTING", "lots")
    with pytest.raises(ResourceLimitError, match="AGRILEND_MAX_NESTING"):
        limit("AGRILEND_MAX_NESTING")


def test_nested_wkb_depth_is_measured_without_recursion() -> None:
    from agrilend._limits import wkb_depth  # noqa: PLC0415

    assert wkb_depth(nested_collection_wkb(5), most=32) == 6
    assert wkb_depth(nested_collection_wkb(1_000_000), most=32) == 33
    assert wkb_depth(b"\x01\x07\x00\x00\x00\xff\xff", most=32) == -1  # truncated: left to GEOS
    assert np.isfinite(wkb_depth(box_wkb(), most=32))
