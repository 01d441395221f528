"""The county's tables: the title registry extract, subsidy payments, yield statistics.

The registry extract has the columns of a land-contract (确权) database (DKBM, DKMC, CBFBM,
CBFMC, ZJHM, LXDH, HTMJM, ZZZW). Subsidies follow the farmland fertility protection subsidy
(耕地地力保护补贴, paid per mu of contract area, per household or per parcel) and a per-parcel
maize producer subsidy (玉米生产者补贴); a few records name owners or parcels that are not in
the registry, and a few households are paid for far more land than they hold. County yields are
the area-weighted means of the true field yields, rounded like a statistics bureau's table.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Polygon

from agrilend.synthetic import registry
from agrilend.synthetic.crops import MEAN_YIELD_T_HA

#: Subsidy rates (CNY per mu) in 2024 and 2023.
FERTILITY_RATE = {2023: 118.5, 2024: 121.0}
MAIZE_RATE = {2024: 68.0}
FERTILITY_SCHEME = "耕地地力保护补贴"
MAIZE_SCHEME = "玉米生产者补贴"


def make_registry(
    parcels: list[Polygon],
    truth: pd.DataFrame,
    *,
    group: np.ndarray[Any, Any],
    household: np.ndarray[Any, Any],
    block: np.ndarray[Any, Any],
    crs: str,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The title registry extract and the table of households (code, group, personal data).

    ``group`` is each parcel's villagers' group, ``household`` its holder's index (unique across
    the village).
    """
    hh_ids = np.unique(household)
    hh_group = {int(h): int(group[household == h][0]) for h in hh_ids}
    serial: dict[int, int] = {}
    rows = []
    for h in hh_ids:
        g = hh_group[int(h)]
        serial[g] = serial.get(g, 0) + 1
        male = bool(rng.random() < 0.85)  # the contract is usually in the household head's name
        rows.append(
            {
                "household": int(h),
                "group": g,
                "CBFBM": registry.household_code(g, serial[g]),
                "CBFMC": registry.person_name(rng),
                "ZJHM": registry.resident_id(rng, male=male),
                "LXDH": registry.mobile_number(rng),
            }
        )
    households = pd.DataFrame(rows).set_index("household")
    parcel_serial: dict[int, int] = {}
    dkbm, dkmc = [], []
    strip_no: dict[int, int] = {}
    for i in range(len(parcels)):
        g = int(group[i])
        parcel_serial[g] = parcel_serial.get(g, 0) + 1
        dkbm.append(registry.parcel_code(g, parcel_serial[g]))
        b = int(block[i])
        strip_no[b] = strip_no.get(b, 0) + 1
        dkmc.append(registry.place_name(b, strip_no[b]))
    holder = households.loc[np.asarray(household)]
    titles = gpd.GeoDataFrame(
        {
            "DKBM": dkbm,
            "DKMC": dkmc,
            "CBFBM": holder["CBFBM"].to_numpy(),
            "CBFMC": holder["CBFMC"].to_numpy(),
            "ZJHM": holder["ZJHM"].to_numpy(),
            "LXDH": holder["LXDH"].to_numpy(),
            "HTMJM": truth["declared_area_mu"].to_numpy(),
            "ZZZW": truth["declared_crop"].to_numpy(),
        },
        geometry=parcels,
        crs=crs,
    )
    return titles, households


def make_subsidies(
    titles: gpd.GeoDataFrame, truth: pd.DataFrame, *, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subsidy records (``scheme, year, owner_id, parcel_id, area_mu, amount_cny``) and their truth.

    The truth table lists, per record, whether it matches a title and whether the paid area was
    inflated.
    """
    frame = pd.DataFrame({"owner": titles["CBFBM"], "parcel": titles["DKBM"]})
    frame["mu"] = titles["HTMJM"].to_numpy()
    frame["declared_crop"] = titles["ZZZW"].to_numpy()
    owners = frame["owner"].unique()
    per_parcel = set(rng.choice(owners, size=len(owners) // 4, replace=False).tolist())
    inflated = set(rng.choice(owners, size=max(1, len(owners) // 40), replace=False).tolist())
    recs: list[dict[str, Any]] = []
    for year in (2023, 2024):
        rate = FERTILITY_RATE[year]
        for owner, grp in frame.groupby("owner", sort=True):
            infl = owner in inflated
            factor = float(rng.uniform(1.8, 3.0)) if infl else 1.0
            if owner in per_parcel:
                for parcel, mu in zip(grp["parcel"], grp["mu"], strict=True):
                    area = round(float(mu) * factor, 2)
                    recs.append(
                        _rec(FERTILITY_SCHEME, year, owner=str(owner), parcel=str(parcel),
                             area=area, rate=rate, inflated=infl)
                    )  # fmt: skip
            else:
                area = round(float(grp["mu"].sum()) * factor, 2)
                recs.append(
                    _rec(FERTILITY_SCHEME, year, owner=str(owner), parcel="", area=area,
                         rate=rate, inflated=infl)
                )  # fmt: skip
    maize = frame[frame["declared_crop"].isin(["maize", "winter_wheat_maize"])]
    for owner, parcel, mu in zip(maize["owner"], maize["parcel"], maize["mu"], strict=True):
        recs.append(
            _rec(MAIZE_SCHEME, 2024, owner=str(owner), parcel=str(parcel), area=float(mu),
                 rate=MAIZE_RATE[2024], inflated=False)
        )  # fmt: skip
    # records that match nobody in the registry: moved-away households, typos in the code
    for k in range(6):
        stranger = registry.household_code(int(rng.integers(7, 9)), int(rng.integers(1, 300)))
        recs.append(
            _rec(FERTILITY_SCHEME, 2024, owner="" if k == 5 else stranger,
                 parcel=registry.parcel_code(9, 90000 + k) if k % 2 else "",
                 area=round(float(rng.uniform(2, 12)), 2), rate=FERTILITY_RATE[2024],
                 inflated=False, matched=False)
        )  # fmt: skip
    table = pd.DataFrame(recs)
    cols = ["scheme", "year", "owner_id", "parcel_id", "area_mu", "amount_cny"]
    return table[cols], table


def _rec(
    scheme: str,
    year: int,
    *,
    owner: str,
    parcel: str,
    area: float,
    rate: float,
    inflated: bool,
    matched: bool = True,
) -> dict[str, Any]:  # fmt: skip
    return {
        "scheme": scheme,
        "year": year,
        "owner_id": owner,
        "parcel_id": parcel,
        "area_mu": area,
        "amount_cny": round(area * rate, 2),
        "matches_registry": matched,
        "inflated_area": inflated,
    }


def make_county_yields(
    truth: pd.DataFrame, *, rng: np.random.Generator, first_year: int = 2014, year: int = 2024
) -> pd.DataFrame:
    """County yield statistics ``crop, year, yield_t_ha``.

    The last year is the area-weighted mean of the true field yields; earlier years follow a
    slow trend with weather noise around the long-term means (they are synthetic too).
    """
    cult = truth["true_cultivated_area_ha"].to_numpy()
    rows: list[dict[str, Any]] = []
    stats: dict[str, float] = {}
    for crop in sorted(truth["true_crop"].unique()):
        sel = (truth["true_crop"] == crop).to_numpy() & (cult > 0)
        if crop == "fallow":
            stats["fallow"] = 0.0
            continue
        if not sel.any():
            continue
        w = cult[sel]
        if crop == "winter_wheat_maize":
            stats["winter_wheat"] = float(
                np.average(truth.loc[sel, "true_yield_s1_t_ha"], weights=w)
            )
            stats["summer_maize"] = float(
                np.average(truth.loc[sel, "true_yield_s2_t_ha"], weights=w)
            )
        else:
            stats[crop] = float(np.average(truth.loc[sel, "true_yield_s1_t_ha"], weights=w))
    for crop, value in stats.items():
        for y in range(first_year, year):
            past = MEAN_YIELD_T_HA[crop] * (1 - 0.008 * (year - y)) * float(rng.lognormal(0, 0.05))
            rows.append({"crop": crop, "year": y, "yield_t_ha": round(past, 2)})
        rows.append({"crop": crop, "year": year, "yield_t_ha": round(value, 2)})
    return pd.DataFrame(rows).sort_values(["crop", "year"], ignore_index=True)


__all__ = [
    "FERTILITY_SCHEME",
    "MAIZE_SCHEME",
    "make_county_yields",
    "make_registry",
    "make_subsidies",
]
