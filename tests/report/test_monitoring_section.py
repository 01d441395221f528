"""The household report shows the monitoring history it is given (agrilend.monitor's hook)."""

from __future__ import annotations

import xarray as xr

from agrilend.pipeline import Assessment
from tests.report.conftest import HOUSEHOLD


def test_report_shows_monitoring_history(built: tuple[Assessment, xr.Dataset]) -> None:
    from agrilend.report.html import render_html, report_context  # noqa: PLC0415

    assessment, _ = built
    history = [{"run": 1, "first_date": "2025-03-02", "last_date": "2025-06-30",
                "action": "extend_tenor", "coverage": 0.8, "events": ["drought"],
                "reason_en": "an area-wide shock", "reason_zh": "区域性灾害"}]  # fmt: skip
    context = report_context(assessment, HOUSEHOLD)  # render_report adds ``monitoring`` to it
    assert "In-season monitoring" not in render_html(context)
    en = render_html({**context, "monitoring": history})
    zh = render_html({**context, "lang": "zh", "monitoring": history})
    assert "In-season monitoring" in en
    assert "an area-wide shock" in en
    assert "贷中监测" in zh
    assert "区域性灾害" in zh
