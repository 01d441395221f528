"""The household rows of :func:`size_households`, pinned byte for byte before their speed-up.

Issue 18 made the per-household step (``agrilend.credit._household``) faster; its output must not
move. ``PINS`` and ``LIMITS`` below were printed by the code as it was on main before that change
(commit c2d6b6e, run from a ``git archive`` of it), for a small hand-made county whose nine
households between them take every branch of the step: no usable parcel (Chinese translation of
why), partial evidence, low data quality, poor vigour, area and crop mismatch, claim trust, rented
land, a disputed title, insurance and own evidence that raise the line or contradict the imagery
(with a non-ASCII evidence item), a subsidy over the observed area, a line below the minimum, an
early-season parcel under both season policies, low yields and, under four more policies, each of
the five limits. Each pin is the row's decision, line, tenor, the three reason columns verbatim
and the SHA-256 of its ``limits`` JSON; two ``limits`` strings are kept whole. The sample county
then checks properties that hold for any correct implementation: a household is sized the same
alone or in its county, and the ``limits`` JSON agrees with the row.
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
from tests.credit.builders import estimates_from_truth, make_estimates

AS_OF = date(2025, 3, 1)


def _edge_county() -> tuple[pd.DataFrame, dict[str, Any]]:
    """Nine households (H-A ... H-I, three parcels each) built to reach every branch."""
    est = make_estimates(9, 3, seed=7)
    owners = [f"H-{c}" for c in "ABCDEFGHI"]
    est["owner_ref"] = np.repeat(owners, 3)
    est["early_season"] = False
    est["trust_haircut"] = 0.0
    est["trust_flags"] = ""
    est["rented"] = False
    est["rent_per_year"] = 0.0
    est["transfer_conflict"] = False
    a, b, c, d, e, f, g, h, _ = (np.flatnonzero(est["owner_ref"] == o) for o in owners)
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
    est.loc[g, "vigour_class"] = "poor"
    est.loc[g[0], "cultivated_area_ha"] = 0.4 * est.loc[g[0], "declared_area_ha"]
    est.loc[h, "crop_mismatch"] = True
    est.loc[h, "cultivated_area_ha"] = est.loc[h, "declared_area_ha"]
    est.loc[h[1], ["rented", "rent_per_year"]] = [True, 2500.0]
    est.loc[h, ["crop", "declared_crop"]] = "peanut"
    est.loc[h, ["yield_t_ha", "yield_low", "yield_high"]] = [[4.6, 3.9, 5.3]] * 3
    adj = pd.DataFrame(
        {
            "owner_ref": ["H-D", "H-B", "H-H", "H-I"],
            "climate_relief": [0.5, 0.0, 0.6, 0.0],
            "insured_area_ha": [1.2, 0.0, 2.1, 0.0],
            "insured_share": [0.8, 0.0, 0.9, 0.0],
            "insurance_contradictions": [1, 0, 0, 0],
            "insurance_contradiction_parcels": ["P00300", "", "", ""],
            "evidence_raise": [0.1, 0.0, 0.0, 0.2],
            "evidence_cut": [0.05, 0.0, 0.0, 0.0],
            "n_photos": [2, 0, 0, 3],
            "n_receipts": [1, 0, 0, 2],
            "n_contracts": [0, 0, 0, 1],
            "n_repaid": [1, 0, 0, 2],
            "n_outside": [1, 0, 0, 0],
            "n_season": [0, 0, 0, 0],
            "n_crop": [1, 0, 0, 0],
            "transfer_conflict_parcels": ["P00301,P00302", "", "", ""],
            "evidence_items": [
                '[{"kind": "photo", "verdict": "verified", "note": "地块内"}]',
                "[]",
                "[]",
                '[{"kind": "receipt", "verdict": "verified", "amount": 1200.5}]',
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
    climate = {"H-A": 0.13, "H-B": 0.37, "H-C": 0.5123, "H-D": 0.7071, "H-E": 0.0, "H-F": 0.9137}
    climate |= {"H-G": 0.0, "H-H": 0.6180, "H-I": 0.2718}
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
    return {
        "default": pol,
        "haircut": pol.with_changes(early),
        # each binds another limit for the large households
        "cap_household": pol.with_changes({"caps": {"household": 3000}}),
        "revenue_share": pol.with_changes({"lending": {"revenue_share": 0.05}}),
        "input_cover": pol.with_changes({"lending": {"input_cover": 0.05}}),
        "per_area": pol.with_changes({"caps": {"per_area": 10}}),
    }


@pytest.mark.parametrize("policy_name", list(_policies()))
def test_rows_are_byte_for_byte_those_of_the_reference_code(policy_name: str) -> None:
    est, kw = _edge_county()
    before = est.copy()
    out = size_households(est, _policies()[policy_name], **kw)
    pd.testing.assert_frame_equal(est, before)  # the input is not changed
    assert list(out["owner_ref"]) == [f"H-{c}" for c in "ABCDEFGHI"]
    # every household under the two season policies; the two large ones under the others
    pinned = {o for p, o in PINS if p == policy_name}
    every = policy_name in ("default", "haircut")
    assert pinned == (set(out["owner_ref"]) if every else {"H-F", "H-I"})
    for row in out[out["owner_ref"].isin(pinned)].itertuples():
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
        "POOR_VIGOUR",
        "AREA_MISMATCH",
        "CROP_MISMATCH",
        "RENTED_LAND",
        "INSURED",
        "OWN_EVIDENCE",
        "CAP_HOUSEHOLD",
        "REVENUE_LIMIT",
        "INPUT_COST_LIMIT",
        "CAP_PER_AREA",
    } <= codes


@pytest.fixture(scope="module")
def sample_county(sample_data: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parcel estimates of the sample county taken from its truth, with subsidies and climate."""
    truth = pd.read_csv(sample_data / "truth.csv", dtype={"parcel_id": str, "owner_id": str})
    rng = np.random.default_rng(3)
    est = estimates_from_truth(
        truth,
        n_clear_obs=rng.integers(5, 30, len(truth)),
        status=np.where(rng.random(len(truth)) < 0.05, "error", "ok"),
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
        pd.testing.assert_frame_equal(alone, whole.loc[[o]])


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
        "570a2ae1093cc0feb716d8e138fa263ec0829bbeb2e93a7e99d1a4eba68c05dd",
    ),
    ("default", "H-B"): (
        "refer",
        6200.0,
        8,
        '["MARGIN_LIMIT", "LOW_DATA_QUALITY", "PARTIAL_EVIDENCE", "LARGE_HAIRCUT"]',
        '["line limited to 50% of the prudent margin 14,121 CNY (revenue 49,485 CNY less cost 35,364 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "too few clear observations (< 10) or pixels (< 10) on 1 parcel(s) (P00101); their value cut by 25%", "usable evidence on 2 of 3 parcels (78% of declared area); parcels without it count nothing (P00100)", "haircuts cut 46% of the line, more than the 40% allowed without review"]',
        '["额度上限为审慎毛利 14,121元（收入 49,485元 减成本 35,364元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "1 块地有效观测少于 10 次或像元少于 10 个（P00101），其价值扣减 25%", "3 块地中 2 块有可用证据（占申报面积 78%），无证据地块不计入（P00100）", "各项扣减合计 46%，超过无需复核的上限 40%"]',
        "c1c9f173187c51045153a675f45ab76c720cbdadce3d9a91093ebac394bbb1fc",
    ),
    ("default", "H-C"): (
        "approve",
        10000.0,
        8,
        '["MARGIN_LIMIT", "LOW_YIELD", "AREA_BELOW_DECLARED", "CLAIM_TRUST"]',
        '["line limited to 50% of the prudent margin 21,822 CNY (revenue 68,667 CNY less cost 45,045 CNY and rent 1,800 CNY) plus 80% of subsidy income 1,200 CNY", "expected orchard yield 21.5 t/ha is 28% below the county reference 30.0 t/ha", "observed cultivated area 2.6 ha of 3.6 ha declared", "1 farmer-drawn claim(s) or contested title(s) (P00200) counted with lower trust (contested, drawn)"]',
        '["额度上限为审慎毛利 21,822元（收入 68,667元 减成本 45,045元 及地租 1,800元）的 50% 加补贴收入 1,200元 的 80%", "果园预计单产 21.5 吨/公顷，比县参考单产 30.0 吨/公顷 低 28%", "观测耕种面积 2.6 公顷（39.7 亩），申报面积 3.6 公顷（53.3 亩）", "1 块农户自绘地块或有争议的登记地块（P00200）按较低可信度计入（contested, drawn）"]',
        "0937a693eac4f4b20849e603334537bac2d8de8dfc8089280f0c8778010ea5c2",
    ),
    ("default", "H-D"): (
        "refer",
        14400.0,
        8,
        '["AREA_BELOW_DECLARED", "OWN_EVIDENCE_CONTRADICTS", "INSURANCE_CONTRADICTS", "TRANSFER_CONFLICT"]',
        '["observed cultivated area 1.0 ha of 1.6 ha declared", "2 item(s) of the farmer\'s own evidence contradict the imagery (1 photo(s) outside their parcel, 0 out of season, 1 receipt(s) or contract(s) for a crop not seen); the line is cut by 5% and a visit is needed", "1 insurance record(s) contradict the imagery (another crop, or far more area than is seen: P00300)", "2 title(s) claimed by both sides of a land transfer (P00301, P00302)"]',
        '["观测耕种面积 1.0 公顷（15.3 亩），申报面积 1.6 公顷（23.5 亩）", "2 项自证材料与影像不符（1 张照片不在地块内，0 张不在季内，1 份凭证或合同的作物与观测不符），额度扣减 5%，需实地核查", "1 条保险记录与影像不符（作物不同或投保面积远超观测面积：P00300）", "2 块地在土地流转中被双方同时主张（P00301, P00302）"]',
        "c62385318cc2fd6394547000b2e64ae24b779d9b19827413ec29a2a2f683708b",
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
        20600.0,
        7,
        '["MARGIN_LIMIT", "LOW_YIELD", "CLIMATE_RISK", "EARLY_SEASON_REFER"]',
        '["line limited to 50% of the prudent margin 57,021 CNY (revenue 276,958 CNY less cost 219,938 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "expected maize yield 5.0 t/ha is 38% below the county reference 8.0 t/ha", "climate risk score 0.91 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度上限为审慎毛利 57,021元（收入 276,958元 减成本 219,938元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "玉米预计单产 5.0 吨/公顷，比县参考单产 8.0 吨/公顷 低 38%", "气候风险评分 0.91，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "36c61f4ed0c9ccff02621e9ee008ce5aa760aa71f9aa1f6c25e70cc579b23106",
    ),
    ("default", "H-G"): (
        "approve",
        8600.0,
        8,
        '["MARGIN_LIMIT", "AREA_BELOW_DECLARED", "POOR_VIGOUR", "LOW_YIELD"]',
        '["line limited to 50% of the prudent margin 17,293 CNY (revenue 47,229 CNY less cost 29,936 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "observed cultivated area 1.5 ha of 2.1 ha declared", "crop vigour poor against peers on 3 parcel(s), 1.5 ha; their value cut by 20%", "expected winter wheat yield 5.6 t/ha is 25% below the county reference 7.5 t/ha"]',
        '["额度上限为审慎毛利 17,293元（收入 47,229元 减成本 29,936元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "观测耕种面积 1.5 公顷（22.8 亩），申报面积 2.1 公顷（31.6 亩）", "3 块地长势弱于同类地块，面积 1.5 公顷（22.8 亩），其价值扣减 20%", "冬小麦预计单产 5.6 吨/公顷，比县参考单产 7.5 吨/公顷 低 25%"]',
        "e9c1989e8fe794fcb35b759376cd9382b700a0e1c013a0c7b557fd978547536e",
    ),
    ("default", "H-H"): (
        "approve",
        25000.0,
        7,
        '["MARGIN_LIMIT", "INSURED", "CROP_MISMATCH", "RENTED_LAND"]',
        '["line limited to 50% of the prudent margin 54,040 CNY (revenue 100,415 CNY less cost 43,875 CNY and rent 2,500 CNY) plus 80% of subsidy income 0 CNY", "crop insurance corroborated on 2.1 ha (90% of the cultivated area) lowered the climate haircut by 60%", "observed crop differs from the declared crop on 3 parcel(s) (P00700, P00701, P00702); their value cut by 10%", "1 rented parcel(s), 1.2 ha, counted with a rent of 2,500 CNY a year"]',
        '["额度上限为审慎毛利 54,040元（收入 100,415元 减成本 43,875元 及地租 2,500元）的 50% 加补贴收入 0元 的 80%", "农业保险经核实覆盖 2.1 公顷（31.5 亩）（占耕种面积 90%），气候扣减降低 60%", "3 块地观测作物与申报作物不符（P00700, P00701, P00702），其价值扣减 10%", "流转入 1 块地，面积 1.2 公顷（18.4 亩），年地租 2,500元 计入成本"]',
        "348561820bcd5a895cb71d00486adf2b7ad3499ad60d4a0b3fbf8722f37a18d3",
    ),
    ("default", "H-I"): (
        "approve",
        32700.0,
        7,
        '["MARGIN_LIMIT", "AREA_BELOW_DECLARED", "OWN_EVIDENCE", "CLIMATE_RISK"]',
        '["line limited to 50% of the prudent margin 59,517 CNY (revenue 150,423 CNY less cost 90,906 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "observed cultivated area 2.7 ha of 3.3 ha declared", "the farmer\'s own evidence raised the line by 5,466 CNY (3 parcel(s) in geotagged photos, 2 sales receipt(s), 1 purchase contract(s), 2 loan(s) repaid)", "climate risk score 0.27 cut the line by 8%"]',
        '["额度上限为审慎毛利 59,517元（收入 150,423元 减成本 90,906元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "观测耕种面积 2.7 公顷（40.6 亩），申报面积 3.3 公顷（50.0 亩）", "农户自证材料使额度提高 5,466元（3 块地有定位照片，2 张销售凭证，1 份收购合同，2 笔已还贷款）", "气候风险评分 0.27，额度扣减 8%"]',
        "7526c38589f70d790ce631c1ca28a829c68fd0897b12f9305774efe9d2c7e03e",
    ),
    ("haircut", "H-A"): (
        "refer",
        0.0,
        None,
        '["NO_EVIDENCE"]',
        "[\"no usable evidence on any of the 3 parcel(s) (crop 'rice_paddy' not in the policy; estimate failed; no crop estimate); a person must assess this household\"]",
        '["3 块地均无可用证据（作物“rice_paddy”不在信贷政策中；估计失败；无作物估计），需人工评估"]',
        "e02dc29045f759cd3e6869f862921b6f0e466f1b83983fb5d0f00565451c8f62",
    ),
    ("haircut", "H-B"): (
        "refer",
        6200.0,
        8,
        '["MARGIN_LIMIT", "LOW_DATA_QUALITY", "PARTIAL_EVIDENCE", "LARGE_HAIRCUT"]',
        '["line limited to 50% of the prudent margin 14,121 CNY (revenue 49,485 CNY less cost 35,364 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "too few clear observations (< 10) or pixels (< 10) on 1 parcel(s) (P00101); their value cut by 25%", "usable evidence on 2 of 3 parcels (78% of declared area); parcels without it count nothing (P00100)", "haircuts cut 46% of the line, more than the 40% allowed without review"]',
        '["额度上限为审慎毛利 14,121元（收入 49,485元 减成本 35,364元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "1 块地有效观测少于 10 次或像元少于 10 个（P00101），其价值扣减 25%", "3 块地中 2 块有可用证据（占申报面积 78%），无证据地块不计入（P00100）", "各项扣减合计 46%，超过无需复核的上限 40%"]',
        "05dcc9b43bcbf5c20dd818efbdee5f562b8ba5adc3dde53fcdb1475f30300f99",
    ),
    ("haircut", "H-C"): (
        "approve",
        10000.0,
        8,
        '["MARGIN_LIMIT", "LOW_YIELD", "AREA_BELOW_DECLARED", "CLAIM_TRUST"]',
        '["line limited to 50% of the prudent margin 21,822 CNY (revenue 68,667 CNY less cost 45,045 CNY and rent 1,800 CNY) plus 80% of subsidy income 1,200 CNY", "expected orchard yield 21.5 t/ha is 28% below the county reference 30.0 t/ha", "observed cultivated area 2.6 ha of 3.6 ha declared", "1 farmer-drawn claim(s) or contested title(s) (P00200) counted with lower trust (contested, drawn)"]',
        '["额度上限为审慎毛利 21,822元（收入 68,667元 减成本 45,045元 及地租 1,800元）的 50% 加补贴收入 1,200元 的 80%", "果园预计单产 21.5 吨/公顷，比县参考单产 30.0 吨/公顷 低 28%", "观测耕种面积 2.6 公顷（39.7 亩），申报面积 3.6 公顷（53.3 亩）", "1 块农户自绘地块或有争议的登记地块（P00200）按较低可信度计入（contested, drawn）"]',
        "b66c35afe3264880e1df9671ea5f02b63582f6c0260eb39cc78c09e48e92cbf9",
    ),
    ("haircut", "H-D"): (
        "refer",
        14400.0,
        8,
        '["AREA_BELOW_DECLARED", "OWN_EVIDENCE_CONTRADICTS", "INSURANCE_CONTRADICTS", "TRANSFER_CONFLICT"]',
        '["observed cultivated area 1.0 ha of 1.6 ha declared", "2 item(s) of the farmer\'s own evidence contradict the imagery (1 photo(s) outside their parcel, 0 out of season, 1 receipt(s) or contract(s) for a crop not seen); the line is cut by 5% and a visit is needed", "1 insurance record(s) contradict the imagery (another crop, or far more area than is seen: P00300)", "2 title(s) claimed by both sides of a land transfer (P00301, P00302)"]',
        '["观测耕种面积 1.0 公顷（15.3 亩），申报面积 1.6 公顷（23.5 亩）", "2 项自证材料与影像不符（1 张照片不在地块内，0 张不在季内，1 份凭证或合同的作物与观测不符），额度扣减 5%，需实地核查", "1 条保险记录与影像不符（作物不同或投保面积远超观测面积：P00300）", "2 块地在土地流转中被双方同时主张（P00301, P00302）"]',
        "23cb4aa4f4bd862385640671bacd3aaebb08c07f95c85af97f1b6a867a726f28",
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
        17200.0,
        7,
        '["MARGIN_LIMIT", "LOW_YIELD", "CLIMATE_RISK", "EARLY_SEASON"]',
        '["line limited to 50% of the prudent margin 47,517 CNY (revenue 230,799 CNY less cost 183,281 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "expected maize yield 5.0 t/ha is 38% below the county reference 8.0 t/ha", "climate risk score 0.91 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop not confirmed, their value cut by 50%"]',
        '["额度上限为审慎毛利 47,517元（收入 230,799元 减成本 183,281元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "玉米预计单产 5.0 吨/公顷，比县参考单产 8.0 吨/公顷 低 38%", "气候风险评分 0.91，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物未经确认，其价值扣减 50%"]',
        "7c442a57650e11f0f5522b30362bba12059475b720010a7891d04c581583ecce",
    ),
    ("haircut", "H-G"): (
        "approve",
        8600.0,
        8,
        '["MARGIN_LIMIT", "AREA_BELOW_DECLARED", "POOR_VIGOUR", "LOW_YIELD"]',
        '["line limited to 50% of the prudent margin 17,293 CNY (revenue 47,229 CNY less cost 29,936 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "observed cultivated area 1.5 ha of 2.1 ha declared", "crop vigour poor against peers on 3 parcel(s), 1.5 ha; their value cut by 20%", "expected winter wheat yield 5.6 t/ha is 25% below the county reference 7.5 t/ha"]',
        '["额度上限为审慎毛利 17,293元（收入 47,229元 减成本 29,936元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "观测耕种面积 1.5 公顷（22.8 亩），申报面积 2.1 公顷（31.6 亩）", "3 块地长势弱于同类地块，面积 1.5 公顷（22.8 亩），其价值扣减 20%", "冬小麦预计单产 5.6 吨/公顷，比县参考单产 7.5 吨/公顷 低 25%"]',
        "e35bee4068c068e9ccd75bef41615ab1a70c94c81c351dd3f91060ce7f3ccbb9",
    ),
    ("haircut", "H-H"): (
        "approve",
        25000.0,
        7,
        '["MARGIN_LIMIT", "INSURED", "CROP_MISMATCH", "RENTED_LAND"]',
        '["line limited to 50% of the prudent margin 54,040 CNY (revenue 100,415 CNY less cost 43,875 CNY and rent 2,500 CNY) plus 80% of subsidy income 0 CNY", "crop insurance corroborated on 2.1 ha (90% of the cultivated area) lowered the climate haircut by 60%", "observed crop differs from the declared crop on 3 parcel(s) (P00700, P00701, P00702); their value cut by 10%", "1 rented parcel(s), 1.2 ha, counted with a rent of 2,500 CNY a year"]',
        '["额度上限为审慎毛利 54,040元（收入 100,415元 减成本 43,875元 及地租 2,500元）的 50% 加补贴收入 0元 的 80%", "农业保险经核实覆盖 2.1 公顷（31.5 亩）（占耕种面积 90%），气候扣减降低 60%", "3 块地观测作物与申报作物不符（P00700, P00701, P00702），其价值扣减 10%", "流转入 1 块地，面积 1.2 公顷（18.4 亩），年地租 2,500元 计入成本"]',
        "70014950df10c9b966b1a09c28064b5da1cb02a608f78993c6bd139100dd99e3",
    ),
    ("haircut", "H-I"): (
        "approve",
        32700.0,
        7,
        '["MARGIN_LIMIT", "AREA_BELOW_DECLARED", "OWN_EVIDENCE", "CLIMATE_RISK"]',
        '["line limited to 50% of the prudent margin 59,517 CNY (revenue 150,423 CNY less cost 90,906 CNY and rent 0 CNY) plus 80% of subsidy income 0 CNY", "observed cultivated area 2.7 ha of 3.3 ha declared", "the farmer\'s own evidence raised the line by 5,466 CNY (3 parcel(s) in geotagged photos, 2 sales receipt(s), 1 purchase contract(s), 2 loan(s) repaid)", "climate risk score 0.27 cut the line by 8%"]',
        '["额度上限为审慎毛利 59,517元（收入 150,423元 减成本 90,906元 及地租 0元）的 50% 加补贴收入 0元 的 80%", "观测耕种面积 2.7 公顷（40.6 亩），申报面积 3.3 公顷（50.0 亩）", "农户自证材料使额度提高 5,466元（3 块地有定位照片，2 张销售凭证，1 份收购合同，2 笔已还贷款）", "气候风险评分 0.27，额度扣减 8%"]',
        "d719af64f073be0b2584f6c141cd1ef14ee6d0e06442490bc5a107fd20bdb77f",
    ),
    ("cap_household", "H-F"): (
        "refer",
        2100.0,
        7,
        '["CAP_HOUSEHOLD", "CLIMATE_RISK", "EARLY_SEASON_REFER"]',
        '["line capped at the household maximum 3,000 CNY", "climate risk score 0.91 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度以每户上限 3,000元 为限", "气候风险评分 0.91，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "19be7c0588d49fef5fc25c8af41c674f7c98c6821bd5d9e6b96c272388d9911a",
    ),
    ("cap_household", "H-I"): (
        "approve",
        2700.0,
        7,
        '["CAP_HOUSEHOLD", "CLIMATE_RISK"]',
        '["line capped at the household maximum 3,000 CNY", "climate risk score 0.27 cut the line by 8%"]',
        '["额度以每户上限 3,000元 为限", "气候风险评分 0.27，额度扣减 8%"]',
        "e6e203398e16e7c5a7c16a6e99fe4599220282f23ac45d9f24d07bea7d0eb7d9",
    ),
    ("revenue_share", "H-F"): (
        "refer",
        10000.0,
        7,
        '["REVENUE_LIMIT", "LOW_YIELD", "CLIMATE_RISK", "EARLY_SEASON_REFER"]',
        '["line limited to 5% of prudent expected revenue 276,958 CNY plus 80% of subsidy income 0 CNY", "expected maize yield 5.0 t/ha is 38% below the county reference 8.0 t/ha", "climate risk score 0.91 cut the line by 27%", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度上限为审慎预期收入 276,958元 的 5% 加补贴收入 0元 的 80%", "玉米预计单产 5.0 吨/公顷，比县参考单产 8.0 吨/公顷 低 38%", "气候风险评分 0.91，额度扣减 27%", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "69dee4ffb71ea709d0dd1808df1ea664b59f864e3f4d65217698e5ec6dd55730",
    ),
    ("revenue_share", "H-I"): (
        "approve",
        8200.0,
        7,
        '["REVENUE_LIMIT", "AREA_BELOW_DECLARED", "OWN_EVIDENCE", "CLIMATE_RISK"]',
        '["line limited to 5% of prudent expected revenue 150,423 CNY plus 80% of subsidy income 0 CNY", "observed cultivated area 2.7 ha of 3.3 ha declared", "the farmer\'s own evidence raised the line by 1,382 CNY (3 parcel(s) in geotagged photos, 2 sales receipt(s), 1 purchase contract(s), 2 loan(s) repaid)", "climate risk score 0.27 cut the line by 8%"]',
        '["额度上限为审慎预期收入 150,423元 的 5% 加补贴收入 0元 的 80%", "观测耕种面积 2.7 公顷（40.6 亩），申报面积 3.3 公顷（50.0 亩）", "农户自证材料使额度提高 1,382元（3 块地有定位照片，2 张销售凭证，1 份收购合同，2 笔已还贷款）", "气候风险评分 0.27，额度扣减 8%"]',
        "46ef4566247fc7148eabfd15a57841f1472a6194a12f4c0e2e39268ad500e2ea",
    ),
    ("input_cover", "H-F"): (
        "refer",
        6900.0,
        7,
        '["INPUT_COST_LIMIT", "CLIMATE_RISK", "AREA_BELOW_DECLARED", "EARLY_SEASON_REFER"]',
        '["line limited to 5% of the season\'s production cost 191,250 CNY", "climate risk score 0.91 cut the line by 27%", "observed cultivated area 25.5 ha of 27.0 ha declared", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度上限为本季生产成本 191,250元 的 5%", "气候风险评分 0.91，额度扣减 27%", "观测耕种面积 25.5 公顷（382.5 亩），申报面积 27.0 公顷（405.0 亩）", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "0bd3a9534aa2a5d8fa8b81e9fcd9772a7e1f5d529672c987aceb61e23ab06312",
    ),
    ("input_cover", "H-I"): (
        "approve",
        3600.0,
        7,
        '["INPUT_COST_LIMIT", "AREA_BELOW_DECLARED", "CLIMATE_RISK", "AREA_MISMATCH"]',
        '["line limited to 5% of the season\'s production cost 79,049 CNY", "observed cultivated area 2.7 ha of 3.3 ha declared", "climate risk score 0.27 cut the line by 8%", "observed area below 80% of declared on 1 parcel(s) (P00801); their value cut by 15%"]',
        '["额度上限为本季生产成本 79,049元 的 5%", "观测耕种面积 2.7 公顷（40.6 亩），申报面积 3.3 公顷（50.0 亩）", "气候风险评分 0.27，额度扣减 8%", "1 块地观测面积低于申报面积的 80%（P00801），其价值扣减 15%"]',
        "0eda052d33296bf6cb24885fbdd038b8b69c1f2dfc6627261f5dd77fc9bf5924",
    ),
    ("per_area", "H-F"): (
        "refer",
        2700.0,
        7,
        '["CAP_PER_AREA", "CLIMATE_RISK", "AREA_BELOW_DECLARED", "EARLY_SEASON_REFER"]',
        '["line capped at 150 CNY per ha of counted cultivated area 25.5 ha", "climate risk score 0.91 cut the line by 27%", "observed cultivated area 25.5 ha of 27.0 ha declared", "the imagery does not yet cover the crop season of 1 parcel(s) (P00500): crop and yield cannot be confirmed, a person decides"]',
        '["额度上限为每公顷计入耕种面积 150元，计入面积 25.5 公顷（382.5 亩）", "气候风险评分 0.91，额度扣减 27%", "观测耕种面积 25.5 公顷（382.5 亩），申报面积 27.0 公顷（405.0 亩）", "影像尚未覆盖 1 块地的作物生长季（P00500）：作物和产量无法确认，需人工决定"]',
        "2520bb3abe63328d86fd4a48d1c1c1e8c0241b71c14ae0acbd145333651b90f2",
    ),
    ("per_area", "H-I"): (
        "decline",
        0.0,
        None,
        '["CAP_PER_AREA", "LINE_BELOW_MINIMUM", "AREA_BELOW_DECLARED", "CLIMATE_RISK"]',
        '["line capped at 150 CNY per ha of counted cultivated area 2.6 ha", "line 300 CNY is below the minimum line 2,000 CNY", "observed cultivated area 2.7 ha of 3.3 ha declared", "climate risk score 0.27 cut the line by 8%"]',
        '["额度上限为每公顷计入耕种面积 150元，计入面积 2.6 公顷（39.1 亩）", "额度 300元 低于最低额度 2,000元", "观测耕种面积 2.7 公顷（40.6 亩），申报面积 3.3 公顷（50.0 亩）", "气候风险评分 0.27，额度扣减 8%"]',
        "3e68fe312d019c8bcc3f79bc16957137194f0114ee56ef4f4cd1f70585b1b9cd",
    ),
}
#: Two whole ``limits`` strings of the default policy (H-A: no evidence; H-D: insurance, own evidence).
LIMITS = {
    "H-A": '{"policy": "agrilend default: North China Plain smallholders v2024.1 (CNY), sha256:7ee2169ba301", "currency": "CNY", "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / round_down_to) * round_down_to", "revenue": 0.0, "revenue_after_haircuts": 0.0, "revenue_share": 0.5, "subsidy_income": 0.0, "subsidy_share": 0.8, "input_cost": 0.0, "input_cost_after_haircuts": 0.0, "input_cover": 1.0, "rent": 0.0, "prudent_cost_after_haircuts": 0.0, "margin_share": 0.5, "cost_uncertainty": 0.15, "margin_limit_after_haircuts": 0.0, "climate_relief": 0.0, "insured_area_ha": 0.0, "evidence_raise": 0.0, "evidence_cut": 0.0, "evidence_items": [], "area_ha": 0.0, "area_after_haircuts_ha": 0.0, "cap_per_ha": 22500.0, "limits": {"revenue": 0.0, "margin": 0.0, "input": 0.0, "area": 0.0, "household": 200000.0}, "binding": "revenue", "climate_risk": 0.13, "climate_factor": 0.961, "line_before_rounding": 0.0, "round_down_to": 100.0, "line": 0.0, "decision": "refer", "tenor": {"as_of": "2025-03-01", "harvest_months": [], "grace_months": 1, "min_months": 3, "max_months": 12, "months": null}, "reasons": [{"code": "NO_EVIDENCE", "cut": 0.0, "params": {"n": 3, "why": "crop \'rice_paddy\' not in the policy; estimate failed; no crop estimate"}}], "parcels": [{"parcel_id": "P00000", "crop": "orchard", "unusable": "estimate failed"}, {"parcel_id": "P00001", "crop": "rice_paddy", "unusable": "crop \'rice_paddy\' not in the policy"}, {"parcel_id": "P00002", "crop": "", "unusable": "no crop estimate"}]}',
    "H-D": '{"policy": "agrilend default: North China Plain smallholders v2024.1 (CNY), sha256:7ee2169ba301", "currency": "CNY", "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / round_down_to) * round_down_to", "revenue": 69060.63, "revenue_after_haircuts": 58701.54, "revenue_share": 0.5, "subsidy_income": 0.0, "subsidy_share": 0.8, "input_cost": 28400.05, "input_cost_after_haircuts": 24140.04, "input_cover": 1.0, "rent": 0.0, "prudent_cost_after_haircuts": 27761.05, "margin_share": 0.5, "cost_uncertainty": 0.15, "margin_limit_after_haircuts": 17017.27, "climate_relief": 0.5, "insured_area_ha": 1.2, "evidence_raise": 0.1, "evidence_cut": 0.05, "evidence_items": [{"kind": "photo", "verdict": "verified", "note": "地块内"}], "area_ha": 1.0168, "area_after_haircuts_ha": 0.8643, "cap_per_ha": 22500.0, "limits": {"revenue": 32285.84, "margin": 17017.27, "input": 24140.04, "area": 19446.82, "household": 200000.0}, "binding": "margin", "climate_risk": 0.7071, "climate_factor": 0.8939, "line_before_rounding": 14451.71, "round_down_to": 100.0, "line": 14400.0, "decision": "refer", "tenor": {"as_of": "2025-03-01", "harvest_months": [9, 10], "grace_months": 1, "min_months": 3, "max_months": 12, "months": 8}, "reasons": [{"code": "AREA_BELOW_DECLARED", "cut": 9225.74, "params": {"observed": 1.0168, "declared": 1.5644}}, {"code": "OWN_EVIDENCE_CONTRADICTS", "cut": 0.0, "params": {"n": 2, "n_outside": 1, "n_season": 0, "n_crop": 1, "cut": 0.05}}, {"code": "INSURANCE_CONTRADICTS", "cut": 0.0, "params": {"n": 1, "parcels": "P00300"}}, {"code": "TRANSFER_CONFLICT", "cut": 0.0, "params": {"n": 2, "parcels": "P00301, P00302"}}], "parcels": [{"parcel_id": "P00300", "crop": "cotton", "area_ha": 0.1519, "revenue_per_ha": 23959.58, "cost_per_ha": 15750.0, "prudent_cost_per_ha": 18112.5, "rent": 0.0, "haircut_factor": 0.85}, {"parcel_id": "P00301", "crop": "orchard", "area_ha": 0.5206, "revenue_per_ha": 115219.13, "cost_per_ha": 45000.0, "prudent_cost_per_ha": 51750.0, "rent": 0.0, "haircut_factor": 0.85}, {"parcel_id": "P00302", "crop": "maize", "area_ha": 0.3444, "revenue_per_ha": 15807.14, "cost_per_ha": 7500.0, "prudent_cost_per_ha": 8625.0, "rent": 0.0, "haircut_factor": 0.85}]}',
}


def test_templates_are_parsed_once_and_only_plain_fields_are_accepted() -> None:
    assert fill_reason("CAP_HOUSEHOLD", "en", "IDR", {"cap": 5e6}) == reason_text(
        "CAP_HOUSEHOLD", currency="IDR", cap=5e6
    )
    assert all(_parse(r.en) and _parse(r.zh) for r in REASONS.values())
    for bad in ("{a.b:pct}", "{a[0]}", "{a!r}", "{a:{b}}"):
        with pytest.raises(ValueError, match="not a plain field"):
            _parse(bad)
