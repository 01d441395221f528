"""Does the imagery see the crop seasons the policy lends on? Parcels it cannot are early-season.

Each harvest of the policy has a season: the months from its ``season_start_month`` (green-up or
sowing) to its ``harvest_month`` (:attr:`agrilend.credit.policy.Harvest.season_months`). A
parcel's season is *seen* when the imagery holds at least ``season.min_clear_obs`` clear
observations of it in those months. A parcel with any unseen season is **early-season**: which
crop it carries cannot be told yet (a January-April cube shows winter wheat greening up, but not
whether maize follows), so it never gets a confident crop, and the policy decides what it gets
(``season.early_season``: ``"refer"`` to a person, or ``"haircut"`` of its value).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from agrilend.credit import load_policy
>>> times = pd.date_range("2024-01-05", "2024-04-25", freq="10D")
>>> clear = np.ones((1, len(times)), bool)
>>> early, unseen = season_coverage(times, clear, load_policy())
>>> bool(early[0]), "summer_maize" in unseen[0]
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.policy import CreditPolicy

#: Short English names of the months, for messages.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def policy_seasons(policy: CreditPolicy) -> dict[str, tuple[int, ...]]:
    """Harvest name -> months of its season, for every harvest of the policy's crops."""
    names = sorted({h for hs in policy.crops.values() for h in hs})
    return {h: policy.harvests[h].season_months for h in names}


def describe_season(months: tuple[int, ...]) -> str:
    """``(7, 8, 9, 10)`` as ``"Jul-Oct"``.

    Examples
    --------
    >>> describe_season((11, 12, 1, 2))
    'Nov-Feb'
    """
    return f"{_MONTHS[months[0] - 1]}-{_MONTHS[months[-1] - 1]}"


def season_coverage(
    times: Any, clear: np.ndarray[Any, Any], policy: CreditPolicy
) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Which parcels the imagery cannot see through every season of the policy.

    Parameters
    ----------
    times
        The imagery dates (columns of ``clear``).
    clear
        Boolean ``(parcels, dates)``: True where the date is a clear observation of the parcel.
    policy
        The credit policy (its harvests' seasons and ``season.min_clear_obs``).

    Returns
    -------
    early : numpy.ndarray
        True for early-season parcels.
    unseen : list of str
        Per parcel, the unseen harvests and their months (``"summer_maize (Jul-Oct)"``),
        comma-separated; ``""`` when every season is seen.
    """
    months = pd.DatetimeIndex(times).month.to_numpy()
    clear = np.asarray(clear, dtype=bool).reshape(-1, len(months))
    need = int(policy.season["min_clear_obs"])
    missing: list[list[str]] = [[] for _ in range(clear.shape[0])]
    for name, season in policy_seasons(policy).items():
        in_season = np.isin(months, season)
        seen = clear[:, in_season].sum(axis=1) >= need
        for i in np.flatnonzero(~seen):
            missing[i].append(f"{name} ({describe_season(season)})")
    early = np.array([bool(m) for m in missing], dtype=bool)
    return early, [", ".join(m) for m in missing]


def imagery_seasons(times: Any, clear_share: np.ndarray[Any, Any], policy: CreditPolicy) -> str:
    """The policy's seasons a whole cube cannot see, for ``agrilend check`` (``""`` if none).

    A date counts as clear when at least half of the cube's pixels are clear on it.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from agrilend.credit import load_policy
    >>> times = pd.date_range("2024-01-05", "2024-12-25", freq="10D")
    >>> imagery_seasons(times, np.ones(len(times)), load_policy())
    ''
    """
    clear = (np.asarray(clear_share, dtype="float64") >= 0.5)[None, :]
    _, unseen = season_coverage(times, clear, policy)
    return unseen[0]


__all__ = ["describe_season", "imagery_seasons", "policy_seasons", "season_coverage"]
