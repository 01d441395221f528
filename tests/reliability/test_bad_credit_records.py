"""Bad records beyond the crop, catalogued: prices, transfers, insurance and own evidence.

Each case writes a file and expects :class:`~agrilend.errors.TableReadError` whose message names
the file (and, for a record, its number) and the words given. Photos are small JPEGs made here
with the EXIF each case needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agrilend.credit import read_insurance, read_own_evidence, read_prices, read_transfers
from agrilend.errors import InputPathError, TableReadError

KEY = "reliability-test-key"

# --- prices ---------------------------------------------------------------------------------------

P_HEAD = "harvest,market,month,price,unit\n"
P_OK = "maize,Shijiazhuang,2024-09,2.3,CNY/kg\n"


def _p(*rows: str, head: str = P_HEAD) -> bytes:
    return (head + P_OK + "".join(rows)).encode()


#: name -> (file name, bytes, words the message must hold)
BAD_PRICES: dict[str, tuple[str, bytes, str]] = {
    "empty_file": ("p.csv", b"", "p.csv"),
    "header_only": ("p.csv", P_HEAD.encode(), "no record"),
    "no_price_column": ("p.csv", b"harvest,market,month,unit\nmaize,A,2024-09,CNY/kg\n", "price"),
    "no_unit_column": ("p.csv", b"harvest,market,month,price\nmaize,A,2024-09,2.3\n", "unit"),
    "no_month_column": ("p.csv", b"harvest,market,price,unit\nmaize,A,2.3,CNY/kg\n", "month"),
    "month_not_a_month": ("p.csv", _p("maize,A,September,2.3,CNY/kg\n"), "record 2"),
    "month_thirteen": ("p.csv", _p("maize,A,2024-13,2.3,CNY/kg\n"), "month"),
    "price_text": ("p.csv", _p("maize,A,2024-08,cheap,CNY/kg\n"), "not a number"),
    "price_empty": ("p.csv", _p("maize,A,2024-08,,CNY/kg\n"), "empty"),
    "price_zero": ("p.csv", _p("maize,A,2024-08,0,CNY/kg\n"), "not above 0"),
    "price_negative": ("p.csv", _p("maize,A,2024-08,-2.3,CNY/kg\n"), "not above 0"),
    "price_infinite": ("p.csv", _p("maize,A,2024-08,inf,CNY/kg\n"), "finite"),
    "price_absurd": ("p.csv", _p("maize,A,2024-08,2300,CNY/kg\n"), "absurd"),
    "other_currency": ("p.csv", _p("maize,A,2024-08,0.3,USD/kg\n"), "currency"),
    "unknown_weight": ("p.csv", _p("maize,A,2024-08,2.3,CNY/bushel\n"), "unknown weight"),
    "unit_without_slash": ("p.csv", _p("maize,A,2024-08,2.3,CNY\n"), "unit"),
    "empty_harvest": ("p.csv", _p(",A,2024-08,2.3,CNY/kg\n"), "harvest is empty"),
    "unknown_harvest": ("p.csv", _p("maiz,A,2024-08,2.3,CNY/kg\n"), "not in the policy"),
    "two_prices_one_month": ("p.csv", _p("maize,Shijiazhuang,2024-09,2.5,CNY/kg\n"), "two"),
    "binary_garbage": ("p.csv", bytes(range(256)) * 4, "p.csv"),
    "unknown_suffix": ("p.dat", _p(), "unknown type"),
    "broken_excel": ("p.xlsx", b"PK\x03\x04 not a workbook", "p.xlsx"),
}


@pytest.mark.parametrize("name", sorted(BAD_PRICES))
def test_bad_price_file(tmp_path: Path, name: str) -> None:
    fname, data, words = BAD_PRICES[name]
    p = tmp_path / fname
    p.write_bytes(data)
    with pytest.raises(TableReadError) as err:
        read_prices(p, harvests=("maize", "winter_wheat"))
    assert words in str(err.value), str(err.value)
    assert fname in str(err.value)


# --- transfers ------------------------------------------------------------------------------------

T_HEAD = "parcel_id,holder_id,tenant_id,rent_per_year,start,end\n"


def _t(row: str, head: str = T_HEAD) -> bytes:
    return (head + "P0,130100,130200,900,2023-10-01,2026-09-30\n" + row).encode("gbk")


BAD_TRANSFERS: dict[str, tuple[str, bytes, str]] = {
    "empty_file": ("t.csv", b"", "t.csv"),
    "header_only": ("t.csv", T_HEAD.encode(), "no record"),
    "no_tenant_column": (
        "t.csv",
        b"parcel_id,holder_id,rent_per_year,start,end\nP1,1,9,2024-01-01,2025-01-01\n",
        "tenant",
    ),
    "no_rent_at_all": (
        "t.csv",
        b"parcel_id,holder_id,tenant_id,start,end\nP1,1,2,2024-01-01,2025-01-01\n",
        "no rent",
    ),
    "empty_parcel": (
        "t.csv",
        _t(",130101,130201,900,2024-01-01,2025-01-01\n"),
        "parcel id is empty",
    ),
    "empty_tenant": ("t.csv", _t("P1,130101,,900,2024-01-01,2025-01-01\n"), "missing"),
    "same_both_sides": (
        "t.csv",
        _t("P1,130101,130101,900,2024-01-01,2025-01-01\n"),
        "same household",
    ),
    "rounded_code": (
        "t.csv",
        _t("1.30123E+18,130101,130201,900,2024-01-01,2025-01-01\n"),
        "rounded",
    ),
    "start_not_a_date": ("t.csv", _t("P1,130101,130201,900,spring,2025-01-01\n"), "record 2"),
    "end_before_start": ("t.csv", _t("P1,130101,130201,900,2025-01-01,2024-01-01\n"), "before"),
    "term_too_long": ("t.csv", _t("P1,130101,130201,900,2000-01-01,2060-01-01\n"), "30 years"),
    "rent_negative": ("t.csv", _t("P1,130101,130201,-900,2024-01-01,2025-01-01\n"), "below 0"),
    "rent_text": ("t.csv", _t("P1,130101,130201,some,2024-01-01,2025-01-01\n"), "not a number"),
    "rent_empty": ("t.csv", _t("P1,130101,130201,,2024-01-01,2025-01-01\n"), "empty"),
    "rent_per_mu_absurd": (
        "t.csv",
        (
            b"parcel_id,holder_id,tenant_id,rent_per_mu,area_mu,start,end\n"
            b"P1,1,2,90000,3,2024-01-01,2025-01-01\n"
        ),
        "absurd",
    ),
    "area_zero": (
        "t.csv",
        (
            b"parcel_id,holder_id,tenant_id,rent_per_mu,area_mu,start,end\n"
            b"P1,1,2,900,0,2024-01-01,2025-01-01\n"
        ),
        "not above 0",
    ),
    "not_utf8_nor_gbk": (
        "t.csv",
        T_HEAD.encode() + b"P1,\xff\xfe\xfa,2,9,2024-01-01,2025-01-01\n",
        "t.csv",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_TRANSFERS))
def test_bad_transfer_file(tmp_path: Path, name: str) -> None:
    fname, data, words = BAD_TRANSFERS[name]
    p = tmp_path / fname
    p.write_bytes(data)
    with pytest.raises(TableReadError) as err:
        read_transfers(p, key=KEY)
    assert words in str(err.value), str(err.value)


# --- insurance ------------------------------------------------------------------------------------

I_HEAD = "year,owner_id,parcel_id,crop,insured_area_mu,sum_insured\n"


def _i(row: str, head: str = I_HEAD) -> bytes:
    return (head + "2024,130100,P0,maize,15,6000\n" + row).encode()


BAD_INSURANCE: dict[str, tuple[str, bytes, str]] = {
    "empty_file": ("i.csv", b"", "i.csv"),
    "no_crop_column": (
        "i.csv",
        b"year,owner_id,insured_area_mu,sum_insured\n2024,1,15,6000\n",
        "crop",
    ),
    "no_area_column": ("i.csv", b"year,owner_id,crop,sum_insured\n2024,1,maize,6000\n", "area"),
    "no_owner_nor_parcel_column": (
        "i.csv",
        b"year,crop,insured_area_mu,sum_insured\n2024,maize,1,9\n",
        "owner",
    ),
    "year_text": ("i.csv", _i("last,130100,P1,maize,15,6000\n"), "not a number"),
    "year_fraction": ("i.csv", _i("2024.5,130100,P1,maize,15,6000\n"), "whole year"),
    "year_absurd": ("i.csv", _i("1066,130100,P1,maize,15,6000\n"), "below"),
    "unknown_crop": ("i.csv", _i("2024,130100,P1,corn,15,6000\n"), "canonical"),
    "area_zero": ("i.csv", _i("2024,130100,P1,maize,0,6000\n"), "not above 0"),
    "area_absurd": ("i.csv", _i("2024,130100,P1,maize,9999999,6000\n"), "absurd"),
    "sum_negative": ("i.csv", _i("2024,130100,P1,maize,15,-6000\n"), "not above 0"),
    "sum_absurd": ("i.csv", _i("2024,130100,P1,maize,1,99999999\n"), "absurd"),
    "no_owner_no_parcel": ("i.csv", _i("2024,,,maize,15,6000\n"), "neither"),
    "rounded_owner": ("i.csv", _i("2024,1.30123E+17,P1,maize,15,6000\n"), "rounded"),
}


@pytest.mark.parametrize("name", sorted(BAD_INSURANCE))
def test_bad_insurance_file(tmp_path: Path, name: str) -> None:
    fname, data, words = BAD_INSURANCE[name]
    p = tmp_path / fname
    p.write_bytes(data)
    with pytest.raises(TableReadError) as err:
        read_insurance(p, key=KEY)
    assert words in str(err.value), str(err.value)


# --- own evidence -------------------------------------------------------------------------------

E_HEAD = "owner_id,kind,parcel_id,date,crop,amount,file\n"


def _jpeg(
    path: Path, *, gps: dict[int, Any] | None, stamp: str | None = "2024:07:15 10:00:00"
) -> None:
    exif = Image.Exif()
    if gps is not None:
        exif[0x8825] = gps
    if stamp is not None:
        exif[306] = stamp
    Image.new("RGB", (8, 8), (40, 120, 40)).save(path, exif=exif)


GOOD_GPS = {1: "N", 2: (38.0, 3.0, 0.0), 3: "E", 4: (114.5, 0.0, 0.0)}
#: name -> (manifest row, photo to write as "a.jpg" (gps, stamp) or None, words)
BAD_EVIDENCE: dict[str, tuple[str, tuple[Any, Any] | None, str]] = {
    "unknown_kind": ("130100,selfie,P1,,,,a.jpg", None, "unknown"),
    "no_owner": (",receipt,,2024-09-01,maize,1000,", None, "owner"),
    "photo_without_file": ("130100,photo,P1,,,,", None, "needs its parcel_id and its file"),
    "photo_without_parcel": (
        "130100,photo,,,,,a.jpg",
        (GOOD_GPS, "2024:07:15 10:00:00"),
        "parcel_id",
    ),
    "photo_missing_file": ("130100,photo,P1,,,,gone.jpg", None, "does not exist"),
    "photo_outside_folder": ("130100,photo,P1,,,,../a.jpg", None, "outside the manifest"),
    "photo_remote": ("130100,photo,P1,,,,https://example.org/a.jpg", None, "remote"),
    "photo_without_gps": ("130100,photo,P1,,,,a.jpg", (None, "2024:07:15 10:00:00"), "GPS"),
    "photo_impossible_gps": (
        "130100,photo,P1,,,,a.jpg",
        ({1: "N", 2: (138.0, 0.0, 0.0), 3: "E", 4: (114.0, 0.0, 0.0)}, "2024:07:15 10:00:00"),
        "impossible",
    ),
    "photo_without_time": ("130100,photo,P1,,,,a.jpg", (GOOD_GPS, None), "time"),
    "photo_garbled_time": ("130100,photo,P1,,,,a.jpg", (GOOD_GPS, "yesterday"), "time"),
    "photo_not_an_image": ("130100,photo,P1,,,,a.jpg", ("text", None), "readable image"),
    "receipt_no_date": ("130100,receipt,,,maize,1000,", None, "not a date"),
    "receipt_no_crop": ("130100,receipt,,2024-09-01,,1000,", None, "crop"),
    "receipt_amount_text": ("130100,receipt,,2024-09-01,maize,lots,", None, "not a number"),
    "receipt_amount_zero": ("130100,receipt,,2024-09-01,maize,0,", None, "not above zero"),
    "contract_absurd_amount": ("130100,contract,,2024-09-01,maize,999999999,", None, "absurd"),
    "loan_date_not_a_date": ("130100,loan_repaid,,last year,,,", None, "not a date"),
}


@pytest.mark.parametrize("name", sorted(BAD_EVIDENCE))
def test_bad_own_evidence(tmp_path: Path, name: str) -> None:
    row, photo, words = BAD_EVIDENCE[name]
    folder = tmp_path / "evidence"
    folder.mkdir()
    if photo is not None:
        gps, stamp = photo
        if gps == "text":
            (folder / "a.jpg").write_text("not a jpeg")
        else:
            _jpeg(folder / "a.jpg", gps=gps, stamp=stamp)
    (tmp_path / "a.jpg").write_bytes(b"outside")
    manifest = folder / "evidence.csv"
    manifest.write_text(E_HEAD + row + "\n")
    with pytest.raises(TableReadError) as err:
        read_own_evidence(manifest, key=KEY)
    assert words in str(err.value), str(err.value)
    # in "drop" mode the bad record is set aside with its reason, the file still reads
    kept = read_own_evidence(manifest, key=KEY, errors="drop")
    assert kept.empty
    assert len(kept.attrs["rejected"]) == 1


@pytest.mark.parametrize("reader", [read_prices, read_transfers, read_insurance, read_own_evidence])
@pytest.mark.parametrize("path", ["https://example.org/x.csv", "/vsicurl/https://e.org/x.csv"])
def test_remote_record_paths_are_refused(reader: Any, path: str) -> None:
    with pytest.raises(InputPathError):
        reader(path)
