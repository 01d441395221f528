"""Canary secrets across the whole path: never in logs, tracebacks, reports, caches or outputs.

A canary Sentinel Hub client secret sits in the environment of the demo and the county scan
(run as a user runs them, ``-vv``), of a successful and two failing ``agrilend fetch`` runs
(against the fake service and against a closed port on 127.0.0.1) with every logger at DEBUG;
a canary pseudonym key goes through the titles and subsidy readers and the manifest. Neither
canary may appear in any captured text or written byte, and every cache file is mode 0600 in
folders of mode 0700.
"""

from __future__ import annotations

import logging
import socket
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sentinelhub import SHConfig

from agrilend.cli.main import cli
from agrilend.credit import read_subsidies
from agrilend.inputs import InputFiles
from agrilend.manifest import build_manifest
from agrilend.parcels import read_titles
from agrilend.settings import get_settings
from tests.conftest import SAMPLE_DATA
from tests.reliability.conftest import CANARY_CLIENT_ID, CANARY_PSEUDONYM_KEY, CANARY_SECRET
from tests.remote_sensing._fake_sentinelhub import FakeSentinelHub, synthetic_source

BBOX = "500000,3999880,500100,4000000"
SEASON = ["--start", "2024-05-01", "--end", "2024-05-31"]


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    old = {lg.name: lg.level for lg in loggers}
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        for lg in loggers:
            lg.setLevel(old[lg.name])


@pytest.fixture
def sh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AGRILEND_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SH_CLIENT_ID", CANARY_CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", CANARY_SECRET)
    monkeypatch.delenv("SH_PROFILE", raising=False)
    return tmp_path / "cache"


def _fetch(out: Path, profile: str, *extra: str) -> tuple[int, str, str, BaseException | None]:
    res = CliRunner().invoke(
        cli,
        ["fetch", "sentinelhub", "--bbox", BBOX, "--crs", "EPSG:32650", *SEASON,
         "--profile", profile, "--out", str(out), "-vv", *extra],
    )  # fmt: skip
    return res.exit_code, res.stdout, res.stderr, res.exception


def test_fetch_success_and_failures_leak_no_secret(
    sh_env: Path, tmp_path: Path, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    texts: list[str] = []
    with FakeSentinelHub(
        synthetic_source(), client_id=CANARY_CLIENT_ID, client_secret=CANARY_SECRET
    ) as fake:
        SHConfig(
            use_defaults=True,
            sh_base_url=fake.url,
            sh_token_url=f"{fake.url}/oauth/token",
            download_sleep_time=0.01,
        ).save("fake")
        code, out, err, _ = _fetch(tmp_path / "ok.nc", "fake", "--json")
        assert code == 0, err
        texts += [out, err]
        assert any(CANARY_SECRET in b for b in fake.bodies), "the canary must have been sent"
        fake.script = [500] * 20
        code, out, err, exc = _fetch(tmp_path / "bad.nc", "fake", "--no-cache")
        assert code == 1
        texts += [out, err]
        if exc is not None:
            texts.append("".join(traceback.format_exception(exc)))
    port = _closed_port()
    SHConfig(
        use_defaults=True,
        sh_base_url=f"http://127.0.0.1:{port}",
        sh_token_url=f"http://127.0.0.1:{port}/oauth/token",
        download_sleep_time=0.01,
        max_download_attempts=2,
    ).save("closed")
    code, out, err, exc = _fetch(tmp_path / "closed.nc", "closed", "--no-cache")
    assert code == 1
    assert "Error:" in err
    texts += [out, err]
    if exc is not None:
        texts.append("".join(traceback.format_exception(exc)))
    log = every_logger_at_debug
    assert "DEBUG" in log.text
    texts += [log.text, *(r.getMessage() for r in log.records)]
    for text in texts:
        assert CANARY_SECRET not in text
    written = [p for p in _files(tmp_path) if "xdg" not in p.parts]  # xdg: the user's own config
    assert any(p.suffix == ".nc" for p in written)
    for p in written:
        assert CANARY_SECRET.encode() not in p.read_bytes(), p


def test_cache_files_are_private(
    sh_env: Path, tmp_path: Path, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    with FakeSentinelHub(
        synthetic_source(), client_id=CANARY_CLIENT_ID, client_secret=CANARY_SECRET
    ) as fake:
        SHConfig(
            use_defaults=True, sh_base_url=fake.url, sh_token_url=f"{fake.url}/oauth/token"
        ).save("fake")
        code, _, err, _ = _fetch(tmp_path / "ok.nc", "fake")
    assert code == 0, err
    files = _files(sh_env)
    assert any("token" in str(p) for p in files), files  # the token is cached
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p, oct(p.stat().st_mode))
        assert CANARY_SECRET.encode() not in p.read_bytes()
    for d in [q for q in sh_env.rglob("*") if q.is_dir()]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, (d, oct(d.stat().st_mode))


@pytest.mark.slow
@pytest.mark.parametrize("run", ["demo", "scan"])
def test_demo_and_scan_leak_no_secret(canary_runs: dict[str, Any], run: str) -> None:
    result = canary_runs[run]
    assert result["returncode"] == 0, result["log"][-3000:]
    assert "DEBUG" in result["log"]
    for text in (result["log"], result["stdout"]):
        assert CANARY_SECRET not in text
        assert CANARY_CLIENT_ID not in text
    written = _files(result["out"])
    assert written
    for p in [*written, *_files(canary_runs["cache"])]:
        data = p.read_bytes()
        assert CANARY_SECRET.encode() not in data, p
    for p in _files(canary_runs["cache"]):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_pseudonym_key_never_shows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AGRILEND_PSEUDONYM_KEY", CANARY_PSEUDONYM_KEY)
    settings = get_settings()
    assert not settings.uses_demo_key
    titles = read_titles(SAMPLE_DATA / "titles.gpkg", mapping=SAMPLE_DATA / "titles_mapping.toml")
    subsidies = read_subsidies(SAMPLE_DATA / "subsidies.csv", errors="drop")
    rejected = subsidies.attrs.pop("rejected")
    manifest = build_manifest(InputFiles.sample())
    texts = [
        repr(settings),
        str(settings),
        titles.astype(str).to_csv(),
        subsidies.to_csv(),
        rejected.to_csv(),
        str(manifest),
        every_logger_at_debug.text,
    ]
    for text in texts:
        assert CANARY_PSEUDONYM_KEY not in text
    assert manifest["pseudonym_key"] == "set (not shown)"
    out = tmp_path / "t.parquet"
    titles.to_parquet(out)
    assert CANARY_PSEUDONYM_KEY.encode() not in out.read_bytes()
