"""The client's few columns of every parcel stay small (categories joined as categories), and
the client's tasks launched ahead of need."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agrilend.errors import ScanError
from agrilend.scan.cluster import launcher
from agrilend.scan.county_step import PartSpec, light_rows
from agrilend.scan.parts import ROW, light_columns, light_file, save_light
from agrilend.yield_models.crop_type import declared_labels, training_sample

COLUMNS = ["status", "declared_crop", "n_clear_obs"]


def _part(tmp_path: Path, name: str, rows: list[int], crops: list[object]) -> PartSpec:
    path = tmp_path / f"{name}.parquet"
    pd.DataFrame({
        ROW: rows,
        "status": ["ok"] * (len(rows) - 1) + ["error"],
        "declared_crop": crops,
        "n_clear_obs": np.arange(len(rows)) + 10,
    }).to_parquet(path)  # fmt: skip
    return PartSpec(chunk=name, part=str(path), crops="", final="", width=3, grid_width=3)


def test_light_rows_keep_the_parts_categories_in_title_order(tmp_path: Path) -> None:
    # the two parts name different crops: pd.concat would have made strings of them
    a = _part(tmp_path, "a", [0, 2, 4], ["maize", "wheat", None])
    b = _part(tmp_path, "b", [1, 3], ["rice", "maize"])
    rows = light_rows([a, b], [], 5, COLUMNS)
    assert rows.index.tolist() == [0, 1, 2, 3, 4]  # the title rows
    assert isinstance(rows["declared_crop"].dtype, pd.CategoricalDtype)
    assert isinstance(rows["status"].dtype, pd.CategoricalDtype)
    assert rows["declared_crop"].astype(object).tolist() == ["maize", "rice", "wheat", "maize",
                                                             np.nan]  # fmt: skip
    assert rows["n_clear_obs"].tolist() == [10, 10, 11, 11, 12]
    assert declared_labels(rows["declared_crop"]).tolist() == ["maize", "rice", "wheat", "maize",
                                                                ""]  # fmt: skip


def test_light_rows_with_numeric_crop_codes_in_one_part(tmp_path: Path) -> None:
    a = _part(tmp_path, "a", [0, 1], [101, 102])
    b = _part(tmp_path, "b", [2], ["wheat"])
    rows = light_rows([a, b], [], 3, COLUMNS)
    assert declared_labels(rows["declared_crop"]).tolist() == ["101", "102", "wheat"]


def test_light_rows_kept_beside_the_parts_are_what_the_parts_give(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a chunk task keeps beside its part is read instead of the part, and gives the same
    rows (crops as words, crops as numbers); a part with none kept (an earlier version's) is
    read."""
    a = _part(tmp_path, "a", [0, 2, 4], ["maize", "wheat", None])
    b = _part(tmp_path, "b", [1, 3], [101, 102])
    from_parts = light_rows([a, b], [], 5, COLUMNS)
    assert a.part is not None
    assert b.part is not None
    for spec in (a, b):
        save_light(spec.part)
    assert light_file(a.part).exists()
    assert light_file(b.part).exists()
    for spec in (a, b):  # the parts themselves are not opened again
        Path(spec.part).rename(Path(spec.part).with_suffix(".away"))
    pd.testing.assert_frame_equal(light_rows([a, b], [], 5, COLUMNS), from_parts)
    with pytest.raises(OSError, match=r"a\.parquet"):  # other columns: from the (moved) part
        light_rows([a, b], [], 5, ["status"])
    Path(b.part).with_suffix(".away").rename(b.part)
    light_file(b.part).unlink()
    pd.testing.assert_frame_equal(light_rows([a, b], [], 5, COLUMNS), from_parts)
    # a light file that cannot be read (cut short) is left for its part, with a warning
    Path(a.part).with_suffix(".away").rename(a.part)
    light_file(a.part).write_bytes(light_file(a.part).read_bytes()[:40])
    with caplog.at_level(logging.WARNING, logger="agrilend.scan.parts"):
        pd.testing.assert_frame_equal(light_rows([a, b], [], 5, COLUMNS), from_parts)
    assert "a.light.npz: unreadable" in caplog.text


def test_light_rows_categories_are_those_union_categoricals_gives(tmp_path: Path) -> None:
    from pandas.api.types import union_categoricals  # noqa: PLC0415

    a = _part(tmp_path, "a", [4, 0, 2], ["wheat", "maize", None])
    b = _part(tmp_path, "b", [5, 1], ["rice", "maize"])
    c = _part(tmp_path, "c", [3], ["barley"])
    rows = light_rows([a, b, c], [], 6, COLUMNS)
    parts = [light_columns(s.part) for s in (a, b, c) if s.part is not None]  # as light_rows has
    joined = union_categoricals([p["declared_crop"] for p in parts])
    assert rows["declared_crop"].cat.categories.tolist() == joined.categories.tolist()
    by_row = dict(zip(np.concatenate([p[ROW].to_numpy() for p in parts]), joined, strict=True))
    assert rows["declared_crop"].astype(object).tolist() == [by_row[r] for r in range(6)]


def test_light_rows_name_missing_rows(tmp_path: Path) -> None:
    a = _part(tmp_path, "a", [0, 2], ["maize", "wheat"])
    with pytest.raises(ScanError, match="2 rows for 3 titles"):
        light_rows([a], [], 3, COLUMNS)


def test_declared_labels_draw_the_same_sample_as_text() -> None:
    rng = np.random.default_rng(3)
    text = rng.choice(["maize", "wheat", "rice", ""], size=2000).astype(object)
    text[::7] = None
    as_categories = pd.Series(text, dtype="category")
    a = training_sample(text, max_train=300, random_state=0)
    b = training_sample(as_categories, max_train=300, random_state=0)
    assert a.sum() > 250
    assert np.array_equal(a, b)


def test_launcher_without_a_cluster_runs_when_asked() -> None:
    calls: list[int] = []

    def double(x: int) -> int:
        calls.append(x)
        return x * 2

    wait = launcher(None)(double, 21)
    assert calls == []
    assert wait() == 42
    assert calls == [21]


def test_launcher_sends_large_arrays_beside_the_graph() -> None:
    distributed = pytest.importorskip("distributed")

    class Spy:  # the client, with the arrays it scatters noted
        def __init__(self, client: Any) -> None:
            self.client = client
            self.scattered: list[int] = []

        def scatter(self, value: Any, **kw: Any) -> Any:
            self.scattered.append(value.nbytes)
            return self.client.scatter(value, **kw)

        def submit(self, *args: Any, **kw: Any) -> Any:
            return self.client.submit(*args, **kw)

    big = np.arange(300_000, dtype=float)  # 2.4 MB: beside the graph; 3 (a number) inside
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,  # fmt: skip
        distributed.Client(cluster) as client,
    ):
        spy = Spy(client)
        wait = launcher(spy)(lambda a, b, k: float(np.dot(a, b)) * k, big, big[::-1].copy(), 3)
        assert wait() == pytest.approx(3 * float(np.dot(big, big[::-1])), rel=1e-12)
        assert spy.scattered == [big.nbytes, big.nbytes]
        del wait
        for _ in range(200):  # the scheduler forgets released keys shortly after
            if not client.who_has():
                break
            time.sleep(0.05)
        assert not client.who_has()  # neither the arrays nor the result stay on the workers


def test_keeper_spreads_tasks_and_copies_a_result_to_every_worker() -> None:
    """``spread`` sends the tasks to the workers in turn; ``everywhere`` leaves a copy of the
    result on each worker (the tasks that take it can run anywhere); a low ``priority`` task
    still runs and gives its result."""
    distributed = pytest.importorskip("distributed")
    from agrilend.scan.cluster import keeper  # noqa: PLC0415

    def where(_: int) -> str:
        return str(distributed.get_worker().address)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,  # fmt: skip
        distributed.Client(cluster) as client,
    ):
        keep = keeper(client)
        assert keep is not None
        ran = [f.result() for f in [keep(where, i, spread=True) for i in range(6)]]
        workers = sorted(client.nthreads())
        assert ran == [workers[i % 2] for i in range(6)]
        shared = keep(np.arange, 10, everywhere=True)
        assert sorted(client.who_has([shared])[shared.key]) == workers
        assert keep(int, "7", priority=-1).result() == 7
