"""Small builders of parcel estimates and subsidy records for the credit tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CROPS = ("winter_wheat_maize", "maize", "peanut", "cotton", "soybean", "orchard")


def make_estimates(
    n_households: int = 5, parcels_per_household: int = 3, *, seed: int = 0, **overrides: Any
) -> pd.DataFrame:
    """Parcel estimates shaped like assess() output, seeded; ``overrides`` set whole columns."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(n_households):
        owner = f"H-{h:012x}"
        for k in range(parcels_per_household):
            crop = CROPS[rng.integers(len(CROPS))]
            declared = float(rng.uniform(0.2, 2.0))
            cultivated = declared * float(rng.uniform(0.6, 1.05))
            ref = {
                "winter_wheat_maize": 12.5,
                "maize": 7.0,
                "peanut": 4.5,
                "cotton": 3.8,
                "soybean": 2.7,
                "orchard": 30.0,
            }[crop]
            y = ref * float(rng.uniform(0.7, 1.2))
            rows.append(
                {
                    "parcel_id": f"P{h:03d}{k:02d}",
                    "owner_ref": owner,
                    "declared_crop": crop,
                    "declared_area_ha": declared,
                    "crop": crop,
                    "crop_confidence": 0.9,
                    "crop_mismatch": False,
                    "cultivated_area_ha": cultivated,
                    "area_ratio": cultivated / declared,
                    "vigour": 0.0,
                    "vigour_class": "normal",
                    "yield_t_ha": y,
                    "yield_low": 0.75 * y,
                    "yield_high": 1.25 * y,
                    "n_clear_obs": 25,
                    "n_pixels": int(declared * 100),
                    "status": "ok",
                    "message": "",
                }
            )
    df = pd.DataFrame(rows)
    for k, v in overrides.items():
        df[k] = v
    return df


def one_parcel(**values: Any) -> pd.DataFrame:
    """One household with one maize parcel of 1 ha; ``values`` override columns."""
    base = make_estimates(1, 1, seed=1)
    base.loc[0, ["crop", "declared_crop"]] = "maize"
    base.loc[0, ["declared_area_ha", "cultivated_area_ha", "area_ratio"]] = [1.0, 1.0, 1.0]
    base.loc[0, ["yield_t_ha", "yield_low", "yield_high"]] = [7.0, 5.0, 9.0]
    base.loc[0, "n_pixels"] = 100
    for k, v in values.items():
        base[k] = [v]
    return base


def estimates_from_truth(truth: pd.DataFrame, *, n_clear_obs: Any, status: Any) -> pd.DataFrame:
    """Parcel estimates of the sample county read from its truth (``truth.csv``): the true crop,
    area and yield (an interval of +-20 %), with the given clear observations and status."""
    from agrilend.parcels import pseudonymize  # noqa: PLC0415

    return pd.DataFrame(
        {
            "parcel_id": truth["parcel_id"],
            "owner_ref": pseudonymize(truth["owner_id"]),
            "declared_crop": truth["declared_crop"],
            "declared_area_ha": truth["declared_area_ha"],
            "crop": truth["true_crop"],
            "cultivated_area_ha": truth["true_cultivated_area_ha"],
            "yield_t_ha": truth["true_yield_t_ha"],
            "yield_low": 0.8 * truth["true_yield_t_ha"],
            "yield_high": 1.2 * truth["true_yield_t_ha"],
            "vigour_class": np.where(truth["poor_vigour"], "poor", "normal"),
            "crop_mismatch": truth["misdeclared"],
            "n_clear_obs": n_clear_obs,
            "n_pixels": (truth["parcel_area_ha"] * 100).astype(int),
            "status": status,
        }
    )
