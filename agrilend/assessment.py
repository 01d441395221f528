"""What an assessment hands on: the parcels' evidence, the assessment itself and the county
context it learns, with the columns the parcel estimates carry (the data contracts of
DEVELOPERS.md). :mod:`agrilend.pipeline` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

#: The parcel estimates' columns (DEVELOPERS.md, "Parcel estimates"), in order; assess and the
#: scan write at least these.
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "parcel_id", "owner_ref", "declared_crop", "declared_area_ha", "crop", "crop_confidence",
    "crop_mismatch", "cultivated_area_ha", "area_ratio", "area_flag", "vigour", "vigour_class",
    "sos", "pos", "eos", "season_length_days", "season_integral", "peak_ndvi", "yield_t_ha",
    "yield_low", "yield_high", "n_clear_obs", "cloud_fraction", "n_pixels", "quality_flags",
    "status", "message", "geometry",
)  # fmt: skip
#: Estimate columns that hold numbers (float, NaN when unknown), never text.
NUMERIC_ESTIMATE_COLUMNS: tuple[str, ...] = (
    "declared_area_ha", "crop_confidence", "cultivated_area_ha", "area_ratio", "vigour",
    "season_length_days", "season_integral", "peak_ndvi", "yield_t_ha", "yield_low",
    "yield_high", "n_clear_obs", "cloud_fraction", "n_pixels",
)  # fmt: skip


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
    peer_tiles
        A county scan's peers by tiles: per tile (``tile_px``, ``tile_row``, ``tile_col``) the
        :func:`agrilend.yield_models.peer_statistics` row of each crop judged by its own tile
        (``crop`` and the statistics' columns); the other crops take ``peer_stats``.
    parcel_tiles
        A county scan's peer tile of each parcel by parcel id (the tile of its chunk's window;
        :class:`agrilend.scan.context.ParcelTiles`, read on demand), so that a household decided
        later judges each parcel as the scan did.
    """

    crop_model: Any = None
    peer_stats: pd.DataFrame | None = None
    peer_curves: xr.Dataset | None = None
    weather_normals: pd.DataFrame | None = None
    county_yields: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    peer_tiles: pd.DataFrame | None = None
    parcel_tiles: Any = None
    #: County tables computed from the inputs (the season's weather against its normal, the
    #: climate risk), by what they were computed from; never saved. Shared by shallow copies,
    #: so households decided one by one with one context compute them once.
    tables: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def copy(self) -> CountyContext:
        """A new context holding the same model and tables, with its own mappings.

        Setting a field of the copy, or changing its ``county_yields`` or ``meta``, leaves this
        context as it was. The model and tables are shared: nothing in agrilend changes them in
        place.

        Examples
        --------
        >>> ctx = CountyContext(county_yields={"maize": 7.5})
        >>> other = ctx.copy()
        >>> other.county_yields["maize"] = 9.0
        >>> ctx.county_yields
        {'maize': 7.5}
        """
        return replace(self, county_yields=dict(self.county_yields), meta=dict(self.meta))


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
    #: :class:`agrilend.credit.ExtrasResult` when records beyond the crop were given.
    credit_extras: Any = None


@dataclass
class Evidence:
    """What the imagery says about each parcel, before any county-level model is applied.

    One chunk of a county scan produces one :class:`Evidence`; :func:`decide` turns one (or the
    concatenation of many) into an :class:`Assessment`.

    Attributes
    ----------
    parcels
        ``GeoDataFrame``: the titles (schema columns), their validation status, data quality
        (``n_clear_obs``, ``cloud_fraction``, ``n_pixels``), season metrics of
        :func:`agrilend.yield_models.season_metrics` (``sos``, ``pos``, ``eos``,
        ``season_integral``, ``peak_ndvi`` ...), cultivated area (``cultivated_area_ha``,
        ``area_ratio``, ``area_flag``), ``status`` and ``message``.
    series
        Per-parcel series (dims ``parcel, time``): zonal NDVI statistics, ``NDVI_clear`` and
        ``NDVI_smooth``.
    times
        The imagery dates (columns of ``ndvi``).
    ndvi
        Clear-only parcel mean NDVI, rows following ``parcels`` (NaN where not observed, and
        whole rows of NaN for unusable parcels): the crop classifier's input.
    grid
        The regular dates of the cleaned curves.
    smooth
        The cleaned NDVI curves on ``grid`` (rows following ``parcels``): the peers' curves.
    """

    parcels: gpd.GeoDataFrame
    series: xr.Dataset
    times: pd.DatetimeIndex
    ndvi: np.ndarray[Any, Any]
    grid: pd.DatetimeIndex
    smooth: np.ndarray[Any, Any]


__all__ = [
    "ESTIMATE_COLUMNS",
    "NUMERIC_ESTIMATE_COLUMNS",
    "Assessment",
    "CountyContext",
    "Evidence",
]
