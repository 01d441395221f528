"""Weather: readers (:mod:`.readers`), agro-climatic indices (:mod:`.indices`) and the climate
risk of a season (:mod:`.risk`).

One daily table shape is used everywhere: a :class:`pandas.DataFrame` indexed by a daily
``DatetimeIndex`` named ``date`` with float columns ``tmin_c``, ``tmax_c``, ``prcp_mm`` (and
``et0_mm`` when the source has it).
"""

from agrilend.yield_models.weather.indices import (
    BASE_TEMPERATURE_C,
    base_temperature,
    season_weather,
    weather_normals,
)
from agrilend.yield_models.weather.readers import read_gridded_weather, read_weather
from agrilend.yield_models.weather.risk import climate_risk, standardized_precipitation_index

__all__ = [  # noqa: RUF022  (grouped by kind)
    # readers
    "read_gridded_weather",
    "read_weather",
    # indices
    "BASE_TEMPERATURE_C",
    "base_temperature",
    "season_weather",
    "weather_normals",
    # risk
    "climate_risk",
    "standardized_precipitation_index",
]
