"""The one pipeline: imagery and titles in, parcel estimates and household decisions out.

``report``, ``scan``, ``demo`` and library users all call :func:`assess`; there is no second
copy of this flow anywhere.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend import __version__
from agrilend.assessment import (
    ESTIMATE_COLUMNS,
    NUMERIC_ESTIMATE_COLUMNS,
    Assessment,
    CountyContext,
    Evidence,
)
from agrilend.credit import load_policy, match_subsidies, size_households, size_with_extras
from agrilend.credit.policy import CreditPolicy
from agrilend.credit.season import season_coverage
from agrilend.errors import (
    CRSMismatchError,
    InsufficientEvidenceError,
    MissingCRSError,
    ModelError,
)
from agrilend.inputs import InputFiles, Inputs, load_inputs
from agrilend.parcels import validate_titles
from agrilend.parcels.area import cultivated_area
from agrilend.parcels.extent import require_overlap
from agrilend.parcels.pixels import parcel_pixels
from agrilend.parcels.zonal import zonal_series
from agrilend.remote_sensing import clean_series, validate_cube
from agrilend.yield_models.county_crops import county_crops
from agrilend.yield_models.crop_type import CropTypeClassifier, training_sample
from agrilend.yield_models.declaration import check_declarations
from agrilend.yield_models.vigour import peer_statistics, season_metrics, vigour_scores
from agrilend.yield_models.weather import climate_risk, season_weather, weather_normals
from agrilend.yield_models.yields import estimate_yield

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: A date counts as a clear observation of a parcel when at least this share of it is clear.
MIN_CLEAR_FRACTION = 0.5
#: Fewer clear observations than this in the season is a data-quality flag.
LOW_CLEAR_OBS = 8
#: Fewer pixels than this under a parcel is a data-quality flag.
LOW_PIXELS = 5
#: The county's crop model trains on at most about this many declarations (a stratified
#: sample): enough for every crop, and a 10^6-parcel county costs what a 20,000 one does.
CROP_TRAINING_CAP = 20_000
#: Above this many training parcels the forest's trees are grown on every core.
_PARALLEL_TRAINING = 2_000


def _noop(_: str) -> None:
    return None


def _align_titles(titles: gpd.GeoDataFrame, cube: xr.Dataset) -> gpd.GeoDataFrame:
    """Titles in the cube's CRS (reprojected when they differ; an error when either has none)."""
    if titles.crs is None:
        raise MissingCRSError(
            "titles have no CRS; read them with agrilend.parcels.read_titles or set one with "
            "titles.set_crs(...)"
        )
    cube_crs = cube.rio.crs
    if cube_crs is None:
        raise CRSMismatchError("the cube has no CRS; write one with cube.rio.write_crs(...)")
    if titles.crs != cube_crs:
        log.info(
            "reprojecting %d titles from %s to the cube's %s", len(titles), titles.crs, cube_crs
        )
        titles = titles.to_crs(cube_crs.to_wkt())
    return titles


def _resample_rows(
    values: np.ndarray, grid: pd.DatetimeIndex, times: pd.DatetimeIndex
) -> np.ndarray:
    """Each row linearly from ``grid`` dates to ``times`` (NaN outside the row's valid span)."""
    g = grid.asi8.astype(float)
    t = times.asi8.astype(float)
    out = np.full((values.shape[0], len(times)), np.nan)
    for i, row in enumerate(values):
        ok = np.isfinite(row)
        if ok.sum() < 2:
            continue
        gi = g[ok]
        inside = (t >= gi[0]) & (t <= gi[-1])
        out[i, inside] = np.interp(t[inside], gi, row[ok])
    return out


def gather_evidence(
    cube: xr.Dataset,
    titles: gpd.GeoDataFrame,
    *,
    step: str = "5D",
    min_clear_fraction: float = MIN_CLEAR_FRACTION,
    progress: Progress | None = None,
) -> Evidence:
    """Per-parcel evidence from imagery: validation, zonal series, cleaning, phenology, area.

    Parameters
    ----------
    cube
        A contract cube (:func:`agrilend.remote_sensing.open_cube`).
    titles
        Titles in the schema of :func:`agrilend.parcels.read_titles`; reprojected to the cube's
        CRS when needed.
    step
        Step of the regular grid the curves are cleaned on.
    min_clear_fraction
        A date is a clear observation of a parcel when at least this share of it is clear.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    Evidence
        Parcels that cannot be used (invalid, off the imagery, no clear date) keep a row with
        ``status = "error"`` and a ``message``; the others are ``ok`` or ``flagged``.
    """
    say = progress or _noop
    cube = validate_cube(cube)
    titles = _align_titles(titles, cube)
    say("validating titles")
    report = validate_titles(titles, imagery_bounds=cube)
    checked = report.titles.reset_index(drop=True)
    usable_mask = (checked["title_status"] != "error").to_numpy()
    usable = checked[usable_mask]

    say("zonal statistics")
    transform = cube.rio.transform()
    pixels = parcel_pixels(usable, transform=transform, shape=(cube.sizes["y"], cube.sizes["x"]))
    series = zonal_series(cube, usable, pixels=pixels)
    times = pd.DatetimeIndex(series.indexes["time"])
    clear = (series["valid_fraction"] >= min_clear_fraction).to_numpy()
    raw = np.where(clear, series["NDVI_mean"].to_numpy(), np.nan)

    say("cleaning series")
    smooth, grid = clean_series(raw, times, step=step)
    series = series.assign(
        NDVI_clear=(("parcel", "time"), clear),
        NDVI_smooth=(("parcel", "time"), _resample_rows(smooth, grid, times)),
    )

    say("season metrics")
    ids = usable["parcel_id"].astype(str).to_numpy()
    metrics = season_metrics(raw, times, index=ids, step=step)

    say("cultivated area")
    area = cultivated_area(cube, usable, pixels=pixels)

    say("assembling evidence")
    frame = _evidence_frame(
        checked, usable_mask=usable_mask, series=series, metrics=metrics, area=area
    )
    full_raw = np.full((len(checked), len(times)), np.nan)
    full_raw[usable_mask] = raw
    full_smooth = np.full((len(checked), len(grid)), np.nan)
    full_smooth[usable_mask] = smooth
    return Evidence(
        parcels=frame, series=series, times=times, ndvi=full_raw, grid=grid, smooth=full_smooth
    )


def _evidence_frame(
    checked: gpd.GeoDataFrame,
    *,
    usable_mask: np.ndarray[Any, Any],
    series: xr.Dataset,
    metrics: pd.DataFrame,
    area: pd.DataFrame,
) -> gpd.GeoDataFrame:
    frame = checked.copy()
    n = len(frame)
    idx = np.flatnonzero(usable_mask)

    def column(values: Iterable[Any], fill: Any, dtype: Any = None) -> np.ndarray[Any, Any]:
        out = np.full(n, fill, dtype=dtype if dtype is not None else object)
        out[idx] = np.asarray(list(values))
        return out

    frame["n_pixels"] = column(series["pixel_count"].to_numpy(), 0, int)
    for col in metrics.columns:
        values = metrics[col].to_numpy()
        if np.issubdtype(values.dtype, np.datetime64):
            full = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            full[idx] = values
            frame[col] = full
        else:
            frame[col] = column(values, np.nan, float)
    area = area.reindex(frame["parcel_id"].astype(str).to_numpy()[idx])
    for col in ("cultivated_area_ha", "cultivated_fraction", "area_ratio"):
        frame[col] = column(area[col].to_numpy(dtype=float), np.nan, float)
    frame["area_flag"] = column(area["area_flag"].astype(str).to_numpy(), "unknown")

    status = np.where(frame["title_status"].to_numpy() == "error", "error", "ok")
    message = frame.get("title_flags", pd.Series("", index=frame.index)).astype(str).to_numpy()
    no_obs = usable_mask & (frame["n_clear_obs"].to_numpy() == 0)
    status[no_obs] = "error"
    message = np.where(no_obs, "no clear observation of this parcel in the imagery", message)
    frame["status"] = status
    frame["message"] = message
    return frame


def decide(
    evidence: Evidence,
    *,
    weather: pd.DataFrame | None = None,
    subsidies: pd.DataFrame | None = None,
    policy: CreditPolicy | None = None,
    county_yields: Mapping[str, float] | None = None,
    context: CountyContext | None = None,
    as_of: date | None = None,
    crop_training_cap: int | None = CROP_TRAINING_CAP,
    progress: Progress | None = None,
    credit_extras: Any = None,
) -> Assessment:
    """Crop type, vigour, yield and credit lines from parcel evidence.

    ``credit_extras`` (:class:`agrilend.credit.CreditExtras`: prices, transfers, insurance, own
    evidence) sizes the households with :func:`agrilend.credit.size_with_extras`.

    Without a ``context`` the crop model is trained on the declared crops of these parcels and
    each parcel is predicted out-of-fold (never by a model that saw its own declaration); above
    ``crop_training_cap`` declarations it trains on a stratified sample of them (see
    :func:`agrilend.yield_models.training_sample`; ``None`` trains on all); peers
    are these parcels. With a ``context`` (left by a county scan) its model and peers are used,
    so one household is decided from its own parcels alone.

    ``as_of`` (the decision date, for tenors and the subsidy year) defaults to the day after the
    last imagery date, so the same inputs always give the same decision.
    """
    say = progress or _noop
    policy = policy if policy is not None else load_policy()
    frame = evidence.parcels.copy()
    ok = (frame["status"] != "error").to_numpy()
    if as_of is None and len(evidence.times):
        as_of = (pd.Timestamp(evidence.times.max()) + pd.Timedelta(days=1)).date()
    # a new context: what this call learns never changes the caller's (its model and tables are
    # shared read-only; only this object's fields are set below)
    context = CountyContext() if context is None else context.copy()
    ids = frame.loc[ok, "parcel_id"].astype(str).to_numpy()

    say("crop type")
    X = evidence.ndvi[ok]
    declared = frame.loc[ok, "declared_crop"].fillna("").astype(str).to_numpy()
    alarm_rate = float(getattr(policy, "crop_false_alarm_rate", 0.01))
    if context.crop_model is None:
        # a large county trains on a stratified sample of its declarations (every parcel is
        # still predicted by a model that never saw it); the trees use the idle cores
        train = training_sample(declared, max_train=crop_training_cap)
        template = CropTypeClassifier(
            times=list(evidence.times), n_jobs=-1 if train.sum() > _PARALLEL_TRAINING else 1
        )
        # on the training sample: out-of-fold probabilities, the declaration check, one round
        # of retraining without the most suspect declarations; then the county's model learns
        # from the declarations the check did not flag, predicts every parcel outside the
        # sample and keeps the check's threshold for households decided later from this context
        crops, context.crop_model = county_crops(
            X, declared, model=template, index=ids, max_train=crop_training_cap,
            false_alarm_rate=alarm_rate,
        )  # fmt: skip
    else:
        # a model from a scan's context or `agrilend train`: it reads these dates on its own
        # day-of-year grid, or refuses imagery that does not cover its season
        model = context.crop_model
        classes = list(model.classes_)
        if hasattr(model, "check_dates"):  # even when no parcel is usable: the cube is wrong
            model.check_dates(evidence.times)
        proba = (
            model.predict_proba(X, times=list(evidence.times))
            if len(X)
            else np.zeros((0, len(classes)), dtype=float)
        )
        best = proba.argmax(axis=1)
        crops = pd.DataFrame(
            {"crop": model.classes_[best], "crop_confidence": proba[np.arange(len(best)), best]},
            index=pd.Index(ids, name="parcel_id"),
        )
        # the declaration check on the model's probabilities, at the threshold the model keeps
        # from its county (or, for a model without one, estimated on these parcels)
        crops = crops.join(
            check_declarations(
                proba, classes, declared, false_alarm_rate=alarm_rate, index=ids,
                threshold=getattr(model, "mismatch_threshold_", None),
            )
        )  # fmt: skip
    return decide_with_crops(
        evidence, crops, frame=frame, weather=weather, subsidies=subsidies, policy=policy,
        county_yields=county_yields, context=context, as_of=as_of, progress=progress,
        credit_extras=credit_extras,
    )  # fmt: skip


def _clear_observations(evidence: Evidence) -> np.ndarray[Any, Any]:
    """Boolean (parcels, dates): the clear observations of each parcel (rows follow
    ``evidence.parcels``), from its clear-only NDVI, or, when a county scan left the curves on
    its workers, from the clear fractions of its series."""
    n, nt = len(evidence.parcels), len(evidence.times)
    if evidence.ndvi.shape == (n, nt):
        return np.isfinite(evidence.ndvi)
    vf = evidence.series.get("valid_fraction")
    if vf is not None and vf.shape == (n, nt):
        return np.nan_to_num(vf.to_numpy(), nan=0.0) >= MIN_CLEAR_FRACTION
    raise ValueError(
        f"evidence holds neither clear-only curves nor clear fractions for its {n} parcels on "
        f"{nt} dates; build it with gather_evidence"
    )


def decide_with_crops(
    evidence: Evidence,
    crops: pd.DataFrame,
    *,
    frame: gpd.GeoDataFrame | None = None,
    weather: pd.DataFrame | None = None,
    subsidies: pd.DataFrame | None = None,
    policy: Any = None,
    county_yields: Mapping[str, float] | None = None,
    context: CountyContext | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    sizer: Callable[..., pd.DataFrame] | None = None,
    credit_extras: Any = None,
) -> Assessment:
    """:func:`decide` after its crop step: vigour, yield and credit lines from parcel evidence
    and each usable parcel's predicted crop.

    ``crops`` holds ``crop`` and ``crop_confidence`` for the parcels whose ``status`` is not
    ``error``, in their order (as :func:`decide` predicts them; a county scan predicts them
    chunk by chunk on its workers); ``context.crop_model`` is the model that predicted them.
    ``frame`` is a copy of ``evidence.parcels`` the caller already made (it is modified).
    ``sizer`` replaces :func:`agrilend.credit.size_households` (same arguments, same result),
    e.g. to size the households in partitions on a scan's workers. With ``credit_extras``
    (records beyond the crop) the households are sized by
    :func:`agrilend.credit.size_with_extras` in one piece instead.
    """
    say = progress or _noop
    policy = policy if policy is not None else load_policy()
    frame = frame if frame is not None else evidence.parcels.copy()
    ok = (frame["status"] != "error").to_numpy()
    if as_of is None and len(evidence.times):
        as_of = (pd.Timestamp(evidence.times.max()) + pd.Timedelta(days=1)).date()
    # a new context, as in decide: the caller's is never changed
    context = CountyContext() if context is None else context.copy()
    declared = frame.loc[ok, "declared_crop"].fillna("").astype(str).to_numpy()
    _put(frame, ok, crops, ("crop", "crop_confidence"))
    if "crop_mismatch" not in crops.columns:
        crops = crops.join(_declaration_check(crops, declared, context.crop_model, policy))
    # declarations ranked by how unlikely the imagery makes them, flagged at the policy's
    # false-alarm rate: p_declared, mismatch_score and the flag crop_mismatch
    frame["crop_mismatch"] = False
    _put(frame, ok, crops, ("p_declared", "mismatch_score", "crop_mismatch"))
    frame["crop_mismatch"] = frame["crop_mismatch"].fillna(False).astype(bool)
    for col in ("p_declared", "mismatch_score"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    # a season the imagery cannot see: never a confident crop, the policy decides the rest
    early, unseen = season_coverage(evidence.times, _clear_observations(evidence), policy)
    early &= ok
    frame["early_season"] = early
    frame["unseen_seasons"] = np.where(early, np.asarray(unseen, dtype=object), "")
    frame.loc[early, "crop_confidence"] = np.nan
    frame.loc[early, "crop_mismatch"] = False
    if early.any():
        log.warning(
            "%d of %d parcels are early-season: the imagery does not cover %s; their crop is "
            "not confirmed (policy: %s)",
            int(early.sum()),
            int(ok.sum()),
            sorted(set(np.asarray(unseen, dtype=object)[early]))[0],
            policy.season["early_season"],
        )

    say("vigour")
    metrics = frame.loc[ok].set_index("parcel_id", drop=False)
    if context.peer_stats is None:
        context.peer_stats = peer_statistics(metrics)
        context.peer_curves = _peer_curves(evidence, frame, ok)
    vig = vigour_scores(metrics, peers=context.peer_stats)
    _put(frame, ok, vig, vig.columns)

    say("weather and climate")
    climate: dict[str, float] | None = None
    season_table = pd.DataFrame()
    if weather is not None and len(evidence.times):
        season = (evidence.times.min(), evidence.times.max())
        climate, season_table = _county_weather(weather, season, context.tables)
        if context.weather_normals is None:
            context.weather_normals = weather_normals(weather)

    say("yield")
    if county_yields:
        context.county_yields = dict(county_yields)
    if context.county_yields:
        metrics = frame.loc[ok].set_index("parcel_id", drop=False)
        yields = estimate_yield(metrics, county_yields=context.county_yields, weather=climate)
        _put(frame, ok, yields, yields.columns)
    else:
        log.warning("no county yield statistics given: yields are unknown")
        for col in ("yield_t_ha", "yield_low", "yield_high"):
            frame[col] = np.nan

    say("credit lines")
    matched = None
    subs_table = pd.DataFrame()
    if subsidies is not None and len(subsidies):
        matched = match_subsidies(subsidies, frame)
        subs_table = matched.matched
    frame = _finish_parcels(frame)
    sizing_kw: dict[str, Any] = {
        "subsidies": matched,
        "climate": None if climate is None else float(climate["risk_score"]),
        "as_of": as_of,
        "reference_yields": context.county_yields or None,
    }
    extras = None
    if credit_extras is not None and not credit_extras.is_empty() and as_of is not None:
        extras = size_with_extras(frame, policy, credit_extras, **sizing_kw)
        households = extras.households
        frame = extras.parcels  # tenants in place of holders: parcels and households agree
    else:
        households = (sizer or size_households)(frame, policy, **sizing_kw)

    provenance = _provenance(evidence, policy, context, as_of)
    context.meta.update(
        {k: provenance[k] for k in ("agrilend_version", "model_version", "policy_version")}
    )
    return Assessment(
        parcels=frame,
        households=households,
        series=evidence.series,
        context=context,
        subsidies=subs_table,
        season_weather=season_table,
        provenance=provenance,
        credit_extras=extras,
    )


def _county_weather(
    weather: pd.DataFrame, season: tuple[pd.Timestamp, pd.Timestamp], cache: dict[Any, Any]
) -> tuple[dict[str, float], pd.DataFrame]:
    """The season's climate risk and weather table, from ``cache`` when these same weather
    records and season were seen before (keyed by the records' content hash)."""
    key = (
        "county_weather",
        str(season[0]),
        str(season[1]),
        int(pd.util.hash_pandas_object(weather, index=True).sum()),
        tuple(map(str, weather.columns)),
    )
    if key not in cache:
        climate = climate_risk(weather, season=season)
        cache[key] = (climate, _season_weather_table(weather, season, climate))
    climate, table = cache[key]
    return dict(climate), table.copy()


def _declaration_check(
    crops: pd.DataFrame, declared: np.ndarray[Any, Any], model: Any, policy: Any
) -> pd.DataFrame:
    """The declaration check on crops predicted elsewhere (a scan's workers): from their
    ``p_<class>`` columns (the cleaning round ran where the crops were predicted), at the
    model's threshold when it keeps one; ``crop_mismatch`` False when no probabilities came
    with the crops."""
    classes = list(crops.attrs.get("classes") or [])
    if not classes:  # the attrs did not travel: the classes as the columns name them
        classes = [str(c)[2:] for c in crops.columns if str(c).startswith("p_")]
    if not classes or any(f"p_{c}" not in crops.columns for c in classes):
        return pd.DataFrame(
            {"p_declared": np.nan, "mismatch_score": np.nan, "crop_mismatch": False},
            index=crops.index,
        )
    return check_declarations(
        crops[[f"p_{c}" for c in classes]].to_numpy(dtype=float),
        classes,
        list(declared),
        false_alarm_rate=float(getattr(policy, "crop_false_alarm_rate", 0.01)),
        index=list(crops.index),
        threshold=getattr(model, "mismatch_threshold_", None),
    )


def _check_model_dates(model: Any, times: pd.DatetimeIndex) -> None:
    """A context's crop model reads series of its season (:meth:`CropTypeClassifier.check_dates`);
    a model without that check, on the dates it was trained on and no others."""
    if hasattr(model, "check_dates"):
        model.check_dates(times)
        return
    trained = getattr(model, "times", None)
    if trained is None:
        return
    trained_t = pd.DatetimeIndex(pd.to_datetime(list(trained)))
    if len(trained_t) != len(times) or not (trained_t == pd.DatetimeIndex(times)).all():
        span = "none"
        if len(trained_t):
            span = f"{trained_t.min().date()}..{trained_t.max().date()}"
        raise ModelError(
            f"the county context's crop model was trained on {len(trained_t)} imagery dates "
            f"({span}) but this cube has {len(times)}; decide with the imagery the county scan "
            "used, or run a new scan on this imagery"
        )


def _put(
    frame: pd.DataFrame, ok: np.ndarray[Any, Any], values: pd.DataFrame, cols: Iterable[str]
) -> None:
    for col in cols:
        v = values[col].to_numpy()
        if col not in frame.columns and v.dtype.kind in "fiu":
            # numbers stay numbers (a None-filled column would make them objects, TEXT in GPKG);
            # a new column of them made whole: a tenth of the CPU of frame.loc
            whole = np.full(len(frame), np.nan)
            whole[ok] = v
            frame[col] = whole
            continue
        if col not in frame.columns and v.dtype == object:
            # a new column of objects (text) made whole too, None where no value, kept objects
            # (as the None-filled column set through frame.loc was; not inferred as strings)
            cells = np.full(len(frame), None, dtype=object)
            cells[ok] = v
            frame[col] = pd.Series(cells, index=frame.index, dtype=object)
            continue
        if col not in frame.columns:
            frame[col] = None
        frame.loc[ok, col] = v


def _peer_curves(evidence: Evidence, frame: pd.DataFrame, ok: np.ndarray[Any, Any]) -> xr.Dataset:
    """p10/p50/p90 of the smoothed NDVI of each crop's parcels (by observed crop), per date."""
    crops = frame.loc[ok, "crop"].astype(str).to_numpy()
    curves = evidence.smooth[ok]
    names = sorted(set(crops))
    q = np.full((len(names), 3, len(evidence.grid)), np.nan)
    for i, name in enumerate(names):
        rows = curves[crops == name]
        if len(rows) and np.isfinite(rows).any():
            # dates where no peer has a value stay NaN; numpy says so with a RuntimeWarning
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
                q[i] = np.nanquantile(rows, [0.1, 0.5, 0.9], axis=0)
    return xr.Dataset(
        {f"p{p}": (("crop", "time"), q[:, k]) for k, p in enumerate((10, 50, 90))},
        coords={"crop": names, "time": evidence.grid},
    )


def _season_weather_table(
    weather: pd.DataFrame, season: tuple[pd.Timestamp, pd.Timestamp], risk: Mapping[str, float]
) -> pd.DataFrame:
    """One row: the season's weather, its normal (mean of the same window in past years), risk."""

    start, end = season
    try:
        now = season_weather(weather, start, end)
    except InsufficientEvidenceError:
        return pd.DataFrame([dict(risk)])
    past = []
    for years_back in range(1, 31):
        s = start - pd.DateOffset(years=years_back)
        e = end - pd.DateOffset(years=years_back)
        try:
            past.append(season_weather(weather, s, e))
        except InsufficientEvidenceError:
            break
    row: dict[str, Any] = {str(k): float(v) for k, v in now.items()}
    if past:
        normal = pd.DataFrame(past).mean()
        for k in ("prcp_mm", "gdd", "heat_days", "tmean_c"):
            if k in normal:
                row[f"{k}_normal"] = float(normal[k])
        if normal.get("prcp_mm", 0) > 0:
            row["prcp_anomaly"] = row["prcp_mm"] / float(normal["prcp_mm"]) - 1.0
    for k in ("spi", "risk_score"):
        if k in risk:
            row[k] = float(risk[k])
    return pd.DataFrame([row])


def _finish_parcels(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Quality flags per parcel, and the final status (``flagged`` when any flag is raised)."""
    n = len(frame)

    def values(col: str, default: Any) -> list[Any]:  # a column as Python values, as rows give
        return frame[col].tolist() if col in frame.columns else [default] * n

    flags: list[list[str]] = []
    for title, mismatch, area_flag, status, early, clear, pixels in zip(
        values("title_flags", ""), values("crop_mismatch", False), values("area_flag", "ok"),
        values("status", ""), values("early_season", False), values("n_clear_obs", 0),
        values("n_pixels", 0), strict=True,
    ):  # fmt: skip
        f = [x for x in str(title or "").split(",") if x]
        if bool(mismatch):
            f.append("crop_mismatch")
        if str(area_flag) not in {"ok", "unknown", "nan", "None"}:
            f.append(str(area_flag))
        if status != "error":
            if bool(early):
                f.append("early_season")
            if (clear or 0) < LOW_CLEAR_OBS:
                f.append("few_clear_observations")
            if (pixels or 0) < LOW_PIXELS:
                f.append("few_pixels")
        flags.append(f)
    frame["quality_flags"] = flags
    flagged = (frame["status"] != "error").to_numpy() & np.array([bool(f) for f in flags], bool)
    frame.loc[flagged, "status"] = "flagged"
    return _numbers_as_numbers(frame)


#: What :func:`pandas.api.types.infer_dtype` calls a column of ints and floats only (no bools).
_NUMBER_KINDS = frozenset({"integer", "floating", "mixed-integer-float"})


def _numbers_as_numbers(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns of numbers stored as objects (None beside floats) become float columns.

    Rows of error parcels hold None where others hold numbers; left as objects, such columns
    are written as TEXT to a GeoPackage and compare as strings in a GIS.
    """
    geometry = frame.geometry.name
    # the columns' types read once (a GeoDataFrame's column costs tens of microseconds)
    for col, dtype in list(frame.dtypes.items()):
        if col == geometry or dtype != np.dtype(object):
            continue
        values = frame[col].dropna()
        if len(values) and pd.api.types.infer_dtype(values, skipna=False) in _NUMBER_KINDS:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        elif col in NUMERIC_ESTIMATE_COLUMNS and not len(values):
            frame[col] = np.nan
    return frame


def _provenance(
    evidence: Evidence, policy: Any, context: CountyContext, as_of: date | None
) -> dict[str, Any]:
    series = evidence.series
    dates = [pd.Timestamp(t).date().isoformat() for t in evidence.times]
    vf = series["valid_fraction"].to_numpy() if "valid_fraction" in series else None
    cloud = (
        [float(x) for x in np.round(1.0 - np.nanmean(vf, axis=0), 4)]
        if vf is not None and vf.size
        else []
    )
    model = context.crop_model
    return {
        "agrilend_version": __version__,
        "model_version": str(getattr(model, "model_version_", None) or f"agrilend-{__version__}"),
        "policy_version": f"{getattr(policy, 'name', 'policy')} {getattr(policy, 'version', '')} "
        f"{getattr(policy, 'checksum', '')}".strip(),
        "as_of": as_of.isoformat() if as_of else None,
        "imagery": {"dates": dates, "cloud_cover": cloud, "source": series.attrs.get("source", "")},
        "n_parcels": len(evidence.parcels),
    }


def assess(
    cube: xr.Dataset | Inputs | InputFiles,
    titles: gpd.GeoDataFrame | None = None,
    *,
    weather: pd.DataFrame | None = None,
    subsidies: pd.DataFrame | None = None,
    policy: CreditPolicy | None = None,
    county_yields: Mapping[str, float] | None = None,
    context: CountyContext | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    credit_extras: Any = None,
) -> Assessment:
    """The whole path for a set of parcels: imagery and titles in, credit decisions out.

    open cube -> cloud mask -> NDVI -> per-parcel series -> cleaning and phenology -> cultivated
    area -> crop type (out-of-fold on declared crops, or the context's model) -> vigour against
    peers -> yield -> household credit lines with reasons.

    Parameters
    ----------
    cube
        The county as objects or as files: a contract cube (then ``titles`` too), an
        :class:`agrilend.inputs.Inputs` bundle, or :class:`agrilend.inputs.InputFiles` (opened
        with :func:`agrilend.inputs.load_inputs`). The other inputs of a bundle or of files are
        used unless given here.
    titles
        Titles (schema of :func:`agrilend.parcels.read_titles`).
    weather, subsidies, policy, county_yields
        Daily weather, subsidy records (:func:`agrilend.credit.read_subsidies`), the credit
        policy (default: the packaged one) and county mean yields per crop.
    context
        A county context from a scan; without it the county is learnt from these parcels.
    as_of
        Decision date (default: the day after the last imagery date).
    progress
        Called with each step's name.

    Examples
    --------
    >>> from agrilend.inputs import InputFiles
    >>> result = assess(InputFiles.sample())                      # doctest: +SKIP
    >>> result.households[["owner_ref", "credit_line", "decision"]]  # doctest: +SKIP
    """
    files = None
    if isinstance(cube, InputFiles):
        cube = load_inputs(cube)
    if isinstance(cube, Inputs):
        bundle = cube
        files = bundle.files
        cube, titles = bundle.cube, titles if titles is not None else bundle.titles
        weather = weather if weather is not None else bundle.weather
        subsidies = subsidies if subsidies is not None else bundle.subsidies
        policy = policy if policy is not None else bundle.policy
        county_yields = county_yields if county_yields is not None else bundle.county_yields
        credit_extras = credit_extras if credit_extras is not None else bundle.credit_extras
    if titles is None:
        raise TypeError("assess needs titles: assess(cube, titles, ...) or assess(inputs)")
    require_overlap(titles, validate_cube(cube))  # before any model: a wrong CRS is named
    evidence = gather_evidence(cube, titles, progress=progress)
    result = decide(
        evidence,
        weather=weather,
        subsidies=subsidies,
        policy=policy,
        county_yields=county_yields,
        context=context,
        as_of=as_of,
        progress=progress,
        credit_extras=credit_extras,
    )
    if isinstance(cube, xr.Dataset) and "source" in cube.attrs:
        result.provenance["imagery"]["source"] = str(cube.attrs["source"]).rsplit("/", 1)[-1]
    if files is not None:  # the input files and their checksums, for the report's provenance
        result.provenance["inputs"] = files.describe()
    return result


__all__ = [
    "ESTIMATE_COLUMNS",
    "NUMERIC_ESTIMATE_COLUMNS",
    "Assessment",
    "CountyContext",
    "Evidence",
    "assess",
    "decide",
    "decide_with_crops",
    "gather_evidence",
]
