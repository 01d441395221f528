"""Keyed owner pseudonyms: format, determinism, key dependence, normalisation."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agrilend.errors import CredentialsError
from agrilend.parcels import pseudonymize
from agrilend.settings import DEMO_PSEUDONYM_KEY

PATTERN = re.compile(r"^H-[0-9a-f]{12}$")


def test_format_and_hmac_definition() -> None:
    out = pseudonymize(["130123200101010001"], key="secret")
    expected = hmac.new(b"secret", b"130123200101010001", hashlib.sha256).hexdigest()[:12]
    assert out[0] == "H-" + expected
    assert PATTERN.match(out[0])


def test_deterministic_and_key_dependent() -> None:
    ids = ["A1", "B2", "A1"]
    a1, a2 = pseudonymize(ids, key="k1"), pseudonymize(ids, key="k1")
    b = pseudonymize(ids, key="k2")
    assert list(a1) == list(a2)
    assert a1[0] == a1[2]
    assert a1[0] != a1[1]
    assert not set(a1) & set(b)


def test_bytes_key_equals_str_key() -> None:
    assert pseudonymize(["x"], key=b"k")[0] == pseudonymize(["x"], key="k")[0]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("130123200101010001", 130123200101010001),
        ("1234", 1234.0),
        ("1234", np.int64(1234)),
        ("1234", np.float32(1234.0)),
        ("A1", "  A1 "),
        ("A1", b"A1"),
    ],
)
def test_equivalent_spellings_match(a: object, b: object) -> None:
    pa, pb = pseudonymize([a, b], key="k")
    assert pa == pb


@pytest.mark.parametrize("missing", [None, float("nan"), "", "  ", "nan", "None", np.nan])
def test_missing_values_give_empty_text(missing: object) -> None:
    assert pseudonymize([missing], key="k")[0] == ""


def test_default_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY", "production-secret")
    assert pseudonymize(["A1"])[0] == pseudonymize(["A1"], key="production-secret")[0]
    assert pseudonymize(["A1"])[0] != pseudonymize(["A1"], key=DEMO_PSEUDONYM_KEY)[0]


def test_demo_key_is_logged_for_the_sample_county_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY_FILE", raising=False)
    with caplog.at_level(logging.INFO, logger="agrilend.parcels.pseudonym"):
        pseudonymize(["131199101201010001"])
    assert "demo key" in caplog.text
    with pytest.raises(CredentialsError, match="AGRILEND_PSEUDONYM_KEY_FILE"):
        pseudonymize(["A1"])
    assert DEMO_PSEUDONYM_KEY not in caplog.text


def test_empty_key_is_refused() -> None:
    with pytest.raises(CredentialsError, match="empty"):
        pseudonymize(["A1"], key="")


@given(st.lists(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s.strip())))
def test_property_distinct_ids_distinct_pseudonyms(ids: list[str]) -> None:
    ids = [i for i in ids if i.lower() not in {"nan", "none", "<na>", "nat"}]
    out = pseudonymize(ids, key="k")
    assert len(out) == len(ids)
    assert all(PATTERN.match(p) for p in out)
    assert len(set(out)) == len(set(ids))
    assert not set(out) & set(ids)  # never the raw id itself
