"""A tile's peers are made once per context: households decided one by one with one context
judge by the same tiles, and a context given other peers gets them anew."""

from __future__ import annotations

import pandas as pd

from agrilend.assessment import CountyContext
from agrilend.scan.county_flow import peers_of_tile


def _context(maize_p50: float) -> CountyContext:
    county = pd.DataFrame({"p50": [0.6, 0.5], "n": [100, 80]}, index=["maize", "wheat"])
    county.index.name = "crop"
    tiles = pd.DataFrame({"tile_px": [45], "tile_row": [0], "tile_col": [1], "crop": ["maize"],
                          "p50": [maize_p50], "n": [40]})  # fmt: skip
    return CountyContext(peer_stats=county, peer_tiles=tiles)


def test_a_tiles_peers_are_its_own_rows_over_the_countys_and_kept_for_the_next_household() -> None:
    ctx = _context(0.7)
    first = peers_of_tile(ctx, (0, 1))
    assert first.loc["maize", "p50"] == 0.7
    assert first.loc["wheat", "p50"] == 0.5
    assert first.loc["maize", "n"] == 40
    assert ctx.peer_stats.loc["maize", "p50"] == 0.6  # the county's peers are left as they were
    assert peers_of_tile(ctx.copy(), (0, 1)) is first  # copies share the tables
    assert peers_of_tile(ctx, (5, 5)) is ctx.peer_stats  # a tile without its own rows
    assert peers_of_tile(ctx, None) is ctx.peer_stats


def test_a_context_given_other_peers_does_not_get_the_old_tiles() -> None:
    ctx = _context(0.7)
    assert peers_of_tile(ctx, (0, 1)).loc["maize", "p50"] == 0.7
    ctx.peer_tiles = _context(0.9).peer_tiles
    assert peers_of_tile(ctx, (0, 1)).loc["maize", "p50"] == 0.9
    ctx.peer_stats = _context(0.9).peer_stats.assign(p50=[0.1, 0.2])
    again = peers_of_tile(ctx, (0, 1))
    assert again.loc["maize", "p50"] == 0.9
    assert again.loc["wheat", "p50"] == 0.2
