"""Imagery into one cube contract: sources, harmonising, masks, indices, series, phenology."""

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
