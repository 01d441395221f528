"""Real data: the Slovenian summers 2015-2017 near Ljubljana; 2017 was a severe drought."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.mark.realdata
def test_summer_2017_is_the_drought_on_farmland(shared_data: Path) -> None:
    import geopandas as gpd  # noqa: PLC0415

    from agrilend.monitor.seasons import year_against_others  # noqa: PLC0415
    from agrilend.parcels import zonal_series  # noqa: PLC0415
    from agrilend.remote_sensing import open_cube  # noqa: PLC0415

    folder = shared_data / "imagery" / "slovenia"
    cube = open_cube(folder / "slovenia_ndvi_2015_2017.nc")
    parcels = gpd.read_file(folder / "slovenia_landuse_parcels.gpkg")
    farm = parcels[parcels["LULC_NAME"].isin(["cultivated land", "grassland"])]
    farm = farm.reset_index(drop=True).assign(parcel_id=lambda d: d.index.astype(str))
    s = zonal_series(cube, farm, stats=("mean",))
    x = np.where(s["valid_fraction"].values >= 0.5, s["NDVI_mean"].values, np.nan)
    cent = farm.geometry.centroid
    book = pd.DataFrame({"parcel_id": farm["parcel_id"], "owner_ref": "-", "crop": "farmland",
                         "level": 1.0, "x": cent.x, "y": cent.y})  # fmt: skip
    summary, _ = year_against_others(x, pd.DatetimeIndex(s.indexes["time"]), book)
    # measured 2026-12-03: median vigour against the other years 1.10 / 1.14 / 0.86; drought
    # alerts in Jul-Aug on 0 / 3 / 17 of 30 parcels
    assert summary.loc[2017, "median_ratio"] < 0.9
    assert summary.loc[[2015, 2016], "median_ratio"].min() > 1.0
    assert summary.loc[2017, "drought_parcels"] >= 10
    assert (
        summary.loc[2017, "drought_parcels"]
        > 3 * summary.loc[[2015, 2016], "drought_parcels"].max()
    )
    assert summary.loc[2017, "first_alert"].startswith("2017-07")
