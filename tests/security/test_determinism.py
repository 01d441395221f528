"""Reason texts independent of how a scan was chunked (weakness: ties in the harvest cited)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from agrilend.credit import load_policy
from agrilend.credit._household import _worst_yield


def _ctx(yields: dict[str, float], order: list[str]) -> SimpleNamespace:
    p = SimpleNamespace(
        usable=np.array([True, True]),
        area=np.array([1.0, 2.0]),
        yields={h: np.full(2, yields[h]) for h in order},  # the order chunks met the harvests
    )
    return SimpleNamespace(
        policy=load_policy(), p=p, refs={"winter_wheat": 6.0, "summer_maize": 8.0, "cotton": 4.0}
    )


@pytest.mark.parametrize("noise", [0.0, 1e-13], ids=["exact-tie", "tie-within-rounding"])
def test_the_harvest_cited_does_not_depend_on_the_order_harvests_were_met(noise: float) -> None:
    # every harvest at half its reference: the same shortfall, up to float noise
    yields = {"winter_wheat": 3.0, "summer_maize": 4.0 * (1 + noise), "cotton": 2.0}
    picks = {
        _worst_yield(np.array([0, 1]), _ctx(yields, list(order)))["harvest"]  # type: ignore[index]
        for order in itertools.permutations(yields)
    }
    assert picks == {"winter_wheat"}  # the stated rule: the first in the policy's order


def test_a_real_difference_still_decides() -> None:
    yields = {"winter_wheat": 3.0, "summer_maize": 2.0, "cotton": 2.0}
    for order in itertools.permutations(yields):
        worst = _worst_yield(np.array([0, 1]), _ctx(yields, list(order)))
        assert worst is not None
        assert worst["harvest"] == "summer_maize"
        assert worst["shortfall"] == pytest.approx(0.75, abs=1e-9)
