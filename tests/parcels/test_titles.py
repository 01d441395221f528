"""Reading land titles: formats, encodings, mappings, privacy, the shared registries, fuzzing."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agrilend.errors import (
    AgrilendError,
    CRSError,
    InputPathError,
    MissingCRSError,
    TitleMappingError,
    TitlesReadError,
)
from agrilend.parcels import MAPPINGS, TitleMapping, as_titles, pseudonymize, read_titles

REPO = Path(__file__).resolve().parents[2]
CRS = "EPSG:32650"
KEY = "test-key"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]
CROPS = ["winter_wheat_maize", "maize", "rice", "soybean", "cotton", "peanut"]
FIELDS = ["东洼地", "西岗地", "南河滩", "北坡", "大井口", "小庙前"]
MAPPING = MAPPINGS["cn_contract"]


def registry(n: int = 6) -> gpd.GeoDataFrame:
    """A small 确权-style registry extract in EPSG:32650 (synthetic people, real shapes)."""
    geoms, area_mu = [], []
    for i in range(n):
        x0 = 500_000 + (i % 3) * 100
        y0 = 4_000_000 + (i // 3) * 120
        g = shapely.box(x0, y0, x0 + 60 + 5 * i, y0 + 80)
        geoms.append(g)
        area_mu.append(round(g.area / 666.6667 * (1.0 + 0.01 * i), 2))
    village = "13012320010101"
    return gpd.GeoDataFrame(
        {
            "DKBM": [f"{village}{i + 1:05d}" for i in range(n)],
            "DKMC": [FIELDS[i % len(FIELDS)] for i in range(n)],
            "CBFBM": [f"{village}{i // 2 + 1:04d}" for i in range(n)],
            "CBFMC": [NAMES[(i // 2) % len(NAMES)] for i in range(n)],
            "ZJHM": [f"13012319800101{i:03d}X" for i in range(n)],
            "LXDH": [f"138{i:08d}" for i in range(n)],
            "HTMJM": area_mu,
            "ZZZW": [CROPS[i % len(CROPS)] for i in range(n)],
        },
        geometry=geoms,
        crs=CRS,
    )


PERSONAL_VALUES_COLUMNS = ("CBFBM", "CBFMC", "ZJHM", "LXDH")


def assert_no_personal_data(titles: gpd.GeoDataFrame, source: gpd.GeoDataFrame) -> None:
    raw = {str(v) for c in PERSONAL_VALUES_COLUMNS for v in source[c]}
    assert not set(PERSONAL_VALUES_COLUMNS) & set(titles.columns)
    for col in titles.columns:
        if col == titles.geometry.name:
            continue
        values = {str(v) for v in titles[col]}
        assert not values & raw, col
        joined = "|".join(values)
        assert not any(r in joined for r in raw), col
    text = repr(titles) + titles.to_string() + repr(titles.attrs)
    assert not any(r in text for r in raw)


def assert_matches_registry(titles: gpd.GeoDataFrame, source: gpd.GeoDataFrame) -> None:
    assert sorted(titles["parcel_id"]) == sorted(source["DKBM"])
    # FlatGeobuf reorders features along its spatial index: compare by parcel id
    order = {pid: i for i, pid in enumerate(titles["parcel_id"])}
    titles = titles.iloc[[order[pid] for pid in source["DKBM"]]].reset_index(drop=True)
    assert titles["owner_ref"].tolist() == list(pseudonymize(source["CBFBM"], key=KEY))
    np.testing.assert_allclose(titles["declared_area_ha"], source["HTMJM"] / 15, rtol=1e-6)
    assert titles["declared_crop"].tolist() == source["ZZZW"].tolist()
    assert titles["DKMC"].tolist() == source["DKMC"].tolist()
    np.testing.assert_allclose(titles.area, source.area, rtol=1e-6)
    assert titles.crs.is_projected
    assert list(titles.columns[:4]) == [
        "parcel_id",
        "owner_ref",
        "declared_area_ha",
        "declared_crop",
    ]
    assert_no_personal_data(titles, source)


# --- formats --------------------------------------------------------------------------------------


def _shapefile(gdf: gpd.GeoDataFrame, folder: Path, *, encoding: str = "UTF-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "titles.shp"
    gdf.to_file(path, encoding=encoding)
    return path


def _zip(files: list[Path], target: Path, *, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for f in files:
            zf.write(f, prefix + f.name)
    return target


def write_gpkg(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    gdf.to_file(tmp / "titles.gpkg", layer="titles")
    return tmp / "titles.gpkg"


def write_shp(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    return _shapefile(gdf, tmp / "shp")


def write_zip(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    shp = _shapefile(gdf, tmp / "z")
    return _zip(sorted(shp.parent.iterdir()), tmp / "titles.zip")


def write_zip_subfolder(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    shp = _shapefile(gdf, tmp / "z")
    return _zip(sorted(shp.parent.iterdir()), tmp / "titles.zip", prefix="registry/2024/")


def write_zip_gpkg(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    return _zip([write_gpkg(gdf, tmp)], tmp / "titles_gpkg.zip")


def write_geojson(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    gdf.to_file(tmp / "titles.geojson", driver="GeoJSON")
    return tmp / "titles.geojson"


def write_geoparquet(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    gdf.to_parquet(tmp / "titles.parquet")
    return tmp / "titles.parquet"


def write_wkb_parquet(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["geometry"] = shapely.to_wkb(gdf.geometry.values)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp / "titles_wkb.parquet")
    return tmp / "titles_wkb.parquet"


def write_fgb(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    gdf.to_file(tmp / "titles.fgb", driver="FlatGeobuf")
    return tmp / "titles.fgb"


def write_gml(gdf: gpd.GeoDataFrame, tmp: Path) -> Path:
    gdf.to_file(tmp / "titles.gml", driver="GML")
    return tmp / "titles.gml"


WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path], Path]] = {
    "gpkg": write_gpkg,
    "shp": write_shp,
    "zip": write_zip,
    "zip_subfolder": write_zip_subfolder,
    "zip_gpkg": write_zip_gpkg,
    "geojson": write_geojson,
    "geoparquet": write_geoparquet,
    "wkb_parquet": write_wkb_parquet,
    "fgb": write_fgb,
    "gml": write_gml,
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_format_round_trip(fmt: str, tmp_path: Path) -> None:
    source = registry()
    path = WRITERS[fmt](source, tmp_path)
    mapping = dataclasses.replace(MAPPING, crs=CRS) if fmt == "wkb_parquet" else MAPPING
    titles = read_titles(path, mapping=mapping, key=KEY)
    assert_matches_registry(titles, source)
    assert titles.crs == source.crs


def test_sample_mapping_file_reads_registry(tmp_path: Path) -> None:
    mapping = TitleMapping.from_toml(REPO / "sample_data" / "titles_mapping.toml")
    assert mapping == dataclasses.replace(MAPPING, layer="titles")
    source = registry()
    titles = read_titles(
        write_gpkg(source, tmp_path), mapping=REPO / "sample_data" / "titles_mapping.toml", key=KEY
    )
    assert_matches_registry(titles, source)


@pytest.mark.skipif(
    not (REPO / "sample_data" / "titles.gpkg").exists(),
    reason="sample_data/titles.gpkg is made by the synthetic-county generator; not present yet",
)
def test_sample_county_titles(sample_data: Path) -> None:
    titles = read_titles(sample_data / "titles.gpkg", mapping=sample_data / "titles_mapping.toml")
    assert titles["parcel_id"].is_unique
    assert titles["owner_ref"].str.match(r"^H-[0-9a-f]{12}$").all()
    assert not {"CBFMC", "ZJHM", "LXDH", "CBFBM"} & set(titles.columns)
    assert (titles["declared_area_ha"] > 0).all()


def test_gbk_shapefile_with_cpg_round_trip(tmp_path: Path) -> None:
    source = registry()
    path = _shapefile(source, tmp_path / "gbk", encoding="GBK")
    assert (path.with_suffix(".cpg")).read_text().strip().upper() in {"GBK", "936", "CP936"}
    raw = path.with_suffix(".dbf").read_bytes()
    assert "东洼地".encode("gbk") in raw
    assert "东洼地".encode() not in raw
    titles = read_titles(path, mapping=MAPPING, key=KEY)
    assert_matches_registry(titles, source)


def test_gbk_shapefile_without_cpg_needs_encoding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = registry()
    path = _shapefile(source, tmp_path / "gbk", encoding="GBK")
    path.with_suffix(".cpg").unlink()
    with caplog.at_level(logging.INFO, logger="agrilend.parcels"):
        garbled = read_titles(path, mapping=MAPPING, key=KEY)
    assert garbled["DKMC"].tolist() != source["DKMC"].tolist()
    assert "encoding=" in caplog.text
    titles = read_titles(path, mapping=MAPPING, key=KEY, encoding="gbk")
    assert_matches_registry(titles, source)


def test_unknown_encoding_is_a_mapping_error(tmp_path: Path) -> None:
    path = write_shp(registry(), tmp_path)
    with pytest.raises(TitleMappingError, match="encoding"):
        read_titles(path, mapping=MAPPING, key=KEY, encoding="no-such-codec")


def test_folder_with_one_vector_file(tmp_path: Path) -> None:
    source = registry()
    path = write_shp(source, tmp_path)
    assert_matches_registry(read_titles(path.parent, mapping=MAPPING, key=KEY), source)


# --- mappings -------------------------------------------------------------------------------------


def test_keyword_overrides_build_the_mapping(tmp_path: Path) -> None:
    source = registry()
    path = write_gpkg(source, tmp_path)
    titles = read_titles(
        path,
        key=KEY,
        parcel_id="DKBM",
        owner="CBFBM",
        declared_area="HTMJM",
        declared_area_unit="mu",
        declared_crop="ZZZW",
        keep=("DKMC",),
    )
    assert_matches_registry(titles, source)


def test_override_on_top_of_preset(tmp_path: Path) -> None:
    source = registry()
    path = write_gpkg(source, tmp_path)
    titles = read_titles(path, mapping="cn_contract", key=KEY, keep=())
    assert "DKMC" not in titles.columns


def test_guessing_without_mapping(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = registry()
    path = write_gpkg(source, tmp_path)
    with caplog.at_level(logging.INFO, logger="agrilend.parcels"):
        titles = read_titles(path, key=KEY)
    assert titles["parcel_id"].tolist() == source["DKBM"].tolist()
    np.testing.assert_allclose(titles["declared_area_ha"], source["HTMJM"] / 15)
    assert titles["owner_ref"].tolist() == list(pseudonymize(source["CBFBM"], key=KEY))
    assert "guessed" in caplog.text
    # guessing never keeps unmapped columns, so personal data cannot leak by omission
    assert_no_personal_data(titles, source)


def test_generated_ids_when_none_mapped(caplog: pytest.LogCaptureFixture) -> None:
    gdf = registry().drop(columns=["DKBM"])
    with caplog.at_level(logging.INFO, logger="agrilend.parcels"):
        titles = as_titles(gdf, key=KEY)
    assert titles["parcel_id"].tolist()[:2] == ["P-000001", "P-000002"]
    assert titles["parcel_id"].is_unique
    assert "generated" in caplog.text


def test_area_unit_guess_from_geometry() -> None:
    gdf = registry()
    gdf["area"] = gdf.area  # square metres, under an ambiguous name
    titles = as_titles(gdf.drop(columns=["HTMJM"]), key=KEY)
    np.testing.assert_allclose(titles["declared_area_ha"], gdf.area / 10_000)


@pytest.mark.parametrize(
    ("unit", "factor"), [("ha", 1.0), ("m2", 1e-4), ("mu", 1 / 15), ("a", 0.01)]
)
def test_area_units(unit: str, factor: float) -> None:
    gdf = registry()
    titles = as_titles(gdf, mapping=TitleMapping(declared_area="HTMJM", declared_area_unit=unit))  # type: ignore[arg-type]
    np.testing.assert_allclose(titles["declared_area_ha"], gdf["HTMJM"] * factor)


def test_crop_codes_map_registry_codes() -> None:
    gdf = registry()
    gdf["ZZZW"] = ["0101", "0102", 103, 103.0, "0101", "9999"]
    mapping = TitleMapping(
        declared_crop="ZZZW", crop_codes={"0101": "rice", "0102": "maize", 103: "soybean"}
    )
    titles = as_titles(gdf, mapping=mapping, key=KEY)
    assert titles["declared_crop"].tolist() == [
        "rice",
        "maize",
        "soybean",
        "soybean",
        "rice",
        "9999",
    ]


def test_non_numeric_declared_area_becomes_nan(caplog: pytest.LogCaptureFixture) -> None:
    gdf = registry()
    gdf["HTMJM"] = ["1.5", "n/a", None, "2", "x", "3.25"]
    with caplog.at_level(logging.WARNING, logger="agrilend.parcels"):
        titles = as_titles(gdf, mapping=MAPPING, key=KEY)
    assert np.isnan(titles["declared_area_ha"]).sum() == 3
    assert "not numbers" in caplog.text


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = write_gpkg(registry(), tmp_path)
    with pytest.raises(TitlesReadError, match=r"'NOPE'.*titles\.gpkg.*fix the titles mapping"):
        read_titles(path, mapping=dataclasses.replace(MAPPING, declared_crop="NOPE"), key=KEY)


def test_column_case_is_forgiven() -> None:
    titles = as_titles(registry(), mapping=TitleMapping(parcel_id="dkbm"), key=KEY)
    assert titles["parcel_id"].iloc[0] == registry()["DKBM"].iloc[0]


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"declared_area_unit": "acre"}, "declared_area_unit"),
        ({"owner": "CBFBM", "keep": ("CBFBM",)}, "keep"),
        ({"personal": ("ZJHM",), "keep": ("ZJHM",)}, "keep"),
        ({"parcel_id": 5}, "parcel_id"),
        ({"crs": "EPSG:999999"}, "crs"),
        ({"keep": (1,)}, "keep"),
        ({"crop_codes": ["a"]}, "crop_codes"),
    ],
)
def test_invalid_mapping(fields: dict[str, object], key: str) -> None:
    with pytest.raises(TitleMappingError) as err:
        TitleMapping(**fields)  # type: ignore[arg-type]
    assert err.value.key == key


def test_unknown_override_key(tmp_path: Path) -> None:
    path = write_gpkg(registry(), tmp_path)
    with pytest.raises(TitleMappingError, match="unknown mapping keys"):
        read_titles(path, parcel_code="DKBM")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('parcel_id = "DKBM"\ncolour = "red"\n', "unknown keys"),
        ('parcel_id = "DKBM\n', "TOML"),
        ('declared_area_unit = "acre"\n', "declared_area_unit"),
    ],
)
def test_invalid_mapping_file(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "m.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(TitleMappingError, match=match):
        TitleMapping.from_toml(f)


def test_mapping_file_with_titles_table(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[titles]\nparcel_id = "DKBM"\npersonal = "ZJHM"\n', encoding="utf-8")
    assert TitleMapping.from_toml(f) == TitleMapping(parcel_id="DKBM", personal=("ZJHM",))


def test_unknown_mapping_name() -> None:
    with pytest.raises(TitleMappingError, match="preset"):
        as_titles(registry(), mapping="no_such_registry")


# --- CRS ------------------------------------------------------------------------------------------


def test_missing_crs_is_an_error_unless_mapping_gives_one() -> None:
    gdf = registry().set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError, match="crs="):
        as_titles(gdf, mapping=MAPPING, key=KEY)
    titles = as_titles(gdf, mapping=dataclasses.replace(MAPPING, crs=CRS), key=KEY)
    assert titles.crs == CRS


def test_mapping_crs_never_overrides_the_file() -> None:
    titles = as_titles(registry(), mapping=dataclasses.replace(MAPPING, crs="EPSG:32651"), key=KEY)
    assert titles.crs == CRS


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"), [(116.4, 39.9, 32650), (-58.4, -34.6, 32721), (2.35, 48.85, 32631)]
)
def test_geographic_is_projected_to_local_utm(lon: float, lat: float, epsg: int) -> None:
    d = 0.001
    gdf = gpd.GeoDataFrame(
        {"id": ["a"]}, geometry=[shapely.box(lon, lat, lon + d, lat + d)], crs="EPSG:4326"
    )
    titles = as_titles(gdf, key=KEY)
    assert titles.crs.to_epsg() == epsg


def test_crs_contradicting_coordinates_is_an_error() -> None:
    gdf = registry().set_crs("EPSG:4326", allow_override=True)  # metres labelled as degrees
    with pytest.raises(CRSError, match="EPSG:4326"):
        as_titles(gdf, mapping=MAPPING, key=KEY)


# --- errors on files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/https://example.org/titles.gpkg",
        "https://example.org/titles.gpkg",
        "s3://bucket/titles.gpkg",
        "/vsizip/titles.zip/titles.shp",
    ],
)
def test_remote_paths_refused(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGRILEND_ALLOW_REMOTE", raising=False)
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):
        read_titles(path)


def test_remote_path_allowed_reaches_the_reader() -> None:
    # port 9 on loopback: nothing listens, so the read fails fast without leaving the machine
    with pytest.raises(TitlesReadError, match=r"127\.0\.0\.1"):
        read_titles("http://127.0.0.1:9/titles.gpkg", allow_remote=True)


def test_missing_file() -> None:
    with pytest.raises(InputPathError, match="does not exist"):
        read_titles("/no/such/titles.gpkg")


def test_zip_without_vector_file(tmp_path: Path) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text("a,b\n1,2\n")
    path = _zip([csv], tmp_path / "data.zip")
    with pytest.raises(TitlesReadError, match=r"data\.zip.*holds no \.shp.*unzip it"):
        read_titles(path)


def test_zip_with_two_shapefiles_needs_layer(tmp_path: Path) -> None:
    a = _shapefile(registry(), tmp_path / "a")
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    for f in a.parent.iterdir():
        shutil.copy(f, b_dir / f.name.replace("titles", "other"))
    path = _zip([*a.parent.iterdir(), *b_dir.iterdir()], tmp_path / "two.zip")
    with pytest.raises(TitlesReadError, match=r"several vector files.*layer="):
        read_titles(path, mapping=MAPPING, key=KEY)
    assert len(read_titles(path, mapping=MAPPING, key=KEY, layer="other")) == 6


def test_zip_shapefile_missing_dbf(tmp_path: Path) -> None:
    shp = _shapefile(registry(), tmp_path / "z")
    files = [f for f in shp.parent.iterdir() if f.suffix != ".dbf"]
    with pytest.raises(TitlesReadError, match=r"lacks its \['\.dbf'\]"):
        read_titles(_zip(files, tmp_path / "t.zip"))


def test_multi_layer_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "many.gpkg"
    registry().to_file(path, layer="titles")
    registry(3).to_file(path, layer="villages")
    with pytest.raises(TitlesReadError, match=r"'titles' \(6 features\), 'villages' \(3"):
        read_titles(path, mapping=MAPPING, key=KEY)
    assert len(read_titles(path, mapping=MAPPING, key=KEY, layer="villages")) == 3
    with pytest.raises(TitlesReadError, match="has no layer 'nope'"):
        read_titles(path, mapping=MAPPING, key=KEY, layer="nope")


def test_empty_layer(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    registry().iloc[:0].to_file(path, layer="titles")
    with pytest.raises(TitlesReadError, match="holds no features"):
        read_titles(path, mapping=MAPPING, key=KEY)


def test_layer_without_geometry(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    pd.DataFrame(registry().drop(columns="geometry")).to_csv(path, index=False)
    with pytest.raises(TitlesReadError, match="has no geometry"):
        read_titles(path)


def test_parquet_without_geometry(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(TitlesReadError, match="WKB geometry column"):
        read_titles(path)


def test_parquet_with_bad_wkb(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"geometry": [b"\x01\x02garbage"]}).to_parquet(path)
    with pytest.raises(TitlesReadError, match="not valid WKB"):
        read_titles(path, crs=CRS)


def test_too_many_features(tmp_path: Path) -> None:
    path = write_gpkg(registry(), tmp_path)
    with pytest.raises(TitlesReadError, match="max_features=5"):
        read_titles(path, mapping=MAPPING, key=KEY, max_features=5)


def test_not_a_geodataframe() -> None:
    with pytest.raises(TitlesReadError, match="GeoDataFrame"):
        as_titles([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(TitlesReadError, match="without a geometry"):
        as_titles(pd.DataFrame({"a": [1]}))


def test_dataframe_with_shapely_geometry_is_accepted() -> None:
    df = pd.DataFrame(registry())
    titles = as_titles(gpd.GeoDataFrame(df, crs=CRS), mapping=MAPPING, key=KEY)
    assert len(titles) == 6


SUFFIXES = [
    ".gpkg",
    ".shp",
    ".geojson",
    ".json",
    ".fgb",
    ".gml",
    ".zip",
    ".parquet",
    ".kml",
    ".sqlite",
    ".geoparquet",
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_fuzz_reader_random_bytes(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        titles = read_titles(path, key=KEY)
    except AgrilendError as exc:  # every failure is typed and names the file
        message = str(exc)
    else:
        assert isinstance(titles, gpd.GeoDataFrame)
        message = path.name
    assert "fuzz" in message


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.binary(min_size=1, max_size=400),
    offset=st.integers(min_value=0, max_value=4000),
    which=st.sampled_from(["gpkg", "shp", "fgb", "geojson", "geoparquet"]),
)
def test_fuzz_reader_corrupted_files(tmp_path: Path, data: bytes, offset: int, which: str) -> None:
    folder = tmp_path / f"c_{which}_{offset}_{len(data)}"
    folder.mkdir(exist_ok=True)
    path = WRITERS[which](registry(3), folder)
    raw = bytearray(path.read_bytes())
    start = min(offset, len(raw))
    raw[start : start + len(data)] = data
    path.write_bytes(bytes(raw))
    try:
        titles = read_titles(path, mapping=MAPPING, key=KEY)
    except AgrilendError:
        return
    assert isinstance(titles, gpd.GeoDataFrame)
    assert "CBFMC" not in titles.columns


_TEXT = st.one_of(st.none(), st.text(max_size=12), st.integers(), st.floats(allow_nan=True))


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 500), st.floats(0, 500)),
        min_size=1,
        max_size=8,
    ),
    ids=st.lists(_TEXT, min_size=8, max_size=8),
    owners=st.lists(_TEXT, min_size=8, max_size=8),
    areas=st.lists(st.one_of(st.none(), st.floats(), st.text(max_size=4)), min_size=8, max_size=8),
)
def test_fuzz_as_titles(
    boxes: list[tuple[float, float, float, float]],
    ids: list[object],
    owners: list[object],
    areas: list[object],
) -> None:
    n = len(boxes)
    geoms = [
        shapely.box(500_000 + x, 4_000_000 + y, 500_000 + x + w, 4_000_000 + y + h)
        for x, y, w, h in boxes
    ]
    gdf = gpd.GeoDataFrame(
        {"pid": ids[:n], "own": owners[:n], "ar": pd.Series(areas[:n], dtype=object)},
        geometry=geoms,
        crs=CRS,
    )
    mapping = TitleMapping(parcel_id="pid", owner="own", declared_area="ar")
    titles = as_titles(gdf, mapping=mapping, key=KEY)
    assert len(titles) == n
    assert titles["owner_ref"].map(lambda s: s == "" or s.startswith("H-")).all()
    assert titles["declared_area_ha"].dtype == float
    raw_owners = {str(o) for o in owners[:n] if o is not None and str(o).strip()}
    assert not raw_owners & set(titles["owner_ref"])


# --- the shared registries ------------------------------------------------------------------------

# (file under parcels/, mapping preset or None for "no mapping fits", registry area check)
REAL = {
    "ai4sf_vietnam": ("ai4sf/1_vietnam_areas.gpkg", "ai4sf"),
    "ai4sf_cambodia": ("ai4sf/4_cambodia_areas.gpkg", "ai4sf"),
    "at": ("at/inspire_schlaege_2025-1_polygon.gpkg.zip", "at_inspire"),
    "be_vlg": (
        "be_vlg/Landbouwgebruikspercelen_2023_-_Definitief_(extractie_28-03-2024)_GPKG.zip",
        "be_vlg",
    ),
    "ch": ("ch/lwb_nutzungsflaechen_v2_0_lv95.gpkg", "ch_lwb"),
    "de_bb": ("de_bb/antrag.zip", "de_bb"),
    "ec_lv": ("ec_lv/LV_2021.zip", "eurocrops_lv"),
    "ec_si": ("ec_si/SI_2021.zip", "eurocrops_si"),
    "fr": ("fr/rpg_2022_sample.gpkg", "fr_rpg"),
    "pt": ("pt/Continente.gpkg", "pt_aveiro"),
    "india_10k": ("india_10k/india_10k.zip", "india_10k"),
    "jecam": ("jecam/BD_JECAM_CIRAD_2023_feb.shp", "jecam"),
}
# Files in those folders that are not parcel layers: they must fail with a clear message.
NOT_TITLES = {
    "lv": "lv/lv_2021.csv",
    "at_codes": "at/at_2021.csv",
    "be_vlg_codes": "be_vlg/be_vlg_2021.csv",
    "fr_codes": "fr/fr_2018.csv",
    "licence": "LICENSE-fiboa-test-data.txt",
}


@pytest.mark.realdata
def test_every_shared_parcels_file_is_covered(shared_data: Path) -> None:
    root = shared_data / "parcels"
    covered = {f for f, _ in REAL.values()} | set(NOT_TITLES.values())
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    present = {p for p in present if not p.startswith("jecam/") or p.endswith(".shp")}
    assert present <= covered, present - covered


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL))
def test_shared_registry_opens(shared_data: Path, name: str) -> None:
    rel, preset = REAL[name]
    titles = read_titles(shared_data / "parcels" / rel, mapping=preset, key=KEY)
    assert len(titles) == 100
    assert titles["parcel_id"].is_unique
    assert titles.crs.is_projected
    assert titles.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    mapping = MAPPINGS[preset]
    if mapping.declared_crop:  # de_bb and pt leave the crop of some non-farm plots empty
        assert (titles["declared_crop"] != "").mean() > 0.5
    if mapping.declared_area:
        # the registry's own area column against the area of its polygons
        ratio = titles["declared_area_ha"] / (titles.area / 10_000)
        assert abs(float(np.nanmedian(ratio)) - 1) < 0.01, name
    else:
        assert titles["declared_area_ha"].isna().all()


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(NOT_TITLES))
def test_shared_non_titles_files_fail_clearly(shared_data: Path, name: str) -> None:
    path = shared_data / "parcels" / NOT_TITLES[name]
    with pytest.raises(TitlesReadError) as err:
        read_titles(path, key=KEY)
    assert path.name in str(err.value)
    assert err.value.path is not None


@pytest.mark.realdata
def test_shared_multilayer_geopackage_needs_layer(shared_data: Path) -> None:
    with pytest.raises(TitlesReadError, match=r"Continente\.gpkg.*several layers.*layer="):
        read_titles(shared_data / "parcels" / "pt" / "Continente.gpkg", key=KEY)
    with pytest.raises(TitlesReadError, match=r"layer 'Continente'.*holds no features"):
        read_titles(shared_data / "parcels" / "pt" / "Continente.gpkg", key=KEY, layer="Continente")


@pytest.mark.realdata
def test_shared_wkb_parquet(shared_data: Path) -> None:
    path = shared_data / "crop_labels" / "france_lpis_2023_dekadal.geoparquet"
    with pytest.raises(MissingCRSError, match="france_lpis"):
        read_titles(path, key=KEY, parcel_id=None)
    points = read_titles(path, key=KEY, crs="EPSG:4326", declared_crop="ewoc_code")
    assert points.crs.is_projected
    assert (points.geom_type == "Point").all()
