"""How long a field officer waits for a report: render (HTML), print (PDF), look (Chromium).

Run once: ``python benchmarks/bench_report.py``. Uses the hand-built test assessment (3 parcels
of one household, 36 dates, a 96 x 80 px cube) so it needs no pipeline; prints seconds and
sizes per language and per PDF engine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agrilend.report import render_report
from agrilend.report._chromium import Chromium, find_chromium
from agrilend.report.pdf import html_to_pdf
from tests.report import _fixtures


def main() -> None:
    assessment, cube = _fixtures.build()
    owner = _fixtures.OWNERS[0]
    render_report(assessment, owner, cube=cube)  # warm up imports and font cache
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    print(f"{'step':<28} {'lang':<4} {'seconds':>8} {'size kB':>8}")
    for lang in ("en", "zh"):
        t = time.perf_counter()
        page = render_report(assessment, owner, cube=cube, lang=lang, out=tmp / f"r_{lang}.html")
        dt = time.perf_counter() - t
        assert isinstance(page, Path)
        print(
            f"{'render html (3 parcels)':<28} {lang:<4} {dt:8.2f} {page.stat().st_size / 1e3:8.0f}"
        )
        t = time.perf_counter()
        render_report(assessment, owner, lang=lang)
        print(f"{'render html, no imagery':<28} {lang:<4} {time.perf_counter() - t:8.2f}")
        for engine in ("weasyprint", "chromium"):
            if engine == "chromium" and find_chromium() is None:
                continue
            out = tmp / f"r_{lang}_{engine}.pdf"
            t = time.perf_counter()
            html_to_pdf(page.read_text(encoding="utf-8"), out, engine=engine)  # type: ignore[arg-type]
            dt = time.perf_counter() - t
            print(f"{'pdf ' + engine:<28} {lang:<4} {dt:8.2f} {out.stat().st_size / 1e3:8.0f}")
    if find_chromium() is not None:
        with Chromium() as browser:
            t = time.perf_counter()
            cap = browser.capture(tmp / "r_en.html")
            print(f"{'chromium capture':<28} {'en':<4} {time.perf_counter() - t:8.2f} "
                  f"{len(cap.screenshot) / 1e3:8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
