"""Reports for people: one household's or parcel's assessment as a self-contained HTML page.

:func:`render_report` is the entry point; the modules behind it are ``html`` (the page's
content), ``figures`` (NDVI curves), ``maps`` (true colour, NDVI and overview maps), ``i18n``
(English and Chinese labels) and ``pdf`` (printing).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agrilend.report.i18n import LANGS, Lang

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from agrilend.assessment import Assessment

log = logging.getLogger(__name__)


def render_report(
    assessment: Assessment,
    target_id: str,
    *,
    cube: xr.Dataset | None = None,
    lang: Lang = "en",
    out: str | Path | None = None,
    pdf: bool = False,
    generated: dt.datetime | None = None,
    neighbours: gpd.GeoDataFrame | None = None,
    monitoring: list[dict[str, Any]] | None = None,
) -> Path | str:
    """Render the report of one household (pseudonym ``H-...``) or one parcel.

    Parameters
    ----------
    assessment
        The result of :func:`agrilend.pipeline.assess` (any set of parcels that holds the target).
    target_id
        A household pseudonym or a parcel id.
    cube
        The imagery cube the assessment was made from; needed for the true-colour and NDVI
        maps (without it only the outline overview is drawn).
    lang
        ``"en"`` or ``"zh"``: the same content in English or Chinese.
    out
        Where to write the HTML file. Without it the HTML is returned as a string.
    pdf
        Also print the page to a PDF beside ``out`` (same name, ``.pdf``); needs ``out``.
    generated
        The time stamp printed on the report (default: now, UTC).
    neighbours
        Titles (e.g. the county's) whose ones near the target the overview map draws, instead
        of the assessment's parcels: for a household decided alone from a scan's context.
    monitoring
        The household's monitoring history
        (:func:`agrilend.monitor.household_history`), shown as a table when given.

    Returns
    -------
    Path or str
        The path of the HTML file written, or the HTML itself when ``out`` is None.

    Raises
    ------
    UnknownTargetError
        When no household or parcel carries ``target_id`` (the message shows valid examples).
    ReportError
        When ``pdf`` is asked for and no PDF engine is installed.

    Examples
    --------
    >>> from agrilend.testing import make_test_assessment
    >>> a, cube = make_test_assessment(seed=3)
    >>> html = render_report(a, a.households["owner_ref"].iloc[0], cube=cube)
    >>> html.lstrip().lower().startswith("<!doctype html>")
    True
    """
    from agrilend.report.html import render_html, report_context  # noqa: PLC0415  (matplotlib)

    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    if pdf and out is None:
        raise ValueError("pdf=True needs an output path (out=...)")
    context: dict[str, Any] = report_context(
        assessment, target_id, cube=cube, lang=lang, generated=generated, neighbours=neighbours
    )
    context["monitoring"] = list(monitoring or [])
    html = render_html(context)
    if out is None:
        return html
    from agrilend.outputs import write_text  # noqa: PLC0415

    path = write_text(out, html)  # a new file renamed into place: never through a planted link
    log.info("wrote %s (%d kB)", path, len(html) // 1024)
    if pdf:
        from agrilend.report.pdf import html_to_pdf  # noqa: PLC0415  (optional engines)

        html_to_pdf(html, path.with_suffix(".pdf"))
    return path


__all__ = [
    # rendering
    "render_report",
]
