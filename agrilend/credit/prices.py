"""Market prices: a monthly price table per crop and market, and the prudent price drawn from it.

The policy's price per harvest is a fixed number. With a price table (any number of months, one
or more markets) :func:`prudent_prices` draws each harvest's prudent price by a documented rule
(``[prices]`` in the policy), and :func:`apply_prices` returns the policy with those prices, so
sizing itself does not change. The rule, per harvest:

1. The harvest-month prices: months within ``window_months`` of the harvest's month, in the
   ``lookback_years`` before ``as_of``; where several markets quote a month, their median.
2. ``q`` = their ``quantile`` (a low one: a price most harvests have beaten).
3. The trend: a straight line through their logarithms against time, projected to the next
   harvest after ``as_of``; ``central = min(q, trend)`` (a falling market is not averaged away,
   a rising one is not trusted ahead of time).
4. The volatility ``sigma`` = standard deviation of the log prices around the trend, and the
   haircut ``min(vol_multiplier x sigma, max_vol_haircut)``; ``prudent = central x (1 -
   haircut)``.
5. The price-shock scenario: ``prudent x (1 - shock)``, ``shock`` the harvest's ``price_shock``
   or the table's ``shock``.

Fewer than ``min_observations`` harvest-month prices: the policy's price stays, and the
evidence says so (``source = "policy"``).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from agrilend.credit._records import RecordFile
from agrilend.credit.policy import CreditPolicy
from agrilend.errors import PolicyError, TableReadError

log = logging.getLogger(__name__)

#: Columns of the table :func:`read_prices` returns.
PRICE_COLUMNS = ("harvest", "market", "month", "price_per_t", "currency")
#: Columns of the table :func:`prudent_prices` returns.
EVIDENCE_COLUMNS = (
    "harvest",
    "source",
    "n_months",
    "markets",
    "first_month",
    "last_month",
    "quantile_price",
    "trend_price",
    "volatility",
    "vol_haircut",
    "policy_price",
    "prudent_price",
    "shock",
    "shock_price",
    "harvest_prices",
)

_ALIASES = {
    "harvest": ("harvest", "crop", "品种", "作物"),
    "market": ("market", "市场", "地点"),
    "month": ("month", "date", "月份", "日期"),
    "price": ("price", "价格"),
    "unit": ("unit", "price_unit", "单位"),
}
_PER_T = {"kg": 1000.0, "t": 1.0, "jin": 2000.0, "斤": 2000.0, "公斤": 1000.0, "吨": 1.0}


def read_prices(
    path: str | Path,
    *,
    currency: str = "CNY",
    harvests: tuple[str, ...] | None = None,
    max_price_per_t: float = 1_000_000.0,
) -> pd.DataFrame:
    """Read a monthly market price table (CSV in UTF-8 or GBK, Excel, Parquet).

    Parameters
    ----------
    path
        Columns ``harvest`` (or ``crop``: the policy's harvest names, e.g. ``winter_wheat``),
        ``market``, ``month`` (``2024-09``; a day is ignored), ``price`` and ``unit``
        (``CNY/kg``, ``CNY/t``, ``CNY/jin``). Chinese headers (品种, 市场, 月份, 价格, 单位) are
        recognised.
    currency
        The policy's currency; prices in another are refused.
    harvests
        When given, the known harvest names: others are refused (a typo must not vanish).
    max_price_per_t
        Above this (per tonne) a price is absurd.

    Returns
    -------
    pandas.DataFrame
        :data:`PRICE_COLUMNS`, one row per harvest, market and month, sorted; ``month`` is the
        first day of the month (a Timestamp), ``price_per_t`` per tonne.

    Raises
    ------
    TableReadError
        Unreadable file, missing columns, or a bad record (named by its number): an unknown
        harvest, a month that is not a month, a price that is empty, not a number, not above
        zero or absurd, a unit of another currency or an unknown weight, or one month quoted
        twice with two prices.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "prices.csv"
    >>> _ = p.write_text("harvest,market,month,price,unit\\nmaize,SJZ,2024-09,2.3,CNY/kg\\n")
    >>> t = read_prices(p)
    >>> t.loc[0, "harvest"], float(t.loc[0, "price_per_t"])
    ('maize', 2300.0)
    """
    f = RecordFile(path, "price", _ALIASES)
    f.require("harvest", "month", "price", "unit")
    harvest = f.text("harvest")
    market = f.text("market")
    months = f.dates("month", month_only=True)
    price = f.number("price", low=0.0, strict_low=True)
    units = f.text("unit")
    per_t = np.full(len(price), np.nan)
    for i, (h, u) in enumerate(zip(harvest, units, strict=True)):
        if not h:
            f.bad(i, "the harvest is empty")
        if harvests is not None and h not in harvests:
            f.bad(i, f"harvest {h!r} is not in the policy ({', '.join(harvests)})")
        cur, _, per = u.partition("/")
        if cur.strip() != currency:
            f.bad(i, f"unit {u!r} is not in the policy currency {currency!r} (write {currency}/kg)")
        factor = _PER_T.get(per.strip().lower())
        if factor is None:
            f.bad(i, f"unit {u!r} has an unknown weight; use {currency}/kg, {currency}/t or /jin")
        per_t[i] = price[i] * float(factor or np.nan)
        if per_t[i] > max_price_per_t:
            f.bad(i, f"price {per_t[i]:,.0f} {currency}/t is absurd (above {max_price_per_t:,.0f})")
    out = pd.DataFrame(
        {
            "harvest": harvest.astype(str),
            "market": np.where(market == "", "-", market).astype(str),
            "month": pd.to_datetime([pd.Timestamp(d) for d in months]),
            "price_per_t": per_t,
            "currency": currency,
        }
    )
    dup = out.duplicated(["harvest", "market", "month"], keep=False)
    if dup.any():
        d = out[dup].groupby(["harvest", "market", "month"])["price_per_t"].nunique()
        clash = d[d > 1]
        if len(clash):
            h, m, mo = clash.index[0]
            raise TableReadError(
                f"price file {f.path.name!r}: {h} at {m} in {mo:%Y-%m} is quoted with two "
                "different prices; keep one per month and market",
                path=f.path,
            )
        out = out.drop_duplicates(["harvest", "market", "month"])
    out.attrs["source"] = f.path.name
    return out.sort_values(["harvest", "market", "month"], ignore_index=True)


def _next_harvest(as_of: date, month: int) -> pd.Timestamp:
    year = as_of.year if month > as_of.month else as_of.year + 1
    return pd.Timestamp(year=year, month=month, day=15)


def prudent_prices(prices: pd.DataFrame, policy: CreditPolicy, *, as_of: date) -> pd.DataFrame:
    """Each harvest's prudent price from the table, by the policy's ``[prices]`` rule.

    Parameters
    ----------
    prices
        Output of :func:`read_prices` (or the same columns).
    policy
        Needs a ``[prices]`` table.
    as_of
        The decision date: only months before it count.

    Returns
    -------
    pandas.DataFrame
        One row per harvest of the policy, :data:`EVIDENCE_COLUMNS`: prices per tonne;
        ``source`` is ``"market"`` or ``"policy"`` (too few prices); ``harvest_prices`` a JSON
        object ``{"YYYY-MM": price}`` of the harvest-month prices used (what the report shows).

    Raises
    ------
    PolicyError
        The policy has no ``[prices]`` table.

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> months = pd.date_range("2019-01-01", "2024-12-01", freq="MS")
    >>> table = pd.DataFrame({"harvest": "maize", "market": "A", "month": months,
    ...     "price_per_t": 2300.0 + 100 * (months.month == 9), "currency": "CNY"})
    >>> ev = prudent_prices(table, load_policy(), as_of=date(2025, 3, 1)).set_index("harvest")
    >>> r = ev.loc["maize"]
    >>> r.source, int(r.n_months), float(r.quantile_price), round(float(r.vol_haircut), 3)
    ('market', 15, 2300.0, 0.021)
    >>> round(float(r.prudent_price))  # min(2300, trend 2333) x (1 - 0.021)
    2252

    Five years of August, September and October prices (15 months): the 25th percentile is
    2,300; they scatter by 2.1 % around their flat trend, which is the haircut.
    """
    rule = policy.prices
    if not rule:
        raise PolicyError(
            f"policy {policy.name!r} has no [prices] table; add it (see the default policy)",
            key="prices",
        )
    cut = pd.Timestamp(as_of)
    start = cut - pd.DateOffset(years=int(rule["lookback_years"]))
    rows = []
    for name, h in policy.harvests.items():
        t = prices[
            (prices["harvest"] == name) & (prices["month"] < cut) & (prices["month"] >= start)
        ]
        dist = (t["month"].dt.month - h.harvest_month) % 12
        near = (dist <= rule["window_months"]) | (dist >= 12 - rule["window_months"])
        per_month = t[near.to_numpy()].groupby("month")["price_per_t"].median()
        shock = h.price_shock if h.price_shock is not None else float(rule["shock"])
        row: dict[str, object] = {
            "harvest": name,
            "n_months": len(per_month),
            "markets": ", ".join(sorted(t["market"].unique())),
            "first_month": per_month.index.min().strftime("%Y-%m") if len(per_month) else "",
            "last_month": per_month.index.max().strftime("%Y-%m") if len(per_month) else "",
            "policy_price": h.price_per_t,
            "shock": shock,
            "harvest_prices": json.dumps(
                {k.strftime("%Y-%m"): round(float(v), 2) for k, v in per_month.items()}
            ),
        }
        if len(per_month) < rule["min_observations"]:
            row |= {
                "source": "policy",
                "quantile_price": np.nan,
                "trend_price": np.nan,
                "volatility": np.nan,
                "vol_haircut": 0.0,
                "prudent_price": h.price_per_t,
            }
        else:
            years = (per_month.index - cut).days.to_numpy() / 365.25
            logp = np.log(per_month.to_numpy(dtype=float))
            slope, icpt = np.polyfit(years, logp, 1) if len(set(years)) > 1 else (0.0, logp.mean())
            t_next = (_next_harvest(as_of, h.harvest_month) - cut).days / 365.25
            trend = float(np.exp(icpt + slope * t_next))
            resid = logp - (icpt + slope * years)
            sigma = float(np.std(resid, ddof=1)) if len(resid) > 2 else 0.0
            q = float(np.quantile(per_month.to_numpy(dtype=float), rule["quantile"]))
            haircut = min(rule["vol_multiplier"] * sigma, rule["max_vol_haircut"])
            row |= {
                "source": "market",
                "quantile_price": q,
                "trend_price": trend,
                "volatility": sigma,
                "vol_haircut": haircut,
                "prudent_price": min(q, trend) * (1 - haircut),
            }
        row["shock_price"] = float(row["prudent_price"]) * (1 - shock)  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))


def apply_prices(
    policy: CreditPolicy, evidence: pd.DataFrame, *, scenario: str = "prudent"
) -> CreditPolicy:
    """The policy with each harvest's price replaced by its prudent (or shocked) price.

    ``scenario`` is ``"prudent"`` or ``"shock"``. Prices are written back in the harvest's
    ``price_unit``, so the policy stays readable; its checksum changes with the prices.

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> ev = pd.DataFrame({"harvest": ["maize"], "prudent_price": [2000.0],
    ...                    "shock_price": [1600.0]})
    >>> apply_prices(load_policy(), ev).harvests["maize"].price_per_t
    2000.0
    """
    col = {"prudent": "prudent_price", "shock": "shock_price"}.get(scenario)
    if col is None:
        raise PolicyError(f"price scenario {scenario!r} is unknown; use 'prudent' or 'shock'")
    changes: dict[str, dict[str, float]] = {}
    for h, price in zip(evidence["harvest"], evidence[col], strict=True):
        if h not in policy.harvests or not np.isfinite(price):
            continue
        unit = policy.harvests[h].price_unit.partition("/")[2].strip()
        per = {"kg": 1000.0, "t": 1.0}[unit]
        changes[str(h)] = {"price": float(price) / per}
    return policy.with_changes({"harvests": changes}) if changes else policy


__all__ = ["EVIDENCE_COLUMNS", "PRICE_COLUMNS", "apply_prices", "prudent_prices", "read_prices"]
