"""Bad policy files, catalogued: every one is a PolicyError naming the key (or the file).

``tests/credit/test_policy.py`` checks wrong values given as a dict; here the same kinds of
mistakes arrive the way a county would make them, as TOML files extending the default: unknown
crops, negative prices, missing keys, wrong types and units, broken TOML, other encodings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agrilend.credit import load_policy
from agrilend.errors import InputPathError, PolicyError

HEAD = 'extends = "default"\n\n[policy]\nname = "county"\nversion = "1"\n'

#: name -> (TOML text after the head, the key the error must name; None: the file is named)
BAD_POLICY_FILES: dict[str, tuple[str, str | None]] = {
    "unknown_crop": ('[crops.potato]\nharvests = ["potato"]\n', "crops.potato"),
    "unknown_crop_uppercase": ('[crops.Maize]\nharvests = ["maize"]\n', "crops.Maize"),
    "crop_with_unknown_harvest": (
        '[crops.maize]\nharvests = ["sorghum"]\n',
        "crops.maize.harvests",
    ),
    "negative_price": ("[harvests.maize]\nprice = -2.3\n", "harvests.maize.price"),
    "price_as_text": ('[harvests.maize]\nprice = "2.3"\n', "harvests.maize.price"),
    "price_nan": ("[harvests.maize]\nprice = nan\n", "harvests.maize.price"),
    "price_inf": ("[harvests.maize]\nprice = inf\n", "harvests.maize.price"),
    "negative_cost": ("[harvests.rice]\ncost = -1\n", "harvests.rice.cost"),
    "negative_reference_yield": (
        "[harvests.rice]\nreference_yield_t_ha = -7\n",
        "harvests.rice.reference_yield_t_ha",
    ),
    "price_in_dollars": ('[harvests.rice]\nprice_unit = "USD/kg"\n', "harvests.rice.price_unit"),
    "cost_per_acre": ('[harvests.rice]\ncost_unit = "CNY/acre"\n', "harvests.rice.cost_unit"),
    "harvest_month_13": ("[harvests.rice]\nharvest_month = 13\n", "harvests.rice.harvest_month"),
    "harvest_month_zero": ("[harvests.rice]\nharvest_month = 0\n", "harvests.rice.harvest_month"),
    "negative_household_cap": ("[caps]\nhousehold = -1\n", "caps.household"),
    "share_above_one": ("[lending]\nrevenue_share = 1.5\n", "lending.revenue_share"),
    "negative_share": ("[lending]\nrevenue_share = -0.5\n", "lending.revenue_share"),
    "quantile_above_one": ("[lending]\nyield_quantile = 2\n", "lending.yield_quantile"),
    "haircut_above_one": ("[haircuts]\nclimate = 1.2\n", "haircuts.climate"),
    "misspelt_key": ("[lending]\nrevenue_shar = 0.5\n", "lending.revenue_shar"),
    "unknown_table": ("[limits]\na = 1\n", "limits"),
    "tenor_min_above_max": ("[tenor]\nmin_months = 40\n", "tenor.min_months"),
    "extends_another_file": (None, "extends"),  # type: ignore[dict-item]
    "empty_name": (None, "policy.name"),  # type: ignore[dict-item]
}

#: Whole files without ``extends``: a missing key is an error naming it.
STANDALONE = {
    "missing_tables": ('[policy]\nname = "x"\nversion = "1"\n', "lending"),
    "only_policy_table": ('[policy]\nname = "x"\nversion = "1"\ncurrency = "CNY"\n', None),
}


def _text(name: str) -> str:
    body, _ = BAD_POLICY_FILES[name]
    if name == "extends_another_file":
        return 'extends = "other.toml"\n'
    if name == "empty_name":
        return 'extends = "default"\n\n[policy]\nname = ""\nversion = "1"\n'
    return HEAD + "\n" + body


@pytest.mark.parametrize("name", sorted(BAD_POLICY_FILES))
def test_bad_policy_file_names_the_key(tmp_path: Path, name: str) -> None:
    p = tmp_path / "policy.toml"
    p.write_text(_text(name), encoding="utf-8")
    _, key = BAD_POLICY_FILES[name]
    with pytest.raises(PolicyError) as err:
        load_policy(p)
    assert err.value.key == key, (name, err.value.key, str(err.value))
    assert key.rsplit(".", 1)[-1] in str(err.value)


@pytest.mark.parametrize("name", sorted(STANDALONE))
def test_policy_without_extends_needs_every_table(tmp_path: Path, name: str) -> None:
    text, key = STANDALONE[name]
    p = tmp_path / "policy.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(p)
    if key is not None:
        assert err.value.key == key
    assert str(err.value)


#: Files that are not TOML policies at all: the message names the file.
BROKEN_FILES: dict[str, bytes] = {
    "empty_file": b"",
    "not_toml": b"[policy\nname = 1",
    "gbk_text": (HEAD + "# 县级信贷政策\n[caps]\nhousehold = 100000\n").encode("gbk"),
    "binary": bytes(range(256)),
    "json": b'{"policy": {"name": "x"}}',
    "duplicate_table": (HEAD + "[caps]\nhousehold = 1\n[caps]\nhousehold = 2\n").encode(),
    "utf16": (HEAD + "[caps]\nhousehold = 100000\n").encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_policy_file(tmp_path: Path, name: str) -> None:
    p = tmp_path / "county_policy.toml"
    p.write_bytes(BROKEN_FILES[name])
    with pytest.raises(PolicyError) as err:
        load_policy(p)
    assert str(err.value)


def test_policy_folder_and_missing_and_remote(tmp_path: Path) -> None:
    with pytest.raises(InputPathError):
        load_policy(tmp_path / "absent.toml")
    with pytest.raises(InputPathError, match="network"):
        load_policy("https://example.org/policy.toml")
    folder = tmp_path / "policy.toml"
    folder.mkdir()
    with pytest.raises(PolicyError):
        load_policy(folder)
