"""agrilend: satellite-based farm lending for smallholders.

Sentinel-2 imagery is clipped to land-title parcels; each parcel's NDVI series estimates its
crop, its really cultivated area and its vigour; with subsidy and climate data these size a
credit line for the household that holds the titles.

The names below are the entry points; each layer's own names live in its subpackage
(:mod:`agrilend.remote_sensing`, :mod:`agrilend.parcels`, :mod:`agrilend.yield_models`,
:mod:`agrilend.credit`). They are imported on first use, so ``import agrilend`` stays fast.

The pipeline function and the scan live in modules of the same name: use
``from agrilend.assess import assess`` and ``from agrilend.scan import scan`` (a package
attribute cannot be both the module and the function).
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
    from agrilend.assess import Assessment, CountyContext, Evidence, decide, gather_evidence
    from agrilend.inputs import InputFiles, Inputs, load_inputs
    from agrilend.scan import load_context

#: Public name -> module that defines it (imported lazily: the layers pull in numba, GDAL...).
_LAZY = {
    "Assessment": "agrilend.assess",
    "CountyContext": "agrilend.assess",
    "Evidence": "agrilend.assess",
    "decide": "agrilend.assess",
    "gather_evidence": "agrilend.assess",
    "InputFiles": "agrilend.inputs",
    "Inputs": "agrilend.inputs",
    "load_inputs": "agrilend.inputs",
    "load_context": "agrilend.scan",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agrilend' has no attribute {name!r}")


__all__ = [  # noqa: RUF022  (grouped by kind)
    "__version__",
    # the pipeline
    "Assessment",
    "CountyContext",
    "Evidence",
    "decide",
    "gather_evidence",
    # inputs
    "InputFiles",
    "Inputs",
    "load_inputs",
    # county scans
    "load_context",
]
