"""Credit: the policy, subsidy records, household credit lines and their reasons."""

from agrilend.credit.costs import CostError, CostModel, cross_validate_costs, out_of_fold_costs
from agrilend.credit.extras import CreditExtras, ExtrasResult, size_with_extras
from agrilend.credit.insurance import insurance_by_household, match_insurance, read_insurance
from agrilend.credit.policy import (
    CANONICAL_CROPS,
    HA_PER_MU,
    CreditPolicy,
    Harvest,
    load_policy,
    policy_from_dict,
)
from agrilend.credit.prices import apply_prices, prudent_prices, read_prices
from agrilend.credit.reasons import REASONS, Reason, reason_text
from agrilend.credit.self_evidence import check_own_evidence, read_own_evidence, read_photo
from agrilend.credit.sizing import (
    DECISION_COLUMNS,
    credit_totals,
    prudent_yield,
    size_households,
)
from agrilend.credit.stress import stress_chart, stress_portfolio
from agrilend.credit.subsidy import (
    SUBSIDY_COLUMNS,
    SubsidyMatch,
    household_subsidies,
    match_subsidies,
    normalise_subsidies,
    read_subsidies,
    subsidy_area_flags,
)
from agrilend.credit.transfers import apply_transfers, read_transfers
from agrilend.credit.whatif import what_would_raise

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
    "credit_totals",
    # beyond the crop (issue 20)
    "CostError",
    "CostModel",
    "CreditExtras",
    "ExtrasResult",
    "apply_prices",
    "apply_transfers",
    "check_own_evidence",
    "cross_validate_costs",
    "insurance_by_household",
    "match_insurance",
    "out_of_fold_costs",
    "prudent_prices",
    "read_insurance",
    "read_own_evidence",
    "read_photo",
    "read_prices",
    "read_transfers",
    "size_with_extras",
    "stress_chart",
    "stress_portfolio",
    "what_would_raise",
    # reasons
    "REASONS",
    "Reason",
    "reason_text",
]
