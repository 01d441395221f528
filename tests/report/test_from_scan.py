"""One truth: a report on a scanned household says what the scan says; and the scan's pages and
tables are what an analyst and a branch office expect (bilingual, numbers as numbers, a BOM).

The sample county is scanned once for the module (in process, about half a minute).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from agrilend.cli.main import cli
from agrilend.errors import UnknownTargetError
from agrilend.inputs import InputFiles
from agrilend.remote_sensing import clean_series
from agrilend.report import figures, maps
from agrilend.report.from_scan import (
    ScanFolder,
    check_target,
    curve_grid,
    normalise_id,
    report_path,
    scan_assessment,
)
from agrilend.report.html import render_html, report_context
from agrilend.scan import scan
from tests.report._dom import figure_values, parse

pytestmark = pytest.mark.slow
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Codes that must never reach a person raw (the defect: they did, in both languages).
RAW = re.compile(r"crop_mismatch|not_cultivated|partly_abandoned|area_mismatch|over_declared")
_PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-scan") / "scan"
    scan(InputFiles.sample(), out, workers=0)
    return out


@pytest.fixture(scope="module")
def households(scanned: Path) -> pd.DataFrame:
    return pd.read_parquet(scanned / "households.parquet")


def test_every_household_report_says_what_the_scan_says(
    scanned: Path, households: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the figures are not under test here: a one-pixel stand-in keeps 160 pages fast
    monkeypatch.setattr(figures, "ndvi_curve", lambda *a, **k: _PNG)
    monkeypatch.setattr(maps, "overview_map", lambda *a, **k: _PNG)
    folder = ScanFolder(scanned)
    parcels = pd.read_parquet(scanned / "parcels.parquet")
    for k, (_, hh) in enumerate(households.iterrows()):
        owner = str(hh["owner_ref"])
        mine = parcels[parcels["owner_ref"] == owner]
        a = scan_assessment(folder, owner)
        # every household in English; in Chinese every refer, decline and fifth household
        both = hh["decision"] != "approve" or k % 5 == 0
        for lang in ("en", "zh") if both else ("en",):
            page = render_html(report_context(a, owner, lang=lang))
            assert figure_values(page, "credit_line") == [pytest.approx(hh["credit_line"])]
            assert [v for n, v in parse(page).figures if n == "decision"] == [hh["decision"]]
            np.testing.assert_allclose(
                figure_values(page, "crop_confidence"), mine["crop_confidence"], rtol=1e-9
            )
            text = " ".join(parse(page).text)
            for reason in json.loads(hh[f"reasons_{lang}"]):
                assert reason in text, (owner, lang)
            assert not RAW.search(text), (owner, lang)
        states = re.findall(r'data-crop-state="(\w+)"', page)
        assert len(states) == 2 * len(mine)  # the brief and the table


def test_report_command_takes_the_scans_rows(scanned: Path, households: pd.DataFrame) -> None:
    refer = households[households["decision"] == "refer"]
    row = (refer if len(refer) else households).iloc[0]
    owner = str(row["owner_ref"])
    typed = "h-" + owner[2:].upper()  # any case, h- too
    res = CliRunner().invoke(cli, ["report", typed, "--context", str(scanned), "--json", "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["target"] == owner
    assert summary["credit_line"] == pytest.approx(row["credit_line"])
    assert summary["decision"] == row["decision"]
    page = report_path(scanned, owner, "en")
    assert Path(summary["html"]) == page
    html = page.read_text(encoding="utf-8")
    if row["decision"] == "refer":
        assert "Proposed line" in html
        assert re.search(r'data-figure="headline">Referred because ', html)


def test_unknown_id_is_answered_from_the_scan_before_anything_heavy(scanned: Path) -> None:
    hh, pids = ScanFolder(scanned).ids()
    with pytest.raises(UnknownTargetError, match="did you mean"):
        check_target(hh[0][:-1] + "x", hh, pids, where="the scan")
    assert check_target(" " + hh[0].upper().replace("H-", "h-"), hh, pids, where="x") == hh[0]
    assert normalise_id(pids[0]) == pids[0]


def test_the_curve_grid_is_the_pipelines(scanned: Path) -> None:
    manifest = json.loads((scanned / "manifest.json").read_text(encoding="utf-8"))
    times = pd.DatetimeIndex(pd.to_datetime(manifest["imagery_dates"]))
    _, grid = clean_series(np.full((1, len(times)), np.nan), times, step="5D")
    assert list(curve_grid(times)) == list(pd.DatetimeIndex(grid))


def test_geopackage_stores_numbers_as_numbers_and_households(scanned: Path) -> None:
    gpkg = scanned / "parcels.gpkg"
    layers = {str(name) for name, _ in pyogrio.list_layers(gpkg)}
    assert {"parcels", "households"} <= layers
    info = pyogrio.read_info(gpkg, layer="parcels")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    numeric = ["crop_confidence", "vigour", "vigour_z", "sos_shift_days", "yield_t_ha"]
    numeric += [c for c in ("yield_low", "yield_high") if c in types]
    for col in numeric:
        assert types[col] in {"float64", "float32"}, (col, types[col])
    hh = pyogrio.read_info(gpkg, layer="households")
    hh_types = dict(zip(hh["fields"], hh["dtypes"], strict=True))
    assert hh["features"] == len(pd.read_parquet(scanned / "households.parquet"))
    assert hh_types["credit_line"] == "float64"
    assert hh["geometry_type"] in {"MultiPolygon", "Unknown"}


def test_households_csv_opens_in_excel(scanned: Path) -> None:
    raw = (scanned / "households.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(scanned / "households.csv", encoding="utf-8-sig")
    assert CJK.search(" ".join(table["reasons_zh"].astype(str)))


def _page(path: Path) -> Any:
    return parse(path.read_text(encoding="utf-8"))


def test_summary_page_is_bilingual_with_map_villages_and_flags(scanned: Path) -> None:
    html = (scanned / "summary.html").read_text(encoding="utf-8")
    p = _page(scanned / "summary.html")
    text = " ".join(p.text)
    assert "<style>" in html
    assert CJK.search(text)
    assert "Decisions by village" in text
    assert "按村组统计" in text
    assert "Parcel flags by kind" in text
    assert "部分撂荒" in text or "未耕种" in text
    assert not RAW.search(text)
    assert any(str(i.get("src", "")).startswith("data:image/png") for i in p.images)
    assert "households.html" in p.links
    # each village links to its households' first page, filtered to it
    village_links = [x for x in p.links if x.startswith("households/page-")]
    assert village_links
    for link in village_links:
        path, query = link.split("?")
        assert (scanned / path).exists()
        assert query.startswith("village=")
    summary = json.loads((scanned / "summary.json").read_text(encoding="utf-8"))
    for code, n in summary["decisions"].items():
        assert f'data-figure="decisions_{code}">{n}<' in html
    # the villages' credit adds up to the approved total: referred proposals are not lent
    from agrilend.report.county import _by_village  # noqa: PLC0415
    from agrilend.scan.outputs import read_households, read_parcels  # noqa: PLC0415

    villages = _by_village(read_parcels(scanned), read_households(scanned))
    assert sum(v["credit"] for v in villages) == pytest.approx(summary["credit_total"])
    assert f"{summary['credit_total']:,.0f}" in html


def test_household_list_filters_and_links_every_household(
    scanned: Path, households: pd.DataFrame
) -> None:
    """households.html is the index of the pages in households/: every household is on one
    page, with the filters and its report's link (relative to the page)."""
    index = _page(scanned / "households.html")
    pages = sorted((scanned / "households").glob("page-*.html"))
    assert pages
    assert {f"households/{p.name}" for p in pages} <= {x.split("?")[0] for x in index.links}
    assert "summary.html" in index.links
    rows = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        p = _page(page)
        rows += re.findall(r'data-household="(H-[0-9a-f]{12})" data-decision="(\w+)"', html)
        for select in ("f-decision", "f-flag", "f-village"):
            assert f'id="{select}"' in html
        assert p.scripts == 1
        assert "http://" not in html
        assert "https://" not in html  # static: nothing fetched
        text = " ".join(p.text)
        assert CJK.search(text)
        assert not RAW.search(text)
        for owner in re.findall(r'data-household="(H-[0-9a-f]{12})"', html):
            assert "../" + report_path(".", owner, "en").as_posix().removeprefix("./") in p.links
    assert sorted(o for o, _ in rows) == sorted(households["owner_ref"])


def _documented(section: str) -> tuple[set[str], set[str]]:
    """Columns of one table of docs/outputs.md: all of them, and the optional ones."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text(encoding="utf-8")
    body = doc.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    every: set[str] = set()
    optional: set[str] = set()
    for line in body.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, meaning = line.split("|")[1:3]
        names = set(re.findall(r"`([^`]+)`", names_cell))
        every |= names
        if meaning.strip().startswith("*(optional)*"):
            optional |= names
    return every, optional


@pytest.mark.parametrize(
    ("section", "file"),
    [
        ("parcels", "parcels.parquet"),
        ("households", "households.parquet"),
        ("season weather", "season_weather.parquet"),
        ("subsidies", "subsidies.parquet"),
    ],
)
def test_every_output_column_is_documented_once(scanned: Path, section: str, file: str) -> None:
    every, optional = _documented(section)
    real = set(pd.read_parquet(scanned / file).columns)
    assert real - every == set(), f"columns written but not in docs/outputs.md: {real - every}"
    missing = every - optional - real
    assert missing == set(), f"documented but not written: {missing}"
    if section in {"parcels", "households"}:  # the GeoPackage and CSV carry the same columns
        layer = pyogrio.read_info(scanned / "parcels.gpkg", layer=section)
        assert set(layer["fields"]) | {"geometry"} >= real - {"geometry"}


def test_a_large_scans_pages_read_centroids_as_numbers(
    scanned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above MAP_POLYGONS parcels the pages read each parcel's centroid as two float columns
    (no point objects in the client), and the county map draws them."""
    import shapely  # noqa: PLC0415

    from agrilend.report.county import county_map  # noqa: PLC0415
    from agrilend.scan import outputs as scan_outputs  # noqa: PLC0415
    from agrilend.scan.outputs import read_parcels  # noqa: PLC0415

    finals = sorted(str(p) for p in (scanned / "parcels.parquet").glob("*.parquet"))
    households = sorted(str(p) for p in (scanned / "households.parquet").glob("*.parquet"))
    outcome = type("Outcome", (), {"finals": finals, "households": households})()
    small, hh = scan_outputs.page_frames(outcome)
    assert "geometry" in small.columns
    assert "x" not in small.columns
    monkeypatch.setattr(scan_outputs, "MAP_POLYGONS", 10)
    large, hh_large = scan_outputs.page_frames(outcome)
    assert "geometry" not in large.columns
    assert large["x"].dtype == np.float64
    assert large["y"].dtype == np.float64
    pd.testing.assert_frame_equal(hh, hh_large)
    outlines = read_parcels(scanned).set_index("parcel_id").loc[large["parcel_id"]]
    centre = shapely.centroid(outlines.geometry.to_numpy())
    np.testing.assert_allclose(large["x"], shapely.get_x(centre), rtol=0, atol=1e-6)
    np.testing.assert_allclose(large["y"], shapely.get_y(centre), rtol=0, atol=1e-6)
    cols = ["parcel_id", "owner_ref", "status", "quality_flags"]
    pd.testing.assert_frame_equal(large[cols], small[cols])
    assert county_map(large, hh_large).startswith("data:image/png;base64,")


def test_centroids_of_a_missing_or_empty_outline_are_nan(tmp_path: Path) -> None:
    import geopandas as gpd  # noqa: PLC0415
    from shapely.geometry import Polygon, box  # noqa: PLC0415

    from agrilend.scan.outputs import _centroid_frame  # noqa: PLC0415

    frame = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"], "status": ["ok", "error", "ok"]},
        geometry=[box(0, 0, 2, 4), None, Polygon()], crs="EPSG:32650",
    )  # fmt: skip
    frame.to_parquet(tmp_path / "p.parquet")
    got = _centroid_frame([str(tmp_path / "p.parquet")], ["parcel_id", "status", "geometry"])
    assert got.columns.tolist() == ["parcel_id", "status", "x", "y"]
    assert got["parcel_id"].tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(got["x"], [1.0, np.nan, np.nan], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["y"], [2.0, np.nan, np.nan], rtol=0, atol=1e-12)
