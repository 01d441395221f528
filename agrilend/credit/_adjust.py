"""Household adjustments beyond the crop, as arrays aligned with the households being sized.

Private helper of :mod:`agrilend.credit.sizing`. The adjustments table is made by
:func:`agrilend.credit.beyond.household_adjustments` from insurance records
(:mod:`agrilend.credit.insurance`) and the farmer's own evidence
(:mod:`agrilend.credit.self_evidence`); this module only aligns it and fills what is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agrilend.errors import PolicyError

#: Numeric columns of an adjustments table and their value when absent.
ADJUSTMENT_COLUMNS: dict[str, float] = {
    "climate_relief": 0.0,
    "insured_area_ha": 0.0,
    "insured_share": 0.0,
    "insurance_contradictions": 0.0,
    "evidence_raise": 0.0,
    "evidence_cut": 0.0,
    "n_photos": 0.0,
    "n_receipts": 0.0,
    "n_contracts": 0.0,
    "n_repaid": 0.0,
    "n_outside": 0.0,
    "n_season": 0.0,
    "n_crop": 0.0,
}
#: Text columns and their value when absent.
ADJUSTMENT_TEXT: dict[str, str] = {
    "insurance_contradiction_parcels": "",
    "transfer_conflict_parcels": "",
    "evidence_items": "[]",
}


def align_adjustments(adjustments: pd.DataFrame | None, keys: np.ndarray) -> dict[str, np.ndarray]:
    """The adjustments of the households ``keys`` (absent households and columns: no change).

    Raises
    ------
    PolicyError
        A relief, raise or cut outside [0, 1].
    """
    n = len(keys)
    out: dict[str, np.ndarray] = {c: np.full(n, v) for c, v in ADJUSTMENT_COLUMNS.items()}
    out |= {c: np.full(n, v, dtype=object) for c, v in ADJUSTMENT_TEXT.items()}
    if adjustments is None or adjustments.empty:
        return out
    table = adjustments
    if "owner_ref" in table.columns:
        table = table.set_index("owner_ref")
    t = table.reindex(pd.Index(keys.astype(str)))
    for c, v in ADJUSTMENT_COLUMNS.items():
        if c in t.columns:
            out[c] = pd.to_numeric(t[c], errors="coerce").fillna(v).to_numpy(dtype=float)
    for c, text in ADJUSTMENT_TEXT.items():
        if c in t.columns:
            out[c] = t[c].astype(object).where(t[c].notna(), text).to_numpy(dtype=object)
    for c in ("climate_relief", "evidence_raise", "evidence_cut"):
        bad = ~((out[c] >= 0) & (out[c] <= 1))
        if bad.any():
            raise PolicyError(
                f"adjustment {c} is {out[c][bad][0]!r} for household {keys[bad][0]!r}; it must "
                "lie in [0, 1] (make the table with household_adjustments)",
                key=c,
            )
    return out


__all__ = ["ADJUSTMENT_COLUMNS", "ADJUSTMENT_TEXT", "align_adjustments"]
