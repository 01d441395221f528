"""Bad tables, catalogued: weather, subsidy and county-yield files that must be refused clearly.

Each case writes a file and expects :class:`~agrilend.errors.TableReadError` (or, for paths,
:class:`~agrilend.errors.InputPathError`) whose message names the file; subsidy records that match
no title are not errors but land in ``unmatched`` with a reason. The readers are fuzzed with
Hypothesis: whatever the bytes, a typed error or a table, never another exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agrilend.credit import match_subsidies, read_subsidies
from agrilend.errors import AgrilendError, InputPathError, TableReadError
from agrilend.yield_models.weather import read_weather
from agrilend.yield_models.yields import read_county_yields
from tests.reliability._builders import (
    SUBSIDY_HEADER,
    WEATHER_HEADER,
    good_weather_rows,
    subsidy_csv,
    weather_csv,
)

KEY = "reliability-test-key"
OWNER = "130123200101010011"
PARCEL = "1301230010010000001"

# --- weather ------------------------------------------------------------------------------------

_GOOD = good_weather_rows(4)


def _w(*rows: str, header: str = WEATHER_HEADER) -> bytes:
    return weather_csv([*_GOOD, *rows], header=header).encode()


#: name -> (file name, bytes, words the message must hold)
BAD_WEATHER: dict[str, tuple[str, bytes, str]] = {
    "empty_file": ("w.csv", b"", "weather"),
    "header_only": ("w.csv", (WEATHER_HEADER + "\n").encode(), "no day"),
    "missing_tmin": ("w.csv", b"date,tmax_c,prcp_mm\n2024-05-01,20,0\n", "tmin_c"),
    "missing_tmax": ("w.csv", b"date,tmin_c,prcp_mm\n2024-05-01,10,0\n", "tmax_c"),
    "missing_prcp": ("w.csv", b"date,tmin_c,tmax_c\n2024-05-01,10,20\n", "prcp_mm"),
    "missing_date": ("w.csv", b"day,tmin_c,tmax_c,prcp_mm\n2024-05-01,10,20,0\n", "w.csv"),
    "misspelt_columns": ("w.csv", b"date,t_min,t_max,rain\n2024-05-01,10,20,0\n", "tmin_c"),
    "tmax_absurd": ("w.csv", _w("2024-05-09,12,500,0"), "tmax_c"),
    "tmin_absurd": ("w.csv", _w("2024-05-09,-300,20,0"), "tmin_c"),
    "negative_rain": ("w.csv", _w("2024-05-09,12,20,-5"), "prcp_mm"),
    "absurd_rain": ("w.csv", _w("2024-05-09,12,20,99999"), "prcp_mm"),
    "missing_marker_minus_99": ("w.csv", _w("2024-05-09,-99,-99,-99"), "-99"),
    "missing_marker_9999": ("w.csv", _w("2024-05-09,12,20,9999"), "prcp_mm"),
    "infinite_value": ("w.csv", _w("2024-05-09,12,inf,0"), "tmax_c"),
    "text_in_numbers": ("w.csv", _w("2024-05-09,12,warm,0"), "w.csv"),
    "comma_decimal": ("w.csv", _w('2024-05-09,"12,5",20,0'), "w.csv"),
    "date_not_a_date": ("w.csv", _w("yesterday,12,20,0"), "w.csv"),
    "date_empty": ("w.csv", _w(",12,20,0"), "w.csv"),
    "date_two_digit_year": ("w.csv", _w("24-05-09,12,20,0"), "w.csv"),
    "date_month_name": ("w.csv", _w("May 9 2024,12,20,0"), "w.csv"),
    "date_day_first_slashes": ("w.csv", _w("13/05/2024,12,20,0"), "w.csv"),
    "date_chinese": ("w.csv", _w("2024年5月9日,12,20,0"), "w.csv"),
    "date_out_of_range": ("w.csv", _w("2024-02-30,12,20,0"), "w.csv"),
    "date_repeated": ("w.csv", _w(_GOOD[0]), "repeated"),
    "gbk_chinese_header": (
        "w.csv",
        "日期,最低气温,最高气温,降水\n2024-05-01,10,20,0\n".encode("gbk"),
        "w.csv",
    ),
    "gbk_station_column": (
        "w.csv",
        (WEATHER_HEADER + ",站名\n2024-05-01,10,20,0,石家庄\n").encode("gbk"),
        "w.csv",
    ),
    "binary_garbage": ("w.csv", bytes(range(256)) * 4, "w.csv"),
    "station_too_few_columns": ("w.txt", b"Day Month Year Tmin\n1 5 2024 10\n", "w.txt"),
    "station_bad_day": ("w.txt", b"Day Month Year Tmin Tmax Prcp\n32 5 2024 10 20 0\n", "w.txt"),
    "broken_excel": ("w.xlsx", b"PK\x03\x04 not really a workbook", "w.xlsx"),
}


@pytest.mark.parametrize("name", sorted(BAD_WEATHER))
def test_bad_weather_file(tmp_path: Path, name: str) -> None:
    fname, data, words = BAD_WEATHER[name]
    p = tmp_path / fname
    p.write_bytes(data)
    with pytest.raises(TableReadError) as err:
        read_weather(p)
    assert words in str(err.value), str(err.value)
    assert err.value.path is not None


def test_good_weather_rows_read(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_bytes(_w())
    w = read_weather(p)
    assert len(w) == len(_GOOD)
    assert list(w.columns) == ["tmin_c", "tmax_c", "prcp_mm"]


@pytest.mark.parametrize(
    "written", ["2024-05-09", "2024/05/09", "2024-05-09 00:00:00", "2024-05-09T00:00", "20240509"]
)
def test_unambiguous_date_formats_read(tmp_path: Path, written: str) -> None:
    p = tmp_path / "w.csv"
    p.write_bytes(weather_csv([f"{written},12,20,0"]).encode())
    assert read_weather(p).index[0] == pd.Timestamp("2024-05-09")


# --- subsidies ----------------------------------------------------------------------------------


def _s(*rows: str, header: str = SUBSIDY_HEADER, encoding: str = "gbk") -> bytes:
    return subsidy_csv(list(rows), header=header).encode(encoding)


_OK_ROW = f"耕地地力保护补贴,2024,{OWNER},{PARCEL},15,1500"


def _row(**change: str) -> bytes:
    """One GBK subsidy file holding the good record with some fields changed."""
    fields = {"scheme": "耕地地力保护补贴", "year": "2024", "owner_id": OWNER}
    fields |= {"parcel_id": PARCEL, "area_mu": "15", "amount_cny": "1500"}
    fields |= change
    return _s(",".join(fields.values()))


def _without(column: str) -> bytes:
    cols = SUBSIDY_HEADER.split(",")
    values = _OK_ROW.split(",")
    keep = [i for i, c in enumerate(cols) if c != column]
    return _s(",".join(values[i] for i in keep), header=",".join(cols[i] for i in keep))


#: name -> (file name, bytes, read options, words the message must hold)
BAD_SUBSIDIES: dict[str, tuple[str, bytes, dict[str, Any], str]] = {
    "negative_amount": ("s.csv", _row(amount_cny="-1500"), {}, "negative"),
    "negative_area": ("s.csv", _row(area_mu="-15"), {}, "negative"),
    "absurd_amount": ("s.csv", _row(amount_cny="90000000"), {}, "absurd"),
    "absurd_area": ("s.csv", _row(area_mu="9999999"), {}, "absurd"),
    "amount_text": ("s.csv", _row(amount_cny="很多"), {}, "not a number"),
    "amount_empty": ("s.csv", _row(amount_cny=""), {}, "not a number"),
    "amount_infinite": ("s.csv", _row(amount_cny="inf"), {}, "amount"),
    "year_garbage": ("s.csv", _row(year="next"), {}, "year"),
    "year_two_digits": ("s.csv", _row(year="24"), {}, "year"),
    "no_owner_no_parcel": ("s.csv", _row(owner_id="", parcel_id=""), {}, "neither"),
    "empty_scheme": ("s.csv", _row(scheme=""), {}, "scheme"),
    "owner_code_rounded": ("s.csv", _row(owner_id="1.30123E+17"), {}, "rounded"),
    "parcel_code_rounded": ("s.csv", _row(parcel_id="1.3E+18"), {}, "rounded"),
    "missing_scheme_column": ("s.csv", _without("scheme"), {}, "scheme"),
    "missing_year_column": ("s.csv", _without("year"), {}, "year"),
    "missing_amount_column": ("s.csv", _without("amount_cny"), {}, "amount"),
    "gbk_read_as_utf8": ("s.csv", _s(_OK_ROW), {"encoding": "utf-8"}, "utf-8"),
    "unknown_encoding_name": ("s.csv", _s(_OK_ROW), {"encoding": "klingon"}, "klingon"),
    "empty_file": ("s.csv", b"", {}, "s.csv"),
    "binary_garbage": ("s.csv", bytes(range(256)) * 4, {}, "s.csv"),
    "broken_parquet": ("s.parquet", b"PAR1 truncated", {}, "s.parquet"),
    "unknown_suffix": ("s.dbf", b"\x03", {}, "s.dbf"),
}


@pytest.mark.parametrize("name", sorted(BAD_SUBSIDIES))
def test_bad_subsidy_file(tmp_path: Path, name: str) -> None:
    fname, data, options, words = BAD_SUBSIDIES[name]
    p = tmp_path / fname
    p.write_bytes(data)
    with pytest.raises(TableReadError) as err:
        read_subsidies(p, key=KEY, **options)
    assert words in str(err.value), str(err.value)
    assert OWNER not in str(err.value)  # the raw owner code never reaches a message


#: Records that read fine but name nothing the titles know: unmatched, with a reason.
UNKNOWN_REFERENCES = {
    "unknown_parcel": "耕地地力保护补贴,2024,,9999999999999999999,15,1500",
    "unknown_owner": "耕地地力保护补贴,2024,999999999999999999,,15,1500",
    "unknown_both": "耕地地力保护补贴,2024,999999999999999999,9999999999999999999,15,1500",
    "parcel_id_with_spaces": f"耕地地力保护补贴,2024,, {PARCEL}x ,15,1500",
}


@pytest.mark.parametrize("name", sorted(UNKNOWN_REFERENCES))
def test_subsidy_with_unknown_reference_is_unmatched(tmp_path: Path, name: str) -> None:
    p = tmp_path / "s.csv"
    p.write_bytes(_s(_OK_ROW, UNKNOWN_REFERENCES[name]))
    records = read_subsidies(p, key=KEY)
    titles = records.iloc[:1][["owner_ref", "parcel_id"]].assign(declared_area_ha=1.0)
    match = match_subsidies(records, titles)
    assert len(match.matched) == 1
    assert len(match.unmatched) == 1
    assert str(match.unmatched["reason"].iloc[0]).strip()


# --- county yields ------------------------------------------------------------------------------

BAD_YIELDS: dict[str, bytes] = {
    "missing_yield_column": b"crop,year\nmaize,2024\n",
    "missing_crop_column": b"year,yield_t_ha\n2024,7\n",
    "negative_yield": b"crop,year,yield_t_ha\nmaize,2024,-7\n",
    "text_yield": b"crop,year,yield_t_ha\nmaize,2024,good\n",
    "empty_file": b"",
    "binary_garbage": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(BAD_YIELDS))
def test_bad_county_yields(tmp_path: Path, name: str) -> None:
    p = tmp_path / "county_yields.csv"
    p.write_bytes(BAD_YIELDS[name])
    with pytest.raises(TableReadError, match="county yields"):
        read_county_yields(p)


# --- paths --------------------------------------------------------------------------------------

READERS: dict[str, Callable[[Any], Any]] = {
    "weather": read_weather,
    "subsidies": lambda p: read_subsidies(p, key=KEY),
    "county_yields": read_county_yields,
}
REMOTE = ["/vsicurl/https://example.org/t.csv", "https://example.org/t.csv", "ftp://h/t.csv"]


@pytest.mark.parametrize("path", REMOTE)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_remote_table_paths_are_refused(
    reader: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGRILEND_ALLOW_REMOTE", raising=False)
    with pytest.raises(InputPathError, match="network"):
        READERS[reader](path)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_folder_is_not_a_table(tmp_path: Path, reader: str) -> None:
    folder = tmp_path / "table.csv"
    folder.mkdir()
    with pytest.raises(AgrilendError):
        READERS[reader](folder)


# --- fuzzing ------------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_cells = st.one_of(
    st.text(alphabet="0123456789-./ :eE年月日", max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "NA", "-99", "1e308", "耕地", "2024-13-01", "0x10"]),
)


@_FUZZ
@given(rows=st.lists(st.lists(_cells, min_size=4, max_size=4), max_size=6))
def test_fuzz_weather_reader(tmp_path: Path, rows: list[list[str]]) -> None:
    p = tmp_path / "w.csv"
    p.write_text(weather_csv([",".join(r).replace("\n", " ") for r in rows]), encoding="utf-8")
    try:
        w = read_weather(p)
    except TableReadError:
        return
    assert list(w.columns)[:3] == ["tmin_c", "tmax_c", "prcp_mm"]


@_FUZZ
@given(rows=st.lists(st.lists(_cells, min_size=6, max_size=6), max_size=6))
def test_fuzz_subsidy_reader(tmp_path: Path, rows: list[list[str]]) -> None:
    p = tmp_path / "s.csv"
    p.write_text(subsidy_csv([",".join(r) for r in rows]), encoding="utf-8")
    try:
        df = read_subsidies(p, key=KEY)
    except TableReadError:
        return
    assert list(df.columns)[:3] == ["scheme", "year", "owner_ref"]


@_FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(["w.csv", "w.txt", "w.xlsx"]))
def test_fuzz_weather_bytes(tmp_path: Path, data: bytes, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with contextlib.suppress(TableReadError):
        read_weather(p)


@_FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(["s.csv", "s.xlsx", "s.parquet"]))
def test_fuzz_subsidy_bytes(tmp_path: Path, data: bytes, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with contextlib.suppress(TableReadError):
        read_subsidies(p, key=KEY)
