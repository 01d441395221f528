"""Titles near another chunk: the rows whose bounds meet a row of another chunk, found a batch of
boxes at a time (the client's memory stays that of a batch), equal to comparing every pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.scan import county_step
from agrilend.scan.county_step import cross_chunk_rows


def _every_pair(b: np.ndarray, chunk_of: np.ndarray) -> list[int]:
    ok = np.isfinite(b).all(axis=1)
    meet = (
        (b[:, None, 0] <= b[None, :, 2])
        & (b[None, :, 0] <= b[:, None, 2])
        & (b[:, None, 1] <= b[None, :, 3])
        & (b[None, :, 1] <= b[:, None, 3])
        & ok[:, None]
        & ok[None, :]
        & (chunk_of[:, None] != chunk_of[None, :])
    )
    return np.flatnonzero(meet.any(axis=1)).tolist()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 70),
    n_chunks=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    batch=st.sampled_from([1, 7, 50_000]),
)
def test_cross_chunk_rows_equal_every_pair_compared(
    n: int, n_chunks: int, seed: int, batch: int
) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    w, h = rng.uniform(0.5, 15, n), rng.uniform(0.5, 15, n)
    b = np.stack([x, y, x + w, y + h], axis=1)
    b[rng.random(n) < 0.1] = np.nan  # titles without an outline meet nothing
    chunk_of = rng.integers(0, n_chunks, n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(county_step, "_BOX_BATCH", batch)
        assert cross_chunk_rows(b, chunk_of).tolist() == _every_pair(b, chunk_of)
