"""The credit policy: loading, units, checksum, immutability, the catalogue of wrong policies."""

from __future__ import annotations

import copy
import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.credit import CANONICAL_CROPS, HA_PER_MU, load_policy, policy_from_dict
from agrilend.errors import InputPathError, PolicyError


@pytest.fixture(scope="module")
def default_dict() -> dict[str, Any]:
    return load_policy().to_dict()


def test_default_policy_covers_every_canonical_crop() -> None:
    p = load_policy()
    assert set(p.crops) == set(CANONICAL_CROPS)
    assert p.currency == "CNY"
    assert p.crops["winter_wheat_maize"] == ("winter_wheat", "summer_maize")
    assert p.crops["fallow"] == ()
    assert p.source == "default"
    assert p.checksum.startswith("sha256:")


def test_units_are_converted_once(default_dict: dict[str, Any]) -> None:
    p = load_policy()
    raw = default_dict["harvests"]["winter_wheat"]
    assert raw["cost_unit"] == "CNY/mu"
    assert p.harvests["winter_wheat"].cost_per_ha == pytest.approx(raw["cost"] / HA_PER_MU)
    assert p.harvests["winter_wheat"].price_per_t == pytest.approx(raw["price"] * 1000)
    assert p.cap_per_ha == pytest.approx(default_dict["caps"]["per_area"] * 15)
    # wheat and maize harvests fall in early June and early October
    assert p.harvests["winter_wheat"].harvest_month == 6
    assert p.harvests["summer_maize"].harvest_month == 10


def test_realistic_north_china_plain_numbers() -> None:
    p = load_policy()
    per_kg = {h: p.harvests[h].price_per_t / 1000 for h in p.harvests}
    assert 2.4 <= per_kg["winter_wheat"] <= 2.6
    assert 2.2 <= per_kg["summer_maize"] <= 2.4
    assert 7 <= per_kg["peanut"] <= 8
    per_mu = {h: p.harvests[h].cost_per_ha * HA_PER_MU for h in p.harvests}
    assert 500 <= per_mu["winter_wheat"] <= 600
    assert 900 <= per_mu["cotton"] <= 1200


@given(cost=st.floats(0, 1e5), price=st.floats(0, 1e3))
@settings(max_examples=30, deadline=None)
def test_per_mu_and_per_ha_say_the_same(cost: float, price: float) -> None:
    base = load_policy().to_dict()
    mu = base | {
        "harvests": base["harvests"]
        | {
            "rice": base["harvests"]["rice"]
            | {"cost": cost, "cost_unit": "CNY/mu", "price": price, "price_unit": "CNY/kg"}
        }
    }
    ha = base | {
        "harvests": base["harvests"]
        | {
            "rice": base["harvests"]["rice"]
            | {
                "cost": cost * 15,
                "cost_unit": "CNY/ha",
                "price": price * 1000,
                "price_unit": "CNY/t",
            }
        }
    }
    a, b = policy_from_dict(mu).harvests["rice"], policy_from_dict(ha).harvests["rice"]
    assert a.cost_per_ha == pytest.approx(b.cost_per_ha)
    assert a.price_per_t == pytest.approx(b.price_per_t)


def test_checksum_depends_on_content_not_layout(tmp_path: Path) -> None:
    text = resources.files("agrilend.credit").joinpath("default_policy.toml").read_text("utf-8")
    f = tmp_path / "same.toml"
    f.write_text("# a comment that changes nothing\n\n" + text, encoding="utf-8")
    assert load_policy(f).checksum == load_policy().checksum
    g = tmp_path / "other.toml"
    g.write_text(text.replace("household = 200000", "household = 150000"), encoding="utf-8")
    assert load_policy(g).checksum != load_policy().checksum
    assert load_policy(g).cap_household == 150000


def test_policy_is_frozen() -> None:
    p = load_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.revenue_share = 0.9  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.crops["maize"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        p.haircuts["climate"] = 0.0  # type: ignore[index]


def test_with_changes_revalidates() -> None:
    p = load_policy()
    q = p.with_changes({"lending": {"revenue_share": 0.3}})
    assert q.revenue_share == 0.3
    assert p.revenue_share != 0.3
    with pytest.raises(PolicyError) as err:
        p.with_changes({"caps": {"household": -1}})
    assert err.value.key == "caps.household"


def test_sample_policy_extends_the_default(sample_data: Path) -> None:
    path = sample_data / "policy.toml"
    p = load_policy(path)
    d = load_policy()
    assert p.source == "policy.toml"
    assert p.crops == d.crops
    assert p.harvests == d.harvests
    assert p.name != d.name


def test_harvests_of_unknown_crop_names_the_key() -> None:
    with pytest.raises(PolicyError, match="potato") as err:
        load_policy().harvests_of("potato")
    assert err.value.key == "crops.potato"


def _set(d: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = d
    for k in parents:
        node = node.setdefault(k, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


_DELETE = object()

# (what is wrong, dotted key to change, new value, the key the error must name)
WRONG_POLICIES = [
    ("unknown crop", "crops.potato", {"harvests": ["maize"]}, "crops.potato"),
    ("negative price", "harvests.rice.price", -2.9, "harvests.rice.price"),
    ("cap below zero", "caps.household", -1, "caps.household"),
    ("per-area cap below zero", "caps.per_area", -5, "caps.per_area"),
    ("missing key", "lending.revenue_share", _DELETE, "lending.revenue_share"),
    ("missing table", "tenor", _DELETE, "tenor"),
    ("misspelt key", "lending.revenue_shar", 0.5, "lending.revenue_shar"),
    ("unknown top-level table", "limits", {"a": 1}, "limits"),
    ("share above one", "lending.revenue_share", 1.5, "lending.revenue_share"),
    ("haircut above one", "haircuts.climate", 2.0, "haircuts.climate"),
    ("price not a number", "harvests.maize.price", "2.3", "harvests.maize.price"),
    ("price a boolean", "harvests.maize.price", True, "harvests.maize.price"),
    ("price not finite", "harvests.maize.price", float("nan"), "harvests.maize.price"),
    ("month out of range", "harvests.maize.harvest_month", 13, "harvests.maize.harvest_month"),
    ("month not whole", "harvests.maize.harvest_month", 9.5, "harvests.maize.harvest_month"),
    ("currency differs", "harvests.rice.price_unit", "USD/kg", "harvests.rice.price_unit"),
    ("unknown area unit", "harvests.rice.cost_unit", "CNY/acre", "harvests.rice.cost_unit"),
    ("unit without slash", "caps.per_area_unit", "CNY", "caps.per_area_unit"),
    ("missing harvest", "crops.maize.harvests", ["maize", "sorghum"], "crops.maize.harvests"),
    ("harvests not a list", "crops.maize.harvests", "maize", "crops.maize.harvests"),
    ("missing currency", "policy.currency", _DELETE, "policy.currency"),
    ("empty name", "policy.name", "", "policy.name"),
    ("tenor min above max", "tenor.min_months", 13, "tenor.min_months"),
    ("negative grace", "tenor.grace_months", -1, "tenor.grace_months"),
    (
        "missing reference yield",
        "harvests.cotton.reference_yield_t_ha",
        _DELETE,
        "harvests.cotton.reference_yield_t_ha",
    ),
    ("unknown harvest key", "harvests.cotton.prices", 7.0, "harvests.cotton.prices"),
    ("extends something else", "extends", "other.toml", "extends"),
]


@pytest.mark.parametrize(
    ("what", "dotted", "value", "key"), WRONG_POLICIES, ids=[w[0] for w in WRONG_POLICIES]
)
def test_wrong_policy_names_the_key(
    default_dict: dict[str, Any], what: str, dotted: str, value: Any, key: str
) -> None:
    data = _set(copy.deepcopy(default_dict), dotted, value)
    with pytest.raises(PolicyError) as err:
        policy_from_dict(data)
    assert err.value.key == key, what
    assert key.rsplit(".", 1)[-1] in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\nname = 1", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml.*not valid TOML"):
        load_policy(bad)
    with pytest.raises(InputPathError):
        load_policy(tmp_path / "absent.toml")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[policy]\nname = "政策"\n'.encode("gbk"))
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(gbk)


def test_extends_default_changes_only_given_keys(tmp_path: Path) -> None:
    f = tmp_path / "county.toml"
    f.write_text(
        'extends = "default"\n[policy]\nname = "county X"\n[caps]\nhousehold = 100000\n',
        encoding="utf-8",
    )
    p, d = load_policy(f), load_policy()
    assert (p.name, p.cap_household) == ("county X", 100000)
    assert p.cap_per_ha == d.cap_per_ha
    assert p.harvests == d.harvests
