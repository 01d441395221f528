"""Labels in both languages, and how numbers are written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agrilend.credit import CANONICAL_CROPS
from agrilend.glossary import GLOSSARY
from agrilend.report import i18n

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Labels that are the same symbol in both languages.
SAME = {"ndvi", "missing", "north"}


def test_every_label_exists_in_both_languages() -> None:
    en, zh = i18n.labels("en"), i18n.labels("zh")
    assert en.keys() == zh.keys()
    for key in en:
        assert en[key].strip(), key
        assert zh[key].strip(), key
        assert not CJK.search(en[key]), key
        if key not in SAME and en[key] != zh[key]:
            assert CJK.search(zh[key]), key


@pytest.mark.parametrize(
    "kind", ["crop", "decision", "status", "vigour_class", "area_flag", "input"]
)
def test_value_tables_translate_every_value(kind: str) -> None:
    for value in GLOSSARY[kind]:
        assert not CJK.search(i18n.value_text(kind, value, "en"))
        assert CJK.search(i18n.value_text(kind, value, "zh"))


def test_canonical_crops_all_have_names() -> None:
    for crop in CANONICAL_CROPS:
        assert crop in GLOSSARY["crop"], crop


@given(st.floats(min_value=0, max_value=1e5, allow_nan=False))
def test_area_in_mu_is_fifteen_per_hectare(ha: float) -> None:
    for lang in i18n.LANGS:
        shown = i18n.fmt_area(ha, lang=lang)
        numbers = [float(n.replace(",", "")) for n in re.findall(r"[\d,]+\.\d+", shown)]
        assert len(numbers) == 2
        assert numbers[0] == pytest.approx(ha, abs=0.005)
        assert numbers[1] == pytest.approx(ha * 15, abs=0.05 + 15 * 0.005)


@given(st.floats(allow_nan=True, allow_infinity=False, width=32))
def test_money_keeps_the_number(value: float) -> None:
    en = i18n.fmt_money(value, "CNY")
    zh = i18n.fmt_money(value, "CNY", lang="zh")
    if value != value:
        assert en == zh == "–"
    else:
        assert en.removeprefix("CNY ") == zh.removesuffix(" 元")


@pytest.mark.parametrize("missing", [None, float("nan"), "NaT"])
def test_missing_values_are_a_dash(missing: object) -> None:
    value = None if missing == "NaT" else missing
    assert i18n.fmt_number(value) == "–"
    assert i18n.fmt_percent(value) == "–"
    assert i18n.fmt_date(value) == "–"
