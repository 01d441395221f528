"""``agrilend scan``: --peer-tile-px reaches the scan, and Dask's INFO lines stay off stderr.

The option tests replace :func:`agrilend.scan.scan` by a recorder (the command is under test);
one test runs a real scan on a local Dask cluster in a child process and reads its stderr.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

import agrilend.scan
from agrilend.cli import scan as scan_cli
from agrilend.cli.main import cli
from agrilend.cli.options import DASK_LOG_ENV, quiet_dask
from agrilend.scan.county_step import PEER_TILE_PX
from tests._scan_county import cli_args, make_county, make_light_context

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of each call of the scan (which does nothing)."""
    seen: list[dict[str, Any]] = []

    def fake_scan(files: Any, out: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        summary = {"parcels": 0, "households": 0, "decisions": {}, "credit_total": 0.0,
                   "currency": "CNY"}  # fmt: skip
        return SimpleNamespace(out_dir=out, written=True, chunks=0, computed=0, quarantined={},
                               timings={}, summary=summary)  # fmt: skip

    monkeypatch.setattr(agrilend.scan, "scan", fake_scan)
    return seen


@pytest.mark.parametrize(
    ("given", "expected"),
    [(["--peer-tile-px", "2048"], 2048), (["--peer-tile-px", "1"], 1),
     (["--peer-tile-px", "0"], None), (["--peer-tile-px", "none"], None),
     (["--peer-tile-px", " None "], None)],
)  # fmt: skip
def test_peer_tile_px_is_passed_to_the_scan(
    calls: list[dict[str, Any]], tmp_path: Path, given: list[str], expected: int | None
) -> None:
    res = CliRunner().invoke(cli, ["scan", "--out", str(tmp_path / "o"), *given, "-q"])
    assert res.exit_code == 0, res.output
    assert len(calls) == 1
    assert "peer_tile_px" in calls[0]
    assert calls[0]["peer_tile_px"] == expected


def test_without_the_option_the_scan_keeps_its_default(
    calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    res = CliRunner().invoke(cli, ["scan", "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 0, res.output
    assert "peer_tile_px" not in calls[0]
    import inspect  # noqa: PLC0415

    default = inspect.signature(agrilend.scan.runner.scan).parameters["peer_tile_px"].default
    assert default == PEER_TILE_PX == scan_cli.DEFAULT_PEER_TILE_PX


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "", "1e3"])
def test_a_bad_tile_side_is_a_usage_error(
    calls: list[dict[str, Any]], tmp_path: Path, bad: str
) -> None:
    res = CliRunner().invoke(cli, ["scan", "--out", str(tmp_path / "o"), "--peer-tile-px", bad])
    assert res.exit_code == 2
    assert "--peer-tile-px" in res.output
    assert "positive whole number" in res.output
    assert calls == []


def test_help_documents_the_option_and_the_readme_too() -> None:
    res = CliRunner().invoke(cli, ["scan", "--help"])
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "--peer-tile-px" in text
    assert "0 or none" in text
    assert f"default: {PEER_TILE_PX}" in text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "--peer-tile-px" in readme


def test_verbosity_sets_the_level_of_dasks_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask  # noqa: PLC0415
    import distributed  # noqa: PLC0415, F401  (imported: its loggers are set directly too)

    monkeypatch.delenv(DASK_LOG_ENV, raising=False)
    logger = logging.getLogger("distributed")
    before = logger.level, dask.config.get("logging.distributed", None)
    try:
        quiet_dask(logging.INFO)  # -v
        assert os.environ[DASK_LOG_ENV] == "info"
        assert dask.config.get("logging.distributed") == "info"
        assert logger.getEffectiveLevel() == logging.INFO
        quiet_dask(logging.WARNING)  # the default
        assert os.environ[DASK_LOG_ENV] == "warning"
        assert dask.config.get("logging.distributed") == "warning"
        assert not logger.isEnabledFor(logging.INFO)
        assert logger.isEnabledFor(logging.WARNING)
    finally:
        logger.setLevel(before[0])
        dask.config.set({"logging.distributed": before[1] or "info"})


@pytest.mark.slow
def test_a_scan_on_dask_writes_no_info_line_of_distributed_on_stderr(tmp_path: Path) -> None:
    """A real scan on a local cluster (scheduler and nannies in the command, one worker
    process), run as a user runs it: its stderr holds no INFO line of ``distributed``. (With
    ``-v`` they are shown: ``test_verbosity_sets_the_level_of_dasks_loggers``.)"""
    files = make_county(tmp_path / "county", size=40)
    ctx = make_light_context(files, tmp_path / "ctx")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env["PYTHONPATH"] = str(REPO)
    args = [*cli_args(files, tmp_path / "out"), "--workers", "1", "--context", str(ctx)]
    proc = subprocess.run(
        [sys.executable, "-m", "agrilend", *args, "--peer-tile-px", "none"],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = re.compile(r"(^INFO distributed)|(distributed\.[\w.]+ - INFO)", re.MULTILINE)
    assert not info.search(proc.stderr), proc.stderr[:3000]
    assert "households" in proc.stdout  # it did scan
    summary = (tmp_path / "out" / "summary.json").read_text(encoding="utf-8")
    assert '"tile_px": null' in summary  # --peer-tile-px none reached the scan
