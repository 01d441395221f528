"""A county's household list as pages a browser opens at any size: ``households.html`` and
``households/``.

A county of 10^6 households listed in one page is half a gigabyte of HTML, which no browser
opens. The list is cut into pages of :data:`PAGE_SIZE` households, ordered by village and group
then pseudonym (``households/page-0001.html`` ..., each with the filters by decision, flag and
village of its own rows, and links to the first, previous, next and last page that keep the
filters), and ``households.html`` is their index: the households by decision, the villages with
their counts and the pages that hold them, every page's range, and a search by household
pseudonym or parcel id. The search reads one small shard of the index
(``households/search/s-NNNN.js``, chosen by a CRC-32 of the id: a few thousand ids each), loaded
as a script so that it works from a folder opened with no server (``file://``).

Every file is written as it is made (one page's rows in memory at a time), into a new folder
that replaces the old one whole, so a smaller county never leaves an earlier county's pages
behind; ``households.html`` last. All text from the data is escaped by the templates, and the
search writes what it finds as text, never as markup.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from agrilend.glossary import GLOSSARY
from agrilend.outputs import atomic_write
from agrilend.report._templates import environment
from agrilend.vocabulary import MU_PER_HA

#: Households per page (about 0.5 MB of HTML: 1 kB a household with its first reason).
PAGE_SIZE = 500
#: The pages' folder beside ``households.html``.
PAGES_DIR = "households"
#: Ids per search shard, about (a shard is a few hundred kB at most).
SHARD_IDS = 4_000
#: What a household row shows of the households table.
ROW_COLUMNS = (
    "owner_ref", "decision", "credit_line", "tenor_months", "n_parcels", "declared_area_ha",
    "cultivated_area_ha", "reason_codes", "reasons_en", "reasons_zh",
)  # fmt: skip


@dataclass(frozen=True)
class PagesWritten:
    """What :func:`write_household_pages` wrote: households, pages, search shards, bytes, and
    each village's first page (a link relative to the scan folder, filtered to the village)."""

    households: int
    pages: int
    shards: int
    bytes: int
    villages: dict[str, str] = field(default_factory=dict)


def page_name(number: int) -> str:
    """The file of page ``number`` (from 1) in :data:`PAGES_DIR`.

    Examples
    --------
    >>> page_name(7)
    'page-0007.html'
    """
    return f"page-{number:04d}.html"


def search_key(text: Any) -> str:
    """The form an id is looked up in: stripped, lower case (``h-...`` finds ``H-...``).

    Examples
    --------
    >>> search_key("  H-00E8e12ac35e ")
    'h-00e8e12ac35e'
    """
    return str(text).strip().lower()


def shard_of(key: str, shards: int) -> int:
    """The search shard of a :func:`search_key`: CRC-32 of its UTF-8 bytes modulo ``shards``
    (the index page's script computes the same).

    Examples
    --------
    >>> shard_of("h-00e8e12ac35e", 16), shard_of("h-00e8e12ac35e", 1)
    (2, 0)
    """
    return zlib.crc32(key.encode("utf-8")) % shards


def household_villages(owners: pd.Series, parcel_ids: pd.Series) -> pd.Series:
    """Each household's village and group: the one most of its parcels lie in (the first in
    order on a tie), ``""`` when its parcels carry no village code. Indexed by ``owner_ref``.

    Examples
    --------
    >>> household_villages(pd.Series(["H-a", "H-a", "H-b"]),
    ...                    pd.Series(["1311991012010100001", "1311991012020100002", "P-9"])
    ...                    ).to_dict()
    {'H-a': '131199101201 · 01', 'H-b': ''}
    """
    ids = parcel_ids.astype(str).str.strip()
    coded = ((ids.str.len() == 19) & ids.str.isdigit()).to_numpy(dtype=bool)
    # as agrilend.report.county.village_key, on whole columns (no string object per parcel)
    village = (ids.str.slice(0, 12) + " · " + ids.str.slice(12, 14)).where(coded, "")
    # on integer codes (sorted: a code's order is its text's), not on a million strings
    o_code, o_text = pd.factorize(owners.astype(str), sort=True)
    v_code, v_text = pd.factorize(village, sort=True)
    pairs = pd.DataFrame({"o": o_code, "v": v_code}).value_counts(sort=False).rename("n")
    counts = pairs.reset_index().sort_values(["o", "n", "v"], ascending=[True, False, True])
    first = counts.drop_duplicates("o")
    return pd.Series(np.asarray(v_text, dtype=object)[first["v"].to_numpy()],
                     index=pd.Index(np.asarray(o_text, dtype=object)[first["o"].to_numpy()],
                                    name="owner_ref"), name="village")  # fmt: skip


def household_flags(owners: pd.Series, flags: pd.Series) -> pd.Series:
    """Each household's parcel flags, sorted and joined by spaces (only households with a flag;
    indexed by ``owner_ref``).

    Examples
    --------
    >>> household_flags(pd.Series(["H-a", "H-a", "H-b"]),
    ...                 pd.Series(['["not_cultivated"]', "[]", '["area_mismatch"]'])).to_dict()
    {'H-a': 'not_cultivated', 'H-b': 'area_mismatch'}
    """
    from agrilend.report.county import _flags  # noqa: PLC0415

    if flags.dtype == object:  # lists (a frame in memory) or text
        keep = np.fromiter((not (c is None or (isinstance(c, str) and c in {"", "[]"}))
                            and not (isinstance(c, list | tuple | np.ndarray) and len(c) == 0)
                            for c in flags), dtype=bool, count=len(flags))  # fmt: skip
    else:  # JSON text as read back from the parts: compared as a column
        keep = (flags.notna() & ~flags.isin(["", "[]"])).to_numpy(dtype=bool)
    cells = flags[keep].tolist()
    pairs = [(o, f) for o, c in zip(owners[keep].astype(str).tolist(), cells, strict=True)
             for f in _flags(c)]  # fmt: skip
    if not pairs:
        return pd.Series(dtype=object, name="flags")
    frame = pd.DataFrame(pairs, columns=["owner_ref", "flag"]).drop_duplicates()
    frame = frame.sort_values(["owner_ref", "flag"])
    return frame.groupby("owner_ref", sort=False)["flag"].agg(" ".join).rename("flags")


def page_table(parcels: pd.DataFrame, households: pd.DataFrame) -> pd.DataFrame:
    """The households in page order (village and group, then pseudonym), light: ``owner_ref``,
    ``decision``, ``village``, ``flags`` (space-joined), ``page`` and ``row`` (the household's
    position in ``households``: a page reads its rows' other columns from there, so the long
    reasons are never copied for the whole county)."""
    owners = households["owner_ref"].astype(str)
    table = pd.DataFrame({"owner_ref": owners.to_numpy(),
                          "row": np.arange(len(households), dtype=np.int64)})  # fmt: skip
    decision = households["decision"] if "decision" in households else pd.Series([""] * len(owners))
    table["decision"] = decision.astype(str).to_numpy()
    villages = household_villages(parcels["owner_ref"], parcels["parcel_id"])
    table["village"] = owners.map(villages).astype(object).fillna("").to_numpy()
    flags = parcels.get("quality_flags", pd.Series([], dtype=object))
    if len(flags) == len(parcels):
        flagged = household_flags(parcels["owner_ref"], flags)
        table["flags"] = owners.map(flagged).astype(object).fillna("").to_numpy()
    else:
        table["flags"] = ""
    # villages first (no village last), then pseudonyms: a village's households are adjacent
    table = table.assign(_none=table["village"] == "")
    table = table.sort_values(["_none", "village", "owner_ref"], kind="stable")
    table = table.drop(columns="_none").reset_index(drop=True)
    table["page"] = table.index // PAGE_SIZE + 1 if len(table) else pd.Series(dtype=int)
    return table


def _page_frame(households: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """One page's households with what a row shows (:data:`ROW_COLUMNS` there are, and the
    page table's village and flags)."""
    keep = [c for c in ROW_COLUMNS if c in households.columns
            and c not in {"owner_ref", "decision"}]  # fmt: skip
    part = households.iloc[rows["row"].to_numpy()][keep].reset_index(drop=True)
    light = {c: rows[c].to_numpy() for c in ("owner_ref", "decision", "village", "flags")}
    return part.assign(**light)


#: The list's columns, by the word that heads each (the narrow layout labels cells with them).
COLUMNS = ("household", "village", "decision", "credit", "tenor", "parcels", "declared_area",
           "cultivated_area", "flags", "why")  # fmt: skip


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray[Any, Any]:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One page's row dicts for the template (words in both languages)."""
    from agrilend.report.county import _both, _flags  # noqa: PLC0415
    from agrilend.report.from_scan import report_path  # noqa: PLC0415
    from agrilend.report.officer import ordered_reasons  # noqa: PLC0415

    line, tenor = _numbers(table, "credit_line"), _numbers(table, "tenor_months")
    declared = _numbers(table, "declared_area_ha") * MU_PER_HA
    cultivated = _numbers(table, "cultivated_area_ha") * MU_PER_HA
    parcels = np.nan_to_num(_numbers(table, "n_parcels")).astype(int)
    words = {d: _both("decision", d) for d in table["decision"].astype(str).unique()}
    flag_words: dict[str, dict[str, str]] = {}
    rows = []
    for i, h in enumerate(table.to_dict(orient="records")):
        owner, decision = str(h["owner_ref"]), str(h.get("decision", ""))
        codes = [str(c) for c in _flags(h.get("reason_codes"))]
        why: dict[str, str] = {}
        for lang in ("en", "zh"):  # the trigger of a refer or decline comes first
            ordered = ordered_reasons(codes, _flags(h.get(f"reasons_{lang}")))
            why[lang] = ordered[0][1] if ordered else ""
        flags = [f for f in str(h.get("flags") or "").split(" ") if f]
        for f in flags:
            if f not in flag_words:
                flag_words[f] = _both("flag", f)
        rows.append(
            {
                "owner_ref": owner,
                "village": str(h.get("village") or ""),
                "decision": decision,
                "decision_words": words[decision],
                "credit": "–" if np.isnan(line[i]) else f"{line[i]:,.0f}",
                "credit_raw": "" if np.isnan(line[i]) else repr(float(line[i])),
                "tenor": "–" if np.isnan(tenor[i]) else str(int(tenor[i])),
                "n_parcels": int(parcels[i]),
                "declared_mu": "–" if np.isnan(declared[i]) else f"{declared[i]:,.1f}",
                "cultivated_mu": "–" if np.isnan(cultivated[i]) else f"{cultivated[i]:,.1f}",
                "flags": flags,
                "flag_words": [flag_words[f] for f in flags],
                "why": why,
                "report_en": "../" + report_path(".", owner, "en").as_posix().removeprefix("./"),
                "report_zh": "../" + report_path(".", owner, "zh").as_posix().removeprefix("./"),
            }
        )
    return rows


#: Search entries handled at a time while the shards are written (bounded memory).
SHARD_BATCH = 50_000


def _entries(table: pd.DataFrame, parcels: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """The search entries in batches of :data:`SHARD_BATCH`: ``id, owner, page``, each
    household by its pseudonym, then each parcel by its id (with its household's page)."""
    for start in range(0, len(table), SHARD_BATCH):
        rows = table.iloc[start : start + SHARD_BATCH]
        yield pd.DataFrame({"id": rows["owner_ref"].to_numpy(),
                            "owner": rows["owner_ref"].to_numpy(),
                            "page": rows["page"].to_numpy()})  # fmt: skip
    page_of = pd.Series(table["page"].to_numpy(), index=table["owner_ref"].to_numpy())
    for start in range(0, len(parcels), SHARD_BATCH):
        rows = parcels.iloc[start : start + SHARD_BATCH]
        owners = rows["owner_ref"].astype(str)
        pages = owners.map(page_of)
        known = pages.notna().to_numpy()
        yield pd.DataFrame({"id": rows["parcel_id"].astype(str).to_numpy()[known],
                            "owner": owners.to_numpy()[known],
                            "page": pages.to_numpy()[known].astype(np.int64)})  # fmt: skip


def _write_shards(folder: Path, table: pd.DataFrame, parcels: pd.DataFrame) -> int:
    """Write the search shards (``s-NNNN.js``, each a call of ``agrilendSearch(n, {...})``);
    return how many. The entries go a batch at a time into one file of lines per shard, then
    each shard is written from its lines: memory holds a batch or a shard, never the index."""
    n = len(table) + len(parcels)
    shards = 2 ** max(0, math.ceil(math.log2(max(1, n) / SHARD_IDS)))
    parts = folder / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for batch in _entries(table, parcels):
        ids = batch["id"].astype(str)
        keys = ids.str.strip().str.lower().to_numpy(dtype=object)
        which = np.fromiter((zlib.crc32(k.encode("utf-8")) % shards for k in keys),
                            dtype=np.int64, count=len(keys))  # fmt: skip
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(shards + 1))
        ident, owner = ids.to_numpy(dtype=object), batch["owner"].to_numpy(dtype=object)
        page = batch["page"].to_numpy(dtype=np.int64)
        for used in np.flatnonzero(np.diff(bounds)).tolist():
            lines = [json.dumps([keys[i], ident[i], str(owner[i]), int(page[i])],
                                ensure_ascii=True)
                     for i in order[bounds[used] : bounds[used + 1]]]  # fmt: skip
            with (parts / f"{used:04d}.jsonl").open("a", encoding="ascii") as fh:
                fh.write("\n".join(lines) + "\n")
    for s in range(shards):
        found: dict[str, list[list[Any]]] = {}
        part = parts / f"{s:04d}.jsonl"
        if part.exists():
            with part.open(encoding="ascii") as fh:
                for line in fh:
                    key, ident_s, owner_s, page_n = json.loads(line)
                    found.setdefault(key, []).append([ident_s, owner_s, page_n])
            part.unlink()
        text = f"agrilendSearch({s}, {json.dumps(found, ensure_ascii=True, sort_keys=True)});\n"
        (folder / f"s-{s:04d}.js").write_text(text, encoding="ascii")
    parts.rmdir()
    return shards


def _page_ranges(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per page: its number, first and last household and villages (for the index)."""
    out = []
    for start in range(0, len(table), PAGE_SIZE):
        rows = table.iloc[start : start + PAGE_SIZE]
        number = start // PAGE_SIZE + 1
        villages = [v for v in rows["village"].unique() if v]
        out.append({"n": number, "file": f"{PAGES_DIR}/{page_name(number)}",
                    "first": str(rows["owner_ref"].iloc[0]),
                    "last": str(rows["owner_ref"].iloc[-1]), "count": len(rows),
                    "villages": villages[0] if len(villages) == 1 else
                    (f"{villages[0]} … {villages[-1]}" if villages else "")})  # fmt: skip
    return out


def _village_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per village: households, counts by decision, its pages (for the index)."""
    decisions = list(GLOSSARY["decision"])
    out = []
    for village, rows in table.groupby(table["village"].replace("", "\uffff"), sort=True):
        counts = rows["decision"].astype(str).value_counts()
        first, last = int(rows["page"].min()), int(rows["page"].max())
        only = f"?village={quote(str(village))}" if village != "\uffff" else ""
        out.append({"village": "" if village == "\uffff" else str(village),
                    "households": len(rows), **{d: int(counts.get(d, 0)) for d in decisions},
                    "first": first, "last": last,
                    "file": f"{PAGES_DIR}/{page_name(first)}{only}"})  # fmt: skip
    return out


def _iter_pages(table: pd.DataFrame) -> Iterator[tuple[int, pd.DataFrame]]:
    for start in range(0, len(table), PAGE_SIZE):
        yield start // PAGE_SIZE + 1, table.iloc[start : start + PAGE_SIZE]


def write_household_pages(
    out: str | Path, parcels: pd.DataFrame, households: pd.DataFrame, *, currency: str
) -> PagesWritten:
    """Write ``households.html`` (the index) and ``households/`` (the pages and the search
    shards) into the scan folder ``out``; the module doc says what they hold.

    ``parcels`` needs ``parcel_id`` and ``owner_ref`` (``quality_flags`` for the flag filter),
    ``households`` the household decision columns of :data:`ROW_COLUMNS` it has.

    Examples
    --------
    >>> import tempfile
    >>> parcels = pd.DataFrame({"parcel_id": ["1311991012010100001"], "owner_ref": ["H-a"],
    ...                         "quality_flags": ["[]"]})
    >>> hh = pd.DataFrame({"owner_ref": ["H-a"], "decision": ["approve"], "credit_line": [9e3]})
    >>> write_household_pages(tempfile.mkdtemp(), parcels, hh, currency="CNY").pages
    1
    """
    from agrilend.report.county import _both, words  # noqa: PLC0415

    root = Path(out)
    table = page_table(parcels, households)
    n_pages = max(1, math.ceil(len(table) / PAGE_SIZE))
    env = environment()
    page_template = env.get_template("county_households_page.html.j2")
    w = words()
    decisions = {k: _both("decision", k) for k in GLOSSARY["decision"]}
    flag_codes = sorted({f for cell in table["flags"] for f in str(cell).split(" ") if f})
    flags = {f: _both("flag", f) for f in flag_codes}
    tmp = root / f".tmp-{PAGES_DIR}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    size = 0
    try:
        pages = list(_iter_pages(table)) or [(1, table)]
        for number, rows in pages:
            page_rows = _rows(_page_frame(households, rows))
            html = page_template.render(
                w=w, rows=page_rows, currency=currency, decisions=decisions, flags=flags,
                villages=sorted({r["village"] for r in page_rows if r["village"]}),
                number=number, pages=n_pages, total=len(table), columns=COLUMNS,
                first=page_name(1), last=page_name(n_pages),
                prev=page_name(number - 1) if number > 1 else None,
                next=page_name(number + 1) if number < n_pages else None,
            )  # fmt: skip
            data = html.encode("utf-8")
            size += len(data)
            (tmp / page_name(number)).write_bytes(data)
        shards = _write_shards(tmp / "search", table, parcels)
        size += sum(p.stat().st_size for p in (tmp / "search").iterdir())
        target = root / PAGES_DIR
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts = table["decision"].astype(str).value_counts()
    villages = _village_rows(table)
    index = env.get_template("county_households.html.j2").render(
        w=w, currency=currency, total=len(table), n_pages=n_pages, page_size=PAGE_SIZE,
        decisions=[{"code": k, "words": v, "n": int(counts.get(k, 0))}
                   for k, v in decisions.items()],
        villages=villages, pages=_page_ranges(table), shards=shards,
        pages_dir=PAGES_DIR, decision_names=decisions,
    )  # fmt: skip
    data = index.encode("utf-8")
    with atomic_write(root / "households.html") as tmp_file:
        tmp_file.write_bytes(data)
    return PagesWritten(households=len(table), pages=n_pages, shards=shards,
                        bytes=size + len(data),
                        villages={v["village"]: v["file"] for v in villages
                                  if v["village"]})  # fmt: skip


__all__ = [
    "PAGES_DIR",
    "PAGE_SIZE",
    "PagesWritten",
    "household_flags",
    "household_villages",
    "page_name",
    "page_table",
    "search_key",
    "shard_of",
    "write_household_pages",
]
