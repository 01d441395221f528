"""Portfolio stress: shocks lower the lines and raise the losses; the chart is drawn."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agrilend.credit import load_policy, stress_chart, stress_portfolio
from agrilend.credit.stress import Scenario
from tests.credit.builders import make_estimates

POLICY = load_policy()
AS_OF = date(2024, 3, 1)


def test_shocks_lower_lines_and_raise_losses(tmp_path: Path) -> None:
    est = make_estimates(12, 3, seed=7)
    t = stress_portfolio(est, POLICY, as_of=AS_OF, climate=0.2).set_index("scenario")
    base = t.loc["baseline"]
    for s in ("price shock", "drought year", "price shock + drought"):
        assert t.loc[s, "lines_total"] <= base.lines_total
        assert t.loc[s, "expected_loss"] >= base.expected_loss
    assert t.loc["price shock + drought", "expected_loss"] >= t.loc["drought year", "expected_loss"]
    assert (t["book_total"] == base.book_total).all()
    assert 0 <= t["loss_rate"].max() <= 1
    svg = stress_chart(t.reset_index(), tmp_path / "stress.svg")
    assert svg.read_text().lstrip().startswith("<?xml")


def test_a_book_lent_at_the_margin_is_short_when_prices_fall() -> None:
    est = make_estimates(6, 2, seed=8)
    off = POLICY.with_changes(
        {"margin": {"share": 1.0, "cost_uncertainty": 0.0}, "lending": {"yield_quantile": 0.5}}
    )
    crash = Scenario("crash", price_factor=0.5)
    t = stress_portfolio(est, off, as_of=AS_OF, scenarios=(Scenario("baseline"), crash))
    t = t.set_index("scenario")
    assert t.loc["baseline", "expected_loss"] == pytest.approx(0.0, abs=1.0)
    assert t.loc["crash", "n_short"] > 0
