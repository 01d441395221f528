"""Seeded household and parcel tables of any size, shaped like a scan's (for the household
pages' tests and ``benchmarks/bench_household_pages.py``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

_REASONS = {
    "MARGIN_LIMIT": (
        (
            "line limited to 50% of the prudent margin 8,800 CNY (revenue 53,224 CNY less cost "
            "44,424 CNY and rent 0 CNY) plus 80% of subsidy income 4,707 CNY"
        ),
        (
            "额度上限为审慎毛利 8,800元（收入 53,224元 减成本 44,424元 及地租 0元）的 50% "
            "加补贴收入 4,707元 的 80%"
        ),
    ),
    "LOW_AREA_RATIO": (
        "observed area is only 40% of the declared area (1.2 ha of 3.0 ha)",
        "实际耕种面积仅为申报面积的 40%（3.0 公顷中的 1.2 公顷）",
    ),
    "CLIMATE_RISK": (
        "climate risk score 0.65 cut the line by 10%",
        "气候风险评分 0.65，额度扣减 10%",
    ),
}
_FLAGS = ["not_cultivated", "partly_abandoned", "area_mismatch", "crop_mismatch"]


def synthetic_tables(
    n_households: int, *, seed: int = 0, parcels_per_household: float = 2.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(parcels, households)``: parcels with ``parcel_id`` (19-digit codes of about 150
    households a village and group), ``owner_ref``, ``status``, ``quality_flags`` (JSON text,
    a tenth flagged); households with the columns the pages show, reasons as a scan writes
    them (JSON lists, both languages)."""
    rng = np.random.default_rng(seed)
    owners = np.array([f"H-{x:012x}" for x in rng.choice(16**12, n_households, replace=False)])
    counts = np.maximum(1, rng.poisson(parcels_per_household - 1, n_households) + 1)
    owner_of = np.repeat(np.arange(n_households), counts)
    village = owner_of // 150
    ids = [f"1311991{v // 90:03d}{v % 90 // 9 + 1:02d}{v % 9 + 1:02d}{k % 100_000:05d}"
           for k, v in enumerate(village)]  # fmt: skip
    flagged = rng.random(len(ids)) < 0.1
    flags = [json.dumps([str(rng.choice(_FLAGS))]) if f else "[]" for f in flagged]
    parcels = pd.DataFrame({"parcel_id": ids, "owner_ref": owners[owner_of], "status": "ok",
                            "quality_flags": flags})  # fmt: skip
    decision = rng.choice(["approve", "refer", "decline"], n_households, p=[0.6, 0.25, 0.15])
    codes = [list(rng.choice(list(_REASONS), rng.integers(1, 4), replace=False))
             for _ in range(n_households)]  # fmt: skip
    households = pd.DataFrame(
        {
            "owner_ref": owners,
            "decision": decision,
            "credit_line": np.round(rng.uniform(0, 30_000, n_households), -2),
            "currency": "CNY",
            "tenor_months": rng.integers(3, 13, n_households),
            "n_parcels": counts,
            "declared_area_ha": rng.uniform(0.2, 4, n_households),
            "cultivated_area_ha": rng.uniform(0.1, 4, n_households),
            "reason_codes": [json.dumps(c) for c in codes],
            "reasons_en": [json.dumps([_REASONS[x][0] for x in c]) for c in codes],
            "reasons_zh": [
                json.dumps([_REASONS[x][1] for x in c], ensure_ascii=False) for c in codes
            ],
        }
    )
    return parcels, households
