"""Reason codes: every code renders in English and Chinese with its numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agrilend.credit import REASONS, reason_text, sizing
from agrilend.credit.reasons import UNUSABLE_ZH
from agrilend.errors import PolicyError

# one set of values for every field any template uses
FIELDS: dict[str, Any] = {
    "share": 0.5,
    "revenue": 43217.4,
    "subsidy_share": 0.8,
    "subsidy": 1200.0,
    "cover": 1.0,
    "cost": 26520.0,
    "cap_per_ha": 22500.0,
    "area": 1.78,
    "cap": 200000.0,
    "observed": 3.1,
    "declared": 5.0,
    "min_ratio": 0.8,
    "n": 2,
    "parcels": "P1, P2",
    "haircut": 0.15,
    "min_obs": 10,
    "min_pixels": 10,
    "harvest": "winter_wheat",
    "yield_t": 4.6,
    "reference": 6.0,
    "shortfall": 0.23,
    "risk": 0.42,
    "n_ok": 1,
    "why": "estimate failed",
    "line": 1500.0,
    "min_line": 2000.0,
    "subsidised": 4.0,
    "ratio": 1.35,
    "cut": 0.46,
    "max_cut": 0.4,
    "min_share": 0.7,
    "margin": 9000.0,
    "rent": 1500.0,
    "relief": 0.3,
    "amount": 1200.0,
    "n_photos": 2,
    "n_receipts": 1,
    "n_contracts": 0,
    "n_repaid": 1,
    "n_outside": 1,
    "n_season": 0,
    "n_crop": 1,
    "flags": "mixed_series",
}


@pytest.mark.parametrize("code", list(REASONS))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_reason_renders(code: str, lang: str) -> None:
    text = reason_text(code, lang, **FIELDS)  # type: ignore[arg-type]
    assert "{" not in text
    assert text.strip() == text
    assert re.search(r"\d", text), "a reason carries its numbers"
    has_cjk = bool(re.search(r"[\u4e00-\u9fff]", text))
    assert has_cjk == (lang == "zh")


def test_the_issue_example_reads_as_written() -> None:
    assert (
        reason_text("AREA_BELOW_DECLARED", observed=3.1, declared=5.0)
        == "observed cultivated area 3.1 ha of 5.0 ha declared"
    )


def test_chinese_text_gives_mu_and_yuan() -> None:
    zh = reason_text("CAP_PER_AREA", "zh", cap_per_ha=22500, area=2.0)
    assert "30.0 亩" in zh
    assert "22,500元" in zh
    assert "冬小麦" in reason_text("LOW_YIELD", "zh", **FIELDS)
    assert "winter wheat" in reason_text("LOW_YIELD", "en", **FIELDS)


def test_other_currency_is_written_out() -> None:
    assert "5,000,000 IDR" in reason_text("CAP_HOUSEHOLD", "zh", currency="IDR", cap=5e6)


def test_unknown_code_language_and_missing_field() -> None:
    with pytest.raises(PolicyError, match="NOPE"):
        reason_text("NOPE")
    with pytest.raises(PolicyError, match="language"):
        reason_text("CAP_HOUSEHOLD", "fr", cap=1)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="'cap'"):
        reason_text("CAP_HOUSEHOLD")


def test_codes_are_stable_upper_case_with_a_kind() -> None:
    for code, r in REASONS.items():
        assert code == r.code
        assert re.fullmatch(r"[A-Z_]+", code)
        assert r.kind in {"limit", "evidence", "risk", "decision"}


def test_why_a_parcel_is_unusable_is_translated() -> None:
    """Every unusable-parcel text that sizing writes reads in Chinese in the zh reason."""
    source = Path(sizing.__file__).read_text(encoding="utf-8")
    written = set(re.findall(r'why\[[^\]]*\] = "([^"]+)"', source))
    assert written, "the pattern no longer finds sizing's texts: update this test"
    assert written <= set(UNUSABLE_ZH), written - set(UNUSABLE_ZH)
    why = "; ".join([*sorted(written), "crop 'maize' not in the policy"])
    zh = reason_text("NO_EVIDENCE", "zh", n=3, why=why)
    assert not re.search(r"[A-Za-z]{3,}", zh), zh
    assert "不在信贷政策中" in zh
    assert f"({why})" in reason_text("NO_EVIDENCE", n=3, why=why)
