"""Land titles and per-parcel series: read registries, pseudonymise owners, validate, zonal;
farmer-drawn claims verified against fields delineated in the imagery."""

from agrilend.parcels.area import cultivated_area
from agrilend.parcels.claims import read_claims, repair_claims
from agrilend.parcels.delineation import Fields, delineate, match_fields
from agrilend.parcels.mapping import MAPPINGS, TitleMapping
from agrilend.parcels.pixels import ParcelPixels, parcel_pixels
from agrilend.parcels.pseudonym import pseudonymize
from agrilend.parcels.titles import as_titles, read_titles
from agrilend.parcels.validate import (
    CHECK_ORDER,
    ValidationReport,
    check_crs,
    overlapping_pairs,
    validate_titles,
)
from agrilend.parcels.verify import VerifyOptions, claims_as_titles, verify_claims
from agrilend.parcels.zonal import pixel_values, zonal_index_stats, zonal_series

__all__ = [  # noqa: RUF022  (grouped by kind, as CONVENTIONS.md asks)
    # titles
    "MAPPINGS",
    "TitleMapping",
    "as_titles",
    "read_titles",
    # pseudonyms
    "pseudonymize",
    # validation
    "CHECK_ORDER",
    "ValidationReport",
    "check_crs",
    "overlapping_pairs",
    "validate_titles",
    # zonal engine
    "ParcelPixels",
    "parcel_pixels",
    "zonal_index_stats",
    "zonal_series",
    "pixel_values",
    # cultivated area
    "cultivated_area",
    # farmer-drawn claims and field delineation
    "Fields",
    "VerifyOptions",
    "claims_as_titles",
    "delineate",
    "match_fields",
    "read_claims",
    "repair_claims",
    "verify_claims",
]
