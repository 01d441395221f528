"""Print a report's HTML to PDF.

Two engines: **WeasyPrint** (the ``pdf`` extra, ``pip install "agrilend[pdf]"``) is the default
because it is a plain Python package that needs no browser; **Chromium** (``--print-to-pdf`` over
the DevTools pipe) is used when WeasyPrint is not installed, or on request. Both honour the
report's ``@page`` A4 rules and embed the fonts, so Chinese prints without missing glyphs when a
CJK font (Debian: ``fonts-noto-cjk``) is installed.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path
from typing import Literal

from agrilend.errors import ReportError
from agrilend.outputs import write_bytes
from agrilend.report._chromium import Chromium, find_chromium

log = logging.getLogger(__name__)

PdfEngine = Literal["auto", "weasyprint", "chromium"]


def available_engine() -> Literal["weasyprint", "chromium"] | None:
    """The engine ``engine="auto"`` would use, or None when neither is installed.

    Examples
    --------
    >>> available_engine() in {"weasyprint", "chromium", None}
    True
    """
    if importlib.util.find_spec("weasyprint") is not None:
        return "weasyprint"
    if find_chromium() is not None:
        return "chromium"
    return None


def html_to_pdf(html: str, out: str | Path, *, engine: PdfEngine = "auto") -> Path:
    """Write ``html`` (a self-contained page) to the PDF file ``out``.

    Raises
    ------
    ReportError
        When the chosen engine is not installed or fails.
    """
    out = Path(out)
    chosen = available_engine() if engine == "auto" else engine
    if chosen is None:
        raise ReportError(
            'no PDF engine is installed; run `pip install "agrilend[pdf]"` (WeasyPrint) or '
            "install Chromium, or leave out --pdf"
        )
    log.info("printing %s with %s", out.name, chosen)
    if chosen == "weasyprint":
        try:
            import weasyprint  # noqa: PLC0415  (optional dependency, imported when asked for)
        except ImportError as exc:
            raise ReportError(
                'WeasyPrint is not installed; run `pip install "agrilend[pdf]"`'
            ) from exc
        try:
            data = weasyprint.HTML(string=html, base_url=str(out.parent)).write_pdf()
        except Exception as exc:  # WeasyPrint raises many kinds; say which file failed
            raise ReportError(f"WeasyPrint could not print {out.name}: {exc}") from exc
        return write_bytes(out, data)
    with tempfile.TemporaryDirectory(prefix="agrilend-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        with Chromium() as browser:
            data = browser.print_pdf(page)
    return write_bytes(out, data)


__all__ = ["PdfEngine", "available_engine", "html_to_pdf"]
