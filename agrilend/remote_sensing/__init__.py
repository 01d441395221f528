"""Imagery into one cube contract: sources, harmonising, masks, indices, series, phenology.

The sources (:mod:`agrilend.remote_sensing.sources`: local files, STAC, Sentinel Hub) are
imported on first use: they pull in rasterio, pystac, odc-stac and sentinelhub, which a
command that does not open imagery should not pay for.
"""

import importlib
from typing import TYPE_CHECKING, Any

from agrilend.remote_sensing.contract import band_names, make_cube, validate_cube
from agrilend.remote_sensing.harmonize import harmonize
from agrilend.remote_sensing.indices import (
    INDICES,
    IndexFormula,
    compute_index,
    evi,
    index_from_arrays,
    ndre,
    ndvi,
    ndwi,
    savi,
)
from agrilend.remote_sensing.masks import SCL_INVALID, mask_clouds, scl_valid
from agrilend.remote_sensing.phenology import Season, phenology, phenology_table
from agrilend.remote_sensing.sources import _LAZY as _SOURCE_MODULES
from agrilend.remote_sensing.timeseries import (
    clean_dataarray,
    clean_series,
    despike,
    fill_gaps,
    regularize,
    savgol,
    smooth_dataarray,
    whittaker,
)

if TYPE_CHECKING:
    from agrilend.remote_sensing.sources import (
        StacImagery,
        is_imagery_spec,
        load_sentinelhub,
        load_stac,
        open_cube,
        read_imagery_spec,
        search_stac,
        sentinelhub_config,
        sentinelhub_statistics,
    )

#: The sources' public names (imported from their modules on first use).
_SOURCES = frozenset(_SOURCE_MODULES)


def __getattr__(name: str) -> Any:
    if name in _SOURCES:
        return getattr(importlib.import_module("agrilend.remote_sensing.sources"), name)
    if name == "sources":
        return importlib.import_module("agrilend.remote_sensing.sources")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})


__all__ = [  # noqa: RUF022  (grouped by kind, as CONVENTIONS.md asks)
    # constants and types
    "INDICES",
    "IndexFormula",
    "SCL_INVALID",
    "Season",
    "StacImagery",
    # contract
    "band_names",
    "make_cube",
    "validate_cube",
    # local sources, harmonising, masks
    "harmonize",
    "mask_clouds",
    "open_cube",
    "scl_valid",
    # remote sources
    "load_sentinelhub",
    "is_imagery_spec",
    "load_stac",
    "read_imagery_spec",
    "search_stac",
    "sentinelhub_config",
    "sentinelhub_statistics",
    # indices
    "compute_index",
    "evi",
    "index_from_arrays",
    "ndre",
    "ndvi",
    "ndwi",
    "savi",
    # series
    "clean_dataarray",
    "clean_series",
    "despike",
    "fill_gaps",
    "regularize",
    "savgol",
    "smooth_dataarray",
    "whittaker",
    # phenology
    "phenology",
    "phenology_table",
]
