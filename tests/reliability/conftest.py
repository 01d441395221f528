"""Fixtures of the reliability suite: one small county with bad parcels mixed in, assessed once."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from tests.reliability._builders import mixed_titles

#: The small county of the batch catalogue: 60 x 60 pixels hold 35 titles, enough declared
#: parcels of two crops for the out-of-fold crop model.
SIZE_PX = (60, 60)


@pytest.fixture(scope="session")
def small_cube() -> Any:
    from agrilend.testing import make_test_cube  # noqa: PLC0415

    return make_test_cube(seed=0, size_px=SIZE_PX)


@pytest.fixture(scope="session")
def small_titles() -> Any:
    from agrilend.testing import make_test_titles  # noqa: PLC0415

    return make_test_titles(seed=0, size_px=SIZE_PX)


@pytest.fixture(scope="session")
def mixed_batch(small_cube: Any, small_titles: Any) -> tuple[Any, Any, dict[str, set[str]]]:
    """``(assessment, titles, expected statuses of the bad ids)`` of the good and bad parcels."""
    from agrilend.errors import GeometryRepairedWarning  # noqa: PLC0415
    from agrilend.pipeline import assess  # noqa: PLC0415
    from agrilend.yield_models.yields import read_county_yields  # noqa: PLC0415
    from tests.conftest import SAMPLE_DATA  # noqa: PLC0415

    titles, expected = mixed_titles(small_titles, small_cube.rio.bounds())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeometryRepairedWarning)
        result = assess(
            small_cube, titles, county_yields=read_county_yields(SAMPLE_DATA / "county_yields.csv")
        )
    # the only warning the batch may give: invalid geometries were repaired (and which)
    kinds = {type(w.message) for w in caught}
    assert kinds <= {GeometryRepairedWarning}, kinds
    return result, titles, expected


# --- one demo and one scan, run as a user runs them, with canary secrets in the environment ------

#: Canary secrets: if either string shows up in any log, message, cache file or output, it leaked.
CANARY_SECRET = "canary-sh-secret-5b2e9d0f-never-log-me"
CANARY_CLIENT_ID = "canary-client-id-0c4f"
CANARY_PSEUDONYM_KEY = "canary-pseudonym-key-71ad3e"


def _command() -> list[str]:
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    exe = Path(sys.executable).with_name("agrilend")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "agrilend"]


@pytest.fixture(scope="session")
def canary_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``agrilend demo`` and ``agrilend scan`` on the sample county, at the same time, with
    ``-vv`` and canary Sentinel Hub credentials in the environment.

    Returns ``{"demo": {...}, "scan": {...}, "cache": Path, "env": dict}``; each run holds its
    ``out`` folder, ``log`` (stderr, DEBUG), ``stdout`` and ``returncode``.
    """
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    from tests.conftest import SAMPLE_DATA  # noqa: PLC0415

    root = tmp_path_factory.mktemp("canary")
    env = {
        **os.environ,
        "AGRILEND_CACHE_DIR": str(root / "cache"),
        "XDG_CONFIG_HOME": str(root / "xdg"),
        "SH_CLIENT_ID": CANARY_CLIENT_ID,
        "SH_CLIENT_SECRET": CANARY_SECRET,
    }
    # the session's pseudonym key (tests/conftest.py), so the demo's numbers can be compared with
    # the session's sample assessment; the key's own secrecy is tested in-process (test_secrets.py)
    env.pop("AGRILEND_ALLOW_REMOTE", None)
    s = SAMPLE_DATA
    args = {
        "demo": ["demo", "--out", str(root / "demo"), "--json", "-vv"],
        "scan": [
            "scan", "--titles", str(s / "titles.gpkg"), "--mapping", str(s / "titles_mapping.toml"),
            "--imagery", str(s / "imagery.nc"), "--subsidies", str(s / "subsidies.csv"),
            "--weather", str(s / "weather.csv"), "--policy", str(s / "policy.toml"),
            "--yields", str(s / "county_yields.csv"), "--out", str(root / "scan"),
            "--workers", "0", "--json", "-vv",
        ],
    }  # fmt: skip
    procs = {}
    for name, a in args.items():
        log = (root / f"{name}.log").open("w", encoding="utf-8")
        procs[name] = (
            subprocess.Popen(
                [*_command(), *a],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                cwd=root,
            ),
            log,
        )
    runs: dict[str, Any] = {"cache": root / "cache", "env": env, "root": root}
    for name, (proc, log) in procs.items():
        stdout, _ = proc.communicate(timeout=1500)
        log.close()
        runs[name] = {
            "out": root / name,
            "stdout": stdout,
            "log": (root / f"{name}.log").read_text(encoding="utf-8"),
            "returncode": proc.returncode,
        }
    return runs
