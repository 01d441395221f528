"""County scans: every parcel of a county, in spatial chunks on Dask, resumable, losing nothing.

The package is also the function: ``agrilend.scan(files, out_dir, ...)`` is
:func:`agrilend.scan.scan`.

Modules
-------
runner
    The scan itself: plan, chunks on Dask, resume, quarantine, the county step, outputs.
parts
    Chunks: partitioning the titles, each chunk's work on a worker, its atomic part file.
county_flow, county_step
    The county step on the workers (crops, exact peers, each part decided and written,
    households in partitions); the client holds summaries and, for the crop plan, a few small
    columns per title (status, declared crop, observations), never a title's id, owner or
    outline, a parcel's curves or features, or the crop model.
outputs
    The summary (JSON and HTML with a county map), the tables written part by part, and the
    readers of the parcels and households datasets (:func:`read_parcels`,
    :func:`read_households`).
context
    The county context a scan leaves (crop model, peers, normals) and one household decided
    from it (:func:`decide_household`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from agrilend.scan.context import decide_household, load_context, save_context
from agrilend.scan.outputs import read_households, read_parcels
from agrilend.scan.runner import DEFAULT_CHUNK_PX, MAX_ATTEMPTS, ScanResult, scan


class _CallableModule(types.ModuleType):
    """``agrilend.scan`` is both this package and, when called, :func:`scan`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScanResult:
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    # results and constants
    "DEFAULT_CHUNK_PX",
    "MAX_ATTEMPTS",
    "ScanResult",
    # functions
    "decide_household",
    "load_context",
    "read_households",
    "read_parcels",
    "save_context",
    "scan",
]
