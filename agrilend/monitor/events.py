"""Events per parcel from the season's observations: failure, drought, hail, switch, late sowing.

Every rule is causal: an event's ``date`` is the image date at which the data up to that date
first confirm it (two consecutive clear observations), so one run over the whole season and a
run per new image find the same events on the same dates. Two references are used:

- the *current peers*: on each date, the median NDVI of the parcels sized on the same crop
  (what is happening to everyone this season);
- the *normal*: the county's peer curve of the crop in the scan's season (``context/
  peer_curves.nc``) moved to this year by day of year, tolerant of a week's difference in
  timing, scaled by the parcel's own level in that season (its peak against the peers').

=========== ==========================================================================
kind        rule (thresholds in the policy's ``[monitor]`` table)
=========== ==========================================================================
failure     green this season, then below ``failure_ratio`` of its peers (times its own
            usual level) while they stay green: the crop failed or was abandoned after sowing
no_crop     never green while peers have been green ``abandon_days``: nothing was sown
late        never green yet, below ``failure_ratio`` of peers that have been green for
            ``late_days`` or more
hail        a sudden drop below ``drop_ratio`` of its own level of the week before, while
            peers hold; ``extent`` says whether neighbours within ``neighbour_m`` fell too
drought     below ``drought_ratio`` of normal, in dry weather (SPI of the last 60 days at or
            below ``spi_dry`` or a dry spell of ``dry_spell_days``) or, without weather, when
            ``area_share`` of the crop's parcels are as low
switch      from July, the season's curve fits another crop's peers much better
=========== ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: NDVI of bare soil: green amplitude is measured above it.
BARE_SOIL_NDVI = 0.15
#: A reference amplitude below this is not green enough to compare against.
MIN_AMPLITUDE = 0.25
#: The normal counts only where its low and high within the timing tolerance are this close.
STEADY = 0.6
#: Peers below this amplitude are bare soil (a sown crop not yet up).
BARE_AMPLITUDE = 0.1
#: Damage: the field's own NDVI falls by at least this much.
MIN_FALL = 0.1
#: Late sowing: below this share of green peers' amplitude, never green this season.
LATE_RATIO = 0.45
#: Crops the rules do not judge (no growing season to follow).
UNJUDGED = frozenset({"fallow", "greenhouse", ""})
EVENT_COLUMNS = ("parcel_id", "owner_ref", "kind", "date", "severity", "extent", "evidence")


@dataclass(frozen=True)
class EventRules:
    """Thresholds of the event rules (the policy's ``[monitor]`` table gives them)."""

    failure_ratio: float = 0.3
    abandon_days: int = 45
    late_days: int = 10
    drop_ratio: float = 0.65
    drought_ratio: float = 0.8
    spi_dry: float = -1.0
    dry_spell_days: int = 20
    area_share: float = 0.3
    neighbour_m: float = 300.0
    switch_margin: float = 1.6
    confirm: int = 2
    extra: dict[str, float] = field(default_factory=dict)


def normal_amplitude(
    peer_curves: Any,
    crops: np.ndarray[Any, Any],
    times: pd.DatetimeIndex,
    *,
    tolerance_days: int = 7,
) -> np.ndarray[Any, Any]:
    """The normal green amplitude of each parcel's crop on each date (NaN when unknown).

    The peer median (``p50``) of the reference season is read by day of year; within
    ``tolerance_days`` the highest value counts, so a field a week early or late is normal.
    Dates where the normal changes by more than ``1 - STEADY`` within that tolerance (green-up,
    harvest) have no normal (NaN).
    """
    out = np.full((len(crops), len(times)), np.nan)
    if peer_curves is None or len(times) == 0:
        return out
    ref_t = pd.DatetimeIndex(peer_curves.indexes["time"])
    ref_doy = ref_t.day_of_year.to_numpy(dtype=float)
    doy = times.day_of_year.to_numpy(dtype=float)
    known = [str(c) for c in peer_curves["crop"].values]
    for crop in np.unique(crops):
        if str(crop) not in known:
            continue
        p50 = peer_curves["p50"].sel(crop=str(crop)).to_numpy().astype(float)
        ok = np.isfinite(p50)
        if ok.sum() < 3:
            continue
        best = np.full(len(doy), -np.inf)
        worst = np.full(len(doy), np.inf)
        for d in range(-tolerance_days, tolerance_days + 1, 2):
            v = np.interp(doy + d, ref_doy[ok], p50[ok])
            best, worst = np.maximum(best, v), np.minimum(worst, v)
        hi, lo = best - BARE_SOIL_NDVI, worst - BARE_SOIL_NDVI
        # where the normal changes fast (green-up, harvest) a week's timing is no evidence
        out[crops == crop] = np.where(lo >= STEADY * hi, hi, np.nan)
    return out


def _confirmed(
    cond: np.ndarray[Any, Any], clear: np.ndarray[Any, Any], n: int
) -> np.ndarray[Any, Any]:
    """Per row, the first column where ``cond`` held on ``n`` consecutive clear columns (-1)."""
    rows, cols = cond.shape
    run = np.zeros(rows, dtype=int)
    first = np.full(rows, -1, dtype=int)
    for t in range(cols):
        c = clear[:, t]
        run = np.where(c, np.where(cond[:, t], run + 1, 0), run)
        hit = (run >= n) & (first < 0)
        first[hit] = t
    return first


def _peer_median(
    x: np.ndarray[Any, Any], crops: np.ndarray[Any, Any], min_peers: int = 5
) -> np.ndarray[Any, Any]:
    """Per parcel and date, the median NDVI of the parcels of its crop (NaN with few peers)."""
    out = np.full(x.shape, np.nan)
    for crop in np.unique(crops):
        rows = crops == crop
        vals = x[rows]
        n = np.isfinite(vals).sum(axis=0)
        with np.errstate(all="ignore"):
            import warnings  # noqa: PLC0415

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(vals, axis=0) if vals.size else np.full(x.shape[1], np.nan)
        med = np.where(n >= min_peers, med, np.nan)
        out[rows] = med
    return out


def _earliest(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Element-wise earliest of two first-column arrays (-1 = never)."""
    big = np.iinfo(np.int64).max
    m = np.minimum(np.where(a >= 0, a, big), np.where(b >= 0, b, big))
    return np.where(m == big, -1, m)


def _ffill(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Forward-fill NaN along columns (a peer median known on a date stands until the next)."""
    return pd.DataFrame(a).ffill(axis=1).to_numpy()


def _days(times: pd.DatetimeIndex, i: int, j: int) -> float:
    return float((times[i] - times[j]).days)


def detect_events(
    x: np.ndarray[Any, Any],
    times: pd.DatetimeIndex,
    book: pd.DataFrame,
    *,
    normal: np.ndarray[Any, Any],
    dry: np.ndarray[Any, Any] | None = None,
    spi: np.ndarray[Any, Any] | None = None,
    rules: EventRules | None = None,
) -> pd.DataFrame:
    """Events of every parcel, from its clear NDVI observations of the season.

    Parameters
    ----------
    x
        ``(parcel, time)`` NDVI, NaN where not clear.
    times
        The dates of ``x``.
    book
        One row per parcel of ``x``: ``parcel_id``, ``owner_ref``, ``crop`` (the crop the line
        was sized on), ``level`` (its green level against peers in the scan's season, 1 =
        typical), ``x``/``y`` (centroid, metres).
    normal
        :func:`normal_amplitude` of each parcel on each date.
    dry, spi
        Per date: weather dry enough for drought (bool, or NaN where the weather record does
        not reach) and the 60-day SPI; ``None`` without weather. Without weather, drought is
        judged by how many parcels are low at once.
    rules
        Thresholds.

    Returns
    -------
    pandas.DataFrame
        :data:`EVENT_COLUMNS`; ``evidence`` is a dict of the numbers behind the event.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2025-06-01", periods=6, freq="5D")
    >>> x = np.full((6, 6), 0.8)
    >>> x[0, 3:] = 0.16                      # one field back to bare soil
    >>> book = pd.DataFrame({"parcel_id": list("abcdef"), "owner_ref": "H-1", "crop": "maize",
    ...                      "level": 1.0, "x": np.arange(6) * 1e3, "y": 0.0})
    >>> ev = detect_events(x, t, book, normal=np.full((6, 6), 0.65))
    >>> ev[["parcel_id", "kind", "date"]].values.tolist()
    [['a', 'failure', '2025-06-16']]
    """
    r = rules or EventRules()
    crops = book["crop"].astype(str).to_numpy()
    judged = ~np.isin(crops, list(UNJUDGED))
    clear = np.isfinite(x)
    amp = x - BARE_SOIL_NDVI
    peer = _ffill(_peer_median(x, crops)) - BARE_SOIL_NDVI
    with np.errstate(all="ignore"):
        rp = np.where(peer >= MIN_AMPLITUDE, amp / peer, np.nan)
        level = np.clip(book["level"].to_numpy(dtype=float), 0.5, 1.2)
        exp_amp = normal * level[:, None]
        rn = np.where(exp_amp >= MIN_AMPLITUDE, amp / exp_amp, np.nan)
    nt = len(times)
    # peers stay green: their amplitude holds half its best of the last 15 days
    stable = np.zeros_like(peer, dtype=bool)
    green_days = np.zeros_like(peer)
    for t in range(nt):
        back = [k for k in range(t + 1) if _days(times, t, k) <= 15]
        recent = np.nanmax(np.where(np.isfinite(peer[:, back]), peer[:, back], -1.0), axis=1)
        stable[:, t] = (peer[:, t] >= MIN_AMPLITUDE) & (peer[:, t] >= 0.5 * recent)
        if t:
            gap = _days(times, t, t - 1)
            green_days[:, t] = np.where(peer[:, t] >= MIN_AMPLITUDE, green_days[:, t - 1] + gap, 0)
    greened = np.zeros_like(clear)
    ref = np.full(x.shape, np.nan)  # own level (ratio to peers) of the clear obs before
    ref_x = np.full(x.shape, np.nan)  # own NDVI, the highest of the clear obs before
    last3: list[list[float]] = [[] for _ in range(len(x))]
    last3_x: list[list[float]] = [[] for _ in range(len(x))]
    seen = np.zeros(len(x), dtype=bool)
    for t in range(nt):
        greened[:, t] = seen
        ref[:, t] = [max(v) if v else np.nan for v in last3]
        ref_x[:, t] = [max(v) if v else np.nan for v in last3_x]
        ok = clear[:, t] & np.isfinite(rp[:, t])
        seen = seen | (ok & (rp[:, t] >= 0.6))
        for i in np.flatnonzero(ok):
            last3[i] = [*last3[i][-2:], float(rp[i, t])]
            last3_x[i] = [*last3_x[i][-2:], float(x[i, t])]
    with np.errstate(all="ignore"):  # a weak field is judged against its own usual level
        low = np.nan_to_num(rp / level[:, None], nan=np.inf) < r.failure_ratio
    fail_c = judged[:, None] & stable & low & greened
    # never green: judged against the peers alone (a field idle at the decision was weak then)
    low_raw = np.nan_to_num(rp, nan=np.inf) < r.failure_ratio
    idle_c = judged[:, None] & stable & low_raw & ~greened & (green_days >= r.abandon_days)
    # a field at bare soil among green peers needs no second look (a missed cloud is not soil)
    bare = fail_c & (np.nan_to_num(amp, nan=np.inf) < 0.1) & (x >= 0.1)
    not_yet = np.nan_to_num(rp, nan=np.inf) < LATE_RATIO
    # late sowing is judged only where the peers' green-up was seen this season (not for a
    # winter crop already green when monitoring starts: a field bare then has no crop)
    peers_were_bare = np.cumsum(np.nan_to_num(peer, nan=np.inf) < BARE_AMPLITUDE, axis=1) > 0
    late_c = judged[:, None] & stable & not_yet & ~greened & (green_days >= r.late_days) & (
        green_days < r.abandon_days
    ) & peers_were_bare  # fmt: skip
    with np.errstate(invalid="ignore"):
        # a drop against peers that is also a fall of the field's own NDVI (a field greening
        # more slowly than its peers is not damaged)
        drop_c = (
            judged[:, None] & stable & (ref >= 0.6) & (rp < r.drop_ratio * ref)
            & (x <= ref_x - MIN_FALL)
        )  # fmt: skip
    low_n = np.nan_to_num(rn, nan=np.inf) < r.drought_ratio
    share = np.zeros(x.shape)
    for crop in np.unique(crops):
        rows = crops == crop
        n_obs = (np.isfinite(rn[rows]) & greened[rows]).sum(axis=0)
        hit = (low_n[rows] & greened[rows]).sum(axis=0)
        share[rows] = np.where(n_obs >= 5, hit / np.maximum(n_obs, 1), 0.0)
    widespread = share >= r.area_share
    if dry is not None:  # dates the weather does not reach (NaN) fall back on the area rule
        d = np.asarray(dry, dtype=float)
        weather_c = np.where(np.isnan(d)[None, :], widespread, (d > 0)[None, :])
    else:
        weather_c = widespread
    drought_c = judged[:, None] & greened & low_n & weather_c

    first = {
        "failure": _earliest(_confirmed(fail_c, clear, r.confirm), _confirmed(bare, clear, 1)),
        "late": _confirmed(late_c, clear, 1),
        "no_crop": _confirmed(idle_c, clear, r.confirm),
        "hail": _confirmed(drop_c, clear, r.confirm),
        "drought": _earliest(
            _confirmed(drought_c, clear, r.confirm),
            _confirmed(drought_c & widespread, clear, 1),
        ),
        "switch": _switch(x, times, crops, judged, r),
    }
    return _assemble(first, x, times, book, rp=rp, rn=rn, spi=spi, rules=r)


def _switch(
    x: np.ndarray[Any, Any],
    times: pd.DatetimeIndex,
    crops: np.ndarray[Any, Any],
    judged: np.ndarray[Any, Any],
    r: EventRules,
) -> np.ndarray[Any, Any]:
    """First date from July where the curve fits another crop's peers clearly better."""
    names = [c for c in np.unique(crops) if c not in UNJUDGED]
    if len(names) < 2:
        return np.full(len(x), -1, dtype=int)
    curves = _peer_median(x, crops)
    first_row = {c: int(np.flatnonzero(crops == c)[0]) for c in names}
    med = np.stack([curves[first_row[c]] for c in names])  # (crop, time)
    cond = np.zeros(x.shape, dtype=bool)
    own = np.array([names.index(c) if c in names else -1 for c in crops])
    for t in range(len(times)):
        if times[t].month < 7:
            continue
        d = x[:, : t + 1][:, None, :] - med[None, :, : t + 1]
        n = np.isfinite(d).sum(axis=2)
        with np.errstate(all="ignore"):
            rmse = np.sqrt(np.nansum(d**2, axis=2) / np.maximum(n, 1))
        rmse = np.where(n >= 6, rmse, np.nan)
        best = np.nanargmin(np.where(np.isfinite(rmse), rmse, np.inf), axis=1)
        b = rmse[np.arange(len(x)), best]
        o = np.where(own >= 0, rmse[np.arange(len(x)), np.maximum(own, 0)], np.nan)
        with np.errstate(invalid="ignore"):
            cond[:, t] = (
                judged & (own >= 0) & (best != own) & (b < 0.08) & (o > r.switch_margin * b)
            )
    clear = np.ones_like(cond)
    clear[:, [t for t in range(len(times)) if times[t].month < 7]] = False
    return _confirmed(cond, clear & np.isfinite(x), r.confirm)


def _assemble(
    first: dict[str, np.ndarray[Any, Any]],
    x: np.ndarray[Any, Any],
    times: pd.DatetimeIndex,
    book: pd.DataFrame,
    *,
    rp: np.ndarray[Any, Any],
    rn: np.ndarray[Any, Any],
    spi: np.ndarray[Any, Any] | None,
    rules: EventRules,
) -> pd.DataFrame:
    ids = book["parcel_id"].astype(str).to_numpy()
    owners = book["owner_ref"].astype(str).to_numpy()
    f, late, hail, drought, switch, idle = (
        first["failure"], first["late"], first["hail"], first["drought"], first["switch"],
        first["no_crop"],
    )  # fmt: skip
    # one explanation per parcel: a failure absorbs the drop that led to it; a parcel already
    # explained by late sowing, a switch or a failure is not also called drought-stressed
    hail = np.where((f >= 0) & (hail >= 0) & (f <= hail + 3), -1, hail)
    explained = np.where(late >= 0, late, 10**6)
    explained = np.minimum(explained, np.where(f >= 0, f, 10**6))
    explained = np.minimum(explained, np.where(idle >= 0, idle, 10**6))
    explained = np.minimum(explained, np.where(switch >= 0, switch, 10**6))
    explained = np.minimum(explained, np.where(hail >= 0, hail, 10**6))
    drought = np.where((drought >= 0) & (explained <= drought), -1, drought)
    switch = np.where((switch >= 0) & (np.minimum(late, f) >= 0), -1, switch)
    switch = np.where((switch >= 0) & ((late >= 0) | (f >= 0)), -1, switch)
    xs = book["x"].to_numpy(dtype=float)
    ys = book["y"].to_numpy(dtype=float)
    rows: list[dict[str, Any]] = []

    def add(kind: str, i: int, t: int, severity: str, extent: str, ev: dict[str, Any]) -> None:  # noqa: PLR0917
        rows.append({"parcel_id": ids[i], "owner_ref": owners[i], "kind": kind,
                     "date": times[t].date().isoformat(), "severity": severity,
                     "extent": extent, "evidence": ev})  # fmt: skip

    def num(v: float) -> float | None:
        return round(float(v), 3) if np.isfinite(v) else None

    for i in np.flatnonzero(f >= 0):
        t = int(f[i])
        add("failure", int(i), t, "high", "field",
            {"ndvi": num(x[i, t]), "ratio_to_peers": num(rp[i, t])})  # fmt: skip
    for i in np.flatnonzero(idle >= 0):
        t = int(idle[i])
        add("no_crop", int(i), t, "high", "field",
            {"ndvi": num(x[i, t]), "ratio_to_peers": num(rp[i, t])})  # fmt: skip
    for i in np.flatnonzero(late >= 0):
        t = int(late[i])
        add("late_sowing", int(i), t, "medium", "field",
            {"ndvi": num(x[i, t]), "ratio_to_peers": num(rp[i, t])})  # fmt: skip
    for i in np.flatnonzero(hail >= 0):
        t = int(hail[i])
        near = np.hypot(xs - xs[i], ys - ys[i]) <= rules.neighbour_m
        close_t = np.abs(hail - t) <= 3
        n_near = int((near & close_t & (hail >= 0)).sum()) - 1
        sev = "high" if np.nan_to_num(rp[i, t], nan=1.0) < 0.5 else "medium"
        add(
            "hail",
            int(i),
            t,
            sev,
            "area" if n_near >= 2 else "field",
            {"ndvi": num(x[i, t]), "ratio_to_peers": num(rp[i, t]), "neighbours_hit": n_near},
        )
    for i in np.flatnonzero(drought >= 0):
        t = int(drought[i])
        sev = "high" if np.nan_to_num(rn[i, t], nan=1.0) < 0.6 else "medium"
        ev = {"ndvi": num(x[i, t]), "ratio_to_normal": num(rn[i, t])}
        if spi is not None:
            ev["spi_60d"] = num(spi[t])
        add("drought", int(i), t, sev, "area", ev)
    for i in np.flatnonzero(switch >= 0):
        t = int(switch[i])
        add("crop_switch", int(i), t, "medium", "field", {"ndvi": num(x[i, t])})
    out = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return out.sort_values(["date", "parcel_id", "kind"], kind="stable", ignore_index=True)


__all__ = [
    "BARE_SOIL_NDVI",
    "EVENT_COLUMNS",
    "EventRules",
    "detect_events",
    "normal_amplitude",
]
