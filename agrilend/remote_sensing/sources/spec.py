"""Remote imagery named by a small TOML file, so a county scan can read it window by window.

A local cube is a file every worker opens. A STAC source is a *search*: the same search run
twice (on two workers, or before and after a kill) can return different items as new scenes
are published. So a scan searches once, freezes the items it found into its results folder, and
every worker opens those frozen items on the same grid (the titles' CRS, snapped to the
resolution), reading only the window of its chunk. The imagery file of the inputs is then::

    # county-imagery.toml
    [stac]
    catalogue = "https://earth-search.aws.element84.com/v1"   # or a static catalogue.json
    collection = "sentinel-2-l2a"
    start = 2024-03-01
    end = 2024-10-31
    max_cloud = 60          # optional, percent
    resolution = 10         # optional, metres
    bands = ["B02", "B03", "B04", "B08"]   # optional

A relative ``catalogue`` path is read from the TOML file's folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac
import shapely
import xarray as xr

from agrilend._limits import load_toml
from agrilend._paths import is_remote, local_path
from agrilend.errors import ImageryReadError
from agrilend.remote_sensing.sources.stac import DEFAULT_BANDS, load_stac, search_stac

log = logging.getLogger(__name__)

_KEYS = {"catalogue", "collection", "start", "end", "max_cloud", "resolution", "bands"}


@dataclass(frozen=True)
class StacImagery:
    """A STAC search for a county's Sentinel-2 L2A: where, which collection, which season.

    Attributes
    ----------
    catalogue
        A STAC API URL or the absolute path of a static catalogue / item collection.
    collection, start, end, max_cloud, resolution, bands
        As for :func:`agrilend.remote_sensing.load_stac` (``start``/``end`` ISO dates).
    """

    catalogue: str
    start: str
    end: str
    collection: str = "sentinel-2-l2a"
    max_cloud: float | None = None
    resolution: float = 10.0
    bands: tuple[str, ...] = tuple(DEFAULT_BANDS)

    def search(self, area: shapely.Geometry, crs: Any) -> pystac.ItemCollection:
        """The items over ``area`` (a geometry in ``crs``) and the season: the search, once."""
        return search_stac(
            self.catalogue, geometry=area, crs=crs, time=(self.start, self.end),
            collection=self.collection, max_cloud=self.max_cloud,
        )  # fmt: skip

    def open(
        self,
        area: shapely.Geometry,
        crs: Any,
        *,
        items: str | Path | Sequence[pystac.Item] | None = None,
        chunks: Any = None,
        check_values: bool = True,
    ) -> xr.Dataset:
        """The cube over ``area`` on the grid of ``crs`` at ``resolution`` (lazy with chunks).

        ``items`` is a frozen item collection (the file :meth:`freeze` wrote, or its items
        already read); without it the search is run. ``check_values`` as in
        :func:`~agrilend.remote_sensing.sources.stac.load_stac`.
        """
        source: Any = self.catalogue if items is None else items
        if isinstance(source, Path):
            source = str(source)
        return load_stac(
            source, geometry=area, crs=crs, time=(self.start, self.end),
            collection=self.collection, bands=self.bands, max_cloud=self.max_cloud,
            resolution=self.resolution, chunks=chunks, check_values=check_values,
        )  # fmt: skip

    def freeze(self, area: shapely.Geometry, crs: Any, dest: str | Path) -> Path:
        """Search once and write the items found to ``dest`` (GeoJSON item collection).

        Written through a temporary file and a rename, so a killed freeze leaves nothing.
        """
        found = self.search(area, crs)
        from agrilend.outputs import write_json  # noqa: PLC0415  (the one writer of the library)

        dest = Path(dest)
        payload = found.to_dict(transform_hrefs=False)
        for feature in payload["features"]:  # absolute asset paths: the file may move
            for asset in feature.get("assets", {}).values():
                href = str(asset.get("href", ""))
                if href and not is_remote(href) and not Path(href).is_absolute():
                    asset["href"] = str(Path(href).resolve())
        write_json(payload, dest, overwrite=True)
        log.info("froze %d STAC item(s) into %s", len(found), dest)
        return dest


def is_imagery_spec(path: str | Path) -> bool:
    """True when ``path`` names an imagery TOML file (not a cube)."""
    return str(path).lower().endswith(".toml")


def read_imagery_spec(path: str | Path) -> StacImagery:
    """Read an imagery TOML file (see the module notes).

    Raises
    ------
    ImageryReadError
        Naming the file and the key when the file is not a valid imagery description.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "imagery.toml").write_text(
    ...     '[stac]\\ncatalogue = "https://stac.example/v1"\\nstart = 2024-03-01\\n'
    ...     'end = 2024-10-31\\nmax_cloud = 60\\n')
    >>> spec = read_imagery_spec(d / "imagery.toml")
    >>> spec.catalogue, spec.start, spec.end, spec.max_cloud, spec.resolution
    ('https://stac.example/v1', '2024-03-01', '2024-10-31', 60.0, 10.0)
    """
    p = local_path(path, what="imagery description")
    doc = load_toml(
        p,
        f"imagery file {str(p)!r}",
        error=lambda m: ImageryReadError(f"cannot read imagery file: {m}", path=p),
    )

    def bad(what: str) -> ImageryReadError:
        return ImageryReadError(f"imagery file {str(p)!r}: {what}", path=p)

    if set(doc) != {"stac"} or not isinstance(doc["stac"], dict):
        raise bad(
            f"expected one [stac] table, found {sorted(doc)}; describe a STAC search there "
            "(Sentinel Hub imagery: fetch it first with `agrilend fetch sentinelhub`)"
        )
    table: dict[str, Any] = doc["stac"]
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise bad(f"unknown key(s) {unknown} in [stac]; known: {sorted(_KEYS)}")
    for key in ("catalogue", "start", "end"):
        if key not in table:
            raise bad(f"[stac] lacks {key!r}")
    catalogue = str(table["catalogue"])
    if not is_remote(catalogue):
        catalogue = str((p.parent / catalogue).resolve())
    try:
        bands = tuple(str(b) for b in table.get("bands", DEFAULT_BANDS))
        max_cloud = float(table["max_cloud"]) if "max_cloud" in table else None
        resolution = float(table.get("resolution", 10.0))
    except (TypeError, ValueError) as exc:
        raise bad(f"a value in [stac] has the wrong type ({exc})") from None
    if resolution <= 0:
        raise bad(f"resolution must be positive metres, got {resolution}")
    return StacImagery(
        catalogue=catalogue, start=str(table["start"]), end=str(table["end"]),
        collection=str(table.get("collection", "sentinel-2-l2a")), max_cloud=max_cloud,
        resolution=resolution, bands=bands,
    )  # fmt: skip


def titles_area(bounds: tuple[float, float, float, float], margin: float) -> shapely.Geometry:
    """The box read for a county: its titles' bounds plus ``margin`` (CRS units) on each side."""
    minx, miny, maxx, maxy = bounds
    return shapely.box(minx - margin, miny - margin, maxx + margin, maxy + margin)


__all__ = ["StacImagery", "is_imagery_spec", "read_imagery_spec", "titles_area"]
