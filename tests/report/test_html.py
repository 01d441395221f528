"""The report page carries the right numbers, in both languages, and stands alone."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from agrilend.errors import UnknownTargetError
from agrilend.pipeline import Assessment
from agrilend.report import render_report
from agrilend.report.target import resolve_target
from tests.report import _fixtures
from tests.report._dom import figure_values, parse
from tests.report.conftest import GENERATED, HOUSEHOLD

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_household_figures_match_the_assessment(
    built: tuple[Assessment, xr.Dataset], pages: dict[str, Path], lang: str
) -> None:
    assessment, _ = built
    html = pages[lang].read_text(encoding="utf-8")
    hh = assessment.households.set_index("owner_ref").loc[HOUSEHOLD]
    for name in ("credit_line", "expected_revenue", "input_cost", "subsidy_income"):
        assert figure_values(html, name) == [pytest.approx(float(hh[name]))], name
    assert figure_values(html, "tenor_months") == [float(hh["tenor_months"])]
    assert [v for n, v in parse(html).figures if n == "decision"] == [hh["decision"]]
    mine = assessment.parcels[assessment.parcels["owner_ref"] == HOUSEHOLD]
    for col in ("yield_t_ha", "cultivated_area_ha", "declared_area_ha", "crop_confidence"):
        np.testing.assert_allclose(figure_values(html, col), mine[col].to_numpy(), err_msg=col)
    # every reason is there, in the page's language
    reasons = hh["reasons_zh" if lang == "zh" else "reasons_en"]
    text = "".join(parse(html).text)
    for r in reasons:
        assert r in text


def test_both_languages_carry_the_same_figures(pages: dict[str, Path]) -> None:
    en = parse(pages["en"].read_text(encoding="utf-8"))
    zh = parse(pages["zh"].read_text(encoding="utf-8"))
    assert en.figures == zh.figures
    assert len(en.images) == len(zh.images)
    assert CJK.search("".join(zh.text))
    # the English page has Chinese only where the data has it (subsidy schemes, field names)
    en_cjk = set(CJK.findall("".join(en.text)))
    data = _fixtures.build()[0]
    assert en_cjk <= set("".join(data.subsidies["scheme"]) + "".join(data.parcels["DKMC"]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_is_self_contained(pages: dict[str, Path], lang: str) -> None:
    html = pages[lang].read_text(encoding="utf-8")
    p = parse(html)
    assert p.images, "the report has figures"
    for img in p.images:
        assert str(img["src"]).startswith("data:image/png;base64,")
    assert p.links == []
    assert p.scripts == 0
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)
    assert "url(http" not in html


def test_no_raw_owner_ids(pages: dict[str, Path], built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    assert (assessment.subsidies["owner_id"] == _fixtures.RAW_OWNER_ID).any()
    for page in pages.values():
        assert _fixtures.RAW_OWNER_ID not in page.read_text(encoding="utf-8")


def test_parcel_report_shows_one_parcel_and_its_household(
    built: tuple[Assessment, xr.Dataset],
) -> None:
    assessment, cube = built
    pid = str(assessment.parcels["parcel_id"].iloc[4])
    html = render_report(assessment, pid, cube=cube, generated=GENERATED)
    assert isinstance(html, str)
    row = assessment.parcels.iloc[4]
    assert figure_values(html, "yield_t_ha") == [pytest.approx(row["yield_t_ha"])]
    assert row["owner_ref"] in html
    line = assessment.households.set_index("owner_ref").loc[row["owner_ref"], "credit_line"]
    assert figure_values(html, "credit_line") == [pytest.approx(line)]


def test_report_without_cube_draws_only_the_overview(
    built: tuple[Assessment, xr.Dataset],
) -> None:
    assessment, _ = built
    html = render_report(assessment, HOUSEHOLD, generated=GENERATED)
    assert isinstance(html, str)
    maps = [img.get("data-map") for img in parse(html).images if img.get("data-map")]
    assert maps == ["overview"]
    assert "No imagery was given" in html


def test_unknown_target_lists_valid_ids(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    with pytest.raises(UnknownTargetError, match="H-0a1b2c3d4e5f") as info:
        render_report(assessment, "H-doesnotexist")
    assert info.value.target_id == "H-doesnotexist"
    assert "parcel id such as" in str(info.value)


def test_resolve_target_kinds(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    hh = resolve_target(assessment, HOUSEHOLD)
    assert hh.kind == "household"
    assert len(hh.parcels) == (assessment.parcels["owner_ref"] == HOUSEHOLD).sum()
    pid = str(assessment.parcels["parcel_id"].iloc[0])
    one = resolve_target(assessment, f" {pid} ")
    assert (one.kind, one.owner_ref, len(one.parcels)) == ("parcel", HOUSEHOLD, 1)


def test_bad_options(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    with pytest.raises(ValueError, match="lang"):
        render_report(assessment, HOUSEHOLD, lang="fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out"):
        render_report(assessment, HOUSEHOLD, pdf=True)


def test_a_household_decided_alone_is_drawn_among_its_neighbours() -> None:
    import geopandas as gpd  # noqa: PLC0415
    from shapely import box  # noqa: PLC0415

    from agrilend.report.html import _near  # noqa: PLC0415

    titles = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"]},
        geometry=[box(0, 0, 100, 100), box(1000, 0, 1100, 100), box(5000, 0, 5100, 100)],
        crs="EPSG:32650",
    )
    near = _near(titles, titles.iloc[[0]])
    assert list(near["parcel_id"]) == ["a", "b"]  # within 1.5 km; "c" is 4.9 km away
    assert _near(titles, titles.iloc[:0]).empty


def test_flagged_parcels_get_a_visit_card(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    declined = _fixtures.OWNERS[3]
    html = render_report(assessment, declined, lang="zh", generated=GENERATED)
    assert isinstance(html, str)
    p = parse(html)
    text = " ".join(p.text)
    # parcel 3: declared maize, seen soybean, flagged; parcel 4: over-declared
    assert "南洼2号" in text
    assert "南洼5号" in text
    assert "地里种的是什么作物" in text  # what to look at and photograph
    assert "若地里确为申报作物" in text  # which answer changes the decision
    assert html.count("<svg") >= 2  # a QR code per visit, inline
    geo = [link for link in p.links if link.startswith("geo:")]
    assert len(geo) == 2
    lat, lon = (float(x) for x in geo[0].removeprefix("geo:").split(","))
    assert 30 < lat < 40  # EPSG:32650 parcels near 36 N, 117 E
    assert 110 < lon < 120
    assert "作物与申报不符" in text
    assert "crop_mismatch" not in text


def test_crop_states_are_three(built: tuple[Assessment, xr.Dataset]) -> None:
    assessment, _ = built
    a = copy.deepcopy(assessment)
    a.parcels.loc[7, ["declared_crop", "crop", "crop_mismatch", "crop_confidence"]] = [
        "fallow", "winter_wheat_maize", False, 0.56
    ]  # fmt: skip
    html = render_report(a, _fixtures.OWNERS[7], lang="en", generated=GENERATED)
    assert isinstance(html, str)
    states = re.findall(r'data-crop-state="(\w+)"', html)
    assert "differs_uncertain" in states
    assert "differs, low confidence: check in the field" in html
    assert "matches the declared crop" in html  # parcel 7, maize seen as declared
