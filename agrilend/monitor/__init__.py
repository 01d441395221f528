"""In-season monitoring (贷中监测) of a scanned loan book.

Each run appends the new image dates to every parcel's series (beside the scan, append-only,
resumable), finds events per parcel (crop failure or abandonment, drought stress, hail or flood
damage, a crop other than the one sized, late sowing, harvest after the loan falls due),
updates each household's expected revenue and repayment capacity, proposes an action (keep,
reduce the undrawn part, extend the tenor, visit) with reasons in English and Chinese, times the
household's costs by growth stage, and writes a portfolio summary (JSON and HTML).

Modules
-------
store
    The append-only store of parcel series, one partition per run.
update
    Reading only the new dates, chunk by chunk, on Dask.
events
    The event rules.
dryness
    SPI and dry spells on each image date.
actions
    Revenue, capacity and the proposed action per household.
funding
    When each household's costs fall due.
portfolio
    The run's summary and its pages.
runner
    One run: :func:`monitor`.
history
    A household's monitoring history (its report shows it).
seasons
    One season against the others (multi-year series without a scan).
"""

from __future__ import annotations

from agrilend.monitor.events import EventRules, detect_events, normal_amplitude
from agrilend.monitor.history import household_history
from agrilend.monitor.reasons import MONITOR_REASONS, monitor_reason
from agrilend.monitor.runner import MonitorResult, monitor
from agrilend.monitor.store import list_runs, monitor_dir, read_series
from agrilend.monitor.thresholds import MonitorPolicy

__all__ = [
    # constants
    "MONITOR_REASONS",
    # data classes
    "EventRules",
    "MonitorPolicy",
    "MonitorResult",
    # functions
    "detect_events",
    "household_history",
    "list_runs",
    "monitor",
    "monitor_dir",
    "monitor_reason",
    "normal_amplitude",
    "read_series",
]
