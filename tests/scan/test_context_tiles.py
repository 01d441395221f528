"""One household decided from a saved context judges each parcel by its own peer tile, as the
scan did: the tile of the window of the chunk the scan put the parcel in (kept in the context,
``parcel_tiles.parquet``), not the tile of the household's own window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from agrilend.inputs import InputFiles, load_inputs
from agrilend.scan import county_flow as flow
from agrilend.scan import county_step as step
from agrilend.scan import decide_household, load_context, save_context, scan
from agrilend.scan.context import ParcelTiles
from agrilend.scan.parts import partition
from agrilend.yield_models.vigour import vigour_scores
from tests._scan_county import make_county, make_light_context

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
]
TILE_PX = 45


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InputFiles, Path]]:
    """A county scanned with peers by 45 px tiles (12 parcels of a crop make a tile's own
    peers), in 30 px chunks."""
    root = tmp_path_factory.mktemp("tiles")
    files = make_county(root / "county", size=110)
    ctx = make_light_context(files, root / "ctx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(step, "MIN_TILE_PEERS", 12)
        scan(files, root / "scan", chunk_size_px=30, workers=0, context=load_context(ctx),
             peer_tile_px=TILE_PX)  # fmt: skip
        yield files, root / "scan"


def _scanned(out: Path) -> pd.DataFrame:
    """The scan's parcels, each with the tile of its chunk's window."""
    plan = json.loads((out / "scan.json").read_text(encoding="utf-8"))
    window = {c["id"]: tuple(c["window"]) for c in plan["chunks"]}
    frames = []
    for path in sorted((out / "parcels.parquet").glob("*.parquet")):
        part = gpd.read_parquet(path)
        key = flow.tile_key(window[path.stem], TILE_PX)
        frames.append(part.assign(tile_row=key[0], tile_col=key[1]))
    return pd.concat(frames, ignore_index=True).set_index("parcel_id", drop=False)


def test_the_context_keeps_each_parcels_tile(tiled: tuple[InputFiles, Path]) -> None:
    _, out = tiled
    parcels = _scanned(out)
    ctx = load_context(out)
    assert isinstance(ctx.parcel_tiles, ParcelTiles)
    assert ctx.parcel_tiles.tile_px == TILE_PX
    saved = pd.read_parquet(out / "context" / "parcel_tiles.parquet")
    assert saved["parcel_id"].is_monotonic_increasing  # sorted: a lookup reads few row groups
    assert set(saved["parcel_id"]) == set(parcels.index)
    got = ctx.parcel_tiles.of(parcels.index)
    want = dict(zip(parcels.index, zip(parcels["tile_row"], parcels["tile_col"], strict=True),
                    strict=True))  # fmt: skip
    assert got == want
    assert len(set(got.values())) > 1
    assert pq.ParquetFile(out / "context" / "parcel_tiles.parquet").metadata.num_rows == len(got)


def test_a_context_saved_again_elsewhere_keeps_the_parcels_tiles(
    tiled: tuple[InputFiles, Path], tmp_path: Path
) -> None:
    _, out = tiled
    ctx = load_context(out)
    again = load_context(save_context(ctx, tmp_path / "copy"))
    assert isinstance(again.parcel_tiles, ParcelTiles)
    ids = pd.read_parquet(out / "context" / "parcel_tiles.parquet")["parcel_id"].tolist()
    assert again.parcel_tiles.of(ids) == ctx.parcel_tiles.of(ids)


def _household_window_tile(titles: gpd.GeoDataFrame, cube: Any, owner: str) -> tuple[int, int]:
    """The tile the household's own window falls in (what judged every parcel before)."""
    mine = titles[titles["owner_ref"] == owner].reset_index(drop=True)
    side = max(cube.sizes["y"], cube.sizes["x"])
    (chunk,) = partition(mine, transform=cube.rio.transform(),
                         shape=(cube.sizes["y"], cube.sizes["x"]), chunk_size_px=side,
                         margin_px=2)  # fmt: skip
    return flow.tile_key(chunk.window, TILE_PX)


def test_a_household_across_tiles_gets_the_scans_parcel_rows(
    tiled: tuple[InputFiles, Path],
) -> None:
    files, out = tiled
    parcels = _scanned(out)
    usable = parcels[parcels["status"] != "error"]
    ctx = load_context(out)
    inputs = load_inputs(files, chunks={})
    # a household whose parcels lie in two tiles or more, one of which the window's tile
    # judges by other peers than its own tile's (so the old rule gives another vigour)
    picked = None
    for owner, rows in usable.groupby("owner_ref"):
        if len(set(zip(rows["tile_row"], rows["tile_col"], strict=True))) < 2:
            continue
        window_tile = _household_window_tile(inputs.titles, inputs.cube, str(owner))
        old = vigour_scores(rows, peers=flow.peers_of_tile(ctx, window_tile))["vigour"]
        if not np.allclose(old.to_numpy(float), rows["vigour"].to_numpy(float), rtol=1e-6,
                           equal_nan=True):  # fmt: skip
            picked = str(owner)
            break
    assert picked is not None, "no household across tiles judged differently by its window"
    result = decide_household(
        inputs.cube, inputs.titles, picked, context=ctx, weather=inputs.weather,
        subsidies=inputs.subsidies, policy=inputs.policy,
    )  # fmt: skip
    mine = result.parcels.set_index("parcel_id")
    theirs = usable.loc[usable["owner_ref"] == picked]
    assert set(mine.index) == set(theirs.index)
    mine = mine.loc[theirs.index]
    for col in ("vigour", "vigour_z", "yield_t_ha", "yield_low", "yield_high"):
        np.testing.assert_allclose(mine[col].to_numpy(float), theirs[col].to_numpy(float),
                                   rtol=1e-6, equal_nan=True, err_msg=col)  # fmt: skip
    for col in ("vigour_class", "crop", "status"):
        assert mine[col].astype(str).tolist() == theirs[col].astype(str).tolist(), col
    scanned_hh = pd.read_parquet(out / "households.parquet").set_index("owner_ref").loc[picked]
    (row,) = result.households.to_dict(orient="records")
    assert row["decision"] == scanned_hh["decision"]
    assert row["credit_line"] == pytest.approx(float(scanned_hh["credit_line"]), rel=1e-9)


def test_without_the_parcels_tiles_the_households_window_tile_judges(
    tiled: tuple[InputFiles, Path],
) -> None:
    """A context saved before the tiles were kept (no parcel_tiles.parquet) decides as it did:
    every parcel by the tile of the household's window."""
    files, out = tiled
    ctx = load_context(out)
    ctx.parcel_tiles = None
    inputs = load_inputs(files, chunks={})
    owner = str(_scanned(out)["owner_ref"].iloc[0])
    result = decide_household(inputs.cube, inputs.titles, owner, context=ctx,
                              weather=inputs.weather, subsidies=inputs.subsidies,
                              policy=inputs.policy)  # fmt: skip
    ok = result.parcels[result.parcels["status"] != "error"]
    peers = flow.peers_of_tile(ctx, _household_window_tile(inputs.titles, inputs.cube, owner))
    want = vigour_scores(ok, peers=peers)["vigour"].to_numpy(float)
    np.testing.assert_allclose(ok["vigour"].to_numpy(float), want, rtol=1e-9, equal_nan=True)


def test_a_scan_judged_by_a_given_contexts_peers_keeps_no_tiles(
    tiled: tuple[InputFiles, Path], tmp_path: Path
) -> None:
    """A scan given a tiled scan's context judges every parcel by that context's county peers
    (summary: no tile side): its own context keeps no tiles, so a household decided from it
    is judged as that scan judged it (it kept the given context's tiles, and was not)."""
    files, out = tiled
    again = tmp_path / "again"
    result = scan(files, again, chunk_size_px=110, workers=0, context=load_context(out))
    assert result.summary["peers"]["tile_px"] is None
    ctx = load_context(again)
    assert ctx.peer_tiles is None
    assert ctx.parcel_tiles is None
    assert not (again / "context" / "parcel_tiles.parquet").exists()
