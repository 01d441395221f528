"""Printing the report: the PDF opens, has pages with ink, and carries the key figures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from agrilend.errors import ReportError
from agrilend.pipeline import Assessment
from agrilend.report import pdf as pdf_module
from agrilend.report import render_report
from agrilend.report.i18n import fmt_money
from tests.report.conftest import GENERATED, HOUSEHOLD

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) is not installed",
)


@needs_poppler
@pytest.mark.slow
def test_chinese_pdf_prints_with_its_figures(
    built: tuple[Assessment, xr.Dataset], tmp_path: Path
) -> None:
    pytest.importorskip("weasyprint")
    assessment, cube = built
    out = render_report(
        assessment, HOUSEHOLD, cube=cube, lang="zh", out=tmp_path / "r.html", pdf=True,
        generated=GENERATED,
    )  # fmt: skip
    assert isinstance(out, Path)
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    hh = assessment.households.set_index("owner_ref").loc[HOUSEHOLD]
    assert "农户授信报告" in text  # Chinese glyphs embedded with their text, not boxes
    assert fmt_money(hh["credit_line"], hh["currency"], lang="zh") in text
    assert HOUSEHOLD in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    page = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("L"), dtype=float)
    assert page.shape[0] > page.shape[1]  # portrait A4
    assert page.std() > 20
    # the green masthead prints (backgrounds are kept)
    assert (page[: page.shape[0] // 8] < 100).mean() > 0.05


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pdf_module, "available_engine", lambda: None)
    with pytest.raises(ReportError, match=r"agrilend\[pdf\]"):
        pdf_module.html_to_pdf("<html></html>", tmp_path / "x.pdf")
