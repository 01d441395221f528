"""The county step on the workers: exact peers from the parts, the declaration threshold from
histograms, households in partitions, outputs written part by part, the client's memory."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyogrio
import pytest
from shapely.geometry import box

from agrilend.inputs import InputFiles
from agrilend.scan import county_flow as flow
from agrilend.scan import households as scan_households
from agrilend.scan import load_context, scan
from agrilend.scan.county_step import (
    TITLE_ROW,
    _order_values,
    _rank_keys,
    bins,
    distinct,
    median_of_counts,
    merge_histograms,
    read_geo,
)
from agrilend.scan.outputs import read_households, read_parcels
from agrilend.scan.parts import ROW
from agrilend.yield_models.vigour import peer_statistics
from tests._scan_county import make_county, make_light_context

pytestmark = [
    pytest.mark.slow,
    # pipeline._peer_curves: nanquantile over dates no parcel of a small crop observed
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
]


# --- exact order statistics from histograms ------------------------------------------------------


def _exact_median(parts: list[np.ndarray]) -> float:
    """The median of the parts' values put together, computed as the county step does."""
    keys = [((np.zeros(p.size, np.uint64)) << np.uint64(24)) | bins(p) for p in parts]
    hk, hn = merge_histograms([tuple(np.unique(k, return_counts=True)) for k in keys])
    n = int(hn.sum())
    ranks = sorted({(n - 1) // 2, n // 2})
    located = _rank_keys(hk, hn, {0: ranks})
    wanted = np.array([k for _, k, _ in located[0]], dtype=np.uint64)
    picked = [
        distinct(k[np.isin(k, wanted)], p[np.isin(k, wanted)])
        for k, p in zip(keys, parts, strict=True)
    ]
    value = _order_values(located, picked)
    a, b = value[(0, ranks[0])], value[(0, ranks[-1])]
    return a if n % 2 else float(np.mean([a, b]))


@pytest.mark.parametrize("seed", range(4))
def test_any_rank_from_distinct_values_is_the_sorted_value(seed: int) -> None:
    """Every rank of a tied sample, found from the parts' distinct values and their counts, is
    the value a sort of all of them puts there; what comes back per part is one row per
    distinct value in the wanted bins, however many parcels share it."""
    rng = np.random.default_rng(seed)
    values = rng.integers(100, 140, 5000).astype(float)  # days of the year: heavy ties
    values[:50] = rng.normal(120, 5, 50)
    parts = np.array_split(rng.permutation(values), 7)
    keys = [(np.zeros(p.size, np.uint64) << np.uint64(24)) | bins(p) for p in parts]
    hk, hn = merge_histograms([tuple(np.unique(k, return_counts=True)) for k in keys])
    ranks = sorted({int(r) for r in rng.integers(0, values.size, 25)} | {0, values.size - 1})
    located = _rank_keys(hk, hn, {0: ranks})
    wanted = np.unique([k for _, k, _ in located[0]]).astype(np.uint64)
    picked = [distinct(k[np.isin(k, wanted)], p[np.isin(k, wanted)])
              for k, p in zip(keys, parts, strict=True)]  # fmt: skip
    assert sum(k.size for k, _, _ in picked) <= 7 * (50 + 40)  # distinct values, not parcels
    value = _order_values(located, picked)
    ordered = np.sort(values)
    assert [value[(0, r)] for r in ranks] == [float(ordered[r]) for r in ranks]  # bit for bit


@pytest.mark.parametrize("seed", range(6))
def test_medians_from_part_histograms_are_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    values = np.round(rng.normal(0, 50, n), int(rng.integers(0, 3)))  # ties, negatives, zero
    if seed == 0:
        values[:] = 3.25  # one value only
    cuts = np.sort(rng.integers(0, n + 1, 3))
    parts = np.split(values, cuts)
    assert _exact_median(parts) == np.median(values)  # bit for bit


def test_bins_keep_the_order_of_values() -> None:
    v = np.array([-np.inf, -1e300, -2.5, -1e-300, -0.0, 0.0, 1e-300, 0.5, 0.5000001, 7e10, np.inf])
    b = bins(v)
    assert np.all(np.diff(b.astype(np.int64)) >= 0)
    assert b[-1] > b[0]


def test_median_of_value_counts_is_the_median_of_the_values() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        values = rng.integers(0, 30, int(rng.integers(1, 50))).astype(float)
        assert median_of_counts(Counter(values.tolist())) == pd.Series(values).median()
    assert median_of_counts(Counter()) is None


# --- a county scanned without a context: peers, threshold, outputs -----------------------------


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path]:
    root = tmp_path_factory.mktemp("step-county")
    files = make_county(root / "county", size=90, seed=7)
    return files, make_light_context(files, root / "ctx")


@pytest.fixture(scope="module")
def scanned(county: tuple[InputFiles, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, _ = county
    out = tmp_path_factory.mktemp("step") / "out"
    scan(files, out, chunk_size_px=30, workers=0)  # the crop model trained out of fold
    return out


def test_peers_are_those_of_the_whole_county(scanned: Path) -> None:
    """The peers made from the parts' histograms are peer_statistics of all the county's usable
    parcels, exactly, and the curve band is numpy's nanquantile of their curves."""
    from agrilend.scan.parts import SMOOTH, read_part, stack  # noqa: PLC0415

    parcels = read_parcels(scanned)
    usable = parcels[parcels["status"] != "error"]
    ctx = load_context(scanned)
    expected = peer_statistics(usable.set_index("parcel_id", drop=False))
    pd.testing.assert_frame_equal(ctx.peer_stats, expected, check_dtype=False, rtol=0, atol=0)

    parts = sorted((scanned / "parts").glob("r*.parquet"))
    frame = pd.concat([read_part(p) for p in parts]).set_index("parcel_id")
    curves = stack(frame.loc[usable["parcel_id"], SMOOTH].reset_index(drop=True),
                   ctx.peer_curves.sizes["time"])  # fmt: skip
    crops = usable["crop"].astype(str).to_numpy()
    for name in ctx.peer_curves["crop"].to_numpy():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(curves[crops == name], [0.1, 0.5, 0.9], axis=0)
        for k, p in enumerate((10, 50, 90)):
            got = ctx.peer_curves[f"p{p}"].sel(crop=name).to_numpy()
            np.testing.assert_allclose(got, q[k], rtol=0, atol=1e-12, equal_nan=True)


def test_light_passes_read_the_peer_values_pass_one_left(
    county: tuple[InputFiles, Path], tmp_path: Path
) -> None:
    """Pass 1 leaves each part's peer values in a small file; the light passes read them there
    and find what they would find in the part itself; the step removes the files after."""
    from agrilend.scan import county_step as step  # noqa: PLC0415

    files, _ = county
    out = tmp_path / "out"
    seen: list[tuple[str, bool, Any]] = []
    original = step.pick_task

    def spy(spec: Any, classes: Any, wanted: Any, centers: Any, mode: str) -> Any:
        left = step.peers_file(spec).exists()
        got = original(spec, classes, wanted, centers, mode)
        if mode == "fine" and spec.part is not None:  # the part itself is not read again
            part = Path(spec.part)
            part.rename(part.with_suffix(".away"))
            try:
                alone = original(spec, classes, wanted, centers, mode)
            finally:
                part.with_suffix(".away").rename(part)
            np.testing.assert_array_equal(got[0], alone[0])
        if mode == "coarse" and spec.part is not None:
            step.peers_file(spec).rename(step.peers_file(spec).with_suffix(".moved"))
            again = original(spec, classes, wanted, centers, mode)  # from the part itself
            step.peers_file(spec).with_suffix(".moved").rename(step.peers_file(spec))
            np.testing.assert_array_equal(got[0], again[0])
            np.testing.assert_array_equal(got[1], again[1])
        seen.append((mode, left, spec.part))
        return got

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(step, "pick_task", spy)
        scan(files, out, chunk_size_px=30, workers=0)
    assert {mode for mode, _, _ in seen} == {"coarse", "fine", "pick"}
    assert all(left for _, left, _ in seen)  # every light pass found pass 1's file
    assert not list((out / "county").glob("*.peers.npz"))


def test_declaration_threshold_from_histograms_is_the_county_threshold(scanned: Path) -> None:
    """The threshold found on the score grid (2**-20) flags the parcels the threshold of
    check_declarations on all the county's probabilities flags."""
    from agrilend.yield_models.declaration import check_declarations  # noqa: PLC0415

    parcels = read_parcels(scanned)
    ok = parcels[parcels["status"] != "error"]
    crops = pd.concat(
        [pd.read_parquet(p) for p in sorted((scanned / "county").glob("*.crops.parquet"))]
    )
    classes = [c[2:] for c in crops.columns if c.startswith("p_")]
    assert len(crops) == len(ok)
    proba = crops[[f"p_{c}" for c in classes]].to_numpy()
    # the crops files and the dataset's files both follow the chunks (file names)
    by_chunk = gpd.read_parquet(scanned / "parcels.parquet")
    decl = by_chunk.loc[by_chunk["status"] != "error", "declared_crop"].fillna("").astype(str)
    whole = check_declarations(proba, classes, list(decl), false_alarm_rate=0.01)
    model = load_context(scanned).crop_model
    # (infinite on both sides when the check finds no false declarations to estimate)
    assert np.isclose(model.mismatch_threshold_, whole.attrs["threshold"], rtol=0, atol=1e-5)
    flagged = by_chunk.loc[by_chunk["status"] != "error", "crop_mismatch"].to_numpy(bool)
    np.testing.assert_array_equal(flagged, whole["crop_mismatch"].to_numpy(bool))


def test_outputs_are_datasets_of_parts_and_the_gpkg_holds_them_all(scanned: Path) -> None:
    parcels = read_parcels(scanned)
    folder = scanned / "parcels.parquet"
    assert folder.is_dir()
    files = sorted(folder.glob("*.parquet"))
    assert len(files) == json.loads((scanned / "summary.json").read_text())["chunks"] > 1
    assert pads.dataset(folder).count_rows() == len(parcels)
    whole = gpd.read_parquet(folder)
    assert sorted(whole[TITLE_ROW]) == list(range(len(parcels)))
    assert whole.crs is not None
    assert len(gpd.read_file(scanned / "parcels.gpkg", layer="parcels")) == len(parcels)
    hh = read_households(scanned)
    layers = dict(pyogrio.list_layers(scanned / "parcels.gpkg"))
    assert set(layers) == {"parcels", "households"}
    assert len(gpd.read_file(scanned / "parcels.gpkg", layer="households")) == len(hh)
    csv = pd.read_csv(scanned / "households.csv", encoding="utf-8-sig")
    assert list(csv["owner_ref"]) == list(
        pd.read_parquet(scanned / "households.parquet")["owner_ref"]
    )
    assert set(hh["owner_ref"]) == set(parcels["owner_ref"])


# --- households in partitions, a scan with credit extras, the client's memory --------------------


def test_households_sized_in_partitions_equal_one_partition(
    county: tuple[InputFiles, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, ctx = county
    one = tmp_path / "one"
    first = scan(files, one, chunk_size_px=30, workers=0, context=load_context(ctx))
    assert first.timings["client_rss_mb"] > 50  # this process's peak, measured
    monkeypatch.setattr(scan_households, "HOUSEHOLD_PARTITION_PARCELS", 25)
    many = tmp_path / "many"
    scan(files, many, chunk_size_px=30, workers=0, context=load_context(ctx))
    assert len(list((many / "households.parquet").glob("*.parquet"))) > 2
    pd.testing.assert_frame_equal(read_households(many), read_households(one))
    pd.testing.assert_frame_equal(read_parcels(many), read_parcels(one))
    assert (many / "summary.json").read_text() == (one / "summary.json").read_text()
    # the result reads its tables from the folder when asked
    pd.testing.assert_frame_equal(first.parcels, read_parcels(one))
    pd.testing.assert_frame_equal(first.households, read_households(one))


def test_scan_with_credit_extras_writes_the_same_layout(
    county: tuple[InputFiles, Path], tmp_path: Path, sample_data: Path
) -> None:
    """Credit extras size the households in one piece (in the client); the outputs are the
    same datasets."""
    files, ctx = county
    prices = tmp_path / "prices.csv"
    shutil.copy(sample_data / "prices.csv", prices)
    with_prices = InputFiles(**{**files.__dict__, "prices": prices})
    out = tmp_path / "extras"
    scan(with_prices, out, chunk_size_px=30, workers=0, context=load_context(ctx))
    parcels = read_parcels(out)
    assert len(list((out / "parcels.parquet").glob("*.parquet"))) > 1
    assert set(read_households(out)["owner_ref"]) == set(parcels["owner_ref"])
    assert (out / "manifest.json").exists()


# --- peers by tiles ---------------------------------------------------------------------------


def test_vigour_is_judged_against_the_peers_of_its_tile(
    county: tuple[InputFiles, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each parcel's vigour is vigour_scores against peer_statistics of the parcels of its crop
    in its tile when the tile holds at least MIN_TILE_PEERS of them, else the county's."""
    from agrilend.scan import county_step as step  # noqa: PLC0415
    from agrilend.scan.parts import Chunk  # noqa: PLC0415
    from agrilend.yield_models.vigour import vigour_scores  # noqa: PLC0415

    files, ctx = county
    monkeypatch.setattr(step, "MIN_TILE_PEERS", 12)
    out = tmp_path / "tiles"
    result = scan(files, out, chunk_size_px=30, workers=0, context=load_context(ctx),
                  peer_tile_px=45)  # fmt: skip
    plan = json.loads((out / "scan.json").read_text())
    chunks = [Chunk(c["id"], (), tuple(c["window"])) for c in plan["chunks"]]
    tile_of = dict(zip([c.id for c in chunks], flow.peer_tiles(chunks, 45), strict=True))
    frames = []
    for path in sorted((out / "parcels.parquet").glob("*.parquet")):
        part = gpd.read_parquet(path)
        frames.append(part.assign(tile=tile_of[path.stem], chunk=path.stem))
    parcels = pd.concat(frames, ignore_index=True)
    usable = parcels[parcels["status"] != "error"].set_index("parcel_id", drop=False)
    county_peers = peer_statistics(usable)
    used_tile = used_county = 0
    for _, rows in usable.groupby("tile"):
        peers = county_peers.copy()
        for crop, own in rows.groupby("crop"):
            if len(own) >= 12:
                peers.loc[crop] = peer_statistics(own).loc[crop]
                used_tile += 1
            else:
                used_county += 1
        want = vigour_scores(rows, peers=peers)
        for col in ("vigour", "vigour_z"):
            np.testing.assert_allclose(rows[col].to_numpy(float), want[col].to_numpy(float),
                                       rtol=1e-12, atol=0, equal_nan=True)  # fmt: skip
        assert rows["vigour_class"].tolist() == want["vigour_class"].tolist()
    assert used_tile  # both ways are exercised
    assert used_county
    assert result.summary["peers"]["tile_crops"] == used_tile
    assert result.summary["peers"]["tiles"] == len(set(tile_of.values())) > 1
    # the context keeps the tiles' peers: one household decided later is judged as the scan
    # judged it (a household whose parcels all lie in one chunk, whose tile has its own peers)
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.scan import decide_household  # noqa: PLC0415

    ctx_saved = load_context(out)
    assert ctx_saved.peer_tiles is not None
    assert len(ctx_saved.peer_tiles) == used_tile
    own_tiles = set(zip(ctx_saved.peer_tiles["tile_row"], ctx_saved.peer_tiles["tile_col"],
                        ctx_saved.peer_tiles["crop"], strict=True))  # fmt: skip
    key_of = dict(zip([c.id for c in chunks], flow.tile_keys(chunks, 45), strict=True))
    picked = None
    for owner, rows in usable.groupby("owner_ref"):
        if (rows["chunk"] == rows["chunk"].iloc[0]).all() and all(
            (*key_of[rows["chunk"].iloc[0]], crop) in own_tiles for crop in rows["crop"]
        ):
            picked = str(owner)
            break
    assert picked is not None
    inputs = load_inputs(files, chunks={})
    result_hh = decide_household(
        inputs.cube, inputs.titles, picked, context=ctx_saved, weather=inputs.weather,
        subsidies=inputs.subsidies, policy=inputs.policy,
    )  # fmt: skip
    mine = result_hh.parcels.set_index("parcel_id")
    ok = mine["status"] != "error"
    np.testing.assert_allclose(mine.loc[ok, "vigour"].astype(float),
                               usable.loc[mine.index[ok], "vigour"].astype(float),
                               rtol=1e-6)  # fmt: skip
    # (which the county's peers would not give)
    theirs = usable.loc[mine.index[ok]]
    with_county = vigour_scores(theirs, peers=county_peers)["vigour"].to_numpy(float)
    assert not np.allclose(with_county, theirs["vigour"].to_numpy(float), rtol=1e-6)


def test_crops_out_of_fold_are_those_of_assess(
    county: tuple[InputFiles, Path], scanned: Path
) -> None:
    """Without a context the scan's crop step is decide's: out of fold, the declaration check
    and its cleaning round (the fold models trained again without the most suspect
    declarations), so crops, confidences, flags and decisions are those of one-process assess."""
    import agrilend  # noqa: PLC0415
    from agrilend.inputs import load_inputs  # noqa: PLC0415

    files, _ = county
    whole = agrilend.assess(load_inputs(files))
    expected = whole.parcels.set_index("parcel_id")
    got = read_parcels(scanned).set_index("parcel_id").loc[expected.index]
    ok = expected["status"] != "error"
    assert ok.sum() > 50
    assert (got["crop"][ok].astype(str) == expected["crop"][ok].astype(str)).all()
    np.testing.assert_allclose(
        got["crop_confidence"][ok].to_numpy(float),
        expected["crop_confidence"][ok].to_numpy(float),
        rtol=0, atol=1e-9,
    )  # fmt: skip
    flags = got["crop_mismatch"][ok].astype(bool)
    assert (flags == expected["crop_mismatch"][ok].astype(bool)).all()
    households = read_households(scanned).set_index("owner_ref")
    decided = whole.households.set_index("owner_ref").loc[households.index]
    assert (households["decision"] == decided["decision"]).all()


def test_read_geo_keeps_only_the_wanted_title_rows(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {ROW: [7, 3, 9, 4], "name": ["a", "b", "c", "d"]},
        geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs="EPSG:32650",
    )  # fmt: skip
    path = tmp_path / "part.parquet"
    frame.to_parquet(path, index=False)
    got = read_geo(path, columns=[ROW, "name", "geometry"], rows=np.array([9, 3, 11]))
    assert got[ROW].tolist() == [3, 9]
    assert got["name"].tolist() == ["b", "c"]
    assert got.crs == frame.crs
    assert got.geometry.bounds["minx"].tolist() == [1.0, 2.0]
    assert len(read_geo(path)) == 4


def test_outlines_kept_as_wkb_write_the_table_decoded_outlines_write(tmp_path: Path) -> None:
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.errors import ScanError  # noqa: PLC0415
    from agrilend.scan.county_step import TITLE_ROW, read_outlines_apart  # noqa: PLC0415
    from agrilend.scan.households import PartHouseholds, write_final  # noqa: PLC0415

    outlines = [box(0, 0, 1, 1), None, box(5, 5, 7, 6).union(box(9, 9, 10, 10)), box(2, 0, 3, 4)]
    frame = gpd.GeoDataFrame(
        {ROW: [7, 3, 9, 4], "parcel_id": ["a", "b", "c", "d"], "area_ha": [0.5, 0.0, 1.5, 2.0]},
        geometry=outlines, crs="EPSG:32650",
    )  # fmt: skip
    part = tmp_path / "part.parquet"
    frame.to_parquet(part, index=False)
    decoded = read_geo(part)
    apart, kept = read_outlines_apart(part, [ROW, "parcel_id", "area_ha", "geometry"])
    assert kept is not None
    assert apart.geometry.isna().all()
    assert apart.drop(columns="geometry").equals(decoded.drop(columns="geometry"))
    # households in two partitions: the rows are written in another order than the part's
    plan = PartHouseholds(rows=np.array([3, 4, 7, 9]), parts=np.array([1, 0, 1, 0]))
    for frame_in, name, out in ((decoded, "geometry", None), (apart, "geometry", kept)):
        rows = frame_in.rename(columns={ROW: TITLE_ROW})
        groups = write_final(rows, str(tmp_path / f"{out is None}.parquet"), plan, out)
        assert groups == {0: 0, 1: 1}, name
    want, got = (pq.read_table(tmp_path / f"{k}.parquet") for k in (True, False))
    assert got.equals(want)
    assert got.schema.metadata[b"geo"] == want.schema.metadata[b"geo"]
    assert json.loads(got.schema.metadata[b"geo"])["columns"]["geometry"]["geometry_types"] == [
        "MultiPolygon", "Polygon"]  # fmt: skip
    # outlines of other rows are refused, not written beside the wrong parcels
    with pytest.raises(ScanError, match="rows whose outlines"):
        write_final(apart.rename(columns={ROW: TITLE_ROW}).iloc[:3], str(tmp_path / "x.parquet"),
                    None, kept)  # fmt: skip
