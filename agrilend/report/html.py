"""Turn one household's (or parcel's) part of an :class:`~agrilend.pipeline.Assessment` into HTML.

:func:`report_context` gathers what the template shows (numbers formatted, figures drawn) and
:func:`render_html` fills ``templates/report.html.j2``. The page is self-contained: styles are
inline and every image is a ``data:`` URI, so it opens offline and can be mailed as one file.

Key figures carry ``data-figure`` (name) and ``data-value`` (the raw number) attributes, so tests
and scripts can read them from the page without parsing formatted text.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import xarray as xr

from agrilend.report import maps, officer
from agrilend.report._templates import environment
from agrilend.report.county_sections import (
    SUBSIDY_COLUMNS,
    provenance_view,
    subsidy_rows,
    weather_events,
    weather_rows,
)
from agrilend.report.credit_beyond import credit_beyond_view
from agrilend.report.household_view import curve_uri, household_view, parcel_row
from agrilend.report.i18n import (
    Lang,
    fmt_date,
    fmt_percent,
    labels,
    text,
)
from agrilend.report.target import Target, resolve_target

if TYPE_CHECKING:  # only the type is needed; the page renders any object shaped like it
    from agrilend.assessment import Assessment


#: Metres around the target within which the overview map draws a county's other titles.
NEIGHBOURHOOD_M = 1500.0


def _near(titles: gpd.GeoDataFrame, target: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The titles within :data:`NEIGHBOURHOOD_M` of the target's bounding box."""
    if not len(target) or not len(titles):
        return titles.iloc[:0]
    minx, miny, maxx, maxy = target.to_crs(titles.crs).total_bounds
    d = NEIGHBOURHOOD_M
    return titles.cx[minx - d : maxx + d, miny - d : maxy + d]


def report_context(
    assessment: Assessment,
    target_id: str,
    *,
    cube: xr.Dataset | None = None,
    lang: Lang = "en",
    generated: dt.datetime | None = None,
    neighbours: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Everything the report template shows for ``target_id``, formatted in ``lang``.

    ``neighbours`` are titles to draw around the target in the overview map, instead of the
    assessment's parcels: those within :data:`NEIGHBOURHOOD_M` of it (a household decided alone
    from a scan's context is shown among the county's titles near it).

    Raises
    ------
    UnknownTargetError
        When ``target_id`` is neither a household pseudonym nor a parcel id of ``assessment``.
    """
    target = resolve_target(assessment, target_id)
    sel = target.parcels.reset_index(drop=True)
    hh_parcels = (
        assessment.parcels[assessment.parcels["owner_ref"].astype(str) == target.owner_ref]
        if target.owner_ref is not None
        else target.parcels
    )
    scene = maps.pick_clear_scene(cube, sel) if cube is not None else None
    detail: list[dict[str, Any]] = []
    if scene is not None and cube is not None:
        for group in maps.parcel_groups(sel):
            numbers = [i + 1 for i in group]
            rgb, ndvi = maps.parcel_maps(
                cube, sel.iloc[group], scene=scene, lang=lang, numbers=numbers
            )
            detail.append({"rgb": rgb, "ndvi": ndvi, "numbers": ", ".join(map(str, numbers))})
    overview_uri = maps.overview_map(
        assessment.parcels if neighbours is None else _near(neighbours, sel),
        hh_parcels if target.kind == "household" else sel,
        cube=cube,
        lang=lang,
    )
    county_yields = (
        dict(assessment.context.county_yields) if assessment.context is not None else None
    )
    parcel_rows = [
        parcel_row(i, row, lang, county_yields) for i, (_, row) in enumerate(sel.iterrows())
    ]
    for i, (_, row) in enumerate(sel.iterrows()):
        parcel_rows[i]["curve"] = curve_uri(assessment, i, row, lang)
    weather = weather_rows(assessment, target.owner_ref, lang)
    when = generated or dt.datetime.now(dt.UTC)
    return {
        "lang": lang,
        "t": labels(lang),
        "kind": target.kind,
        "target_id": target.target_id,
        "owner_ref": target.owner_ref,
        "title": text("title_household" if target.kind == "household" else "title_parcel", lang),
        "generated": when.strftime("%Y-%m-%d %H:%M UTC"),
        "household": household_view(target.household, lang),
        "parcels": parcel_rows,
        "visits": officer.visit_cards(sel, lang),
        "maps": {
            "detail": detail,
            "overview": overview_uri,
            "date": fmt_date(scene.time) if scene else None,
            "clear_share": fmt_percent(scene.clear_fraction, lang=lang) if scene else None,
        },
        "weather": weather,
        "weather_events": weather_events(assessment, target.owner_ref, lang),
        "subsidies": subsidy_rows(assessment, target),
        "credit_beyond": credit_beyond_view(assessment, target.owner_ref, lang),
        "provenance": provenance_view(assessment, target, lang),
        "monitoring": [],
    }


def render_html(context: dict[str, Any]) -> str:
    """Fill the report template with a :func:`report_context`."""
    return environment().get_template("report.html.j2").render(**context)


__all__ = ["SUBSIDY_COLUMNS", "Target", "render_html", "report_context", "resolve_target"]
