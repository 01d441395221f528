"""The words every layer shares, defined once: crops, units, Sentinel-2 classes and baselines.

This module is the lowest layer: it imports nothing from agrilend, and every other module takes
these names from here instead of keeping a copy.

Examples
--------
>>> from agrilend.vocabulary import CROPS, HA_PER_MU, SCL_CLEAR, is_clear_scl
>>> "winter_wheat_maize" in CROPS
True
>>> round(10 * HA_PER_MU, 4)            # 10 mu in hectares
0.6667
>>> [c for c in range(12) if is_clear_scl(c)] == list(SCL_CLEAR)
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

# --- crops ------------------------------------------------------------------------------------

#: Canonical crop names, used everywhere (estimates, policy TOML, reports). ``winter_wheat_maize``
#: is the North China Plain double crop: winter wheat, then summer maize on the same field.
CROPS: Final[tuple[str, ...]] = (
    "winter_wheat_maize",
    "maize",
    "rice",
    "soybean",
    "cotton",
    "peanut",
    "orchard",
    "greenhouse",
    "fallow",
)

# --- units ------------------------------------------------------------------------------------

#: Square metres in one hectare.
M2_PER_HA: Final = 10_000.0
#: Square metres in one mu (亩): 10000 / 15 m2.
M2_PER_MU: Final = M2_PER_HA / 15.0
#: Hectares in one mu.
HA_PER_MU: Final = 1.0 / 15.0
#: Mu in one hectare.
MU_PER_HA: Final = 15.0

# --- Sentinel-2 scene classification (Sen2Cor SCL) -------------------------------------------

#: Names of the SCL classes.
SCL_CLASSES: Final[dict[int, str]] = {
    0: "no data",
    1: "saturated or defective",
    2: "dark area pixels (topographic shadow)",
    3: "cloud shadow",
    4: "vegetation",
    5: "not vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow or ice",
}
#: SCL classes that count as clear ground: dark areas (topographic shadow), vegetation, bare
#: soil, water, unclassified. Class 2 stays clear: on the real Spanish 2019 cube Sen2Cor puts
#: winter fields under a low sun in it while the cloud mask (CLM) calls them clear, and dropping
#: it loses those dates (tests/remote_sensing/test_masks.py).
SCL_CLEAR: Final[tuple[int, ...]] = (2, 4, 5, 6, 7)
#: Every other class: no data, defective, dark area, cloud shadow, clouds, cirrus, snow.
SCL_INVALID: Final[tuple[int, ...]] = tuple(c for c in SCL_CLASSES if c not in SCL_CLEAR)


def is_clear_scl(code: int) -> bool:
    """True when SCL class ``code`` counts as clear ground (:data:`SCL_CLEAR`)."""
    return int(code) in SCL_CLEAR


# --- processing baselines -------------------------------------------------------------------

#: The processing baseline from which L2A/L1C digital numbers carry an offset.
BASELINE_WITH_OFFSET: Final = "04.00"
#: First acquisition date processed with baseline 04.00 (all later scenes carry the offset).
BASELINE_04_DATE: Final = datetime(2022, 1, 25)
#: The offset of baseline 04.00 and later, in digital numbers (``BOA_ADD_OFFSET``).
BOA_ADD_OFFSET: Final = -1000.0
#: Digital numbers per unit reflectance (``BOA_QUANTIFICATION_VALUE``).
QUANTIFICATION_VALUE: Final = 10_000.0
#: Digital numbers that mean "no data" in uint16 Sentinel-2 products.
NODATA_DN: Final[tuple[int, ...]] = (0, 65535)


__all__ = [  # noqa: RUF022  (grouped by kind)
    # crops
    "CROPS",
    # units
    "HA_PER_MU",
    "M2_PER_HA",
    "M2_PER_MU",
    "MU_PER_HA",
    # Sentinel-2 classes
    "SCL_CLASSES",
    "SCL_CLEAR",
    "SCL_INVALID",
    "is_clear_scl",
    # baselines
    "BASELINE_04_DATE",
    "BASELINE_WITH_OFFSET",
    "BOA_ADD_OFFSET",
    "NODATA_DN",
    "QUANTIFICATION_VALUE",
]
