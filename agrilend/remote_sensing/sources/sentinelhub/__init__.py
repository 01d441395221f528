"""Sentinel-2 L2A from Sentinel Hub: configuration and credentials (:mod:`.config`), the pixel
grid and time windows of a request (:mod:`.area`), pixels through the Process API
(:mod:`.process`) and parcel statistics through the Statistical API (:mod:`.statistical`)."""

from agrilend.remote_sensing.sources.sentinelhub.config import (
    COLLECTION,
    DEFAULT_BANDS,
    MAX_DAYS,
    MAX_TILE_PX,
    ND_INDICES,
    SCL_CLEAR,
    sentinelhub_config,
)
from agrilend.remote_sensing.sources.sentinelhub.process import load_sentinelhub, process_evalscript
from agrilend.remote_sensing.sources.sentinelhub.statistical import (
    sentinelhub_statistics,
    statistics_evalscript,
)

__all__ = [
    "COLLECTION",
    "DEFAULT_BANDS",
    "MAX_DAYS",
    "MAX_TILE_PX",
    "ND_INDICES",
    "SCL_CLEAR",
    "load_sentinelhub",
    "process_evalscript",
    "sentinelhub_config",
    "sentinelhub_statistics",
    "statistics_evalscript",
]
