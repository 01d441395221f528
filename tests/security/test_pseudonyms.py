"""Pseudonyms that cannot be reversed (defect 4).

Owner codes are a village prefix times a serial: a few thousand candidates per county. Anyone who
knows the key rebuilds every pseudonym in a fraction of a second, so the public demo key must
never pseudonymise a real registry. These tests run the reversal attack.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

from agrilend.cli.main import cli
from agrilend.errors import CredentialsError
from agrilend.parcels import pseudonymize, read_titles
from agrilend.settings import DEMO_PSEUDONYM_KEY
from tests.security._hostile import titles

#: A real-looking county (Hebei 130123): 4 villages, owners numbered from 1.
VILLAGES = ["13012310120101", "13012310120102", "13012310220101", "13012310320501"]
USER_KEY = "a-bank-s-own-secret-key-9f3c1e"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY_FILE", raising=False)


def _registry(tmp_path: Path, prefixes: list[str]) -> tuple[Path, list[str]]:
    t = titles(8)
    owners = [f"{prefixes[i % len(prefixes)]}{i + 1:04d}" for i in range(len(t))]
    reg = gpd.GeoDataFrame(
        {"DKBM": t["parcel_id"], "CBFBM": owners, "HTMJM": t["declared_area_ha"] * 15},
        geometry=t.geometry,
        crs=t.crs,
    )
    path = tmp_path / "registry.gpkg"
    reg.to_file(path, driver="GPKG", layer="titles")
    return path, owners


def _read(path: Path) -> gpd.GeoDataFrame:
    return read_titles(path, parcel_id="DKBM", owner="CBFBM", declared_area="HTMJM",
                       declared_area_unit="mu")  # fmt: skip


def _reverse(refs: set[str], key: str, prefixes: list[str], serials: int) -> dict[str, str]:
    """The attack: pseudonymise every prefix x serial with ``key`` and look the outputs up."""
    found = {}
    secret = key.encode()
    for prefix in prefixes:
        for n in range(1, serials + 1):
            code = f"{prefix}{n:04d}"
            ref = "H-" + hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()[:12]
            if ref in refs:
                found[ref] = code
    return found


def test_a_users_registry_without_a_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    path, _ = _registry(tmp_path, VILLAGES)
    with pytest.raises(CredentialsError) as err:
        _read(path)
    message = str(err.value)
    assert "AGRILEND_PSEUDONYM_KEY_FILE" in message
    assert "AGRILEND_PSEUDONYM_KEY" in message
    assert "secrets.token_hex" in message


def test_check_on_a_users_registry_without_a_key_says_so(tmp_path: Path) -> None:
    path, _ = _registry(tmp_path, VILLAGES)
    (tmp_path / "titles_mapping.toml").write_text(
        'parcel_id = "DKBM"\nowner = "CBFBM"\ndeclared_area = "HTMJM"\ndeclared_area_unit = "mu"\n'
    )
    path.rename(tmp_path / "titles.gpkg")
    result = CliRunner().invoke(cli, ["check", "--titles", str(tmp_path / "titles.gpkg")])
    assert result.exit_code == 1
    assert "AGRILEND_PSEUDONYM_KEY" in result.output


def test_the_reversal_attack_fails_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, owners = _registry(tmp_path, VILLAGES)
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY", USER_KEY)
    refs = set(_read(path)["owner_ref"])
    assert len(refs) == len(set(owners))
    start = time.perf_counter()
    # the attacker knows the code layout and every village prefix: 4 x 9,999 candidates
    assert _reverse(refs, DEMO_PSEUDONYM_KEY, VILLAGES, 9_999) == {}
    elapsed = time.perf_counter() - start
    # the same enumeration with the key reverses everything: the key is the only protection
    assert set(_reverse(refs, USER_KEY, VILLAGES, 9_999).values()) == set(owners)
    assert elapsed < 5


def test_the_demo_key_is_used_only_for_the_sample_county(sample_data: Path) -> None:
    sample = read_titles(sample_data / "titles.gpkg", mapping=sample_data / "titles_mapping.toml")
    assert sample["owner_ref"].str.fullmatch(r"H-[0-9a-f]{12}").all()
    # the sample's codes are public and synthetic (county 131199 does not exist): reversible,
    # which is why nothing else may use its key
    prefixes = [f"131199101201{v:02d}" for v in range(1, 10)]
    found = _reverse(set(sample["owner_ref"]), DEMO_PSEUDONYM_KEY, prefixes, 9_999)
    assert len(found) == sample["owner_ref"].nunique()
    with pytest.raises(CredentialsError):  # one stranger among sample owners is enough
        pseudonymize([*found.values(), "130123101201010001"])


def test_a_subsidy_file_of_another_county_needs_a_key_too(tmp_path: Path) -> None:
    from agrilend.credit import read_subsidies  # noqa: PLC0415

    path = tmp_path / "subsidies.csv"
    path.write_text(
        "scheme,year,owner_id,parcel_id,area_mu,amount_cny\n"
        "耕地地力保护补贴,2024,130123101201010001,1301231012010000001,10,1200\n",
        encoding="utf-8",
    )
    with pytest.raises(CredentialsError, match="AGRILEND_PSEUDONYM_KEY"):
        read_subsidies(path)


def test_key_file_is_read_and_must_be_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text(USER_KEY + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY_FILE", str(key_file))
    code = "130123101201010001"
    assert pseudonymize([code])[0] == pseudonymize([code], key=USER_KEY)[0]
    key_file.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        pseudonymize([code])
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(CredentialsError, match="cannot be read"):
        pseudonymize([code])


def test_a_guessable_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY", "1234")
    with pytest.raises(CredentialsError, match="16 characters"):
        pseudonymize(["130123101201010001"])


def test_rotating_the_key_changes_every_pseudonym() -> None:
    codes = [f"{VILLAGES[0]}{n:04d}" for n in range(1, 200)]
    old = set(pseudonymize(codes, key=USER_KEY))
    new = set(pseudonymize(codes, key=USER_KEY + "-2027"))
    assert old.isdisjoint(new)
