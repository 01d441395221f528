"""Households sized in partitions on the workers: each partition reads only its own rows and
records, and a scan with credit extras (prices, transfers, insurance, own evidence) decides as
the one-process assessment does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from agrilend.inputs import InputFiles
from agrilend.scan import households as hh_mod
from agrilend.scan import load_context, scan
from agrilend.scan.outputs import read_households, read_parcels
from tests._scan_county import make_light_context

pytestmark = [
    pytest.mark.slow,
    # pipeline._peer_curves: nanquantile over dates no parcel of a small crop observed
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
]


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what each households task read and was given (the scan runs in this process)."""
    seen: list[dict[str, Any]] = []
    task = hh_mod.households_task

    def spy(reads: list[tuple[str, int]], policy: Any, records: Any, *rest: Any) -> Any:
        parcels = hh_mod.read_partition(reads)
        seen.append({"reads": list(reads), "records": records,
                     "owners": set() if parcels is None else set(parcels["owner_ref"]),
                     "rows": 0 if parcels is None else len(parcels)})  # fmt: skip
        return task(reads, policy, records, *rest)

    monkeypatch.setattr(hh_mod, "households_task", spy)
    return seen


def test_chunk_partitions_are_runs_of_chunks() -> None:
    parts = hh_mod.chunk_partitions([3, 0, 7, 5, 5, 1], 3)
    assert parts.tolist() == sorted(parts.tolist())
    assert set(parts.tolist()) == {0, 1, 2}


@pytest.fixture(scope="module")
def sample_with_extras(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path]:
    """The sample county with every credit extra; own evidence with one photo presented again
    by a household of another village (a photo counts once in the county)."""
    files = InputFiles.sample()
    assert files.own_evidence
    assert files.transfers
    assert files.insurance
    assert files.prices
    root = tmp_path_factory.mktemp("sample-extras")
    folder = root / "own_evidence"
    shutil.copytree(Path(files.own_evidence).parent, folder)
    ev = pd.read_csv(folder / "evidence.csv", dtype=str)
    first = ev[ev["kind"] == "photo"].iloc[0]
    other = ev[ev["owner_id"].str[:14] != first["owner_id"][:14]].iloc[-1]["owner_id"]
    ev = pd.concat([ev, pd.DataFrame([{**first.to_dict(), "owner_id": other}])])
    ev.to_csv(folder / "evidence.csv", index=False)
    changed = InputFiles(**{**files.__dict__, "own_evidence": folder / "evidence.csv"})
    return changed, make_light_context(changed, root / "ctx")


@pytest.fixture(scope="module")
def scanned(
    sample_with_extras: tuple[InputFiles, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[dict[str, Any]]]:
    """The sample county with extras scanned in 9 chunks and 9 household partitions, and
    what each households task read and was given."""
    files, ctx = sample_with_extras
    out = tmp_path_factory.mktemp("scan") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hh_mod, "HOUSEHOLD_PARTITION_PARCELS", 60)
        seen = _spy(mp)
        scan(files, out, chunk_size_px=60, workers=0, context=load_context(ctx),
             peer_tile_px=None)  # fmt: skip
    return out, seen


def test_each_partition_reads_only_its_row_groups_and_its_subsidies(
    scanned: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, seen = scanned
    parcels = read_parcels(out)
    assert len(seen) == -(-len(parcels) // 60) > 5  # HOUSEHOLD_PARTITION_PARCELS = 60
    # every row is read once, by the partition of its household: one row group of each part
    # that holds some of them (not every row of every part, as each partition did before)
    finals = sorted((out / "parcels.parquet").glob("*.parquet"))
    assert len(finals) > 5
    groups = sum(pq.ParquetFile(f).num_row_groups for f in finals)
    assert sum(len(s["reads"]) for s in seen) == groups > len(finals)
    assert sum(s["rows"] for s in seen) == len(parcels)
    assert all(len({p for p, _ in s["reads"]}) == len(s["reads"]) for s in seen)
    owners = [s["owners"] for s in seen]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # households not split
    assert set().union(*owners) == set(parcels["owner_ref"])
    # each partition is given the subsidy records of its households only, all of them
    matched = pd.read_parquet(out / "subsidies.parquet")
    assert len(matched) > 10
    given = 0
    for s in seen:
        subs = s["records"].subsidies.matched
        assert set(subs["owner_ref"]) <= s["owners"]
        given += len(subs)
    assert given == len(matched)
    # the parcels dataset reads as before: the partitions are row groups, not a column
    names = set(pq.read_schema(finals[0]).names)
    assert names == set(pd.read_parquet(finals[-1]).columns)
    assert not any("partition" in n for n in names)


def test_credit_extras_are_sized_on_the_workers_as_assess_sizes_them(
    sample_with_extras: tuple[InputFiles, Path], scanned: tuple[Path, list[dict[str, Any]]]
) -> None:
    """Prices, transfers, insurance and own evidence in partitions (and chunks) give the
    households of the one-process assessment: the same decisions, reasons, lines (relative 1e-9:
    sums in another order) and limits; the parcels carry the tenants as assess's do."""
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.pipeline import assess  # noqa: PLC0415

    files, ctx = sample_with_extras
    out, seen = scanned
    whole = assess(load_inputs(files), context=load_context(ctx))
    got = read_households(out).set_index("owner_ref")
    want = whole.households.set_index("owner_ref").sort_index()
    assert sorted(got.index) == list(want.index)
    got = got.loc[want.index]
    # what the extras change is exercised here (a line differs without the photo counted once)
    codes = " ".join(want["reason_codes"].astype(str))
    for code in ("INSURED", "INSURANCE_CONTRADICTS", "RENTED_LAND", "TRANSFER_CONFLICT",
                 "OWN_EVIDENCE", "OWN_EVIDENCE_CONTRADICTS"):  # fmt: skip
        assert f'"{code}"' in codes, code
    same = [c for c in want.columns if c != "limits"]
    pd.testing.assert_frame_equal(got[same], want[same], check_dtype=False, rtol=1e-9)
    # the limits' JSON: the same figures, to the cent (sums in another order)
    for a, b in zip(got["limits"], want["limits"], strict=True):
        x, y = json.loads(a), json.loads(b)
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float):
                assert x[k] == pytest.approx(y[k], rel=1e-9, abs=0.011), k
            else:
                assert x[k] == y[k], k
    # the parcels: tenants in place of holders, as assess writes them
    parcels = read_parcels(out).set_index("parcel_id")
    ref = whole.parcels.set_index("parcel_id")
    for col in ("owner_ref", "rented", "rent_per_year", "transferred_from", "transfer_conflict"):
        assert (parcels[col].astype(str) == ref.loc[parcels.index, col].astype(str)).all(), col
    assert parcels["rented"].sum() > 3
    # records went to the partitions of their households only; the photo presented twice is
    # counted in the partition of its first presenter
    insured = 0
    for s_ in seen:
        r = s_["records"]
        assert set(r.evidence["owner_ref"]) <= s_["owners"]
        insured += len(r.insurance)
    assert 0 < insured <= len(load_inputs(files).credit_extras.insurance)
    assert sum(len(s_["records"].counted_photos) for s_ in seen) == 1
    # transfers cross partitions here: tenants are sized apart from their holders, and a
    # title both sides claim flags the holder in its own partition (equal to assess above)
    part_of = {o: i for i, s_ in enumerate(seen) for o in s_["owners"]}
    moved = parcels[parcels["rented"]]
    holders = zip(moved["transferred_from"], moved["owner_ref"], strict=True)
    assert any(part_of.get(h, -1) not in (-1, part_of[t]) for h, t in holders)
    flagged = moved[moved["transfer_conflict"]]
    holders = zip(flagged["transferred_from"], flagged["owner_ref"], strict=True)
    assert any(part_of.get(h, -1) not in (-1, part_of[t]) for h, t in holders)


def test_the_table_made_in_memory_is_the_geoparquet_file_geopandas_writes(
    tmp_path: Path,
) -> None:
    import geopandas as gpd  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    frame = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", None], "area_ha": [0.5, np.nan, 2.0], "n": [1, 2, 3]},
        geometry=[shapely.box(0, 0, 1, 1), None, shapely.box(2, 0, 3, 1)],
        crs="EPSG:32650",
    )
    pq.write_table(hh_mod.geoparquet_table(frame), tmp_path / "mem.parquet")
    frame.to_parquet(tmp_path / "file.parquet", index=False)
    mem, file = pq.read_schema(tmp_path / "mem.parquet"), pq.read_schema(tmp_path / "file.parquet")
    assert mem.equals(file, check_metadata=False)
    assert json.loads(mem.metadata[b"geo"]) == json.loads(file.metadata[b"geo"])
    back = gpd.read_parquet(tmp_path / "mem.parquet")
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), frame.drop(columns="geometry"))
    assert back.geometry.equals(frame.geometry)


def test_a_plan_made_from_the_titles_file_is_the_plan_and_keeps_no_owner(tmp_path: Path) -> None:
    """The households' plan a worker makes from the titles file has the partitions the plan
    of the titles in memory has; it comes back routed and without its owners, and refuses to
    place an owner rather than call every one no household."""
    import geopandas as gpd  # noqa: PLC0415
    from shapely import box  # noqa: PLC0415

    from agrilend.credit import load_policy  # noqa: PLC0415
    from agrilend.errors import ScanError  # noqa: PLC0415
    from agrilend.scan.parts import Chunk  # noqa: PLC0415
    from agrilend.scan.title_store import TITLES_FILE, write_titles  # noqa: PLC0415

    owners = ["o1", "o2", "o1", "o3", "o2", "o4"]
    titles = gpd.GeoDataFrame(
        {"parcel_id": [f"p{i}" for i in range(6)], "owner_ref": owners},
        geometry=[box(i, 0, i + 1, 1) for i in range(6)], crs="EPSG:32650",
    )  # fmt: skip
    chunks = [Chunk("a", (0, 3, 5), (0, 1, 0, 1)), Chunk("b", (1, 2, 4), (0, 1, 1, 2))]
    path = tmp_path / TITLES_FILE
    write_titles(titles, chunks, path)
    kw: dict[str, Any] = {"subsidies": None, "extras": None, "policy": load_policy(),
                          "as_of": None}  # fmt: skip
    here = hh_mod.plan_households(chunks, pd.DataFrame(titles.drop(columns="geometry")), **kw)
    there = hh_mod.plan_from_titles(str(path), chunks, 6, kw["subsidies"], kw["extras"],
                                    kw["policy"], kw["as_of"])  # fmt: skip
    assert there.n_parts == here.n_parts
    for a, b in zip(there.parts, here.parts, strict=True):
        assert a.rows.tolist() == b.rows.tolist()
        assert a.parts.tolist() == b.parts.tolist()
    assert there.routed is not None
    assert len(there.routed[0]) == there.n_parts
    assert len(there.owners) == 0  # the owners stayed where the plan was made
    # the plan in memory places an owner (o3 holds title 3, in chunk a) and no one else
    at = here.parts[0].rows.tolist().index(3)
    assert here.part_of(["o3", "nobody"]).tolist() == [int(here.parts[0].parts[at]), -1]
    with pytest.raises(ScanError, match="left its owners where it was made"):
        there.part_of(["o3"])
    with pytest.raises(ScanError, match="hold 6 titles, the plan 7"):
        hh_mod.plan_from_titles(str(path), chunks, 7, None, None, kw["policy"], None)
