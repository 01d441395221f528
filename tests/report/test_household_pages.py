"""The household list in pages: bounded pages, every household reachable from the index (by
its page and by the search), nothing from the data turned into markup, stale pages removed,
and the pages working in headless Chromium (search, fragment, filters carried by the links)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest

from agrilend.report import household_pages as hp
from agrilend.report._chromium import Chromium
from tests.report._dom import parse
from tests.report._households import synthetic_tables

#: 1,234 households: three pages of 500 (the last one short).
N = 1_234
SHARD = re.compile(r"^agrilendSearch\((\d+), (.*)\);\n$", re.DOTALL)


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_tables(N, seed=3)


@pytest.fixture(scope="module")
def written(tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, hp.PagesWritten]:  # fmt: skip
    out = tmp_path_factory.mktemp("pages")
    parcels, households = tables
    return out, hp.write_household_pages(out, parcels, households, currency="CNY")


def _pages(out: Path) -> list[Path]:
    return sorted((out / hp.PAGES_DIR).glob("page-*.html"))


def _shard(out: Path, n: int) -> dict[str, list[list[object]]]:
    text = (out / hp.PAGES_DIR / "search" / f"s-{n:04d}.js").read_text(encoding="ascii")
    m = SHARD.match(text)
    assert m is not None
    assert int(m.group(1)) == n
    return dict(json.loads(m.group(2)))


def test_pages_are_bounded_and_linked_in_order(written: tuple[Path, hp.PagesWritten]) -> None:
    out, info = written
    pages = _pages(out)
    assert info.pages == len(pages) == 3
    assert info.households == N
    sizes = [p.stat().st_size for p in pages]
    # ~0.9 kB a household with these tables' long reasons: a page of 500 stays under 0.6 MB
    assert max(sizes) < 600_000, sizes
    for k, page in enumerate(pages, start=1):
        p = parse(page.read_text(encoding="utf-8"))
        assert "../households.html" in p.links
        assert "../summary.html" in p.links
        assert (hp.page_name(k - 1) in p.links) == (k > 1)
        assert (hp.page_name(k + 1) in p.links) == (k < len(pages))
        assert p.scripts == 1
    index = (out / "households.html").read_text(encoding="utf-8")
    assert len(index) < 100_000
    assert "http://" not in index
    assert "https://" not in index  # nothing fetched from elsewhere


def test_every_household_is_on_one_page_linked_from_the_index(
    written: tuple[Path, hp.PagesWritten], tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    out, _ = written
    parcels, households = tables
    index = parse((out / "households.html").read_text(encoding="utf-8"))
    linked = {link.split("?")[0] for link in index.links if link.startswith(hp.PAGES_DIR + "/")}
    assert linked == {f"{hp.PAGES_DIR}/{p.name}" for p in _pages(out)}
    seen: dict[str, str] = {}
    for page in _pages(out):
        html = page.read_text(encoding="utf-8")
        for owner in re.findall(r'<tr id="([^"]+)" data-household="', html):
            assert owner not in seen, owner
            seen[owner] = page.name
        links = set(parse(html).links)
        for owner in re.findall(r'<tr id="([^"]+)"', html):
            assert f"../reports/{owner}-en.html" in links
    assert set(seen) == set(households["owner_ref"])
    # households of one village are adjacent: each village's rows start on the page it names
    table = hp.page_table(parcels, households)
    assert table["village"].is_monotonic_increasing or (table["village"] == "").any()
    # the index counts match the table
    counts = households["decision"].value_counts()
    text = (out / "households.html").read_text(encoding="utf-8")
    for code, n in counts.items():
        assert f'data-figure="decisions_{code}">{n:,}<' in text


def test_the_search_finds_every_household_and_parcel_on_its_page(
    written: tuple[Path, hp.PagesWritten], tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    out, info = written
    parcels, households = tables
    body = re.search(r'data-shards="(\d+)"', (out / "households.html").read_text("utf-8"))
    assert body is not None
    assert int(body.group(1)) == info.shards > 1
    shards = {n: _shard(out, n) for n in range(info.shards)}
    page_of = {}
    for page in _pages(out):
        for owner in re.findall(r'<tr id="([^"]+)"', page.read_text(encoding="utf-8")):
            page_of[owner] = int(page.stem.split("-")[1])
    for owner in households["owner_ref"]:
        key = hp.search_key(owner.upper())  # any case
        hits = shards[hp.shard_of(key, info.shards)][key]
        assert hits == [[owner, owner, page_of[owner]]]
    for pid, owner in zip(parcels["parcel_id"], parcels["owner_ref"], strict=True):
        key = hp.search_key(f" {pid} ")
        assert shards[hp.shard_of(key, info.shards)][key] == [[pid, owner, page_of[owner]]]
    # a shard is small: the search reads one, never the county's index
    biggest = max(p.stat().st_size for p in (out / hp.PAGES_DIR / "search").iterdir())
    assert biggest < 400_000


EVIL_OWNER = 'H-"><script>alert(1)</script>'
EVIL_PARCEL = "1311991012010100001<img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parcels, households = synthetic_tables(4, seed=4)
    owner0 = households["owner_ref"].iloc[0]
    households = households.assign(
        owner_ref=households["owner_ref"].replace(owner0, EVIL_OWNER),
        reasons_en=['["<b>bold</b> & <i>co</i>"]'] * len(households),
        decision=["approve", "refer", "<decline>", "decline"],
    )
    parcels = parcels.assign(owner_ref=parcels["owner_ref"].replace(owner0, EVIL_OWNER))
    parcels.loc[0, "parcel_id"] = EVIL_PARCEL
    parcels.loc[1, "quality_flags"] = '["<svg onload=alert(3)>"]'
    out = tmp_path_factory.mktemp("evil")
    hp.write_household_pages(out, parcels, households, currency="<CNY>")
    return out


def test_text_from_the_data_is_escaped(evil: Path) -> None:
    for path in [evil / "households.html", *_pages(evil)]:
        html = path.read_text(encoding="utf-8")
        p = parse(html)
        assert p.scripts == 1, path  # only the page's own script
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<svg" not in html
        assert "<b>bold</b>" not in html
        assert "<CNY>" not in html
        assert not any(link.startswith("javascript:") or "<" in link for link in p.links)
    page = _pages(evil)[0].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    # the shards are data (JSON in a script file): no markup a browser could run
    for shard in (evil / hp.PAGES_DIR / "search").iterdir():
        text = shard.read_text(encoding="ascii")
        assert SHARD.match(text)


def test_a_smaller_county_leaves_no_page_of_the_earlier_one(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    parcels, households = tables
    hp.write_household_pages(tmp_path, parcels, households, currency="CNY")
    assert len(_pages(tmp_path)) == 3
    small = households.iloc[:10]
    info = hp.write_household_pages(
        tmp_path, parcels[parcels["owner_ref"].isin(small["owner_ref"])], small, currency="CNY"
    )
    assert info.pages == 1
    assert [p.name for p in _pages(tmp_path)] == [hp.page_name(1)]
    assert not list(tmp_path.glob(".tmp-*"))


def test_no_household_still_writes_an_index_and_one_empty_page(tmp_path: Path) -> None:
    parcels = pd.DataFrame(columns=["parcel_id", "owner_ref", "quality_flags"])
    households = pd.DataFrame(columns=["owner_ref", "decision", "credit_line"])
    info = hp.write_household_pages(tmp_path, parcels, households, currency="CNY")
    assert (info.households, info.pages) == (0, 1)
    assert (tmp_path / "households.html").exists()
    assert len(_pages(tmp_path)) == 1


# --- as a person sees them -----------------------------------------------------------------------


_FOUND = """new Promise((ok) => {
  const t0 = Date.now();
  (function wait() {
    const el = document.getElementById('found');
    if (el.textContent || Date.now() - t0 > 5000) {
      ok({text: el.textContent, links: Array.from(el.querySelectorAll('a')).map(a => a.href),
          markup: el.querySelectorAll('img, script, svg, b').length});
    } else { setTimeout(wait, 20); }
  }());
})"""


@pytest.mark.browser
def test_in_chromium_the_search_finds_a_parcel_and_its_page_shows_the_row(
    browser: Chromium, written: tuple[Path, hp.PagesWritten],
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:  # fmt: skip
    out, _ = written
    parcels, _ = tables
    pid, owner = str(parcels["parcel_id"].iloc[-1]), str(parcels["owner_ref"].iloc[-1])
    found, errors = browser.evaluate(out / "households.html", _FOUND, query=f"q={pid}")
    assert errors == []
    assert owner in found["text"]
    (link,) = found["links"]
    assert link.endswith(f"#{owner}")
    page = Path(link.split("#")[0].removeprefix("file://"))
    shown, errors = browser.evaluate(
        page, f"document.getElementById({json.dumps(owner)}) !== null", query="decision=refer"
    )
    assert errors == []
    assert shown is True
    # the filter from the URL is applied and carried by the page links
    state, _ = browser.evaluate(page, """({decision: document.getElementById('f-decision').value,
        shown: Array.from(document.querySelectorAll('tr[data-household]'))
                    .filter(r => r.style.display !== 'none').map(r => r.dataset.decision),
        next: Array.from(document.querySelectorAll('a[data-nav]')).map(a => a.search)})""",
        query="decision=refer")  # fmt: skip
    assert state["decision"] == "refer"
    assert set(state["shown"]) == {"refer"}
    assert all(s == "?decision=refer" for s in state["next"])


@pytest.mark.browser
def test_in_chromium_data_is_shown_as_text(browser: Chromium, evil: Path) -> None:
    found, errors = browser.evaluate(evil / "households.html", _FOUND,
                                     query="q=" + EVIL_PARCEL.replace("<", "%3C"))  # fmt: skip
    assert errors == []
    assert found["markup"] == 0
    assert EVIL_OWNER in found["text"]
    for page in _pages(evil):
        alive, errors = browser.evaluate(
            page, "document.querySelectorAll('tbody script, tbody img, tbody svg, tbody b').length"
        )
        assert errors == []
        assert alive == 0


@pytest.mark.browser
def test_in_chromium_a_page_of_500_loads_fast(
    browser: Chromium, written: tuple[Path, hp.PagesWritten]
) -> None:
    out, _ = written
    t0 = time.perf_counter()
    cap = browser.capture(_pages(out)[0], width=1200)
    took = time.perf_counter() - t0
    assert cap.console_errors == []
    assert took < 15  # about 1 s here; a one-page county of 10^5 households took minutes
    assert cap.layout["width"] <= 1200  # the table scrolls inside its section


def test_each_village_links_to_its_first_page_filtered_to_it(
    written: tuple[Path, hp.PagesWritten], tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    out, info = written
    parcels, households = tables
    table = hp.page_table(parcels, households)
    villages = set(table["village"]) - {""}
    assert set(info.villages) == villages
    for village, link in info.villages.items():
        path, query = link.split("?")
        assert query == "village=" + quote(village)
        html = (out / path).read_text(encoding="utf-8")
        first = table[table["village"] == village].iloc[0]["owner_ref"]
        assert f'<tr id="{first}"' in html  # the village's first household is on that page
        assert f'<option value="{village}">' in html  # and the filter offers it
