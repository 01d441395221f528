"""The glossary: every code in both languages, one Chinese term per meaning, three crop states."""

from __future__ import annotations

import re

import pytest

from agrilend import glossary
from agrilend.credit.reasons import CROP_NAMES_ZH, REASONS
from agrilend.glossary import GLOSSARY, crop_state, flags_text, term
from agrilend.parcels.validate import CHECK_ORDER
from agrilend.report.i18n import labels

CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[A-Z]+_[A-Z_]+\b")


@pytest.mark.parametrize("kind", sorted(GLOSSARY))
def test_every_term_is_in_both_languages_without_codes(kind: str) -> None:
    for code in GLOSSARY[kind]:
        en, zh = term(kind, code, "en"), term(kind, code, "zh")
        assert en, (kind, code)
        assert not CJK.search(en), (kind, code)
        assert CJK.search(zh), (kind, code)
        assert not CODE.search(en), (kind, code)
        assert not CODE.search(zh), (kind, code)


def test_every_flag_the_pipeline_raises_has_words() -> None:
    raised = {*CHECK_ORDER, "crop_mismatch", "few_clear_observations", "few_pixels"}
    raised |= {"over_declared", "under_declared", "partly_abandoned", "not_cultivated"}
    assert raised <= set(glossary.FLAGS)


def test_every_reason_code_has_a_name() -> None:
    assert set(REASONS) <= set(glossary.REASONS)


def test_unknown_codes_never_reach_a_person_raw() -> None:
    assert term("flag", "new_flag_kind") == "new flag kind"
    assert term("reason", "SOME_NEW_CODE") == "some new code"


def test_chinese_terms_are_one_per_meaning() -> None:
    """申报 is what the farmer declared, 登记 the registry; 休耕 is fallow, 撂荒 abandoned."""
    every_zh = [zh for table in GLOSSARY.values() for _, zh in table.values()]
    every_zh += [r.zh for r in REASONS.values()]
    every_zh += list(labels("zh").values())
    for zh in every_zh:
        if "登记" in zh:  # the registry itself only, never a declaration
            assert any(w in zh for w in ("确权登记", "登记数据", "登记地块")), zh
    assert term("crop", "fallow", "zh") == "休耕"
    assert "撂荒" in term("flag", "partly_abandoned", "zh")
    assert "休耕" not in "".join(zh for _, zh in glossary.FLAGS.values())
    # the credit layer's crop names are the glossary's
    assert dict(CROP_NAMES_ZH) == {k: zh for k, (_, zh) in glossary.CROPS.items()}


@pytest.mark.parametrize(
    ("declared", "crop", "mismatch", "state"),
    [
        ("maize", "maize", False, "matches"),
        ("maize", "soybean", True, "differs_flagged"),
        # the defect: declared fallow, seen wheat + maize at 56 %, not flagged
        ("fallow", "winter_wheat_maize", False, "differs_uncertain"),
        ("", "maize", False, "unknown"),
        ("maize", None, False, "unknown"),
    ],
)
def test_three_crop_states(declared: str, crop: str | None, mismatch: bool, state: str) -> None:
    assert crop_state(declared, crop, mismatch, 0.56) == state


def test_flags_join_in_each_language() -> None:
    assert flags_text(["crop_mismatch", "crop_mismatch", ""]) == (
        "crop differs from the declared crop"
    )
    assert "、" in flags_text(["over_declared", "few_pixels"], "zh")
