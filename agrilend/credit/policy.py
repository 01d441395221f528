"""The credit policy: a TOML file read into a frozen, validated :class:`CreditPolicy`.

The policy is data. :func:`load_policy` reads a TOML file (or the packaged default), checks every
key, converts units once (per mu to per ha with 1 mu = 1/15 ha; per kg to per tonne) and returns
a frozen object with a checksum of its content that reports print. A wrong policy (an unknown
crop, a negative price, a cap below zero, a missing or misspelt key) raises
:class:`~agrilend.errors.PolicyError` naming the key.

A policy file may start with ``extends = "default"``: it is then read on top of the packaged
default, and only the keys it gives change (tables merge key by key).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agrilend._limits import load_toml, parse_toml
from agrilend._paths import local_path
from agrilend.errors import PolicyError
from agrilend.vocabulary import CROPS, HA_PER_MU

log = logging.getLogger(__name__)

#: Canonical crop names (:data:`agrilend.vocabulary.CROPS`); the policy's ``[crops]`` keys must
#: be among them.
CANONICAL_CROPS = CROPS

_DEFAULT_RESOURCE = "default_policy.toml"

# Section -> key -> (kind, lower bound, upper bound). Kinds: "num" (finite float), "int", "str".
_SCHEMA: dict[str, dict[str, tuple[str, float | None, float | None]]] = {
    "policy": {"name": ("str", None, None), "version": ("str", None, None)},
    "lending": {
        "revenue_share": ("num", 0.0, 1.0),
        "input_cover": ("num", 0.0, 10.0),
        "yield_quantile": ("num", 0.0, 1.0),
        "yield_interval": ("num", 0.01, 0.999),
        "round_down_to": ("num", 0.0, None),
    },
    "caps": {"household": ("num", 0.0, None), "per_area": ("num", 0.0, None)},
    "subsidy": {"share": ("num", 0.0, 1.0), "max_area_ratio": ("num", 0.0, None)},
    "haircuts": {
        "climate": ("num", 0.0, 1.0),
        "poor_vigour": ("num", 0.0, 1.0),
        "low_quality": ("num", 0.0, 1.0),
        "area_mismatch": ("num", 0.0, 1.0),
        "crop_mismatch": ("num", 0.0, 1.0),
    },
    "quality": {"min_clear_obs": ("int", 0, None), "min_pixels": ("int", 0, None)},
    "mismatch": {"min_area_ratio": ("num", 0.0, 10.0), "low_yield_ratio": ("num", 0.0, 10.0)},
    "decision": {
        "min_line": ("num", 0.0, None),
        "min_evidence_share": ("num", 0.0, 1.0),
        "max_auto_haircut": ("num", 0.0, 1.0),
        "min_area_ratio": ("num", 0.0, 10.0),
    },
    "tenor": {
        "grace_months": ("int", 0, 24),
        "min_months": ("int", 1, 60),
        "max_months": ("int", 1, 60),
    },
}
# Optional tables (issue 20): absent means the feature is off (old policies keep their lines);
# present, every key is required and checked like the others.
_OPTIONAL_SCHEMA: dict[str, dict[str, tuple[str, float | None, float | None]]] = {
    "margin": {
        "share": ("num", 0.0, 1.0),
        "cost_uncertainty": ("num", 0.0, 5.0),
    },
    "prices": {
        "quantile": ("num", 0.0, 1.0),
        "lookback_years": ("int", 1, 50),
        "window_months": ("int", 0, 5),
        "min_observations": ("int", 1, 600),
        "vol_multiplier": ("num", 0.0, 10.0),
        "max_vol_haircut": ("num", 0.0, 1.0),
        "shock": ("num", 0.0, 1.0),
    },
    "insurance": {
        "climate_relief": ("num", 0.0, 1.0),
        "max_relief": ("num", 0.0, 1.0),
        "max_area_ratio": ("num", 0.0, 10.0),
        "min_crop_confidence": ("num", 0.0, 1.0),
    },
    "evidence": {
        "photo_raise": ("num", 0.0, 1.0),
        "photo_max": ("num", 0.0, 1.0),
        "photo_tolerance_m": ("num", 0.0, 10_000.0),
        "receipt_share": ("num", 0.0, 1.0),
        "receipt_max": ("num", 0.0, 1.0),
        "contract_share": ("num", 0.0, 1.0),
        "contract_max": ("num", 0.0, 1.0),
        "repaid_raise": ("num", 0.0, 1.0),
        "max_total_raise": ("num", 0.0, 1.0),
        "contradiction_cut": ("num", 0.0, 1.0),
        "max_contradiction_cut": ("num", 0.0, 1.0),
    },
    "transfers": {
        "rent_in_margin": ("num", 0.0, 1.0),
    },
}
#: The optional ``[season]`` table: what a parcel whose crop season the imagery cannot see gets.
#: ``early_season`` is ``"refer"`` (its household goes to a person) or ``"haircut"`` (its value
#: is cut by ``early_season_haircut``); a season counts as seen with ``min_clear_obs`` clear
#: observations in its months.
_SEASON: dict[str, Any] = {"early_season": "refer", "early_season_haircut": 0.5, "min_clear_obs": 2}
_SEASON_KEYS: dict[str, tuple[str, float | None, float | None]] = {
    "early_season_haircut": ("num", 0.0, 1.0),
    "min_clear_obs": ("int", 1, None),
}
_HARVEST_KEYS: dict[str, tuple[str, float | None, float | None]] = {
    "price": ("num", 0.0, None),
    "cost": ("num", 0.0, None),
    "harvest_month": ("int", 1, 12),
    "reference_yield_t_ha": ("num", 0.0, None),
}
#: The optional ``[monitor]`` table (in-season monitoring, :mod:`agrilend.monitor`): every key
#: may be left out (the monitor's defaults apply); a key given is checked like any other.
_MONITOR_KEYS: dict[str, tuple[str, float | None, float | None]] = {
    **dict.fromkeys(
        ("failure_ratio", "drop_ratio", "drought_ratio", "area_share", "late_sowing_factor",
         "condition_uncertainty", "sowing_share", "fertiliser_share", "harvest_share"),
        ("num", 0.0, 1.0),
    ),
    **dict.fromkeys(
        ("abandon_days", "late_days", "dry_spell_days", "fertiliser_after_sowing_days"),
        ("int", 0, 366),
    ),
    "spi_dry": ("num", -5.0, 0.0),
    "neighbour_m": ("num", 0.0, None),
    "switch_margin": ("num", 1.0, None),
    "confirm": ("int", 1, 10),
    "reduce_below": ("num", 0.0, 10.0),
    "visit_below": ("num", 0.0, 10.0),
    "extend_months": ("int", 0, 24),
}  # fmt: skip
#: The optional ``[claims]`` table: haircuts of farmer-drawn claims, per trust flag
#: (:mod:`agrilend.parcels.verify`), and ``base`` for any claim; these are the defaults.
CLAIM_HAIRCUTS: dict[str, float] = {
    "base": 0.1,
    "non_farmland": 0.3,
    "mixed_series": 0.3,
    "area_overstated": 0.3,
    "claim_conflict": 1.0,
    "title_conflict": 1.0,
    "titled": 1.0,
    "crop_mismatch": 0.1,
    "unverified": 1.0,
}
_PRICE_UNITS = {"kg": 1000.0, "t": 1.0}  # -> per tonne
_AREA_UNITS = {"ha": 1.0, "mu": 1.0 / HA_PER_MU}  # -> per hectare


@dataclass(frozen=True)
class Harvest:
    """One harvest of a crop: its price, production cost and month, in per-tonne and per-ha units.

    Attributes
    ----------
    name
        The harvest's key in the policy (``winter_wheat``, ``summer_maize``, ``maize``...).
    price_per_t
        Farm-gate price, currency per tonne (converted from the file's ``price_unit``).
    cost_per_ha
        Production cost, currency per hectare (converted from the file's ``cost_unit``).
    harvest_month
        Month (1-12) the harvest is sold; the tenor runs to it.
    reference_yield_t_ha
        Typical county yield, t/ha.
    price_unit, cost_unit
        The units as written in the file (reports print them).
    price_shock
        Optional ``price_shock`` of the harvest: the fall of its price in the stress scenario
        (``None``: the ``[prices]`` table's ``shock``).
    """

    name: str
    price_per_t: float
    cost_per_ha: float
    harvest_month: int
    reference_yield_t_ha: float
    price_unit: str
    cost_unit: str
    price_shock: float | None = None
    season_start_month: int = 0

    @property
    def season_months(self) -> tuple[int, ...]:
        """Months (1-12) of the harvest's season: from ``season_start_month`` (green-up or
        sowing; by default three months before the harvest) to ``harvest_month``, wrapping over
        the new year.

        Examples
        --------
        >>> Harvest("w", 1.0, 1.0, 6, 1.0, "CNY/kg", "CNY/mu", season_start_month=3).season_months
        (3, 4, 5, 6)
        >>> Harvest("g", 1.0, 1.0, 2, 1.0, "CNY/kg", "CNY/mu").season_months
        (11, 12, 1, 2)
        """
        start = self.season_start_month or ((self.harvest_month - 4) % 12 + 1)
        n = (self.harvest_month - start) % 12 + 1
        return tuple((start - 1 + k) % 12 + 1 for k in range(n))


@dataclass(frozen=True)
class CreditPolicy:
    """A validated credit policy; build it with :func:`load_policy` or :func:`policy_from_dict`.

    All money is in ``currency``; areas in hectares; prices per tonne. ``checksum`` is the
    SHA-256 of the policy's content (canonical JSON of the merged TOML), so two policies with the
    same numbers have the same checksum whatever their layout or comments.

    Attributes
    ----------
    name, version, currency
        From ``[policy]``.
    revenue_share, input_cover, yield_quantile, yield_interval, round_down_to
        From ``[lending]``.
    cap_household, cap_per_ha
        From ``[caps]``; ``cap_per_ha`` converted to currency per hectare.
    subsidy_share, subsidy_max_area_ratio
        From ``[subsidy]``.
    haircuts
        From ``[haircuts]``: ``climate``, ``poor_vigour``, ``low_quality``, ``area_mismatch``,
        ``crop_mismatch``.
    min_clear_obs, min_pixels
        From ``[quality]``.
    min_area_ratio, low_yield_ratio
        From ``[mismatch]``.
    crop_false_alarm_rate
        From ``[mismatch]`` (optional, default 0.01): the share of honestly declared parcels the
        crop-declaration check may flag
        (:func:`agrilend.yield_models.declaration.check_declarations`).
    decision
        From ``[decision]``: ``min_line``, ``min_evidence_share``, ``max_auto_haircut``,
        ``min_area_ratio``.
    grace_months, min_months, max_months
        From ``[tenor]``.
    crops
        Canonical crop name -> tuple of harvest names.
    harvests
        Harvest name -> :class:`Harvest`.
    margin, prices, insurance, evidence, transfers
        The optional tables ``[margin]`` (the margin limit), ``[prices]`` (the prudent-price
        rule of :mod:`agrilend.credit.prices`), ``[insurance]``, ``[evidence]`` (the farmer's
        own evidence) and ``[transfers]``; an empty mapping where the table is absent (the
        feature is then off).
    source
        Where the policy came from (file name, ``"default"`` or ``"<dict>"``).
    monitor
        From the optional ``[monitor]`` table: thresholds of in-season monitoring
        (:class:`agrilend.monitor.MonitorPolicy` gives the defaults of keys left out).
    """

    name: str
    version: str
    currency: str
    revenue_share: float
    input_cover: float
    yield_quantile: float
    yield_interval: float
    round_down_to: float
    cap_household: float
    cap_per_ha: float
    subsidy_share: float
    subsidy_max_area_ratio: float
    haircuts: Mapping[str, float]
    min_clear_obs: int
    min_pixels: int
    min_area_ratio: float
    low_yield_ratio: float
    decision: Mapping[str, float]
    grace_months: int
    min_months: int
    max_months: int
    crops: Mapping[str, tuple[str, ...]]
    harvests: Mapping[str, Harvest]
    checksum: str
    source: str = "<dict>"
    margin: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    prices: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    insurance: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    evidence: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    transfers: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    crop_false_alarm_rate: float = 0.01
    monitor: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    season: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType(dict(_SEASON)))
    #: From the optional ``[claims]`` table: haircut per claim trust flag (defaults
    #: :data:`CLAIM_HAIRCUTS`); also cut from registry titles another household claims.
    claim_haircuts: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict(CLAIM_HAIRCUTS))
    )
    _data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # rebuilt from its data (frozen mappings do not pickle): workers and caches can hold it
        return (_rebuild, (self.to_dict(), self.source))

    def to_dict(self) -> dict[str, Any]:
        """The policy as the nested dictionary of its TOML (units as written), a deep copy."""
        return copy.deepcopy(_thaw(self._data))

    def with_changes(self, changes: Mapping[str, Any]) -> CreditPolicy:
        """A new, re-validated policy with ``changes`` merged in table by table.

        Examples
        --------
        >>> p = load_policy()
        >>> q = p.with_changes({"caps": {"household": 50000}})
        >>> q.cap_household, p.cap_household, q.checksum != p.checksum
        (50000.0, 200000.0, True)
        """
        return policy_from_dict(_merge(self.to_dict(), changes), source=self.source)

    def harvests_of(self, crop: str) -> tuple[Harvest, ...]:
        """The harvests of a crop; an unknown crop raises :class:`PolicyError`."""
        if crop not in self.crops:
            raise PolicyError(
                f"crop {crop!r} has no entry in policy {self.name!r}; add [crops.{crop}] to it",
                key=f"crops.{crop}",
            )
        return tuple(self.harvests[h] for h in self.crops[crop])

    def describe(self) -> str:
        """One line for reports: name, version, currency and checksum."""
        return f"{self.name} v{self.version} ({self.currency}), {self.checksum[:19]}"


def load_policy(path: str | Path | None = None) -> CreditPolicy:
    """Read a credit policy from a TOML file, or the packaged default.

    Parameters
    ----------
    path
        A TOML file. ``None`` reads the packaged default policy (North China Plain, CNY).

    Returns
    -------
    CreditPolicy
        Frozen and validated, with its checksum.

    Raises
    ------
    PolicyError
        A key is missing, unknown or out of range, a crop is not canonical, a unit does not
        match the currency, or the file is not valid TOML. The error's ``key`` names the key.
    InputPathError
        The path is remote or does not exist.

    Examples
    --------
    >>> p = load_policy()
    >>> p.currency, p.crops["winter_wheat_maize"]
    ('CNY', ('winter_wheat', 'summer_maize'))
    >>> round(p.harvests["winter_wheat"].cost_per_ha)  # 550 CNY/mu x 15 mu/ha
    8250
    """
    if path is None:
        text = resources.files("agrilend.credit").joinpath(_DEFAULT_RESOURCE).read_text("utf-8")
        return policy_from_dict(_parse(text, "default"), source="default")
    p = local_path(path, what="policy")
    data = load_toml(p, f"policy file {p.name!r}", error=PolicyError)
    return policy_from_dict(data, source=p.name)


def policy_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> CreditPolicy:
    """Validate a policy given as a nested mapping (the TOML's structure) and build it.

    A top-level ``extends = "default"`` merges ``data`` over the packaged default.

    Examples
    --------
    >>> base = load_policy().to_dict()
    >>> base["harvests"]["rice"]["price"] = -1
    >>> try:
    ...     policy_from_dict(base)
    ... except PolicyError as err:
    ...     print(err.key)
    harvests.rice.price
    """
    data = dict(data)
    extends = data.pop("extends", None)
    if extends is not None:
        if extends != "default":
            raise PolicyError(
                f"policy {source}: extends = {extends!r} is not supported; only "
                '"default" (the packaged policy) can be extended',
                key="extends",
            )
        text = resources.files("agrilend.credit").joinpath(_DEFAULT_RESOURCE).read_text("utf-8")
        data = _merge(_parse(text, "default"), data)
    return _build(data, source)


# --- internals ----------------------------------------------------------------------------------


def _rebuild(data: dict[str, Any], source: str) -> CreditPolicy:
    return policy_from_dict(data, source=source)


def _parse(text: str, source: str) -> dict[str, Any]:
    return parse_toml(text, f"policy {source}", error=PolicyError)


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in changes.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_thaw(v) for v in obj]
    return obj


def _freeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    return obj


#: Keys a policy may leave out (older policy files), with their default.
_OPTIONAL: dict[str, dict[str, tuple[tuple[str, float | None, float | None], float]]] = {
    "mismatch": {"crop_false_alarm_rate": (("num", 0.0001, 0.2), 0.01)},
}


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    if key not in data:
        raise PolicyError(f"policy {source}: the table [{key}] is missing; add it", key=key)
    t = data[key]
    if not isinstance(t, Mapping):
        raise PolicyError(f"policy {source}: {key} must be a table ([{key}])", key=key)
    return t


def _value(
    table: Mapping[str, Any], key: str, spec: tuple[str, float | None, float | None], source: str
) -> Any:
    section = key.rsplit(".", 1)[-1]
    kind, lo, hi = spec
    if section not in table:
        raise PolicyError(f"policy {source}: {key} is missing; add it", key=key)
    v = table[section]
    if kind == "str":
        if not isinstance(v, str) or not v.strip():
            raise PolicyError(f"policy {source}: {key} must be a non-empty string", key=key)
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PolicyError(f"policy {source}: {key} must be a number, not {v!r}", key=key)
    if kind == "int" and not float(v).is_integer():
        raise PolicyError(f"policy {source}: {key} must be a whole number, not {v!r}", key=key)
    if not math.isfinite(v):
        raise PolicyError(f"policy {source}: {key} must be finite, not {v!r}", key=key)
    if lo is not None and v < lo:
        raise PolicyError(
            f"policy {source}: {key} is {v!r}, below its minimum {lo}; fix the value", key=key
        )
    if hi is not None and v > hi:
        raise PolicyError(
            f"policy {source}: {key} is {v!r}, above its maximum {hi}; fix the value", key=key
        )
    return int(v) if kind == "int" else float(v)


def _no_unknown(table: Mapping[str, Any], allowed: set[str], prefix: str, source: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise PolicyError(
            f"policy {source}: unknown key {key!r}; allowed here: {', '.join(sorted(allowed))}",
            key=key,
        )


def _unit(value: Any, key: str, currency: str, per: dict[str, float], source: str) -> float:
    if not isinstance(value, str) or "/" not in value:
        raise PolicyError(
            f"policy {source}: {key} must read like '{currency}/{next(iter(per))}', not {value!r}",
            key=key,
        )
    cur, _, denom = value.partition("/")
    if cur.strip() != currency:
        raise PolicyError(
            f"policy {source}: {key} is {value!r} but the policy currency is {currency!r}; "
            "convert the value to the policy currency",
            key=key,
        )
    factor = per.get(denom.strip())
    if factor is None:
        raise PolicyError(
            f"policy {source}: {key} {value!r} has unknown unit {denom!r}; use one of "
            + ", ".join(f"'{currency}/{u}'" for u in per),
            key=key,
        )
    return factor


def _build(data: dict[str, Any], source: str) -> CreditPolicy:
    _no_unknown(
        data,
        {*_SCHEMA, *_OPTIONAL_SCHEMA, "crops", "harvests", "season", "claims", "monitor"},
        "",
        source,
    )
    monitor_t = data.get("monitor", {})
    if not isinstance(monitor_t, Mapping):
        raise PolicyError(f"policy {source}: monitor must be a table ([monitor])", key="monitor")
    _no_unknown(monitor_t, set(_MONITOR_KEYS), "monitor", source)
    monitor = {
        k: _value(monitor_t, f"monitor.{k}", _MONITOR_KEYS[k], source) for k in sorted(monitor_t)
    }
    v: dict[str, dict[str, Any]] = {}
    for section, keys in _OPTIONAL_SCHEMA.items():
        if section not in data:
            v[section] = {}
            continue
        table = _table(data, section, source)
        _no_unknown(table, set(keys), section, source)
        v[section] = {k: _value(table, f"{section}.{k}", spec, source) for k, spec in keys.items()}
    for section, keys in _SCHEMA.items():
        table = _table(data, section, source)
        extra = {"currency"} if section == "policy" else set()
        extra |= {"per_area_unit"} if section == "caps" else set()
        optional = _OPTIONAL.get(section, {})
        _no_unknown(table, set(keys) | extra | set(optional), section, source)
        v[section] = {k: _value(table, f"{section}.{k}", spec, source) for k, spec in keys.items()}
        for k, (spec, default) in optional.items():
            v[section][k] = (
                _value(table, f"{section}.{k}", spec, source) if k in table else float(default)
            )
    policy_t = data["policy"]
    currency = policy_t.get("currency")
    if not isinstance(currency, str) or not currency.strip() or "/" in currency:
        raise PolicyError(
            f"policy {source}: policy.currency must be a currency code such as 'CNY'",
            key="policy.currency",
        )
    currency = currency.strip()
    per_area_factor = _unit(
        data["caps"].get("per_area_unit"), "caps.per_area_unit", currency, _AREA_UNITS, source
    )
    if v["tenor"]["min_months"] > v["tenor"]["max_months"]:
        raise PolicyError(
            f"policy {source}: tenor.min_months ({v['tenor']['min_months']}) exceeds "
            f"tenor.max_months ({v['tenor']['max_months']})",
            key="tenor.min_months",
        )

    harvest_t = _table(data, "harvests", source)
    harvests: dict[str, Harvest] = {}
    for hname, ht in harvest_t.items():
        prefix = f"harvests.{hname}"
        if not isinstance(ht, Mapping):
            raise PolicyError(f"policy {source}: {prefix} must be a table", key=prefix)
        _no_unknown(
            ht,
            {*_HARVEST_KEYS, "price_unit", "cost_unit", "season_start_month", "price_shock"},
            prefix,
            source,
        )
        shock = (
            _value(ht, f"{prefix}.price_shock", ("num", 0.0, 1.0), source)
            if "price_shock" in ht
            else None
        )
        hv = {k: _value(ht, f"{prefix}.{k}", spec, source) for k, spec in _HARVEST_KEYS.items()}
        start = 0
        if "season_start_month" in ht:
            start = _value(ht, f"{prefix}.season_start_month", ("int", 1, 12), source)
        pf = _unit(ht.get("price_unit"), f"{prefix}.price_unit", currency, _PRICE_UNITS, source)
        cf = _unit(ht.get("cost_unit"), f"{prefix}.cost_unit", currency, _AREA_UNITS, source)
        harvests[hname] = Harvest(
            name=hname,
            price_per_t=hv["price"] * pf,
            cost_per_ha=hv["cost"] * cf,
            harvest_month=hv["harvest_month"],
            reference_yield_t_ha=hv["reference_yield_t_ha"],
            price_unit=str(ht["price_unit"]),
            cost_unit=str(ht["cost_unit"]),
            price_shock=shock,
            season_start_month=int(start),
        )

    crops_t = _table(data, "crops", source)
    crops: dict[str, tuple[str, ...]] = {}
    for crop, ct in crops_t.items():
        prefix = f"crops.{crop}"
        if crop not in CANONICAL_CROPS:
            raise PolicyError(
                f"policy {source}: unknown crop {crop!r} in [{prefix}]; crops are keyed by the "
                f"canonical names {', '.join(CANONICAL_CROPS)}",
                key=prefix,
            )
        if not isinstance(ct, Mapping):
            raise PolicyError(f"policy {source}: {prefix} must be a table", key=prefix)
        _no_unknown(ct, {"harvests"}, prefix, source)
        hs = ct.get("harvests")
        if not isinstance(hs, list) or not all(isinstance(h, str) for h in hs):
            raise PolicyError(
                f"policy {source}: {prefix}.harvests must be a list of harvest names "
                '(e.g. ["winter_wheat", "summer_maize"]; [] for no harvest)',
                key=f"{prefix}.harvests",
            )
        for h in hs:
            if h not in harvests:
                raise PolicyError(
                    f"policy {source}: {prefix}.harvests names {h!r}, which has no "
                    f"[harvests.{h}] table; add it",
                    key=f"{prefix}.harvests",
                )
        crops[crop] = tuple(hs)
    if not crops:
        raise PolicyError(f"policy {source}: [crops] lists no crop; add some", key="crops")

    season = _season(data, source)
    claims_t = data.get("claims", {})
    if not isinstance(claims_t, Mapping):
        raise PolicyError(f"policy {source}: [claims] must be a table", key="claims")
    _no_unknown(claims_t, set(CLAIM_HAIRCUTS), "claims", source)
    claim_haircuts = dict(CLAIM_HAIRCUTS)
    for k in claims_t:
        claim_haircuts[k] = _value(claims_t, f"claims.{k}", ("num", 0.0, 1.0), source)

    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    checksum = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    missing = [c for c in CANONICAL_CROPS if c not in crops]
    if missing:
        log.info("policy %s has no entry for crops %s; their parcels get no line", source, missing)
    return CreditPolicy(
        name=v["policy"]["name"],
        version=v["policy"]["version"],
        currency=currency,
        revenue_share=v["lending"]["revenue_share"],
        input_cover=v["lending"]["input_cover"],
        yield_quantile=v["lending"]["yield_quantile"],
        yield_interval=v["lending"]["yield_interval"],
        round_down_to=v["lending"]["round_down_to"],
        cap_household=v["caps"]["household"],
        cap_per_ha=v["caps"]["per_area"] * per_area_factor,
        subsidy_share=v["subsidy"]["share"],
        subsidy_max_area_ratio=v["subsidy"]["max_area_ratio"],
        haircuts=MappingProxyType(dict(v["haircuts"])),
        min_clear_obs=v["quality"]["min_clear_obs"],
        min_pixels=v["quality"]["min_pixels"],
        min_area_ratio=v["mismatch"]["min_area_ratio"],
        low_yield_ratio=v["mismatch"]["low_yield_ratio"],
        crop_false_alarm_rate=v["mismatch"]["crop_false_alarm_rate"],
        decision=MappingProxyType(dict(v["decision"])),
        grace_months=v["tenor"]["grace_months"],
        min_months=v["tenor"]["min_months"],
        max_months=v["tenor"]["max_months"],
        crops=MappingProxyType(crops),
        harvests=MappingProxyType(harvests),
        checksum=checksum,
        source=source,
        monitor=MappingProxyType(monitor),
        margin=MappingProxyType(v["margin"]),
        prices=MappingProxyType(v["prices"]),
        insurance=MappingProxyType(v["insurance"]),
        evidence=MappingProxyType(v["evidence"]),
        transfers=MappingProxyType(v["transfers"]),
        season=MappingProxyType(season),
        claim_haircuts=MappingProxyType(claim_haircuts),
        _data=_freeze(data),
    )


def _season(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``[season]`` table with its defaults (the table and each key are optional)."""
    table = data.get("season", {})
    if not isinstance(table, Mapping):
        raise PolicyError(f"policy {source}: [season] must be a table", key="season")
    _no_unknown(table, {*_SEASON_KEYS, "early_season"}, "season", source)
    out = dict(_SEASON)
    for k, spec in _SEASON_KEYS.items():
        if k in table:
            out[k] = _value(table, f"season.{k}", spec, source)
    mode = table.get("early_season", out["early_season"])
    if mode not in ("refer", "haircut"):
        raise PolicyError(
            f"policy {source}: season.early_season is {mode!r}; use 'refer' (a person decides) "
            "or 'haircut' (the parcel's value is cut by season.early_season_haircut)",
            key="season.early_season",
        )
    out["early_season"] = mode
    return out


__all__ = [
    "CANONICAL_CROPS",
    "CLAIM_HAIRCUTS",
    "HA_PER_MU",
    "CreditPolicy",
    "Harvest",
    "load_policy",
    "policy_from_dict",
]
