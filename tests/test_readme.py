"""The README's Python examples run as written, from the repository's root and from any other
directory (the defect: example 2 read ``sample_data/`` relative to the working directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(README.parent)
    exec(compile(code, str(README), "exec"), {})
    assert capsys.readouterr().out.strip()


#: Blocks that open files by path (the whole-county assessment of block 0 is run once, above).
PATH_BLOCKS = [b for b in BLOCKS if "assess(" not in b]


@pytest.mark.parametrize("code", PATH_BLOCKS, ids=[f"path{i}" for i in range(len(PATH_BLOCKS))])
def test_readme_example_runs_from_any_directory(
    code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    assert capsys.readouterr().out.strip()
