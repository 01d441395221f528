"""The report's blocks on credit beyond the crop: price evidence and what would raise the line."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pandas as pd

from agrilend.credit import CreditExtras, load_policy, size_with_extras
from agrilend.report._templates import environment
from agrilend.report.credit_beyond import credit_beyond_view
from tests.credit.builders import make_estimates

AS_OF = date(2024, 12, 27)


def _assessment() -> SimpleNamespace:
    est = make_estimates(3, 2, seed=11)
    months = pd.date_range("2019-01-01", "2024-12-01", freq="MS")
    prices = pd.concat(
        pd.DataFrame({"harvest": h, "market": "A", "month": months, "currency": "CNY",
                      "price_per_t": hv.price_per_t * (1 + 0.03 * (months.month % 3))})
        for h, hv in load_policy().harvests.items()
    )  # fmt: skip
    r = size_with_extras(est, load_policy(), CreditExtras(prices=prices), as_of=AS_OF, climate=0.6)
    return SimpleNamespace(credit_extras=r)


def test_blocks_show_the_households_prices_and_raises() -> None:
    a = _assessment()
    owner = a.credit_extras.households.loc[0, "owner_ref"]
    view = credit_beyond_view(a, owner, "en")
    assert view is not None
    est = a.credit_extras.parcels
    crops = set(est.loc[est["owner_ref"] == owner, "crop"])
    expected = {h.replace("_", " ") for c in crops for h in load_policy().crops[c]}
    assert {p["harvest"] for p in view["prices"]} == expected
    html = environment().get_template("_credit_beyond.html.j2").render(credit_beyond=view)
    assert 'data-table="price_evidence"' in html
    assert all(p["prudent"] in html for p in view["prices"])
    assert all(r["text"] in html for r in view["raises"])
    zh = credit_beyond_view(a, owner, "zh")
    assert zh is not None
    assert zh["t"]["prices"] == "价格依据"


def test_no_block_without_extras() -> None:
    assert credit_beyond_view(SimpleNamespace(credit_extras=None), "H-1", "en") is None
    assert credit_beyond_view(SimpleNamespace(), "H-1", "en") is None
