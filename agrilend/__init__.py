"""agrilend: satellite-based farm lending for smallholders.

Sentinel-2 imagery is clipped to land-title parcels; each parcel's NDVI series estimates its
crop, its really cultivated area and its vigour; with subsidy and climate data these size a
credit line for the household that holds the titles.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agrilend")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
