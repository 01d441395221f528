"""Synthetic registry keys and personal data shaped like a Chinese land-contract (确权) database.

Everything here is invented: the county code is not in use (``131199``: province 13 Hebei,
prefecture 11, county 99), the names are drawn from common surnames and given-name characters,
resident ID numbers are random but carry a valid ISO 7064 MOD 11-2 check digit, phone numbers
only have the shape of mainland mobile numbers.

Codes follow the structure of the registry standard: the 发包方编码 (contracting collective:
12-digit village code + 2-digit villagers' group) is 14 digits; a household's 承包方编码 (CBFBM)
adds a 4-digit serial (18 digits); a parcel's 地块编码 (DKBM) adds a 5-digit serial (19 digits).
"""

from __future__ import annotations

import numpy as np

#: Village code: province 13, prefecture 11, county 99 (not in use), township 101, village 201.
VILLAGE_CODE = "131199101201"
_COUNTY = VILLAGE_CODE[:6]

# a plain-county village has a few dominant lineages and a tail of other surnames
_SURNAMES = "张李王刘赵孙杨陈马高郭周吴徐朱胡何田董韩"
_SURNAME_P = np.array([22, 16, 13, 9, 6, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 2, 1], dtype=float)
_GIVEN = "国建文志永海明春秀英兰凤玉华军红平金立新德福振宝俊淑桂荣刚强伟丽芳敏"
_CHECK_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)])
_CHECK_CHARS = "10X98765432"
_PLACES = ["东大地", "西洼", "南岗", "北坑", "前地", "后地", "河沿", "大道东", "小庙南", "东洼"]


def collective_code(group: int) -> str:
    """The 14-digit 发包方编码 of villagers' group ``group`` (1-99).

    Examples
    --------
    >>> collective_code(3)
    '13119910120103'
    """
    return f"{VILLAGE_CODE}{group:02d}"


def household_code(group: int, serial: int) -> str:
    """The 18-digit 承包方编码 (CBFBM) of a household.

    Examples
    --------
    >>> household_code(3, 17)
    '131199101201030017'
    """
    return f"{collective_code(group)}{serial:04d}"


def parcel_code(group: int, serial: int) -> str:
    """The 19-digit 地块编码 (DKBM) of a parcel.

    Examples
    --------
    >>> len(parcel_code(3, 123)), parcel_code(3, 123)[-5:]
    (19, '00123')
    """
    return f"{collective_code(group)}{serial:05d}"


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit resident ID stem.

    Examples
    --------
    >>> id_check_digit("11010519491231002")
    'X'
    """
    total = int(np.dot(_CHECK_WEIGHTS, [int(c) for c in first17]))
    return _CHECK_CHARS[total % 11]


def resident_id(rng: np.random.Generator, *, male: bool) -> str:
    """A synthetic 18-digit resident ID (born 1945-1995, registered in the fictitious county)."""
    day = np.datetime64("1945-01-01") + int(rng.integers(0, 365 * 50))
    birth = str(day).replace("-", "")
    seq = int(rng.integers(0, 500)) * 2 + (1 if male else 0)
    stem = f"{_COUNTY}{birth}{seq:03d}"
    return stem + id_check_digit(stem)


def person_name(rng: np.random.Generator) -> str:
    """A synthetic Chinese name: a common surname and one or two given-name characters."""
    surname = _SURNAMES[int(rng.choice(len(_SURNAMES), p=_SURNAME_P / _SURNAME_P.sum()))]
    n = 1 if rng.random() < 0.25 else 2
    return surname + "".join(_GIVEN[int(i)] for i in rng.integers(0, len(_GIVEN), n))


def mobile_number(rng: np.random.Generator) -> str:
    """A synthetic 11-digit mainland mobile number (1[3-9]x xxxx xxxx)."""
    second = int(rng.choice([3, 5, 7, 8, 9], p=[0.35, 0.3, 0.05, 0.25, 0.05]))
    return f"1{second}{int(rng.integers(0, 10))}{int(rng.integers(0, 10**8)):08d}"


def place_name(block: int, strip: int) -> str:
    """A parcel name (地块名称) from the block's field name and a strip number."""
    return f"{_PLACES[block % len(_PLACES)]}{strip}号"


__all__ = [
    "VILLAGE_CODE",
    "collective_code",
    "household_code",
    "id_check_digit",
    "mobile_number",
    "parcel_code",
    "person_name",
    "place_name",
    "resident_id",
]
