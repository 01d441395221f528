"""Credit: the policy, subsidy records, household credit lines and their reasons."""

from agrilend.credit.policy import (
    CANONICAL_CROPS,
    HA_PER_MU,
    CreditPolicy,
    Harvest,
    load_policy,
    policy_from_dict,
)
from agrilend.credit.reasons import REASONS, Reason, reason_text
from agrilend.credit.sizing import DECISION_COLUMNS, prudent_yield, size_households
from agrilend.credit.subsidy import (
    SUBSIDY_COLUMNS,
    SubsidyMatch,
    household_subsidies,
    match_subsidies,
    normalise_subsidies,
    read_subsidies,
    subsidy_area_flags,
)

__all__ = [  # noqa: RUF022  (grouped by kind, as CONVENTIONS.md asks)
    # policy
    "CANONICAL_CROPS",
    "HA_PER_MU",
    "CreditPolicy",
    "Harvest",
    "load_policy",
    "policy_from_dict",
    # subsidies
    "SUBSIDY_COLUMNS",
    "SubsidyMatch",
    "household_subsidies",
    "match_subsidies",
    "normalise_subsidies",
    "read_subsidies",
    "subsidy_area_flags",
    # sizing
    "DECISION_COLUMNS",
    "prudent_yield",
    "size_households",
    # reasons
    "REASONS",
    "Reason",
    "reason_text",
]
