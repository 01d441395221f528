"""A small scanned county and its monitoring season, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._scan_county import make_county, make_light_context

SIZE = 64
SEED = 5


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished scan of a 64 x 64 px county, and a season cube and weather after it."""
    from agrilend.scan import load_context, scan  # noqa: PLC0415
    from agrilend.synthetic.monitor_season import build_monitor_season  # noqa: PLC0415

    root = tmp_path_factory.mktemp("monitor")
    files = make_county(root / "county", size=SIZE, seed=SEED)
    ctx = load_context(make_light_context(files, root / "ctx"))
    scan(files, root / "scan", workers=0, context=ctx)
    cube, weather, truth = build_monitor_season(
        seed=SEED, size_px=(SIZE, SIZE), start="2025-04-05", end="2025-08-23",
        revisit_days=10, fine=2,
    )  # fmt: skip
    cube.to_netcdf(root / "season.nc")
    weather.to_csv(root / "weather.csv", index=False)
    truth.to_csv(root / "truth.csv", index=False)
    return {"root": root, "scan": root / "scan", "imagery": root / "season.nc",
            "weather": root / "weather.csv", "truth": root / "truth.csv",
            "titles": Path(files.titles)}  # fmt: skip
