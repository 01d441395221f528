"""The household rows of :func:`size_households`, pinned byte for byte before their speed-up.

Issue 18 made the per-household step (``agrilend.credit._household``) faster; its output must not
move. ``PINS`` and ``LIMITS`` below were printed by the code as it was on main before that change
(commit c2d6b6e), for a small hand-made county whose six households between them take every
branch of the step: no usable parcel (Chinese translation of why), partial evidence, low data
quality, poor vigour, claim trust, rented land, a disputed title, insurance and own evidence that
contradict the imagery (with a non-ASCII evidence item), a subsidy over the observed area, a line
below the minimum, an early-season parcel under both season policies, and low yields. Each pin is
the row's decision, line, tenor, the three reason columns verbatim and the SHA-256 of its
``limits`` JSON; two ``limits`` strings are kept whole. The sample county then checks properties
that hold for any correct implementation: a household is sized the same alone or in its county,
and the ``limits`` JSON agrees with the row.
"""

# ruff: noqa: E501 - the pins at the end are verbatim outputs, one string per line
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agrilend.credit import load_policy, size_households
from agrilend.credit.reasons import REASONS, _parse, fill_reason, reason_text
from agrilend.parcels import pseudonymize
from tests.credit.builders import make_estimates

AS_OF = date(2025, 3, 1)


def _edge_county() -> tuple[pd.DataFrame, dict[str, Any]]:
    """Six households (H-A ... H-F, three parcels each) built to reach every branch."""
    est = make_estimates(6, 3, seed=7)
    owners = [f"H-{c}" for c in "ABCDEF"]
    est["owner_ref"] = np.repeat(owners, 3)
    est["early_season"] = False
    est["trust_haircut"] = 0.0
    est["trust_flags"] = ""
    est["rented"] = False
    est["rent_per_year"] = 0.0
    est["transfer_conflict"] = False
    a, b, c, d, e, f = (np.flatnonzero(est["owner_ref"] == o) for o in owners)
    est.loc[a[0], "status"] = "error"
    est.loc[a[1:], "crop"] = ["rice_paddy", ""]
    est.loc[b[0], "status"] = "error"
    est.loc[b[1], ["n_clear_obs", "vigour_class"]] = [3, "poor"]
    est.loc[c[0], ["trust_haircut", "trust_flags"]] = [0.3, "drawn,contested"]
    est.loc[c[1], ["rented", "rent_per_year", "crop_mismatch"]] = [True, 1800.0, True]
    est.loc[d[2], "transfer_conflict"] = True
    est.loc[e[0], "early_season"] = True
    est.loc[e, ["declared_area_ha", "cultivated_area_ha"]] = [[0.05, 0.01]] * 3
    est.loc[f, ["crop", "declared_crop"]] = "maize"
    est.loc[f, ["declared_area_ha", "cultivated_area_ha"]] = [[9.0, 8.5]] * 3
    est.loc[f, ["yield_t_ha", "yield_low", "yield_high"]] = [[5.0, 4.5, 5.5]] * 3
    est.loc[f[0], "early_season"] = True
    adj = pd.DataFrame(
        {
            "owner_ref": ["H-D", "H-B"],
            "climate_relief": [0.5, 0.0],
            "insured_area_ha": [1.2, 0.0],
            "insured_share": [0.8, 0.0],
            "insurance_contradictions": [1, 0],
            "insurance_contradiction_parcels": ["P00300", ""],
            "evidence_raise": [0.1, 0.0],
            "evidence_cut": [0.05, 0.0],
            "n_photos": [2, 0],
            "n_receipts": [1, 0],
            "n_contracts": [0, 0],
            "n_repaid": [1, 0],
            "n_outside": [1, 0],
            "n_season": [0, 0],
            "n_crop": [1, 0],
            "transfer_conflict_parcels": ["P00301,P00302", ""],
            "evidence_items": [
                '[{"kind": "photo", "verdict": "verified", "note": "地块内"}]',
                "[]",
            ],
        }
    )
    subs = pd.DataFrame(
        {
            "owner_ref": ["H-E", "H-C"],
            "year": [2024, 2024],
            "amount": [900.0, 1200.0],
            "area_ha": [3.0, 2.0],
            "currency": "CNY",
        }
    )
    climate = {"H-A": 0.1, "H-B": 0.3, "H-C": 0.5, "H-D": 0.7, "H-E": 0.0, "H-F": 0.9}
    kw = {
        "subsidies": subs,
        "climate": climate,
        "as_of": AS_OF,
        "adjustments": adj,
        "reference_yields": {"winter_wheat": 7.5, "summer_maize": 8.5, "maize": 8.0},
    }
    return est, kw


def _policies() -> dict[str, Any]:
    pol = load_policy()
    early = {"season": {"early_season": "haircut", "early_season_haircut": 0.5}}
    return {"default": pol, "haircut": pol.with_changes(early)}


@pytest.mark.parametrize("policy_name", ["default", "haircut"])
def test_rows_are_byte_for_byte_those_of_the_reference_code(policy_name: str) -> None:
    est, kw = _edge_county()
    before = est.copy()
    out = size_households(est, _policies()[policy_name], **kw)
    pd.testing.assert_frame_equal(est, before)  # the input is not changed
    assert list(out["owner_ref"]) == [f"H-{c}" for c in "ABCDEF"]
    for row in out.itertuples():
        pin = PINS[(policy_name, row.owner_ref)]
        tenor = None if pd.isna(row.tenor_months) else int(row.tenor_months)
        got = (row.decision, float(row.credit_line), tenor)
        assert got == pin[:3], row.owner_ref
        assert (row.reason_codes, row.reasons_en, row.reasons_zh) == pin[3:6], row.owner_ref
        assert hashlib.sha256(row.limits.encode()).hexdigest() == pin[6], row.owner_ref
        if policy_name == "default" and row.owner_ref in LIMITS:
            assert row.limits == LIMITS[row.owner_ref]


def test_every_branch_is_pinned() -> None:
    codes = {c for pin in PINS.values() for c in json.loads(pin[3])}
    assert {
        "NO_EVIDENCE",
        "PARTIAL_EVIDENCE",
        "LOW_DATA_QUALITY",
        "CLAIM_TRUST",
        "OWN_EVIDENCE_CONTRADICTS",
        "INSURANCE_CONTRADICTS",
        "TRANSFER_CONFLICT",
        "SUBSIDY_OVER_AREA",
        "LINE_BELOW_MINIMUM",
        "EARLY_SEASON",
        "EARLY_SEASON_REFER",
        "LOW_YIELD",
        "LARGE_HAIRCUT",
        "CLIMATE_RISK",
        "MARGIN_LIMIT",
        "AREA_BELOW_DECLARED",
    } <= codes


@pytest.fixture(scope="module")
def sample_county(sample_data: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parcel estimates of the sample county taken from its truth, with subsidies and climate."""
    truth = pd.read_csv(sample_data / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    rng = np.random.default_rng(3)
    est = pd.DataFrame(
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
            "n_clear_obs": rng.integers(5, 30, len(truth)),
            "n_pixels": (truth["parcel_area_ha"] * 100).astype(int),
            "status": np.where(rng.random(len(truth)) < 0.05, "error", "ok"),
        }
    )
    owners = sorted(set(est["owner_ref"]))
    climate = dict(zip(owners, rng.uniform(0, 1, len(owners)), strict=True))
    return est, {"climate": climate, "as_of": AS_OF}


def test_a_household_is_sized_alone_as_in_its_county(
    sample_county: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    est, kw = sample_county
    policy = load_policy()
    whole = size_households(est, policy, **kw).set_index("owner_ref")
    owners = list(whole.index[::6])
    for o in owners:
        alone = size_households(est[est["owner_ref"] == o], policy, **kw).set_index("owner_ref")
        pd.testing.assert_frame_equal(alone, whole.loc[[o]], check_dtype=False)


def test_limits_json_agrees_with_the_row(
    sample_county: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    est, kw = sample_county
    out = size_households(est, load_policy(), **kw)
    assert out["owner_ref"].is_monotonic_increasing
    for row in out.itertuples():
        lim = json.loads(row.limits)
        codes = json.loads(row.reason_codes)
        assert [r["code"] for r in lim["reasons"]] == codes
        assert len(json.loads(row.reasons_en)) == len(json.loads(row.reasons_zh)) == len(codes)
        assert [p["parcel_id"] for p in lim["parcels"]] == row.parcel_ids.split(",")
        assert len(lim["parcels"]) == row.n_parcels
        assert lim["decision"] == row.decision
        assert lim["line"] == pytest.approx(row.credit_line, abs=0.005)
        assert lim["tenor"]["months"] == (None if pd.isna(row.tenor_months) else row.tenor_months)
        assert lim["climate_factor"] == pytest.approx(1 - row.climate_haircut, abs=1e-4)


#: (policy, owner) -> decision, line, tenor, reason_codes, reasons_en, reasons_zh, sha256(limits)
PINS = {
    ("default", "H-A"): (
        "refer",
        0.0,
        None,
        '["NO_EVIDENCE"]',
        "[\"no usable evidence on any of the 3 parcel(s) (crop 'rice_paddy' not in the policy; estimate failed; no crop estimate); a person must assess this household\"]",
        '["3 块地均无可用证据（作物“rice_paddy”不在信贷政策中；估计失败；无作物估计），需人工评估"]',
        "553873015e6c6e0ecf0e24c4cf94da72873846b910b69a5b7d12e68972e46673",
    ),
    ("default", "H-B"): (
        "refer",
        6400.0,
        8,
        '["MARGIN_LIMIT", "LOW_DATA_QUALITY", "PARTIAL_EVIDENCE", "LARGE_HAIRCUT"]',
        '["line limited to 50% of the prudent margin 14,121 CNY (revenue 49,485 CNY less cost 35,364 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "too few clear observations (< 10) or pixels (< 10) on 1 parcel(s) (P00101); their value cut by 25%", "usable evidence on 2 of 3 parcels (78% of declared area); parcels without it count nothing (P00100)", "haircuts cut 45% of the line, more than the 40% allowed without review"]',
        '["额度上限为审慎毛利 14,121元（收入 49,485元 减成本 35,364元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "1 块地有效观测少于 10 次或像元少于 10 个（P00101），其价值扣减 25%", "3 块地中 2 块有可用证据（占申报面积 78%），无证据地块不计入（P00100）", "各项扣减合计 45%，超过无需复核的上限 40%"]',
        "048f0f29973e1413ef04ef9f1d987735461f0b641bfd7eb42f34253ea4d9a8c8",
    ),
    ("default", "H-C"): (
        "approve",
        10000.0,
        8,
        '["MARGIN_LIMIT", "LOW_YIELD", "AREA_BELOW_DECLARED", "CLAIM_TRUST"]',
        '["line limited to 50% of the prudent margin 21,822 CNY (revenue 68,667 CNY less cost 45,045 CNY and rent 1,800 CNY) plus 80% of subsidy income 1,200 CNY", "expected orchard yield 21.5 t/ha is 28% below the county reference 30.0 t/ha", "observed cultivated area 2.6 ha of 3.6 ha declared", "1 farmer-drawn claim(s) or contested title(s) (P00200) counted with lower trust (contested, drawn)"]',
        '["额度上限为审慎毛利 21,822元（收入 68,667元 减成本 45,045元 及地租 1,800元）的 50% 加补贴收入 1,200元 的 80%", "果园预计单产 21.5 吨/公顷，比县参考单产 30.0 吨/公顷 低 28%", "观测耕种面积 2.6 公顷（39.7 亩），申报面积 3.6 公顷（53.3 亩）", "1 块农户自绘地块或有争议的登记地块（P00200）按较低可信度计入（contested, drawn）"]',
        "04326e6634bd95c734e06339cad98075e996c9d4d113252e6d6b77b64c40d476",
    ),
    ("default", "H-D"): (
        "refer",
        14400.0,
        8,
        '["AREA_BELOW_DECLARED", "OWN_EVIDENCE_CONTRADICTS", "INSURANCE_CONTRADICTS", "TRANSFER_CONFLICT"]',
        '["observed cultivated area 1.0 ha of 1.6 ha declared", "2 item(s) of the farmer\'s own evidence contradict the imagery (1 photo(s) outside their parcel, 0 out of season, 1 receipt(s) or contract(s) for a crop not seen); the line is cut by 5% and a visit is needed", "1 insurance record(s) contradict the imagery (another crop, or far more area than is seen: P00300)", "2 title(s) claimed by both sides of a land transfer (P00301, P00302)"]',
        '["观测耕种面积 1.0 公顷（15.3 亩），申报面积 1.6 公顷（23.5 亩）", "2 项自证材料与影像不符（1 张照片不在地块内，0 张不在季内，1 份凭证或合同的作物与观测不符），额度扣减 5%，需实地核查", "1 条保险记录与影像不符（作物不同或投保面积远超观测面积：P00300）", "2 块地在土地流转中被双方同时主张（P00301, P00302）"]',
        "69001af840644e88a4b157602be232a737111b6bfe26b7cb94da8dd8eca953a5",
    ),
    ("default", "H-E"): (
        "decline",
        0.0,
        None,
        '["AREA_BELOW_DECLARED", "LINE_BELOW_MINIMUM", "INPUT_COST_LIMIT", "SUBSIDY_OVER_AREA"]',
        '["observed cultivated area 0.03 ha of 0.15 ha declared", "line 300 CNY is below the minimum line 2,000 CNY", "line limited to 100% of the season\'s production cost 332 CNY", "subsidised area 3.0 ha is 100.00 times the observed cultivated area 0.03 ha"]',
        '["观测耕种面积 0.03 公顷（0.4 亩），申报面积 0.15 公顷（2.3 亩）", "额度 300元 低于最低额度 2,000元", "额度上限为本季生产成本 332元 的 100%", "补贴面积 3.0 公顷（45.0 亩） 是观测耕种面积 0.03 公顷（0.4 亩） 的 100.00 倍"]',
        "a49266b4efa9963e2abd7b76cc3cb2c17bdd2d44d292430469ed57707630e75d",
    ),
    ("default", "H-F"): (
        "refer",
        20800.0,
        7,
        '["MARGIN_LIMIT", "LOW_YIELD", "CLIMATE_RISK", "EARLY_SEASON_REFER"]',
        '["line limited to 50% of the prudent margin 57,021 CNY (revenue 276,958 CNY less cost 219,938 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "expected maize yield 5.0 t/ha is 38% below the county reference 8.0 t/ha", "climate risk score 0.90 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度上限为审慎毛利 57,021元（收入 276,958元 减成本 219,938元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "玉米预计单产 5.0 吨/公顷，比县参考单产 8.0 吨/公顷 低 38%", "气候风险评分 0.90，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "8b279154ad477dc2f192d7bfb53c16c4da7f470f3bccadc0b712c3ea683dc5d5",
    ),
    ("haircut", "H-A"): (
        "refer",
        0.0,
        None,
        '["NO_EVIDENCE"]',
        "[\"no usable evidence on any of the 3 parcel(s) (crop 'rice_paddy' not in the policy; estimate failed; no crop estimate); a person must assess this household\"]",
        '["3 块地均无可用证据（作物“rice_paddy”不在信贷政策中；估计失败；无作物估计），需人工评估"]',
        "92c1d9de65dd7b6182cc8dfa31c2fde07c7e40be492a5b78ae10f98c8130bfb3",
    ),
    ("haircut", "H-B"): (
        "refer",
        6400.0,
        8,
        '["MARGIN_LIMIT", "LOW_DATA_QUALITY", "PARTIAL_EVIDENCE", "LARGE_HAIRCUT"]',
        '["line limited to 50% of the prudent margin 14,121 CNY (revenue 49,485 CNY less cost 35,364 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "too few clear observations (< 10) or pixels (< 10) on 1 parcel(s) (P00101); their value cut by 25%", "usable evidence on 2 of 3 parcels (78% of declared area); parcels without it count nothing (P00100)", "haircuts cut 45% of the line, more than the 40% allowed without review"]',
        '["额度上限为审慎毛利 14,121元（收入 49,485元 减成本 35,364元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "1 块地有效观测少于 10 次或像元少于 10 个（P00101），其价值扣减 25%", "3 块地中 2 块有可用证据（占申报面积 78%），无证据地块不计入（P00100）", "各项扣减合计 45%，超过无需复核的上限 40%"]',
        "2365b3a36d32f9d05d75075caf90211ac5f339a71186cf2c7c15a80782d4b220",
    ),
    ("haircut", "H-C"): (
        "approve",
        10000.0,
        8,
        '["MARGIN_LIMIT", "LOW_YIELD", "AREA_BELOW_DECLARED", "CLAIM_TRUST"]',
        '["line limited to 50% of the prudent margin 21,822 CNY (revenue 68,667 CNY less cost 45,045 CNY and rent 1,800 CNY) plus 80% of subsidy income 1,200 CNY", "expected orchard yield 21.5 t/ha is 28% below the county reference 30.0 t/ha", "observed cultivated area 2.6 ha of 3.6 ha declared", "1 farmer-drawn claim(s) or contested title(s) (P00200) counted with lower trust (contested, drawn)"]',
        '["额度上限为审慎毛利 21,822元（收入 68,667元 减成本 45,045元 及地租 1,800元）的 50% 加补贴收入 1,200元 的 80%", "果园预计单产 21.5 吨/公顷，比县参考单产 30.0 吨/公顷 低 28%", "观测耕种面积 2.6 公顷（39.7 亩），申报面积 3.6 公顷（53.3 亩）", "1 块农户自绘地块或有争议的登记地块（P00200）按较低可信度计入（contested, drawn）"]',
        "f0db78d4b77a95c7e4cef1373d36f22a83439033335f7ef69da8b5ba1650b0a2",
    ),
    ("haircut", "H-D"): (
        "refer",
        14400.0,
        8,
        '["AREA_BELOW_DECLARED", "OWN_EVIDENCE_CONTRADICTS", "INSURANCE_CONTRADICTS", "TRANSFER_CONFLICT"]',
        '["observed cultivated area 1.0 ha of 1.6 ha declared", "2 item(s) of the farmer\'s own evidence contradict the imagery (1 photo(s) outside their parcel, 0 out of season, 1 receipt(s) or contract(s) for a crop not seen); the line is cut by 5% and a visit is needed", "1 insurance record(s) contradict the imagery (another crop, or far more area than is seen: P00300)", "2 title(s) claimed by both sides of a land transfer (P00301, P00302)"]',
        '["观测耕种面积 1.0 公顷（15.3 亩），申报面积 1.6 公顷（23.5 亩）", "2 项自证材料与影像不符（1 张照片不在地块内，0 张不在季内，1 份凭证或合同的作物与观测不符），额度扣减 5%，需实地核查", "1 条保险记录与影像不符（作物不同或投保面积远超观测面积：P00300）", "2 块地在土地流转中被双方同时主张（P00301, P00302）"]',
        "bb4885ffc860fab3677500ab854b56d8c3cb46744c0df88c6a26969fd94a70ba",
    ),
    ("haircut", "H-E"): (
        "decline",
        0.0,
        None,
        '["AREA_BELOW_DECLARED", "LINE_BELOW_MINIMUM", "INPUT_COST_LIMIT", "SUBSIDY_OVER_AREA"]',
        '["observed cultivated area 0.03 ha of 0.15 ha declared", "line 200 CNY is below the minimum line 2,000 CNY", "line limited to 100% of the season\'s production cost 300 CNY", "subsidised area 3.0 ha is 100.00 times the observed cultivated area 0.03 ha"]',
        '["观测耕种面积 0.03 公顷（0.4 亩），申报面积 0.15 公顷（2.3 亩）", "额度 200元 低于最低额度 2,000元", "额度上限为本季生产成本 300元 的 100%", "补贴面积 3.0 公顷（45.0 亩） 是观测耕种面积 0.03 公顷（0.4 亩） 的 100.00 倍"]',
        "bca5e77876eaf171665557580e8020934bf7ba289823a99836e0441630cdc85a",
    ),
    ("haircut", "H-F"): (
        "approve",
        17300.0,
        7,
        '["MARGIN_LIMIT", "LOW_YIELD", "CLIMATE_RISK", "EARLY_SEASON"]',
        '["line limited to 50% of the prudent margin 47,517 CNY (revenue 230,799 CNY less cost 183,281 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "expected maize yield 5.0 t/ha is 38% below the county reference 8.0 t/ha", "climate risk score 0.90 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop not confirmed, their value cut by 50%"]',
        '["额度上限为审慎毛利 47,517元（收入 230,799元 减成本 183,281元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "玉米预计单产 5.0 吨/公顷，比县参考单产 8.0 吨/公顷 低 38%", "气候风险评分 0.90，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物未经确认，其价值扣减 50%"]',
        "e6d61a213aabd9b500ae419c6c9e121057c69de1e4bc04df818ff74e29bb652f",
    ),
}
#: Two whole ``limits`` strings of the default policy (H-A: no evidence; H-D: insurance, own evidence).
LIMITS = {
    "H-A": '{"policy": "agrilend default: North China Plain smallholders v2024.1 (CNY), sha256:7ee2169ba301", "currency": "CNY", "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / round_down_to) * round_down_to", "revenue": 0.0, "revenue_after_haircuts": 0.0, "revenue_share": 0.5, "subsidy_income": 0.0, "subsidy_share": 0.8, "input_cost": 0.0, "input_cost_after_haircuts": 0.0, "input_cover": 1.0, "rent": 0.0, "prudent_cost_after_haircuts": 0.0, "margin_share": 0.5, "cost_uncertainty": 0.15, "margin_limit_after_haircuts": 0.0, "climate_relief": 0.0, "insured_area_ha": 0.0, "evidence_raise": 0.0, "evidence_cut": 0.0, "evidence_items": [], "area_ha": 0.0, "area_after_haircuts_ha": 0.0, "cap_per_ha": 22500.0, "limits": {"revenue": 0.0, "margin": 0.0, "input": 0.0, "area": 0.0, "household": 200000.0}, "binding": "revenue", "climate_risk": 0.1, "climate_factor": 0.97, "line_before_rounding": 0.0, "round_down_to": 100.0, "line": 0.0, "decision": "refer", "tenor": {"as_of": "2025-03-01", "harvest_months": [], "grace_months": 1, "min_months": 3, "max_months": 12, "months": null}, "reasons": [{"code": "NO_EVIDENCE", "cut": 0.0, "params": {"n": 3, "why": "crop \'rice_paddy\' not in the policy; estimate failed; no crop estimate"}}], "parcels": [{"parcel_id": "P00000", "crop": "orchard", "unusable": "estimate failed"}, {"parcel_id": "P00001", "crop": "rice_paddy", "unusable": "crop \'rice_paddy\' not in the policy"}, {"parcel_id": "P00002", "crop": "", "unusable": "no crop estimate"}]}',
    "H-D": '{"policy": "agrilend default: North China Plain smallholders v2024.1 (CNY), sha256:7ee2169ba301", "currency": "CNY", "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / round_down_to) * round_down_to", "revenue": 69060.63, "revenue_after_haircuts": 58701.54, "revenue_share": 0.5, "subsidy_income": 0.0, "subsidy_share": 0.8, "input_cost": 28400.05, "input_cost_after_haircuts": 24140.04, "input_cover": 1.0, "rent": 0.0, "prudent_cost_after_haircuts": 27761.05, "margin_share": 0.5, "cost_uncertainty": 0.15, "margin_limit_after_haircuts": 17017.27, "climate_relief": 0.5, "insured_area_ha": 1.2, "evidence_raise": 0.1, "evidence_cut": 0.05, "evidence_items": [{"kind": "photo", "verdict": "verified", "note": "地块内"}], "area_ha": 1.0168, "area_after_haircuts_ha": 0.8643, "cap_per_ha": 22500.0, "limits": {"revenue": 32285.84, "margin": 17017.27, "input": 24140.04, "area": 19446.82, "household": 200000.0}, "binding": "margin", "climate_risk": 0.7, "climate_factor": 0.895, "line_before_rounding": 14468.93, "round_down_to": 100.0, "line": 14400.0, "decision": "refer", "tenor": {"as_of": "2025-03-01", "harvest_months": [9, 10], "grace_months": 1, "min_months": 3, "max_months": 12, "months": 8}, "reasons": [{"code": "AREA_BELOW_DECLARED", "cut": 9236.73, "params": {"observed": 1.0168, "declared": 1.5644}}, {"code": "OWN_EVIDENCE_CONTRADICTS", "cut": 0.0, "params": {"n": 2, "n_outside": 1, "n_season": 0, "n_crop": 1, "cut": 0.05}}, {"code": "INSURANCE_CONTRADICTS", "cut": 0.0, "params": {"n": 1, "parcels": "P00300"}}, {"code": "TRANSFER_CONFLICT", "cut": 0.0, "params": {"n": 2, "parcels": "P00301, P00302"}}], "parcels": [{"parcel_id": "P00300", "crop": "cotton", "area_ha": 0.1519, "revenue_per_ha": 23959.58, "cost_per_ha": 15750.0, "prudent_cost_per_ha": 18112.5, "rent": 0.0, "haircut_factor": 0.85}, {"parcel_id": "P00301", "crop": "orchard", "area_ha": 0.5206, "revenue_per_ha": 115219.13, "cost_per_ha": 45000.0, "prudent_cost_per_ha": 51750.0, "rent": 0.0, "haircut_factor": 0.85}, {"parcel_id": "P00302", "crop": "maize", "area_ha": 0.3444, "revenue_per_ha": 15807.14, "cost_per_ha": 7500.0, "prudent_cost_per_ha": 8625.0, "rent": 0.0, "haircut_factor": 0.85}]}',
}


def test_templates_are_parsed_once_and_only_plain_fields_are_accepted() -> None:
    assert fill_reason("CAP_HOUSEHOLD", "en", "IDR", {"cap": 5e6}) == reason_text(
        "CAP_HOUSEHOLD", currency="IDR", cap=5e6
    )
    assert all(_parse(r.en) and _parse(r.zh) for r in REASONS.values())
    for bad in ("{a.b:pct}", "{a[0]}", "{a!r}", "{a:{b}}"):
        with pytest.raises(ValueError, match="not a plain field"):
            _parse(bad)
