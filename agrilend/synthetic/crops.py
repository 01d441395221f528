"""Crop calendars of the North China Plain and the NDVI curves they draw through one year.

Each canonical crop has a calendar (sowing, green-up, senescence, harvest as day of year) taken
from published North China Plain calendars, and a curve shape: a bare-soil floor plus one
double-logistic bump per season, cut sharply at harvest. The shapes (peak height, green-up and
senescence rates) were checked against the real French LPIS maize and winter-wheat parcels in
``../shared/data/crop_labels`` (see ``sample_data/README.md``).

Curves are in NDVI; the imagery module turns them into a green-vegetation fraction and mixes a
soil and a vegetation spectrum with it, so NDVI computed back from the bands follows the curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agrilend.vocabulary import CROPS as CANONICAL_CROPS

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Canonical crop names (DEVELOPERS.md) in a fixed order: the one list the policy keys use.
CROPS = CANONICAL_CROPS

#: Share of parcels per true crop, like a Hebei/Shandong plain county.
CROP_SHARES = {
    "winter_wheat_maize": 0.50,
    "maize": 0.10,
    "peanut": 0.07,
    "cotton": 0.05,
    "soybean": 0.04,
    "rice": 0.03,
    "orchard": 0.08,
    "greenhouse": 0.04,
    "fallow": 0.06,
}

#: County mean yield per crop (t/ha) in an average year; seed cotton, fresh fruit, vegetables.
MEAN_YIELD_T_HA = {
    "winter_wheat": 6.3,
    "summer_maize": 6.8,
    "maize": 7.5,
    "peanut": 4.5,
    "cotton": 3.8,
    "soybean": 2.4,
    "rice": 8.0,
    "orchard": 25.0,
    "greenhouse": 60.0,
    "fallow": 0.0,
}

#: NDVI of the bare soil between seasons (light fluvo-aquic soil of the plain).
SOIL_NDVI = 0.16


def _logistic(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def bump(doy: FloatArray, *, up: float, r_up: float, down: float, r_down: float) -> FloatArray:
    """A double-logistic season in [0, 1]: rise centred on ``up``, fall centred on ``down``.

    Examples
    --------
    >>> import numpy as np
    >>> b = bump(np.array([0.0, 100.0, 200.0]), up=50, r_up=5, down=150, r_down=5)
    >>> [round(float(v), 2) for v in b]
    [0.0, 1.0, 0.0]
    """
    return _logistic((doy - up) / r_up) * (1.0 - _logistic((doy - down) / r_down))


def harvest_cut(doy: FloatArray, day: float) -> FloatArray:
    """1 before the harvest day, 0 two or three days after (a combine clears a field in a day)."""
    return 1.0 - _logistic((doy - day) / 1.0)


@dataclass(frozen=True)
class Calendar:
    """Nominal dates (day of year 2024) of one crop's season on the North China Plain."""

    sow: float
    up: float
    down: float
    harvest: float
    peak_ndvi: float
    r_up: float = 8.0
    r_down: float = 7.0


#: Calendars, day of year in 2024 (a leap year: 1 Mar = 61, 1 Jun = 153, 1 Oct = 275).
CALENDARS: dict[str, Calendar] = {
    # winter wheat sown 2023-10: green-up early March, heading late April, harvest ~10 June
    "winter_wheat": Calendar(sow=-85, up=84, down=147, harvest=161, peak_ndvi=0.86, r_up=10),
    # summer maize sown right after the wheat, peak late August, harvest ~1 October
    "summer_maize": Calendar(sow=167, up=200, down=265, harvest=277, peak_ndvi=0.86),
    # the next winter wheat, sown ~10 October, tillers before winter dormancy
    "winter_wheat_next": Calendar(sow=284, up=307, down=400, harvest=500, peak_ndvi=0.46),
    "maize": Calendar(sow=125, up=163, down=240, harvest=253, peak_ndvi=0.86),
    "cotton": Calendar(sow=112, up=168, down=265, harvest=293, peak_ndvi=0.76, r_up=9, r_down=9),
    "peanut": Calendar(sow=125, up=168, down=234, harvest=254, peak_ndvi=0.77, r_up=9),
    "soybean": Calendar(sow=167, up=202, down=266, harvest=279, peak_ndvi=0.82),
    "rice": Calendar(sow=160, up=191, down=264, harvest=278, peak_ndvi=0.84),
    "orchard": Calendar(sow=0, up=108, down=313, harvest=999, peak_ndvi=0.68, r_up=8, r_down=9),
}


def crop_ndvi(
    crop: str,
    doy: FloatArray,
    *,
    shift: float = 0.0,
    vigour: float = 1.0,
    soil: float = SOIL_NDVI,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    """The NDVI curve of one field of ``crop`` over the days of year ``doy``.

    Parameters
    ----------
    crop
        A canonical crop name.
    doy
        Days of year (floats, 1 = 1 January).
    shift
        Sowing shift in days (positive = late); the whole season moves with it.
    vigour
        Scales the green amplitude above the soil (1 = county normal, 0.5 = a poor field).
    soil
        NDVI of the field's bare soil.
    rng
        Needed for ``fallow`` (irregular weed flushes); ignored otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([20.0, 110.0, 180.0, 235.0])
    >>> [round(float(v), 2) for v in crop_ndvi("winter_wheat_maize", d)]
    [0.3, 0.82, 0.21, 0.84]
    """
    t = np.asarray(doy, dtype=np.float64)
    amp = np.zeros_like(t)
    if crop == "winter_wheat_maize":
        ww, sm, wn = (
            CALENDARS["winter_wheat"],
            CALENDARS["summer_maize"],
            CALENDARS["winter_wheat_next"],
        )
        # the wheat shift is only half expressed by spring (winter resets much of it)
        s1 = 0.4 * shift
        dormant = 0.14 * (1.0 - _logistic((t - ww.down - s1) / ww.r_down))
        grow = (ww.peak_ndvi - soil - 0.14) * bump(
            t, up=ww.up + s1, r_up=ww.r_up, down=ww.down + s1, r_down=ww.r_down
        )
        amp += (dormant + grow) * harvest_cut(t, ww.harvest + s1)
        amp += _season(sm, t, shift, soil)
        wheat_next = (wn.peak_ndvi - soil) * _logistic((t - wn.up - shift) / 6.0)
        amp += wheat_next * (1.0 - 0.3 * _logistic((t - 352.0) / 6.0)) * (t > wn.sow + shift)
    elif crop in ("maize", "cotton", "peanut", "soybean", "rice"):
        amp += _season(CALENDARS[crop], t, shift, soil)
    elif crop == "orchard":
        cal = CALENDARS["orchard"]
        # deciduous trees over a grass strip: never bare, leafless Dec-Mar
        amp += 0.11 + 0.05 * bump(t, up=75, r_up=8, down=330, r_down=10)
        amp += (cal.peak_ndvi - soil - 0.13) * bump(
            t, up=cal.up + 0.5 * shift, r_up=cal.r_up, down=cal.down, r_down=cal.r_down
        )
    elif crop == "greenhouse":
        # vegetables under plastic: the cover hides most of the canopy all year
        amp += 0.06 + 0.05 * bump(t, up=70, r_up=10, down=300, r_down=10)
    elif crop == "fallow":
        amp += _weeds(t, rng or np.random.default_rng(0))
    else:
        raise ValueError(f"unknown crop {crop!r}; use one of {', '.join(CROPS)}")
    return _saturate(soil + vigour * amp)


def _saturate(ndvi: FloatArray) -> FloatArray:
    """NDVI saturates over a dense canopy: above 0.8 it bends smoothly towards 0.9."""
    high = 0.8 + 0.1 * np.tanh((ndvi - 0.8) / 0.1)
    return np.where(ndvi > 0.8, high, ndvi)


def _season(cal: Calendar, t: FloatArray, shift: float, soil: float) -> FloatArray:
    g = bump(t, up=cal.up + shift, r_up=cal.r_up, down=cal.down + shift, r_down=cal.r_down)
    return (cal.peak_ndvi - soil) * g * harvest_cut(t, cal.harvest + shift)


def _weeds(t: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Irregular weed growth on idle land: a few flushes from May, low and uneven."""
    amp = np.full_like(t, 0.03)
    for _ in range(int(rng.integers(1, 4))):
        centre = float(rng.uniform(140, 270))
        width = float(rng.uniform(20, 45))
        amp += float(rng.uniform(0.08, 0.25)) * bump(
            t, up=centre - width, r_up=8, down=centre + width, r_down=8
        )
    return amp


def season_peaks(crop: str, *, shift: float = 0.0) -> list[float]:
    """Nominal peak days of year of the crop's seasons in 2024 (two for the double crop).

    Examples
    --------
    >>> season_peaks("winter_wheat_maize")
    [115.5, 232.5]
    """
    cals = {"winter_wheat_maize": ["winter_wheat", "summer_maize"]}.get(crop, [crop])
    out = []
    for name in cals:
        if name not in CALENDARS:
            return []
        cal = CALENDARS[name]
        s = 0.4 * shift if name == "winter_wheat" else shift
        out.append((cal.up + cal.down) / 2 + s)
    return out


__all__ = [
    "CALENDARS",
    "CROPS",
    "CROP_SHARES",
    "MEAN_YIELD_T_HA",
    "SOIL_NDVI",
    "Calendar",
    "bump",
    "crop_ndvi",
    "harvest_cut",
    "season_peaks",
]
