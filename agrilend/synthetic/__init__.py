"""The seeded generator of the synthetic sample county (``sample_data/``).

``python -m agrilend.synthetic sample_data`` regenerates the committed files. Everything it
makes is synthetic: land, owners, imagery, weather, subsidies and yields are drawn from seeded
random generators calibrated on published North China Plain facts.
"""

from __future__ import annotations

from agrilend.synthetic.county import (
    CRS,
    FILES,
    SyntheticCounty,
    build_county,
    generate_county,
    write_county,
)
from agrilend.synthetic.crops import CROPS, crop_ndvi

__all__ = [
    # constants
    "CROPS",
    "CRS",
    "FILES",
    # data classes
    "SyntheticCounty",
    # functions
    "build_county",
    "crop_ndvi",
    "generate_county",
    "write_county",
]
