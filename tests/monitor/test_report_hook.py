"""The household report shows the monitoring history it is given."""

from __future__ import annotations


def test_report_shows_monitoring_history() -> None:
    from agrilend.report import render_report  # noqa: PLC0415
    from agrilend.testing import make_test_assessment  # noqa: PLC0415

    a, _ = make_test_assessment(seed=3)
    owner = a.households["owner_ref"].iloc[0]
    history = [{"run": 1, "first_date": "2025-03-02", "last_date": "2025-06-30",
                "action": "extend_tenor", "coverage": 0.8, "events": ["drought"],
                "reason_en": "an area-wide shock", "reason_zh": "区域性灾害"}]  # fmt: skip
    en = str(render_report(a, owner, monitoring=history))
    zh = str(render_report(a, owner, monitoring=history, lang="zh"))
    assert "In-season monitoring" in en
    assert "an area-wide shock" in en
    assert "贷中监测" in zh
    assert "区域性灾害" in zh
    assert "In-season monitoring" not in str(render_report(a, owner))
