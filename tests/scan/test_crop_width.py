"""The scan's crop step reads every chunk's features with the county's profile bins.

The crop model's temporal profile is binned at a width set by the observation density
(:func:`agrilend.yield_models.features.profile_width`). A chunk under more cloud than the
rest of the county asks wider bins of its own; its features must still be read at the
county's width, the one the county's model learnt, or its profile columns do not match the
model's and its parcels are predicted from filler values, silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrilend.scan.county import CropPlan, crop_plan, usable_positions
from agrilend.scan.parts import NDVI, ROW, Chunk
from agrilend.yield_models import CropTypeClassifier
from agrilend.yield_models.county_crops import county_crops
from agrilend.yield_models.features import profile_width

pytestmark = pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning")

TIMES = pd.date_range("2024-01-05", periods=36, freq="10D")
CAP = 60


def _curves(rng: np.random.Generator, n: int, peak: float, every: int) -> np.ndarray:
    doy = np.asarray(TIMES.day_of_year, dtype=float)
    y = 0.2 + 0.6 * np.exp(-(((doy - peak) / 30.0) ** 2))
    X = y + rng.normal(0, 0.03, size=(n, TIMES.size))
    seen = np.zeros(TIMES.size, dtype=bool)
    seen[::every] = True
    return np.where(seen, X, np.nan)


def _parts(tmp: Path) -> tuple[pd.DataFrame, list[Chunk], dict[str, str], np.ndarray]:
    """Two chunks of wheat and maize: 120 parcels clear on every date, then 40 seen once in
    four dates (their own profile bins would be 30 days wide, the county's 20)."""
    rng = np.random.default_rng(3)
    blocks, labels = [], []
    for every, n in ((1, 60), (4, 20)):
        X = np.vstack([_curves(rng, n, 130, every), _curves(rng, n, 210, every)])
        blocks.append(X)
        labels.append(np.repeat(["wheat", "maize"], n))
    chunks, parts, light = [], {}, []
    start = 0
    for k, (X, lab) in enumerate(zip(blocks, labels, strict=True)):
        rows = np.arange(start, start + len(X))
        frame = pd.DataFrame({
            ROW: rows, "status": "ok", "declared_crop": lab,
            "n_clear_obs": np.isfinite(X).sum(axis=1),
            NDVI: [r.astype("float32").tolist() for r in X],
        })  # fmt: skip
        path = tmp / f"c{k}.parquet"
        frame.to_parquet(path, index=False)
        chunks.append(Chunk(f"c{k}", tuple(int(r) for r in rows), (0, 10, 10 * k, 10 * k + 10)))
        parts[f"c{k}"] = str(path)
        light.append(frame.drop(columns=[NDVI]))
        start += len(X)
    return pd.concat(light, ignore_index=True), chunks, parts, np.vstack(blocks)


def _scan_proba(
    plan: CropPlan,
    chunks: list[Chunk],
    parts: dict[str, str],
    predictor: object = None,
    ahead: dict[str, str | None] | None = None,
) -> pd.DataFrame:
    frames = []
    for c in chunks:
        crops = plan.chunk_crops(c.id, parts[c.id], TIMES.size, predictor,
                                 (ahead or {}).get(c.id))  # fmt: skip
        rows = np.asarray(c.rows)[crops.index.to_numpy()]
        frames.append(crops.set_axis(pd.Index(rows)))
    return pd.concat(frames).sort_index()


def test_a_cloudy_chunk_is_predicted_with_the_countys_profile_bins(tmp_path: Path) -> None:
    from agrilend.assessment import CountyContext  # noqa: PLC0415

    light, chunks, parts, X = _parts(tmp_path)
    # the premise: the cloudy chunk alone asks other bins than the county
    assert profile_width(X[120:], TIMES) != profile_width(X, TIMES)
    context = CountyContext()
    plan = crop_plan(light, chunks, parts, times=TIMES, context=context,
                     crop_training_cap=CAP)  # fmt: skip
    assert plan.mode == "county"
    assert plan.predict is None  # each chunk's task predicts its parcels outside the sample
    assert usable_positions(parts["c1"]).size > plan.fixed["c1"][0].size  # the cloudy one has
    assert {"crop_features", "crop_folds", "crop_county_model"} <= set(plan.timings)
    assert all(0 < t < 600 for t in plan.timings.values())  # seconds of this test's work
    got = _scan_proba(plan, chunks, parts)
    # decide's way: the audit of the training sample, the county's model for the others
    template = CropTypeClassifier(times=list(TIMES), n_jobs=1)
    lab = light["declared_crop"].to_numpy(dtype=str)
    expected, model = county_crops(X.astype("float32").astype(float), lab, model=template,
                                   max_train=CAP)  # fmt: skip
    # the county's model reads every parcel with the bins it learnt, whatever its chunk asks
    assert context.crop_model.profile_days_ == model.profile_days_
    np.testing.assert_array_equal(got.index.to_numpy(), np.arange(len(lab)))
    for c in ("wheat", "maize"):
        np.testing.assert_allclose(got[f"p_{c}"].to_numpy(), expected[f"p_{c}"].to_numpy(),
                                   rtol=0, atol=1e-9)  # fmt: skip
    # and the cloudy chunk's parcels are told apart (filler features would not)
    cloudy = got.loc[120:]
    assert (cloudy["crop"].to_numpy() == lab[120:]).mean() > 0.9


@pytest.mark.parametrize("cap", [CAP, None])
def test_a_plan_kept_on_the_workers_predicts_as_the_plan_in_process(
    tmp_path: Path, cap: int | None
) -> None:
    """With ``keep`` the sample's features and the county's model stay on the workers (the
    model grown there in parts of its trees): the same model, the same crops."""
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415

    from agrilend.assessment import CountyContext  # noqa: PLC0415
    from agrilend.scan.cluster import broadcaster, is_remote, keeper, mapper  # noqa: PLC0415
    from agrilend.scan.context import load_context, model_file, save_context  # noqa: PLC0415
    from agrilend.scan.county import ModelOnWorkers, SavedModel  # noqa: PLC0415

    light, chunks, parts, X = _parts(tmp_path)
    here = CountyContext()
    plan_here = crop_plan(light, chunks, parts, times=TIMES, context=here,
                          crop_training_cap=cap)  # fmt: skip
    plan_here.finish(here)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        there = CountyContext()
        plan = crop_plan(light, chunks, parts, times=TIMES, context=there, crop_training_cap=cap,
                         mapper=mapper(client), share=broadcaster(client),
                         keep=keeper(client))  # fmt: skip
        assert plan.mode == plan_here.mode == ("county" if cap else "sample")
        assert is_remote(plan.pending)
        assert there.crop_model is None  # fetched by finish, once the chunks are predicted
        predictor = plan.predictor.result() if is_remote(plan.predictor) else None
        # with a county's model to predict, each chunk's features were computed ahead
        assert (plan.ahead is not None) == (cap is not None)
        ahead = {cid: f.result() for cid, f in (plan.ahead or {}).items()}
        assert all(ahead.get(c.id) for c in chunks) == (cap is not None)
        got = _scan_proba(plan, chunks, parts, predictor, ahead)
        assert not any(Path(p).exists() for p in ahead.values() if p)  # used, then removed
        plan.finish(there)
        assert isinstance(there.crop_model, ModelOnWorkers)
        model = there.crop_model.fetch()
        # written into the saved context by its worker, the threshold set there
        there.crop_model.attrs["mismatch_threshold_"] = 0.25
        saved = load_context(save_context(there, tmp_path / "context")).crop_model
    # a context whose model was written already: copied (or left, where it is the context's)
    there.crop_model = SavedModel(str(model_file(tmp_path / "context")))
    copied = load_context(save_context(there, tmp_path / "copy")).crop_model
    assert load_context(save_context(there, tmp_path / "context")).crop_model.classes_.tolist() \
        == copied.classes_.tolist() == model.classes_.tolist()  # fmt: skip
    assert saved.mismatch_threshold_ == copied.mismatch_threshold_ == 0.25
    np.testing.assert_allclose(saved.predict_proba(X), model.predict_proba(X), rtol=0, atol=1e-12)
    want = _scan_proba(plan_here, chunks, parts)
    for c in ("wheat", "maize"):
        np.testing.assert_allclose(got[f"p_{c}"].to_numpy(), want[f"p_{c}"].to_numpy(),
                                   rtol=0, atol=1e-9)  # fmt: skip
    model_here = here.crop_model
    assert model.estimator_.n_estimators == len(model.estimator_.estimators_)
    assert model.get_params() == model_here.get_params()
    assert model.profile_days_ == model_here.profile_days_
    np.testing.assert_allclose(model.predict_proba(X), model_here.predict_proba(X),
                               rtol=0, atol=1e-9)  # fmt: skip


def test_the_draw_holds_the_sample_and_each_chunk_predicts_the_rest(tmp_path: Path) -> None:
    """The draw a worker makes from every title's light rows holds the training sample's
    parcels only; each chunk's task predicts its other usable parcels: every usable parcel is
    predicted once, and the plan made from the draw is the plan made from the rows."""
    from agrilend.assessment import CountyContext  # noqa: PLC0415
    from agrilend.errors import ScanError  # noqa: PLC0415
    from agrilend.scan.crop_sample import draw_sample  # noqa: PLC0415

    light, chunks, parts, _ = _parts(tmp_path)
    for cid, row in (("c0", 5), ("c1", 10)):  # two unusable parcels, one in each chunk
        part = pd.read_parquet(parts[cid])
        part.loc[row, "status"] = "error"
        part.to_parquet(parts[cid], index=False)
    light.loc[[5, 130], "status"] = "error"
    draw = draw_sample(light, chunks, parts, crop_training_cap=CAP)
    assert draw.sampled
    assert not draw.context_model
    n_usable = int((light["status"] != "error").sum())
    assert draw.n_usable == n_usable
    assert CAP - 2 <= draw.inside.size <= CAP < n_usable  # each crop's quota rounded down
    for column in (draw.codes_in, draw.folds_in, draw.trainable_in, draw.n_obs_in):
        assert len(column) == draw.inside.size
    assert len(draw.codes_fit) == len(draw.n_obs_fit) == draw.fit.size <= draw.inside.size
    assert 5 not in draw.groups_in[0][1]  # unusable: not in the sample
    from_rows = crop_plan(light, chunks, parts, times=TIMES, context=CountyContext(),
                          crop_training_cap=CAP)  # fmt: skip
    from_draw = crop_plan(draw, chunks, parts, times=TIMES, context=CountyContext(),
                          crop_training_cap=CAP)  # fmt: skip
    assert from_draw.predict is None
    assert from_draw.fixed.keys() == from_rows.fixed.keys()
    for cid, (pos, proba) in from_rows.fixed.items():
        np.testing.assert_array_equal(from_draw.fixed[cid][0], pos)
        np.testing.assert_allclose(from_draw.fixed[cid][1], proba, rtol=0, atol=1e-12)
    got = _scan_proba(from_draw, chunks, parts)
    usable = np.flatnonzero((light["status"] != "error").to_numpy())
    np.testing.assert_array_equal(got.index.to_numpy(), usable)  # each usable parcel, once
    # a draw made for a county without a model is not taken by a county with one
    with_model = CountyContext()
    with_model.crop_model = object()
    with pytest.raises(ScanError, match="without a model"):
        crop_plan(draw, chunks, parts, times=TIMES, context=with_model, crop_training_cap=CAP)
