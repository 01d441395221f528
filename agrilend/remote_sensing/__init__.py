"""Imagery into one cube contract: sources, harmonising, masks, indices, series, phenology."""

from agrilend.remote_sensing.contract import band_names, make_cube, validate_cube

__all__ = [
    # contract
    "band_names",
    "make_cube",
    "validate_cube",
]
