"""Market prices: the prudent-price rule by hand, trend, volatility, fallback, shock, policy."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrilend.credit import (
    apply_prices,
    load_policy,
    policy_from_dict,
    prudent_prices,
    read_prices,
)
from agrilend.errors import PolicyError

POLICY = load_policy()
AS_OF = date(2025, 3, 1)


def _table(prices: dict[str, float], harvest: str = "maize", market: str = "A") -> pd.DataFrame:
    months = pd.to_datetime(list(prices))
    return pd.DataFrame(
        {
            "harvest": harvest,
            "market": market,
            "month": months,
            "price_per_t": list(prices.values()),
            "currency": "CNY",
        }
    )


def test_rule_by_hand_on_a_flat_market() -> None:
    # maize sells in September: Aug-Oct of 2020..2024, all 2,000 but Sep 2022 at 2,600
    rows = {f"{y}-{m:02d}-01": 2000.0 for y in range(2020, 2025) for m in (8, 9, 10)}
    rows["2022-09-01"] = 2600.0
    rows["2024-03-01"] = 9999.0  # far from harvest: ignored
    ev = prudent_prices(_table(rows), POLICY, as_of=AS_OF).set_index("harvest").loc["maize"]
    assert ev.source == "market"
    assert ev.n_months == 15
    assert ev.quantile_price == pytest.approx(2000.0)
    # the volatility by hand: log prices around their straight line in time
    months = pd.to_datetime(sorted(k for k in rows if not k.startswith("2024-03")))
    t = (months - pd.Timestamp(AS_OF)).days.to_numpy() / 365.25
    logp = np.log([rows[m.strftime("%Y-%m-%d")] for m in months])
    resid = logp - np.polyval(np.polyfit(t, logp, 1), t)
    assert ev.volatility == pytest.approx(np.std(resid, ddof=1), rel=1e-9)
    assert ev.vol_haircut == pytest.approx(min(ev.volatility, 0.3))
    assert ev.prudent_price == pytest.approx(min(2000.0, ev.trend_price) * (1 - ev.vol_haircut))
    assert ev.prudent_price < 2000.0
    assert ev.shock_price == pytest.approx(ev.prudent_price * 0.8)
    assert len(json.loads(ev.harvest_prices)) == 15


def test_a_falling_market_is_projected_not_averaged() -> None:
    rows = {f"{y}-09-01": 3000.0 * 0.9 ** (y - 2020) for y in range(2020, 2025)}
    ev = prudent_prices(_table(rows), POLICY, as_of=AS_OF).set_index("harvest").loc["maize"]
    assert ev.trend_price == pytest.approx(3000.0 * 0.9**5, rel=0.02)  # next harvest: Sep 2025
    assert ev.prudent_price <= ev.trend_price
    assert ev.vol_haircut == pytest.approx(0.0, abs=1e-3)  # leap days bend the line a hair


def test_too_few_months_keep_the_policy_price_and_say_so() -> None:
    ev = prudent_prices(_table({"2024-09-01": 1500.0}), POLICY, as_of=AS_OF).set_index("harvest")
    assert ev.loc["maize", "source"] == "policy"
    assert ev.loc["maize", "prudent_price"] == POLICY.harvests["maize"].price_per_t
    assert (ev["source"] == "policy").all()  # no other harvest has prices either


def test_months_after_the_decision_are_not_used() -> None:
    rows = {f"{y}-09-01": 2000.0 for y in range(2020, 2025)} | {"2025-09-01": 100.0}
    ev = prudent_prices(_table(rows), POLICY, as_of=AS_OF).set_index("harvest").loc["maize"]
    assert ev.n_months == 5
    assert ev.quantile_price == pytest.approx(2000.0)


def test_markets_quoting_one_month_give_their_median() -> None:
    rows = {f"{y}-09-01": 2000.0 for y in range(2020, 2025)}
    t = pd.concat(
        [
            _table(rows, market="A"),
            _table({k: v + 200 for k, v in rows.items()}, market="B"),
            _table({k: v + 400 for k, v in rows.items()}, market="C"),
        ]
    )
    ev = prudent_prices(t, POLICY, as_of=AS_OF).set_index("harvest").loc["maize"]
    assert ev.quantile_price == pytest.approx(2200.0)
    assert ev.markets == "A, B, C"


def test_apply_prices_returns_a_new_policy_in_the_files_units() -> None:
    rows = {f"{y}-09-01": 2000.0 for y in range(2020, 2025)}
    ev = prudent_prices(_table(rows), POLICY, as_of=AS_OF)
    new = apply_prices(POLICY, ev)
    assert new.harvests["maize"].price_per_t == pytest.approx(2000.0)
    assert new.to_dict()["harvests"]["maize"]["price"] == pytest.approx(2.0)  # CNY/kg as written
    assert POLICY.harvests["maize"].price_per_t == 2300.0  # the input is unchanged
    assert new.checksum != POLICY.checksum
    shocked = apply_prices(POLICY, ev, scenario="shock")
    assert shocked.harvests["maize"].price_per_t == pytest.approx(1600.0)
    with pytest.raises(PolicyError):
        apply_prices(POLICY, ev, scenario="boom")


def test_policy_without_a_prices_table_is_refused() -> None:
    bare = POLICY.to_dict()
    bare.pop("prices")
    with pytest.raises(PolicyError, match=r"\[prices\]"):
        prudent_prices(_table({"2024-09-01": 1.0}), policy_from_dict(bare), as_of=AS_OF)


def test_reader_units_and_chinese_headers(tmp_path: Path) -> None:
    p = tmp_path / "prices.csv"
    p.write_bytes("品种,市场,月份,价格,单位\nmaize,石家庄,2024年9月,1.15,CNY/斤\n".encode("gbk"))
    t = read_prices(p)
    assert t.loc[0, "price_per_t"] == pytest.approx(2300.0)
    assert t.loc[0, "month"] == pd.Timestamp("2024-09-01")
    assert t.loc[0, "market"] == "石家庄"
