"""agrilend.yield_models: features, crop type, vigour, weather and yield.

Every estimate carries its uncertainty: crop type with its probability (and every declared
crop with ``p_declared`` and a mismatch score), vigour with a
data-quality note, yield with an interval.
"""

from agrilend.yield_models.crop_type import (
    CropTypeClassifier,
    brier_score,
    crop_mismatch,
    expected_calibration_error,
    predict_out_of_fold,
    training_sample,
)
from agrilend.yield_models.declaration import audit_declarations, check_declarations
from agrilend.yield_models.features import (
    crop_features,
    harmonic_coefficients,
    profile_width,
    season_days,
    series_features,
)
from agrilend.yield_models.persistence import (
    MODEL_FORMAT_VERSION,
    load_crop_model,
    load_model,
    read_model_metadata,
    save_model,
)
from agrilend.yield_models.vigour import (
    VIGOUR_CLASSES,
    history_vigour,
    peer_statistics,
    season_metrics,
    vigour_scores,
)
from agrilend.yield_models.weather import (
    BASE_TEMPERATURE_C,
    base_temperature,
    climate_risk,
    read_gridded_weather,
    read_weather,
    season_weather,
    standardized_precipitation_index,
    weather_normals,
)
from agrilend.yield_models.yields import (
    HARVESTS,
    YieldModel,
    county_yield_cv,
    county_yield_table,
    estimate_yield,
    harvests,
    read_county_yields,
    weather_factor,
)

__all__ = [  # noqa: RUF022  (grouped by kind, as CONVENTIONS.md asks)
    # constants
    "BASE_TEMPERATURE_C",
    "HARVESTS",
    "MODEL_FORMAT_VERSION",
    "VIGOUR_CLASSES",
    # estimators
    "CropTypeClassifier",
    "YieldModel",
    # features and crop type
    "brier_score",
    "crop_features",
    "crop_mismatch",
    "expected_calibration_error",
    "harmonic_coefficients",
    "predict_out_of_fold",
    "profile_width",
    "season_days",
    "series_features",
    "training_sample",
    # the declaration check
    "audit_declarations",
    "check_declarations",
    # persistence
    "load_crop_model",
    "load_model",
    "read_model_metadata",
    "save_model",
    # vigour
    "history_vigour",
    "peer_statistics",
    "season_metrics",
    "vigour_scores",
    # weather
    "base_temperature",
    "climate_risk",
    "read_gridded_weather",
    "read_weather",
    "season_weather",
    "standardized_precipitation_index",
    "weather_normals",
    # yield
    "county_yield_cv",
    "county_yield_table",
    "estimate_yield",
    "harvests",
    "read_county_yields",
    "weather_factor",
]
