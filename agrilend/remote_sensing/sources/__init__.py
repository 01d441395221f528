"""Where imagery comes from, each into the cube contract: local files (:mod:`.local`), a STAC
search (:mod:`.stac`), a STAC search named by a TOML file (:mod:`.spec`) and Sentinel Hub
(:mod:`.sentinelhub`: configuration, Process API, Statistical API)."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agrilend.remote_sensing.sources.local import open_cube
    from agrilend.remote_sensing.sources.sentinelhub import (
        load_sentinelhub,
        sentinelhub_config,
        sentinelhub_statistics,
    )
    from agrilend.remote_sensing.sources.spec import (
        StacImagery,
        is_imagery_spec,
        read_imagery_spec,
    )
    from agrilend.remote_sensing.sources.stac import load_stac, search_stac

#: Public name -> the module defining it; each source is imported when first used (Sentinel Hub
#: and STAC bring heavy libraries).
_LAZY = {
    "open_cube": "local",
    "load_sentinelhub": "sentinelhub",
    "sentinelhub_config": "sentinelhub",
    "sentinelhub_statistics": "sentinelhub",
    "StacImagery": "spec",
    "is_imagery_spec": "spec",
    "read_imagery_spec": "spec",
    "load_stac": "stac",
    "search_stac": "stac",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
