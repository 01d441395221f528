"""agrilend: satellite-based farm lending for smallholders.

Sentinel-2 imagery is clipped to land-title parcels; each parcel's NDVI series estimates its
crop, its really cultivated area and its vigour; with subsidy and climate data these size a
credit line for the household that holds the titles.

The names below are the entry points: :func:`assess` (the one pipeline, in
:mod:`agrilend.pipeline`) and :func:`scan` (a county scan; :mod:`agrilend.scan` is both the
package and, when called, the function). Each layer's own names live in its subpackage
(:mod:`agrilend.remote_sensing`, :mod:`agrilend.parcels`, :mod:`agrilend.yield_models`,
:mod:`agrilend.credit`, :mod:`agrilend.report`). Everything is imported on first use, so
``import agrilend`` stays fast.

Examples
--------
>>> import agrilend
>>> callable(agrilend.assess), callable(agrilend.scan)
(True, True)
>>> "remote_sensing" in dir(agrilend)
True
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("agrilend")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from agrilend import credit, parcels, remote_sensing, report, scan, yield_models
    from agrilend.assessment import Assessment, CountyContext, Evidence
    from agrilend.inputs import InputFiles, Inputs, load_inputs
    from agrilend.pipeline import assess, decide, gather_evidence
    from agrilend.scan import load_context

#: Public name -> module that defines it (imported lazily: the layers pull in numba, GDAL...).
_LAZY = {
    "Assessment": "agrilend.assessment",
    "CountyContext": "agrilend.assessment",
    "Evidence": "agrilend.assessment",
    "assess": "agrilend.pipeline",
    "decide": "agrilend.pipeline",
    "gather_evidence": "agrilend.pipeline",
    "InputFiles": "agrilend.inputs",
    "Inputs": "agrilend.inputs",
    "load_inputs": "agrilend.inputs",
    "load_context": "agrilend.scan",
}

#: Subpackages, imported on first attribute access.
_SUBPACKAGES = (
    "credit",
    "parcels",
    "pipeline",
    "remote_sensing",
    "report",
    "scan",
    "yield_models",
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'agrilend' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})


__all__ = [  # noqa: RUF022  (grouped by kind)
    "__version__",
    # the pipeline
    "Assessment",
    "CountyContext",
    "Evidence",
    "assess",
    "decide",
    "gather_evidence",
    # inputs
    "InputFiles",
    "Inputs",
    "load_inputs",
    # county scans
    "load_context",
    "scan",
    # subpackages
    "credit",
    "parcels",
    "remote_sensing",
    "report",
    "yield_models",
]
