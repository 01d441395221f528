"""Every decision can be made again: manifests name the inputs and versions, and re-running from
a manifest gives the same numbers; an input whose bytes changed is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agrilend import __version__
from agrilend.errors import InputPathError, InputsChangedError, TableReadError
from agrilend.inputs import InputFiles, file_checksum
from agrilend.manifest import inputs_from_manifest, read_manifest, write_manifest

MANIFEST_KEYS = ("inputs", "agrilend_version", "model_version", "policy_version", "imagery_dates")


@pytest.mark.slow
@pytest.mark.parametrize("run", ["demo", "scan"])
def test_manifest_says_what_the_run_was_made_from(canary_runs: dict[str, Any], run: str) -> None:
    result = canary_runs[run]
    assert result["returncode"] == 0, result["log"][-3000:]
    m = read_manifest(result["out"] / "manifest.json")
    for key in MANIFEST_KEYS:
        assert m.get(key), (run, key)
    assert m["agrilend_version"] == __version__
    sample = dict(InputFiles.sample().items())
    assert set(m["inputs"]) >= {"titles", "imagery", "weather", "subsidies", "policy"}
    for name, info in m["inputs"].items():
        assert info["checksum"] == file_checksum(sample[name]), name
    assert len(m["imagery_dates"]) == 73  # the sample county's 2024 at 5-day revisit


def _norm(x: Any) -> str:
    """One text per value, whatever the storage gave back (lists, missing values, dates)."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return json.dumps([_norm(v) for v in x])
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return "<missing>"
    if isinstance(x, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(x).isoformat()
    return str(x)


def _same(a: pd.Series, b: pd.Series, what: str) -> None:
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, err_msg=what)
    else:
        assert [_norm(x) for x in a] == [_norm(x) for x in b], what


@pytest.mark.slow
def test_rerun_from_the_demo_manifest_gives_the_same_decisions(
    canary_runs: dict[str, Any], sample_assessment: Any
) -> None:
    """The demo ran in its own process; the session's assessment is ``assess(load_inputs(f))``
    for the files ``f`` the manifest names (checked equal, byte for byte), so the two must agree
    to the last digit on every line, decision, reason and parcel estimate."""
    out = canary_runs["demo"]["out"]
    files = inputs_from_manifest(out / "manifest.json")  # verifies every checksum
    sample = InputFiles.sample()
    assert {k: Path(v).resolve() for k, v in files.items()} == {
        k: Path(v).resolve() for k, v in sample.items()
    }
    demo_hh = pd.read_parquet(out / "households.parquet").set_index("owner_ref")
    again_hh = sample_assessment.households.set_index("owner_ref").reindex(demo_hh.index)
    assert len(demo_hh) == len(sample_assessment.households)
    for col in ("credit_line", "decision", "reason_codes", "reasons_en", "reasons_zh",
                "expected_revenue", "cultivated_area_ha", "tenor_months"):  # fmt: skip
        _same(demo_hh[col], again_hh[col], f"households.{col}")
    demo_p = pd.read_parquet(out / "parcels.parquet").set_index("parcel_id")
    again_p = pd.DataFrame(sample_assessment.parcels).set_index("parcel_id").reindex(demo_p.index)
    for col in ("status", "message", "crop", "crop_confidence", "cultivated_area_ha",
                "vigour", "sos", "pos", "eos", "yield_t_ha", "yield_low", "yield_high",
                "owner_ref"):  # fmt: skip
        _same(demo_p[col], again_p[col], f"parcels.{col}")


@pytest.fixture
def copied_sample(tmp_path: Path) -> InputFiles:
    src = InputFiles.sample()
    paths: dict[str, Path] = {}
    for name, path in src.items():
        dst = tmp_path / "inputs" / Path(path).name
        dst.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, dst)
        paths[name] = dst
    return InputFiles.from_paths(**paths)


@pytest.mark.parametrize("name", ["titles", "imagery", "weather", "subsidies", "policy"])
def test_changed_input_bytes_are_refused(
    copied_sample: InputFiles, tmp_path: Path, name: str
) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", files=copied_sample)
    assert inputs_from_manifest(manifest) == copied_sample
    target = Path(dict(copied_sample.items())[name])
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle
    target.write_bytes(bytes(data))
    with pytest.raises(InputsChangedError, match=name):
        inputs_from_manifest(manifest)
    assert inputs_from_manifest(manifest, verify=False) == copied_sample


def test_missing_input_and_broken_manifests(copied_sample: InputFiles, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", files=copied_sample)
    Path(copied_sample.weather or "").unlink()
    with pytest.raises(InputPathError, match="weather"):
        inputs_from_manifest(manifest)
    for text in ("", "{", "[]", '{"manifest_format": 99}'):
        bad = tmp_path / "bad.json"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(TableReadError, match="manifest"):
            read_manifest(bad)
