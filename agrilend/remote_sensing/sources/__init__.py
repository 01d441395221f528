"""Where imagery comes from, each into the cube contract: local files (:mod:`.local`), a STAC
search (:mod:`.stac`), a STAC search named by a TOML file (:mod:`.spec`) and Sentinel Hub
(:mod:`.sentinelhub`: configuration, Process API, Statistical API)."""

from agrilend.remote_sensing.sources.local import open_cube
from agrilend.remote_sensing.sources.sentinelhub import (
    load_sentinelhub,
    sentinelhub_config,
    sentinelhub_statistics,
)
from agrilend.remote_sensing.sources.spec import StacImagery, is_imagery_spec, read_imagery_spec
from agrilend.remote_sensing.sources.stac import load_stac, search_stac

__all__ = [
    "StacImagery",
    "is_imagery_spec",
    "load_sentinelhub",
    "load_stac",
    "open_cube",
    "read_imagery_spec",
    "search_stac",
    "sentinelhub_config",
    "sentinelhub_statistics",
]
