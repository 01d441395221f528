"""No farmer's identity in any output: the demo's and a county scan's files and logs, scanned.

The raw owner codes (``CBFBM``), names (``CBFMC``), resident ID numbers (``ZJHM``) and phone
numbers (``LXDH``) of the sample registry, and the raw owner ids of the subsidy file, are read
straight from the source files. Every file the demo and the scan write (Parquet: every string
column and the raw bytes; GeoPackage: every layer's attributes and the raw bytes; HTML, JSON,
CSV, text; PDF through ``pdftotext``; anything else as bytes; Parquet bytes are compressed, so
only its decoded columns count) and their ``-vv`` logs are searched
for those values, for any 18-digit resident ID number with a valid ISO 7064 MOD 11-2 check digit
and for any mobile number. Digit runs are matched whole, so a 19-digit parcel code (not personal
data) never counts as an ID number, and a decimal fraction never counts as a phone number.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.slow

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
#: Whole digit runs (an ID may end in X); a run right after a decimal point is a fraction.
_RUN = re.compile(r"(?<![0-9.])[0-9]+[Xx]?(?![0-9])")


def valid_resident_id(s: str) -> bool:
    """An 18-character Chinese resident ID number whose check digit is right (ISO 7064 11-2).

    >>> valid_resident_id("11010519491231002X"), valid_resident_id("110105194912310021")
    (True, False)
    """
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", s):
        return False
    total = sum(int(d) * w for d, w in zip(s[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == s[17].upper()


def test_the_check_digit_rule_on_the_registry() -> None:
    ids = _registry()["ZJHM"].astype(str)
    assert ids.map(valid_resident_id).all()  # the synthetic IDs are well formed
    assert not valid_resident_id(ids.iloc[0][:17] + ("0" if ids.iloc[0][17] != "0" else "1"))


def _registry() -> pd.DataFrame:
    return pyogrio.read_dataframe(SAMPLE_DATA / "titles.gpkg", read_geometry=False)


def _personal() -> dict[str, set[str]]:
    reg = _registry()
    subs = pd.read_csv(SAMPLE_DATA / "subsidies.csv", encoding="gbk", dtype=str)
    owners = set(reg["CBFBM"].astype(str)) | set(subs["owner_id"].dropna().astype(str))
    return {
        "owner id": owners,
        "name": set(reg["CBFMC"].astype(str)),
        "resident id": set(reg["ZJHM"].astype(str)),
        "phone": set(reg["LXDH"].astype(str)),
    }


def _text_of(path: Path) -> tuple[str, bytes]:
    """What a person or a program can read in a file, and its raw bytes."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = pq.read_table(path)
        parts = [
            "\n".join(map(str, col.to_pylist()))
            for col in table.columns
            if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type))
        ]
        parts.append(str(table.schema.metadata or {}))
        # the bytes are compressed: runs in them are artefacts; every column was read above
        return "\n".join(parts), b""
    if suffix == ".gpkg":
        parts = []
        for name, _ in pyogrio.list_layers(path):
            df = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
            parts.append(df.astype(str).to_csv())
        return "\n".join(parts), raw
    if suffix == ".pdf" and shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, check=True, timeout=120
        )
        return out.stdout.decode("utf-8", "replace"), raw
    if suffix in {".html", ".json", ".csv", ".txt", ".log", ".svg", ".toml", ".md", ".xml"}:
        return raw.decode("utf-8", "replace"), raw
    return "", raw


def _leaks(text: str, raw: bytes, personal: dict[str, set[str]]) -> list[str]:
    found: list[str] = []
    runs = set(_RUN.findall(text))
    raw_runs = set(_RUN.findall(raw.decode("latin-1")))
    for kind in ("owner id", "resident id", "phone"):
        found += [f"{kind} {h}" for h in sorted(runs & personal[kind])[:3]]
        found += [f"{kind} (bytes) {h}" for h in sorted(raw_runs & personal[kind])[:3]]
    names = personal["name"]
    cells = set(re.split(r"[\s,;\"'<>|\[\]{}:()]+", text))
    found += [f"name {n}" for n in sorted(names & cells)[:3]]
    found += [f"name {n}" for n in sorted(names) if len(n) >= 3 and n in text][:3]
    found += [f"name (bytes) {n}" for n in sorted(names) if len(n) >= 3 and n.encode() in raw][:3]
    found += [f"resident id pattern {r}" for r in sorted(runs) if valid_resident_id(r)][:3]
    found += [f"phone pattern {r}" for r in sorted(runs) if re.fullmatch(r"1[3-9][0-9]{9}", r)][:3]
    return found


def _scan_folder(folder: Path, personal: dict[str, set[str]]) -> tuple[int, dict[str, list[str]]]:
    n = 0
    leaks: dict[str, list[str]] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        n += 1
        text, raw = _text_of(p)
        hits = _leaks(text, raw, personal)
        if hits:
            leaks[str(p.relative_to(folder))] = hits
    return n, leaks


def test_the_scanner_finds_planted_identities(tmp_path: Path) -> None:
    """The scan would see a leak: plant one of each kind and find them all."""
    personal = _personal()
    reg = _registry()
    row = reg.iloc[0]
    pd.DataFrame({"who": [row["CBFMC"]], "code": [row["CBFBM"]]}).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.html").write_text(f"<td>{row['ZJHM']}</td><td>tel {row['LXDH']}</td>")
    (tmp_path / "c.json").write_text('{"id": "11010519491231002X", "tel": "13912345678"}')
    (tmp_path / "d.csv").write_text("parcel_id,x\n1311991012010100001,0.13912345678\n")
    _, leaks = _scan_folder(tmp_path, personal)
    assert set(leaks) == {"a.parquet", "b.html", "c.json"}, leaks
    assert any("name" in h for h in leaks["a.parquet"])
    assert any("owner id" in h for h in leaks["a.parquet"])
    assert any("resident id" in h for h in leaks["b.html"])
    assert any("phone" in h for h in leaks["b.html"])
    assert any("resident id pattern" in h for h in leaks["c.json"])
    assert any("phone pattern" in h for h in leaks["c.json"])


@pytest.mark.parametrize("run", ["demo", "scan"])
def test_no_identity_in_any_output_or_log(canary_runs: dict[str, Any], run: str) -> None:
    result = canary_runs[run]
    assert result["returncode"] == 0, result["log"][-3000:]
    personal = _personal()
    n, leaks = _scan_folder(result["out"], personal)
    assert n >= 4, f"{run} wrote only {n} files"
    for name in ("log", "stdout"):
        hits = _leaks(result[name], result[name].encode(), personal)
        if hits:
            leaks[f"<{name}>"] = hits
    assert "DEBUG" in result["log"]  # the log was captured at debug level
    assert not leaks, leaks
