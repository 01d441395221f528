"""The features of the parcels the county's model predicts, computed ahead at low priority
while the fold models are grown (:func:`agrilend.scan.county.features_ahead`), give the
probabilities the chunk's task computes itself, and are used only when they are those the
model would compute."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from agrilend.scan.county import (
    CropPlan,
    chunk_proba,
    crop_plan,
    features_ahead,
    features_file,
    proba_ahead,
    usable_positions,
)
from agrilend.yield_models import CropTypeClassifier
from tests.scan.test_crop_width import CAP, TIMES, _parts

pytestmark = pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning")


def _county(tmp_path: Path) -> tuple[CropPlan, object, dict[str, str]]:
    from agrilend.assessment import CountyContext  # noqa: PLC0415

    light, chunks, parts, _ = _parts(tmp_path)
    context = CountyContext()
    plan = crop_plan(light, chunks, parts, times=TIMES, context=context,
                     crop_training_cap=CAP)  # fmt: skip
    assert plan.mode == "county"
    assert plan.ahead is None  # in process: nothing to fill idle workers with
    return plan, context.crop_model, parts


def test_features_ahead_give_the_chunks_probabilities(tmp_path: Path) -> None:
    plan, model, parts = _county(tmp_path)
    template = CropTypeClassifier(times=list(TIMES), n_jobs=1)
    predictor = (model, None, np.arange(len(model.classes_)))
    for cid, part in parts.items():
        fixed = plan.fixed[cid][0]
        path = features_ahead(part, fixed, template, model.profile_days_)
        assert path == str(features_file(part))
        rows = np.setdiff1d(usable_positions(part), fixed)
        assert rows.size  # the premise: each chunk has parcels outside the sample
        got = proba_ahead(path, rows, predictor, len(model.classes_))
        assert not Path(path).exists()  # read once, then removed
        want = chunk_proba(part, rows.tolist(), TIMES.size, predictor, len(model.classes_))
        assert got is not None
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        # and through the chunk's task: the same crops as without
        features_ahead(part, fixed, template, model.profile_days_)
        ahead = plan.chunk_crops(cid, part, TIMES.size, None, str(features_file(part)))
        itself = plan.chunk_crops(cid, part, TIMES.size)
        np.testing.assert_allclose(
            ahead.filter(like="p_").to_numpy(),
            itself.filter(like="p_").to_numpy(),
            rtol=0,
            atol=1e-12,
        )
        assert ahead["crop"].tolist() == itself["crop"].tolist()


def test_features_ahead_are_refused_when_not_the_models(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan, model, parts = _county(tmp_path)
    template = CropTypeClassifier(times=list(TIMES), n_jobs=1)
    predictor = (model, None, np.arange(len(model.classes_)))
    part = parts["c0"]
    fixed = plan.fixed["c0"][0]
    rows = np.setdiff1d(usable_positions(part), fixed)
    k = len(model.classes_)

    def kept(width: int) -> str:
        path = features_ahead(part, fixed, template, width)
        assert path is not None
        return path

    assert proba_ahead(kept(model.profile_days_), rows[1:], predictor, k) is None  # other rows
    assert proba_ahead(kept(model.profile_days_ + 10), rows, predictor, k) is None  # other bins
    dated = (model, np.asarray(TIMES), predictor[2])  # a model read on other dates
    assert proba_ahead(kept(model.profile_days_), rows, dated, k) is None
    assert not features_file(part).exists()  # refused, and removed all the same
    path = kept(model.profile_days_)
    Path(path).write_bytes(Path(path).read_bytes()[:100])  # cut short
    with caplog.at_level(logging.INFO, logger="agrilend.scan.county"):
        assert proba_ahead(path, rows, predictor, k) is None
    assert "unreadable" in caplog.text
    assert proba_ahead(path, rows, predictor, k) is None  # gone: computed by the task
    # a part that cannot be read: no file, the chunk's task reads it and says why
    assert features_ahead(str(tmp_path / "missing.parquet"), fixed, template, 20) is None
    # features that cannot be computed (a model of other dates): none kept, the task computes
    other = CropTypeClassifier(times=list(TIMES[:10]), n_jobs=1)
    assert features_ahead(part, fixed, other, model.profile_days_) is None
    assert not features_file(part).exists()
    # every parcel in the sample: nothing to keep
    assert features_ahead(part, usable_positions(part), template, model.profile_days_) is None
