"""What really happens on each parcel in 2024, and what its title declares: the truth table.

Crops are drawn row by row (neighbours in a row of strips often grow the same thing, and rice
only grows next to water), then the deliberate mistakes are planted: fallow or abandoned land
declared as a crop, a wrong declared crop, a declared area larger than what is cultivated
(either an inflated contract area or part of the strip left idle). Vigour has a tail of clearly
poor fields; sowing dates shift by a few days with some late-sown fields.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon, box

from agrilend.synthetic.crops import CROP_SHARES, MEAN_YIELD_T_HA
from agrilend.vocabulary import HA_PER_MU, MU_PER_HA

#: Crops a parcel may wrongly be declared as (plausible confusions at the village office).
_CONFUSIONS = {
    "winter_wheat_maize": ["maize", "soybean", "peanut"],
    "maize": ["winter_wheat_maize", "peanut", "soybean"],
    "rice": ["winter_wheat_maize", "maize"],
    "soybean": ["peanut", "maize", "winter_wheat_maize"],
    "cotton": ["peanut", "maize", "soybean"],
    "peanut": ["soybean", "cotton", "maize"],
    "orchard": ["winter_wheat_maize", "maize"],
    "greenhouse": ["winter_wheat_maize", "orchard"],
}

#: The 2024 season's effect on yields (June 2024 heat and drought hit the summer sowings).
SEASON_FACTOR_2024 = {"winter_wheat": 1.0, "summer_maize": 0.95, "default_summer": 0.96}

_SUMMER = {"maize", "rice", "soybean", "cotton", "peanut"}


def _row_crops(
    row: np.ndarray[Any, Any], near_water: np.ndarray[Any, Any], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """True crops by row: neighbours often share a crop, shares follow :data:`CROP_SHARES`.

    Each row of strips gets a theme crop drawn from the crops still short of their quota; most
    strips of a row take the theme, the rest any crop still short. Rice only grows near water.
    """
    n = len(row)
    names = [c for c in CROP_SHARES if c != "fallow"]
    total = sum(CROP_SHARES[c] for c in names)
    left = {c: CROP_SHARES[c] / total * n for c in names}
    crops = np.empty(n, dtype=object)

    def draw(water: bool) -> str:
        if water and left["rice"] > 0 and rng.random() < 0.6:
            return "rice"
        options = [c for c in names if (c != "rice" or water)]
        w = np.array([max(left[c], 0.0) + 1e-3 for c in options])
        return str(rng.choice(options, p=w / w.sum()))

    for r in rng.permutation(np.unique(row)):
        idx = np.flatnonzero(row == r)
        water = bool(near_water[idx].mean() > 0.3)
        theme = draw(water)
        clustered = theme in ("greenhouse", "orchard", "rice")
        for i in idx:
            keep = rng.random() < (0.9 if clustered else 0.65)
            c = theme if keep and left[theme] > 0 else draw(bool(near_water[i]))
            crops[i] = c
            left[c] -= 1
    return crops


def _split_strip(poly: Polygon, frac: float, rng: np.random.Generator) -> tuple[Polygon, Polygon]:
    """Cut a strip across its long axis: (cultivated part, idle part of share ``frac``)."""
    x0, y0, x1, y1 = poly.bounds
    if rng.random() < 0.5:
        if y1 - y0 >= x1 - x0:
            idle_box = box(x0 - 5, y0 - 5, x1 + 5, y0 + frac * (y1 - y0))
        else:
            idle_box = box(x0 - 5, y0 - 5, x0 + frac * (x1 - x0), y1 + 5)
    elif y1 - y0 >= x1 - x0:
        idle_box = box(x0 - 5, y1 - frac * (y1 - y0), x1 + 5, y1 + 5)
    else:
        idle_box = box(x1 - frac * (x1 - x0), y0 - 5, x1 + 5, y1 + 5)
    idle = poly.intersection(idle_box)
    kept = poly.difference(idle_box)
    return _largest(kept), _largest(idle)


def _largest(g: shapely.Geometry) -> Polygon:
    if g.geom_type == "MultiPolygon":
        return max(g.geoms, key=lambda p: p.area)
    if g.geom_type != "Polygon":
        polys = [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon"]
        return max(polys, key=lambda p: p.area) if polys else Polygon()
    return g


def plan_fields(
    parcels: list[Polygon],
    *,
    row: np.ndarray[Any, Any],
    near_water: np.ndarray[Any, Any],
    rng: np.random.Generator,
    misdeclared_share: float = 0.08,
    over_declared_share: float = 0.08,
    fallow_share: float = 0.06,
) -> tuple[pd.DataFrame, list[Polygon | None]]:
    """Draw each parcel's true crop, vigour, sowing shift and the planted mistakes.

    Returns the truth table (one row per parcel, in the order of ``parcels``; areas in ha) and,
    per parcel, the idle part of a partly abandoned strip (``None`` for the others).

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> polys = [box(0, 25 * i, 200, 25 * i + 25) for i in range(40)]
    >>> truth, idle = plan_fields(polys, row=np.zeros(40), near_water=np.zeros(40, bool),
    ...                           rng=np.random.default_rng(0))
    >>> len(truth), bool((truth["true_cultivated_area_ha"] <= truth["parcel_area_ha"]).all())
    (40, True)
    """
    n = len(parcels)
    area_ha = np.array([p.area for p in parcels]) / 1e4
    crops = _row_crops(np.asarray(row), np.asarray(near_water, dtype=bool), rng)
    n_fallow = round(fallow_share * n)
    fallow_idx = rng.choice(n, size=n_fallow, replace=False)
    crops[fallow_idx] = "fallow"
    declared = crops.copy()
    # fallow land: most is still declared as the crop it used to grow
    for i in fallow_idx:
        declared[i] = (
            "fallow"
            if rng.random() < 0.2
            else str(rng.choice(["winter_wheat_maize", "maize", "peanut"], p=[0.7, 0.2, 0.1]))
        )
    cropped = np.flatnonzero(crops != "fallow")
    mis_idx = rng.choice(cropped, size=round(misdeclared_share * n), replace=False)
    for i in mis_idx:
        declared[i] = str(rng.choice(_CONFUSIONS[str(crops[i])]))
    rest = np.setdiff1d(cropped, np.flatnonzero(crops == "greenhouse"))
    over_idx = rng.choice(rest, size=round(over_declared_share * n), replace=False)

    vigour = np.clip(rng.normal(1.0, 0.07, n), 0.8, 1.18)
    poor = rng.random(n) < 0.08
    vigour[poor] = rng.uniform(0.45, 0.75, int(poor.sum()))
    vigour[crops == "fallow"] = 1.0
    shift = rng.normal(0.0, 3.5, n)
    late = rng.random(n) < 0.08
    shift[late] = rng.uniform(8.0, 16.0, int(late.sum()))
    shift = np.round(shift, 1)

    declared_area = area_ha * rng.normal(1.0, 0.02, n)
    cultivated = area_ha.copy()
    cultivated[crops == "fallow"] = 0.0
    kind = np.full(n, "", dtype=object)
    idle: list[Polygon | None] = [None] * n
    for i in over_idx:
        ratio = float(rng.uniform(0.4, 0.8))
        if rng.random() < 0.5:
            kind[i] = "inflated_area"
            declared_area[i] = area_ha[i] / ratio
        else:
            kind[i] = "partly_abandoned"
            kept, idle_part = _split_strip(parcels[i], 1.0 - ratio, rng)
            idle[i] = idle_part
            cultivated[i] = kept.area / 1e4
    declared_mu = np.round(declared_area * MU_PER_HA, 2)

    yield_main, yield_second = _true_yields(crops, vigour, rng)
    truth = pd.DataFrame(
        {
            "true_crop": crops.astype(str),
            "declared_crop": declared.astype(str),
            "misdeclared": crops != declared,
            "parcel_area_ha": np.round(area_ha, 4),
            "declared_area_mu": declared_mu,
            "declared_area_ha": np.round(declared_mu * HA_PER_MU, 4),
            "true_cultivated_area_ha": np.round(cultivated, 4),
            "over_declared": kind != "",
            "over_declared_kind": kind.astype(str),
            "fallow": crops == "fallow",
            "vigour_factor": np.round(vigour, 3),
            "poor_vigour": vigour < 0.8,
            "sowing_shift_days": shift,
            "true_yield_s1_t_ha": np.round(yield_main, 2),
            "true_yield_s2_t_ha": np.round(yield_second, 2),
        }
    )
    truth["true_yield_t_ha"] = (truth["true_yield_s1_t_ha"] + truth["true_yield_s2_t_ha"]).round(2)
    truth["true_production_t"] = (
        truth["true_yield_t_ha"] * truth["true_cultivated_area_ha"]
    ).round(3)
    return truth, idle


def _true_yields(
    crops: np.ndarray[Any, Any], vigour: np.ndarray[Any, Any], rng: np.random.Generator
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Yield per cultivated hectare: season one (or the only season) and season two."""
    n = len(crops)
    # yield responds a little more than proportionally to canopy vigour
    response = np.clip(vigour, 0.0, None) ** 1.3
    noise = rng.lognormal(0.0, 0.07, n)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    for i, c in enumerate(crops):
        if c == "winter_wheat_maize":
            s1[i] = MEAN_YIELD_T_HA["winter_wheat"] * SEASON_FACTOR_2024["winter_wheat"]
            s2[i] = MEAN_YIELD_T_HA["summer_maize"] * SEASON_FACTOR_2024["summer_maize"]
            s2[i] *= float(rng.lognormal(0.0, 0.05)) * response[i] * noise[i]
        else:
            factor = SEASON_FACTOR_2024["default_summer"] if c in _SUMMER else 1.0
            s1[i] = MEAN_YIELD_T_HA[str(c)] * factor
        s1[i] *= response[i] * noise[i]
    return s1, s2


__all__ = ["SEASON_FACTOR_2024", "plan_fields"]
