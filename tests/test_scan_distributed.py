"""The same scan on separate Dask worker processes equals the single-process scan."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agrilend.inputs import InputFiles
from agrilend.scan import load_context, scan
from agrilend.scan.outputs import read_households, read_parcels
from tests._scan_county import make_county, make_light_context

pytestmark = [
    pytest.mark.slow,
    # assess._peer_curves: nanquantile over dates no parcel of a small crop observed (see
    # tests/test_scan.py)
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
    # a worker's HTTP server leaks its probe socket when its preferred port is taken by
    # another Dask cluster on the machine (distributed.node.start_http_server)
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path]:
    root = tmp_path_factory.mktemp("dist-county")
    files = make_county(root / "county", size=100, seed=11)
    return files, make_light_context(files, root / "ctx")


def _same(a: Path, b: Path) -> None:
    pa, pb = read_parcels(a), read_parcels(b)
    assert pa["parcel_id"].is_unique
    pd.testing.assert_frame_equal(pa, pb)
    pd.testing.assert_frame_equal(read_households(a), read_households(b))
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()


def test_local_cluster_and_scheduler_address_equal_single_process(
    county: tuple[InputFiles, Path], tmp_path: Path
) -> None:
    from dask.distributed import LocalCluster  # noqa: PLC0415

    files, ctx = county
    single = tmp_path / "single"
    scan(files, single, chunk_size_px=30, workers=0, context=load_context(ctx))

    local = tmp_path / "local"
    result = scan(files, local, chunk_size_px=30, workers=2, context=load_context(ctx))
    assert result.chunks > 2
    assert result.computed == result.chunks
    _same(single, local)

    remote = tmp_path / "remote"
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        scan(
            files, remote, chunk_size_px=30, scheduler=cluster.scheduler_address,
            context=load_context(ctx),
        )  # fmt: skip
    _same(single, remote)


def test_titles_are_read_on_a_worker_with_the_clients_key_and_what_it_logged_is_logged_here(
    county: tuple[InputFiles, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client never reads the titles (:mod:`agrilend.scan.staging`): a worker does, with
    the client's pseudonym key (a cluster's workers need none of their own), and the client
    logs what the reading logged."""
    import logging  # noqa: PLC0415

    from dask.distributed import LocalCluster  # noqa: PLC0415

    from agrilend.parcels import read_titles  # noqa: PLC0415

    files, ctx = county
    key = "a-client-only-key-for-this-test-0123456789"
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY_FILE", raising=False)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:  # its worker started with no key: it would use the public demo key
        monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY", key)
        with caplog.at_level(logging.INFO, logger="agrilend"):
            scan(
                files, tmp_path / "out", chunk_size_px=30, scheduler=cluster.scheduler_address,
                context=load_context(ctx),
            )  # fmt: skip
    expected = read_titles(files.titles, mapping=files.titles_mapping, key=key)
    got = read_parcels(tmp_path / "out")
    assert got["owner_ref"].tolist() == expected["owner_ref"].tolist()
    assert got["owner_ref"].str.startswith("H-").all()
    read = [
        r for r in caplog.records if r.name == "agrilend.parcels.titles" and "read" in r.message
    ]
    assert [r.getMessage() for r in read] == [f"titles.gpkg: read {len(expected)} titles"]
