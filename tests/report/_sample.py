"""A small copy of the sample county (the first households' titles, the same imagery and
records), so the real pipeline runs in tests in seconds rather than minutes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

#: Households kept in the small county (all their parcels).
N_HOUSEHOLDS = 24
#: Registry column of the household code (raw, personal: must never reach a report).
OWNER_COLUMN = "CBFBM"


def small_county(sample_data: Path, out: Path) -> Path:
    """Write the small county to ``out`` (titles subset; other files linked) and return it."""
    out.mkdir(parents=True, exist_ok=True)
    titles = gpd.read_file(sample_data / "titles.gpkg", layer="titles")
    owners = list(dict.fromkeys(titles[OWNER_COLUMN]))[:N_HOUSEHOLDS]
    titles[titles[OWNER_COLUMN].isin(owners)].to_file(out / "titles.gpkg", layer="titles")
    for f in sample_data.iterdir():
        if f.name != "titles.gpkg" and f.is_file() and not (out / f.name).exists():
            (out / f.name).symlink_to(f.resolve())
    return out


def raw_owner_ids(sample_data: Path) -> set[str]:
    """Every raw household code of the registry."""
    titles = gpd.read_file(sample_data / "titles.gpkg", layer="titles", ignore_geometry=True)
    return set(titles[OWNER_COLUMN].astype(str))
