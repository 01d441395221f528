"""The one pipeline: imagery and titles in, parcel estimates and household decisions out.

``report``, ``scan``, ``demo`` and library users all call :func:`assess`; there is no second
copy of this flow anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr


@dataclass
class CountyContext:
    """What a county scan learns and leaves for later single-household decisions.

    Attributes
    ----------
    crop_model
        The fitted crop-type classifier (trained on the county's declared crops).
    peer_stats
        Per crop and window: the peers' NDVI curve quantiles and season metrics (vigour needs
        them); a DataFrame indexed by crop.
    peer_curves
        ``xarray.Dataset`` dims ``(crop, time)`` with ``p10``, ``p50``, ``p90`` of peers' smoothed
        NDVI (the report's peer band).
    weather_normals
        Per day of year: long-term normal Tmin, Tmax, precipitation.
    county_yields
        Mean yield per crop (t/ha) the yield estimate is calibrated to.
    meta
        Versions and checksums (agrilend, model, policy, inputs).
    """

    crop_model: Any = None
    peer_stats: pd.DataFrame | None = None
    peer_curves: xr.Dataset | None = None
    weather_normals: pd.DataFrame | None = None
    county_yields: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Assessment:
    """The result of :func:`assess` for a set of parcels.

    Attributes
    ----------
    parcels
        ``GeoDataFrame``, one row per parcel, the "parcel estimates" columns of DEVELOPERS.md.
    households
        ``DataFrame``, one row per household, the "household decisions" columns.
    series
        Per-parcel series (``xarray.Dataset``, dims ``parcel, time``): raw zonal NDVI statistics,
        plus ``NDVI_smooth`` (the cleaned curve) and ``NDVI_clear`` (bool, the date was clear).
    context
        The county context used (given or learnt).
    subsidies
        The matched subsidy records (may be empty).
    season_weather
        One row per household or county: season totals against normal.
    provenance
        Imagery dates and cloud cover, versions, input checksums.
    """

    parcels: gpd.GeoDataFrame
    households: pd.DataFrame
    series: xr.Dataset
    context: CountyContext
    subsidies: pd.DataFrame = field(default_factory=pd.DataFrame)
    season_weather: pd.DataFrame = field(default_factory=pd.DataFrame)
    provenance: dict[str, Any] = field(default_factory=dict)
