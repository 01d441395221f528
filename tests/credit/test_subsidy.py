"""Subsidy records: formats, encodings, pseudonyms, the catalogue of bad records, matching."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrilend.credit import (
    SUBSIDY_COLUMNS,
    household_subsidies,
    load_policy,
    match_subsidies,
    normalise_subsidies,
    read_subsidies,
    size_households,
    subsidy_area_flags,
)
from agrilend.errors import InputPathError, TableReadError
from agrilend.parcels.pseudonym import pseudonymize
from tests.credit.builders import one_parcel

KEY = "test-key"
OWNER = "130123200101010001"
HEADER = "scheme,year,owner_id,parcel_id,area_mu,amount_cny\n"
GOOD = (
    f"耕地地力保护补贴,2024,{OWNER},1301230010010000001,15,1500\n"
    "玉米生产者补贴,2024,,1301230010010000002,7.5,600\n"
)


def _csv(tmp_path: Path, body: str, *, encoding: str = "gbk", header: str = HEADER) -> Path:
    p = tmp_path / "subsidies.csv"
    p.write_bytes((header + body).encode(encoding))
    return p


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "utf-8-sig", "gb18030"])
def test_reads_gbk_and_utf8_alike(tmp_path: Path, encoding: str) -> None:
    df = read_subsidies(_csv(tmp_path, GOOD, encoding=encoding), key=KEY)
    assert list(df.columns) == list(SUBSIDY_COLUMNS)
    assert df["scheme"].tolist() == ["耕地地力保护补贴", "玉米生产者补贴"]
    assert df["area_ha"].tolist() == pytest.approx([1.0, 0.5])
    assert df["amount"].tolist() == [1500.0, 600.0]
    assert df["currency"].tolist() == ["CNY", "CNY"]
    assert df["year"].tolist() == [2024, 2024]
    # parcel codes keep every digit (19-digit codes do not fit a float)
    assert df["parcel_id"].tolist() == ["1301230010010000001", "1301230010010000002"]


def test_raw_owner_ids_never_leave_the_reader(tmp_path: Path) -> None:
    df = read_subsidies(_csv(tmp_path, GOOD), key=KEY)
    assert df.loc[0, "owner_ref"] == pseudonymize([OWNER], key=KEY)[0]
    assert df.loc[1, "owner_ref"] == ""
    assert OWNER not in df.to_csv()
    assert OWNER not in repr(df.attrs)


def test_pseudonyms_already_given_are_kept(tmp_path: Path) -> None:
    body = "a,2024,H-0123456789ab,,1,100\n"
    df = read_subsidies(_csv(tmp_path, body), key=KEY)
    assert df.loc[0, "owner_ref"] == "H-0123456789ab"


def test_excel_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "补贴项目": ["耕地地力保护补贴"],
            "年度": ["2023"],
            "承包方编码": [OWNER],
            "地块编码": ["1301230010010000001"],
            "补贴面积": ["3"],
            "补贴金额": ["300"],
        }
    )
    xlsx = tmp_path / "s.xlsx"
    frame.to_excel(xlsx, index=False)
    parquet = tmp_path / "s.parquet"
    frame.assign(年度=2023, 补贴金额=300.0, 补贴面积=3.0).to_parquet(parquet)
    for path in (xlsx, parquet):
        df = read_subsidies(path, key=KEY)
        assert df.loc[0, "year"] == 2023
        assert df.loc[0, "area_ha"] == pytest.approx(0.2)
        assert df.loc[0, "amount"] == 300.0
        assert df.loc[0, "owner_ref"] == pseudonymize([OWNER], key=KEY)[0]


def test_mapping_names_unusual_columns(tmp_path: Path) -> None:
    header = "programme,paid_on,farmer,plot,ha,idr\n"
    body = "seed aid,15/03/2024,F1,PL-1,0.4,250000\n"
    p = _csv(tmp_path, body, header=header, encoding="utf-8")
    mapping = {
        "scheme": "programme",
        "year": "paid_on",
        "owner": "farmer",
        "parcel_id": "plot",
        "area": "ha",
        "area_unit": "ha",
        "amount": "idr",
    }
    df = read_subsidies(p, key=KEY, mapping=mapping, currency="IDR", max_amount_per_ha=None)
    assert df.loc[0, ["year", "area_ha", "amount"]].tolist() == [2024, 0.4, 250000.0]
    assert df.loc[0, "currency"] == "IDR"


@pytest.mark.parametrize(
    "written",
    ["2024", "2024.0", "2024-03-15", "2024/3/15", "15.03.2024", "20240315", "2024年3月", "2024年"],
)
def test_dates_in_other_formats_give_the_year(tmp_path: Path, written: str) -> None:
    body = f"a,{written},{OWNER},,1,100\n"
    assert read_subsidies(_csv(tmp_path, body), key=KEY)["year"].tolist() == [2024]


def test_amounts_with_separators_and_yuan(tmp_path: Path) -> None:
    body = f'a,2024,{OWNER},,30,"1,234.5元"\n'
    assert read_subsidies(_csv(tmp_path, body), key=KEY)["amount"].tolist() == [1234.5]


# (what, record, the message must say)
BAD_RECORDS = [
    ("negative amount", f"a,2024,{OWNER},P1,1,-100", "negative"),
    ("absurd amount", f"a,2024,{OWNER},P1,1,9000000", "absurd"),
    ("amount not a number", f"a,2024,{OWNER},P1,1,lots", "not a number"),
    ("negative area", f"a,2024,{OWNER},P1,-3,100", "negative"),
    ("absurd area", f"a,2024,{OWNER},P1,9000000,100", "absurd"),
    ("unparseable date", f"a,03/15/24,{OWNER},P1,1,100", "four-digit year"),
    ("no owner nor parcel", "a,2024,,,1,100", "neither a parcel id nor an owner"),
    ("empty scheme", f",2024,{OWNER},P1,1,100", "scheme is empty"),
    ("code rounded by a spreadsheet", "a,2024,1.31199E+17,P1,1,100", "as text"),
]


@pytest.mark.parametrize(("what", "record", "says"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_bad_records_raise_with_the_record_number(
    tmp_path: Path, what: str, record: str, says: str
) -> None:
    p = _csv(tmp_path, GOOD + record + "\n")
    with pytest.raises(TableReadError, match=says) as err:
        read_subsidies(p, key=KEY)
    assert "record 3" in str(err.value), what
    assert "subsidies.csv" in str(err.value)
    assert OWNER not in str(err.value)
    assert err.value.path == p


def test_bad_records_can_be_dropped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = GOOD + "\n".join(r for _, r, _ in BAD_RECORDS) + "\n"
    with caplog.at_level(logging.WARNING, logger="agrilend.credit.subsidy"):
        df = read_subsidies(_csv(tmp_path, body), key=KEY, errors="drop")
    assert len(df) == 2
    rejected = df.attrs["rejected"]
    assert rejected["record"].tolist() == list(range(3, 3 + len(BAD_RECORDS)))
    assert "dropped" in caplog.text
    assert OWNER not in caplog.text


# (what, file name, bytes, read options, the message must say)
BAD_FILES = [
    ("missing amount column", "s.csv", b"scheme,year,owner_id\na,2024,1\n", {}, "amount"),
    ("no owner nor parcel column", "s.csv", b"scheme,year,amount\na,2024,1\n", {}, "owner"),
    ("unknown file type", "s.json", b"{}", {}, "unknown type"),
    (
        "wrong encoding given",
        "s.csv",
        (HEADER + GOOD).encode("gbk"),
        {"encoding": "ascii"},
        "ascii",
    ),
    ("not text at all", "s.csv", b"\xff\xfe\x00\x81\x00" * 20, {}, "binary, not a text table"),
    ("neither UTF-8 nor GBK", "s.csv", b"a,b\n\xff\xff\xff,1\n", {}, "utf-8-sig or gb18030"),
    ("broken excel", "s.xlsx", b"not a zip", {}, "could not be read"),
    (
        "mapped column absent",
        "s.csv",
        (HEADER + GOOD).encode(),
        {"mapping": {"amount": "x"}},
        "'x'",
    ),
    (
        "unknown mapping key",
        "s.csv",
        (HEADER + GOOD).encode(),
        {"mapping": {"money": "x"}},
        "money",
    ),
]


@pytest.mark.parametrize(
    ("what", "name", "data", "options", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_raise_typed_errors(
    tmp_path: Path, what: str, name: str, data: bytes, options: dict, says: str
) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(TableReadError, match=says):
        read_subsidies(p, key=KEY, **options)


def test_missing_and_remote_paths(tmp_path: Path) -> None:
    with pytest.raises(InputPathError):
        read_subsidies(tmp_path / "absent.csv")
    with pytest.raises(InputPathError):
        read_subsidies("https://example.org/subsidies.csv")


def _titles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "parcel_id": ["P1", "P2", "P3"],
            "owner_ref": ["H-000000000001", "H-000000000001", "H-000000000002"],
            "declared_area_ha": [1.0, 0.5, 2.0],
        }
    )


def _records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scheme": ["a", "a", "a", "a", "a", "b"],
            "year": [2024, 2024, 2024, 2024, 2024, 2024],
            "owner_ref": ["", "H-000000000002", "H-00000000000f", "", "H-000000000009", ""],
            "parcel_id": ["P1", "", "P9", "", "P3", "P2"],
            "area_ha": [1.0, 2.0, 0.3, 0.1, 2.0, 0.5],
            "amount": [100.0, 200.0, 30.0, 10.0, 200.0, 50.0],
            "currency": ["CNY"] * 6,
        }
    )


def test_match_by_parcel_then_owner_with_reasons() -> None:
    m = match_subsidies(_records(), _titles())
    assert m.matched["parcel_id"].tolist() == ["P1", "", "P3", "P2"]
    assert m.matched["matched_by"].tolist() == ["parcel_id", "owner_ref", "parcel_id", "parcel_id"]
    assert m.matched["owner_ref"].tolist() == [
        "H-000000000001",
        "H-000000000002",
        "H-000000000002",
        "H-000000000001",
    ]
    # the record names another owner than the title holder of P3
    assert m.matched["owner_conflict"].tolist() == [False, False, True, False]
    assert len(m.unmatched) == 2
    assert "P9" in m.unmatched.loc[0, "reason"]
    assert "neither" in m.unmatched.loc[1, "reason"]
    assert len(m.matched) + len(m.unmatched) == len(_records())


def test_match_needs_ids() -> None:
    with pytest.raises(TableReadError, match="owner_ref"):
        match_subsidies(_records(), _titles().drop(columns="owner_ref"))


def test_household_income_uses_the_latest_year_and_schemes_do_not_add_area() -> None:
    m = match_subsidies(_records(), _titles())
    old = m.matched.iloc[[0]].assign(year=2023, amount=999.0)
    hh = household_subsidies(pd.concat([m.matched, old]), as_of_year=2024)
    h1 = hh.loc["H-000000000001"]
    assert h1["subsidy_income"] == 150.0  # 2024 only: 100 (scheme a) + 50 (scheme b)
    assert h1["subsidised_area_ha"] == 1.0  # the largest scheme's area, not 1.0 + 0.5
    assert h1["subsidy_year"] == 2024
    assert household_subsidies(pd.concat([m.matched, old]), as_of_year=2023).loc[
        "H-000000000001", "subsidy_income"
    ] == pytest.approx(999.0)


def test_household_income_refuses_another_currency() -> None:
    with pytest.raises(TableReadError, match="IDR"):
        household_subsidies(_records().assign(currency="IDR", owner_ref="H-1"), currency="CNY")


def test_subsidised_area_far_above_cultivated_is_flagged() -> None:
    m = match_subsidies(_records(), _titles())
    est = _titles().assign(cultivated_area_ha=[1.0, 0.4, 1.0])
    flags = subsidy_area_flags(m, est, max_ratio=1.2)
    # two records of scheme "a" pay for 2.0 ha each; 1.0 ha is seen cultivated
    assert bool(flags.loc["H-000000000002", "over_area"])
    assert flags.loc["H-000000000002", "ratio"] == pytest.approx(4.0)
    assert not bool(flags.loc["H-000000000001", "over_area"])


@pytest.mark.skipif(
    not (Path(__file__).resolve().parents[2] / "sample_data" / "subsidies.csv").exists(),
    reason="sample_data/subsidies.csv is made by the synthetic-county generator",
)
def test_sample_county_subsidies(sample_data: Path) -> None:
    df = read_subsidies(sample_data / "subsidies.csv")
    assert len(df) > 0
    assert df["owner_ref"].str.match(r"^(H-[0-9a-f]{12})?$").all()
    assert (df["amount"] >= 0).all()
    assert np.isfinite(df["amount"]).all()


# --- one layout for every consumer (issue 13) ---------------------------------------------------


def test_size_households_takes_the_documented_minimal_layout() -> None:
    """The layout size_households documents (no scheme, no parcel_id) no longer raises KeyError."""
    est = one_parcel()
    owner = est.loc[0, "owner_ref"]
    minimal = pd.DataFrame(
        {"owner_ref": [owner], "year": [2024], "amount": [1000.0], "area_ha": [1.0],
         "currency": ["CNY"]}
    )  # fmt: skip
    before = minimal.copy()
    out = size_households(est, load_policy(), subsidies=minimal, as_of=date(2024, 3, 1))
    assert float(out.loc[0, "subsidy_income"]) == pytest.approx(1000.0)
    pd.testing.assert_frame_equal(minimal, before)  # the input is not changed


def test_raw_file_layout_is_normalised_and_pseudonymised() -> None:
    raw = pd.DataFrame(
        {"scheme": ["a"], "year": ["2024"], "owner_id": [OWNER], "parcel_id": ["P1"],
         "area_mu": [15.0], "amount_cny": [1500.0]}
    )  # fmt: skip
    out = normalise_subsidies(raw, key=KEY)
    assert list(out.columns) == list(SUBSIDY_COLUMNS)
    assert out.loc[0, "owner_ref"] == pseudonymize([OWNER], key=KEY)[0]
    assert out.loc[0, "area_ha"] == pytest.approx(1.0)
    assert OWNER not in out.to_csv()
    # the three layouts give the same household sums
    read_layout = out.copy()
    minimal = out[["owner_ref", "year", "amount", "area_ha"]]
    sums = [household_subsidies(t)["subsidy_income"].tolist() for t in (raw, read_layout, minimal)]
    assert sums[1] == sums[2] == [1500.0]


def test_normalise_refuses_records_without_amount() -> None:
    with pytest.raises(TableReadError, match="amount"):
        normalise_subsidies(pd.DataFrame({"owner_ref": ["H-1"], "year": [2024]}))
