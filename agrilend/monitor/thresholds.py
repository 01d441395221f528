"""The monitoring thresholds: the policy's ``[monitor]`` table read into a frozen object."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from agrilend.monitor.events import EventRules


@dataclass(frozen=True)
class MonitorPolicy(EventRules):
    """Thresholds of the events (those of :class:`EventRules`, inherited), the household
    actions and the funding calendar.

    Every field is a key of the policy's ``[monitor]`` table (``agrilend/credit/
    default_policy.toml`` documents them); a policy without the table gets these defaults.

    Examples
    --------
    >>> MonitorPolicy.from_mapping({"reduce_below": 0.9}).reduce_below
    0.9
    """

    reduce_below: float = 1.0
    visit_below: float = 0.5
    extend_months: int = 3
    late_sowing_factor: float = 0.9
    condition_uncertainty: float = 0.1
    sowing_share: float = 0.4
    fertiliser_share: float = 0.35
    harvest_share: float = 0.25
    fertiliser_after_sowing_days: int = 35

    @classmethod
    def from_mapping(cls, values: Any) -> MonitorPolicy:
        """Defaults overridden by ``values`` (unknown keys are refused by the policy reader)."""
        known = {f.name: f.type for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for k, v in dict(values or {}).items():
            if k in known:
                kwargs[k] = int(v) if known[k] == "int" else float(v)
        return cls(**kwargs)

    @classmethod
    def from_policy(cls, policy: Any) -> MonitorPolicy:
        """The ``[monitor]`` table of a :class:`~agrilend.credit.CreditPolicy` (or defaults)."""
        return cls.from_mapping(getattr(policy, "monitor", None))

    def event_rules(self) -> EventRules:
        """The thresholds the event rules use."""
        names = {f.name for f in fields(EventRules)} - {"extra"}
        return EventRules(**{n: getattr(self, n) for n in names})


__all__ = ["MonitorPolicy"]
