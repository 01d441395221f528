"""Phenology: seasons from synthetic one- and two-season curves, noise, tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from rasterio import features

from agrilend.errors import IndexRangeError, IndexScaleWarning
from agrilend.remote_sensing.indices import ndvi
from agrilend.remote_sensing.phenology import Season, phenology, phenology_table
from agrilend.remote_sensing.sources.local import open_cube
from agrilend.remote_sensing.timeseries import clean_series

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
DOY = np.asarray(TIMES.day_of_year, dtype=float)


def _gauss(center: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-(((DOY - center) / width) ** 2))


def _date(doy: float) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=doy - 1)


def _half_width(width: float) -> float:
    """Distance from the centre where a Gaussian falls to half its height."""
    return width * np.sqrt(np.log(2))


def test_two_season_curve_gives_wheat_then_maize() -> None:
    wheat, maize = (110.0, 25.0, 0.6), (230.0, 22.0, 0.55)
    y = 0.2 + _gauss(*wheat) + _gauss(*maize)
    seasons = phenology(y, TIMES)
    assert len(seasons) == 2
    for s, (c, w, h) in zip(seasons, (wheat, maize), strict=True):
        assert isinstance(s, Season)
        assert abs((s.peak - _date(c)).days) <= 2
        assert abs((s.start - _date(c - _half_width(w))).days) <= 3
        assert abs((s.end - _date(c + _half_width(w))).days) <= 3
        assert s.amplitude == pytest.approx(h, abs=0.02)
        assert s.length_days == pytest.approx((s.end - s.start).days, abs=1)
        # area above the base (0.2): a Gaussian between its half-height points holds
        # erf(sqrt(ln 2)) = 76.1 % of its total area h w sqrt(pi)
        expected = 0.7610 * h * w * np.sqrt(np.pi)
        assert s.integral == pytest.approx(expected, rel=0.1)


def test_noisy_cloudy_two_season_series_after_cleaning() -> None:
    rng = np.random.default_rng(7)
    y = 0.2 + _gauss(120, 25, 0.6) + _gauss(240, 20, 0.5) + rng.normal(0, 0.02, DOY.size)
    y[rng.random(DOY.size) < 0.3] = np.nan
    y[[20, 45]] = 0.05  # residual cloud
    smooth, grid = clean_series(y, TIMES)
    seasons = phenology(smooth, grid)
    assert len(seasons) == 2
    assert abs((seasons[0].peak - _date(120)).days) <= 8
    assert abs((seasons[1].peak - _date(240)).days) <= 8


def test_flat_or_tiny_curves_have_no_season() -> None:
    assert phenology(np.full(DOY.size, 0.2), TIMES) == []
    assert phenology(0.2 + _gauss(180, 30, 0.05), TIMES) == []
    assert phenology(np.full(DOY.size, np.nan), TIMES) == []


def test_max_seasons_keeps_the_most_prominent() -> None:
    y = 0.2 + _gauss(90, 20, 0.3) + _gauss(200, 20, 0.6) + _gauss(310, 20, 0.2)
    assert len(phenology(y, TIMES, max_seasons=3)) == 3
    (only,) = phenology(y, TIMES, max_seasons=1)
    assert abs((only.peak - _date(200)).days) <= 2


def test_seasons_shorter_than_the_minimum_are_dropped() -> None:
    y = 0.2 + _gauss(180, 8, 0.6)  # about 13 days above half amplitude
    assert phenology(y, TIMES) == []
    assert len(phenology(y, TIMES, min_length_days=5)) == 1


def test_phenology_table_columns_and_missing_seasons() -> None:
    rows = np.vstack(
        [0.2 + _gauss(110, 25, 0.6) + _gauss(230, 22, 0.55), 0.2 + _gauss(180, 30, 0.6)]
    )
    rows = np.vstack([rows, np.full(DOY.size, 0.15)])
    table = phenology_table(rows, TIMES, index=pd.Index(["p1", "p2", "p3"], name="parcel"))
    assert list(table.index) == ["p1", "p2", "p3"]
    assert table["n_seasons"].tolist() == [2, 1, 0]
    assert table.columns[:8].tolist() == [
        "n_seasons", "s1_sos", "s1_pos", "s1_eos", "s1_length_days", "s1_amplitude",
        "s1_integral", "s1_peak",
    ]  # fmt: skip
    assert pd.api.types.is_datetime64_any_dtype(table["s2_pos"])
    assert pd.isna(table.loc["p2", "s2_pos"])
    assert table.loc[["p3"], ["s1_sos", "s1_peak"]].isna().all().all()


def test_unsorted_dates_are_sorted_first() -> None:
    y = 0.2 + _gauss(180, 30, 0.6)
    order = np.random.default_rng(0).permutation(DOY.size)
    a = phenology(y, TIMES)
    b = phenology(y[order], TIMES[order])
    assert a == b


# --- real series ---------------------------------------------------------------------------------


def _parcel_means(cube, geoms, *, min_valid: float) -> np.ndarray:
    """Plain per-parcel mean NDVI of clear pixels (the zonal engine does this properly)."""
    xs, ys = cube["x"].values, cube["y"].values
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    transform = Affine(dx, 0, xs[0] - dx / 2, 0, dy, ys[0] - dy / 2)
    labels = features.rasterize(
        [(g, i + 1) for i, g in enumerate(geoms)], out_shape=(ys.size, xs.size),
        transform=transform, fill=0,
    )  # fmt: skip
    values = ndvi(cube).values
    out = np.full((len(geoms), values.shape[0]), np.nan)
    for i in range(len(geoms)):
        px = values[:, labels == i + 1]
        if px.shape[1] == 0:
            continue
        share = np.isfinite(px).mean(axis=1)
        total = np.where(np.isfinite(px), px, 0.0).sum(axis=1)
        count = np.isfinite(px).sum(axis=1)
        out[i] = np.where(share >= min_valid, total / np.maximum(count, 1), np.nan)
    return out


@pytest.mark.realdata
def test_spanish_field_has_one_winter_cereal_season(shared_data) -> None:
    cube = open_cube(shared_data / "imagery/spain/spain_field_l2a_2019.nc")
    field = gpd.read_file(shared_data / "imagery/spain/spain_field.geojson").to_crs(cube.rio.crs)
    series = _parcel_means(cube, list(field.geometry), min_valid=0.5)[0]
    found = {}
    for method in ("whittaker", "savgol"):
        smooth, grid = clean_series(series, cube["time"].values, method=method)
        found[method] = phenology(smooth, grid)
        s = found[method][0]
        print(
            f"\nSpain field 2019 ({method}): SOS {s.start:%Y-%m-%d}, POS {s.peak:%Y-%m-%d}, "
            f"EOS {s.end:%Y-%m-%d}, {s.length_days:.0f} days, amplitude {s.amplitude:.2f}, "
            f"peak NDVI {s.peak_value:.2f}, integral {s.integral:.1f}"
        )
    for seasons in found.values():
        assert len(seasons) == 1
        (s,) = seasons
        # observed: green-up through April, plateau 0.78 from 27 April to 27 May, dry by July
        assert pd.Timestamp("2019-03-20") <= s.start <= pd.Timestamp("2019-04-20")
        assert pd.Timestamp("2019-04-25") <= s.peak <= pd.Timestamp("2019-05-31")
        assert pd.Timestamp("2019-06-01") <= s.end <= pd.Timestamp("2019-06-30")
        assert 0.5 < s.amplitude < 0.7
    gap = abs((found["whittaker"][0].peak - found["savgol"][0].peak).days)
    assert gap <= 10


@pytest.mark.realdata
def test_slovenian_parcels_peak_in_the_growing_season(shared_data) -> None:
    cube = open_cube(
        shared_data / "imagery/slovenia/slovenia_ndvi_2015_2017.nc",
        mask="clp", cloud_threshold=0.4, dilation=2,
    )  # fmt: skip
    parcels = gpd.read_file(shared_data / "imagery/slovenia/slovenia_landuse_parcels.gpkg")
    parcels = parcels.to_crs(cube.rio.crs)
    series = _parcel_means(cube, list(parcels.geometry), min_valid=0.7)
    times = pd.DatetimeIndex(cube["time"].values)
    in_2017 = times.year == 2017
    smooth, grid = clean_series(
        series[:, in_2017], times[in_2017], start="2017-01-01", end="2017-12-31"
    )
    table = phenology_table(smooth, grid, index=parcels.index)
    table["lulc"] = parcels["LULC_NAME"].to_numpy()
    observed = np.isfinite(series[:, in_2017]).sum(axis=1) >= 10
    vegetated = table[observed & table["lulc"].isin(["cultivated land", "grassland", "forest"])]
    with_season = vegetated[vegetated["n_seasons"] > 0]
    summary = with_season.groupby("lulc")[["s1_sos", "s1_pos", "s1_eos"]].median()
    print(f"\nSlovenia 2017, median dates by land use:\n{summary}")
    print(with_season[with_season["lulc"] == "cultivated land"][["s1_sos", "s1_pos", "s1_eos"]])
    assert len(with_season) >= 0.8 * len(vegetated) > 0
    peaks = with_season["s1_pos"]
    share_in_season = ((peaks >= "2017-04-01") & (peaks <= "2017-09-30")).mean()
    assert share_in_season >= 0.8


def test_sample_county_double_crops_show_two_seasons(sample_data) -> None:
    """Scored against the generator's truth: wheat-then-maize parcels have two seasons."""
    if not (sample_data / "imagery.nc").exists():
        pytest.skip("sample_data has not been generated yet")
    cube = open_cube(sample_data / "imagery.nc")
    titles = gpd.read_file(sample_data / "titles.gpkg", layer="titles")
    truth = pd.read_csv(sample_data / "truth.csv", dtype={"parcel_id": str})
    true_crop = truth.set_index("parcel_id").loc[titles["DKBM"], "true_crop"].to_numpy()
    series = _parcel_means(cube, list(titles.geometry), min_valid=0.5)
    smooth, grid = clean_series(series, cube["time"].values)
    table = phenology_table(smooth, grid, index=titles["DKBM"].to_numpy())
    double = table["n_seasons"][true_crop == "winter_wheat_maize"]
    single_crops = np.isin(true_crop, ["maize", "cotton", "peanut", "rice", "soybean"])
    single = table["n_seasons"][single_crops]
    print(
        f"\nsample county: two seasons on {(double == 2).mean():.1%} of {len(double)} "
        f"wheat-maize parcels; one season on {(single == 1).mean():.1%} of {len(single)} "
        "single-crop parcels"
    )
    assert len(double) > 20
    assert (double == 2).mean() >= 0.9
    assert (single == 1).mean() >= 0.9
    wheat_peak = table.loc[(true_crop == "winter_wheat_maize"), "s1_pos"].median()
    assert pd.Timestamp("2024-04-01") <= wheat_peak <= pd.Timestamp("2024-05-31")


# --- issue 14: twin peaks, start/end methods, the index range --------------------------------


def _twins(gap: float, width: float = 15.0) -> np.ndarray:
    """One canopy cycle with two near-equal humps ``gap`` days apart."""
    a, b = _gauss(150, width, 1.0), _gauss(150 + gap, width, 0.98)
    return 0.2 + 0.6 * np.maximum(a, b) + 0.1 * np.minimum(a, b)


@pytest.mark.parametrize("gap", [25, 30, 40, 50])
def test_near_equal_twin_peaks_are_one_season_not_none(gap: float) -> None:
    y = _twins(gap)
    (s,) = phenology(y, TIMES, max_seasons=2)
    rise = 150 - _half_width(15.0)  # half the amplitude on the first hump's rising limb
    assert _date(rise - 4) <= s.start <= _date(rise + 4)
    assert s.end >= _date(150 + gap)  # the season runs past the second hump
    assert s.peak_value == pytest.approx(float(y.max()), abs=0.01)


def test_a_shallow_dip_is_merged_and_a_harvest_is_not() -> None:
    shallow = 0.2 + _gauss(140, 30, 0.6) + _gauss(200, 30, 0.58)  # dips by about 0.1
    assert len(phenology(shallow, TIMES)) == 1
    assert len(phenology(shallow, TIMES, merge_below=0.0)) in (1, 2)
    harvest = 0.2 + _gauss(110, 25, 0.6) + _gauss(230, 22, 0.55)  # the double crop
    assert len(phenology(harvest, TIMES)) == 2


def test_start_and_end_methods_are_ordered_as_documented() -> None:
    y = 0.2 + _gauss(180, 30, 0.6)
    found = {m: phenology(y, TIMES, method=m)[0] for m in ("amplitude", "trough", "slope")}
    amp, trough, slope = found["amplitude"], found["trough"], found["slope"]
    # trough: leaving the bare-soil level, weeks before half the amplitude; slope: the
    # steepest green-up, at about half the amplitude for a symmetric curve
    assert (amp.start - trough.start).days >= 20
    assert (trough.end - amp.end).days >= 20
    assert abs((slope.start - amp.start).days) <= 10
    assert abs((slope.end - amp.end).days) <= 10
    assert {s.peak for s in found.values()} == {amp.peak}
    assert (found["amplitude"].start - phenology(y, TIMES, threshold=0.2)[0].start).days > 0
    with pytest.raises(ValueError, match="method"):
        phenology(y, TIMES, method="fuzzy")  # type: ignore[arg-type]


def test_ndvi_scaled_by_10000_is_rescaled_with_a_warning() -> None:
    y = 0.2 + _gauss(180, 30, 0.6)
    with pytest.warns(IndexScaleWarning, match="10000"):
        scaled = phenology(np.round(y * 10000), TIMES)
    assert len(scaled) == 1
    assert scaled[0].start == phenology(y, TIMES)[0].start
    with pytest.warns(IndexScaleWarning):
        table = phenology_table(np.round(np.vstack([y, y]) * 10000), TIMES)
    assert table["n_seasons"].tolist() == [1, 1]


def test_a_smoothers_small_overshoot_is_clipped_not_refused() -> None:
    y = 0.2 + _gauss(180, 30, 0.83)  # peaks at 1.03
    (s,) = phenology(y, TIMES)
    assert s.peak_value == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [1.6, 25.0, 65535.0, -3.0])
def test_values_outside_the_index_range_are_refused(bad: float) -> None:
    y = 0.2 + _gauss(180, 30, 0.6)
    y[10] = bad
    with pytest.raises(IndexRangeError, match=r"\[-1, 1\]"):
        phenology(y, TIMES)


@pytest.mark.realdata
def test_spanish_pixels_integer_ndvi_gives_the_float_seasons(shared_data) -> None:
    """Every pixel of the real Spanish cube, NDVI as floats and as integers x 10000 (as some
    stores keep it): the same seasons, and no pixel loses its season to twin peaks."""
    cube = open_cube(shared_data / "imagery/spain/spain_field_l2a_2019.nc")
    v = ndvi(cube).where(cube["valid"]).isel(x=slice(10, 40), y=slice(10, 40))
    rows = v.transpose("y", "x", "time").values.reshape(-1, v.sizes["time"])
    rows = rows[np.isfinite(rows).sum(axis=1) >= 10]
    smooth, grid = clean_series(rows, cube["time"].values)
    as_float = phenology_table(smooth, grid, max_seasons=2)
    with pytest.warns(IndexScaleWarning):
        as_int = phenology_table(np.round(smooth * 10000), grid, max_seasons=2)
    assert (as_float["n_seasons"] == as_int["n_seasons"]).mean() >= 0.99
    assert (as_float["n_seasons"] >= 1).mean() >= 0.9
