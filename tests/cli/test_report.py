"""``agrilend report``: files written, no overwriting, JSON, languages, errors, exit codes.

The pipeline is replaced by the hand-built assessment of ``tests/report/_fixtures.py`` so these
tests exercise the command itself; the end-to-end run on the sample county is in
``test_report_sample.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from click.testing import CliRunner

from agrilend.cli import report as report_cli
from agrilend.cli.main import cli
from agrilend.inputs import InputFiles
from agrilend.parcels import pseudonymize
from agrilend.report import pdf as pdf_module
from tests.report import _fixtures
from tests.report._dom import figure_values
from tests.report._sample import small_county

HOUSEHOLD = _fixtures.OWNERS[0]
BUILT = _fixtures.build()
#: Without the cube only the overview map is drawn: the command is under test, not the maps.
PIPELINE = (BUILT[0], None, None)


@pytest.fixture(autouse=True)
def fake_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(
        files: Any, *, context: Path | None = None, target: str | None = None, progress: Any = None
    ) -> Any:
        calls.append({"files": files, "context": context, "target": target})
        return PIPELINE

    monkeypatch.setattr(report_cli, "run_assessment", run)
    monkeypatch.setattr(InputFiles, "sample", classmethod(lambda cls: cls(Path("t"), Path("i"))))
    monkeypatch.chdir(tmp_path)
    return calls


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["report", *args])


def test_writes_the_report_and_refuses_to_overwrite(tmp_path: Path) -> None:
    res = run(HOUSEHOLD, "-q")
    assert res.exit_code == 0, res.output
    out = tmp_path / f"report-{HOUSEHOLD}-en.html"
    assert out.exists()
    assert str(out.name) in res.stdout
    html = out.read_text(encoding="utf-8")
    line = BUILT[0].households.set_index("owner_ref").loc[HOUSEHOLD, "credit_line"]
    assert figure_values(html, "credit_line") == [pytest.approx(line)]

    again = run(HOUSEHOLD)
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert "--overwrite" in again.stderr
    assert run(HOUSEHOLD, "--overwrite").exit_code == 0


def test_json_summary_in_chinese(tmp_path: Path) -> None:
    res = run(HOUSEHOLD, "--lang", "zh", "--out", "sub/r.html", "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    hh = BUILT[0].households.set_index("owner_ref").loc[HOUSEHOLD]
    assert payload["target"] == HOUSEHOLD
    assert payload["kind"] == "household"
    assert payload["decision"] == hh["decision"]
    assert payload["credit_line"] == pytest.approx(hh["credit_line"])
    assert payload["pdf"] is None
    page = Path(payload["html"])
    assert page == Path("sub/r.html")
    assert "农户授信报告" in (tmp_path / page).read_text(encoding="utf-8")


def test_parcel_report(tmp_path: Path) -> None:
    pid = str(BUILT[0].parcels["parcel_id"].iloc[6])
    res = run(pid, "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["kind"] == "parcel"
    assert payload["household"] == BUILT[0].parcels["owner_ref"].iloc[6]
    assert payload["n_parcels"] == 1


def test_pdf_is_written_beside_the_html(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    printed: list[Path] = []

    def fake_pdf(html: str, out: Path, **_: Any) -> Path:
        printed.append(Path(out))
        Path(out).write_bytes(b"%PDF-1.7 stub")
        return Path(out)

    monkeypatch.setattr(pdf_module, "html_to_pdf", fake_pdf)
    res = run(HOUSEHOLD, "--pdf", "--out", "r.html", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["pdf"] == "r.pdf"
    assert printed == [Path("r.pdf")]
    # the PDF is protected like the HTML
    res = run(HOUSEHOLD, "--pdf", "--out", "other.html")
    assert res.exit_code == 0
    Path("x.pdf").write_bytes(b"keep")
    res = run(HOUSEHOLD, "--pdf", "--out", "x.html")
    assert res.exit_code == 1
    assert "x.pdf" in res.stderr
    assert Path("x.pdf").read_bytes() == b"keep"
    assert not Path("x.html").exists()


def test_unknown_id_is_one_line_with_valid_examples(caplog: pytest.LogCaptureFixture) -> None:
    res = run("H-000000000000")
    assert res.exit_code == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: no household or parcel 'H-000000000000'")
    assert HOUSEHOLD in lines[0]
    assert not any(r.exc_info for r in caplog.records)
    run("H-000000000000", "-v")  # with -v the traceback is logged
    assert any(r.exc_info for r in caplog.records)


def test_own_data_needs_titles_and_imagery(tmp_path: Path) -> None:
    (tmp_path / "t.gpkg").write_bytes(b"")
    res = run(HOUSEHOLD, "--titles", "t.gpkg")
    assert res.exit_code == 2
    assert "--imagery" in res.stderr
    res = run(HOUSEHOLD, "--titles", "t.gpkg", "--imagery", "missing.nc")
    assert res.exit_code == 1
    assert "missing.nc" in res.stderr


def test_context_folder_is_passed_on(fake_pipeline: list[dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "scan").mkdir()
    assert run(HOUSEHOLD, "--context", "scan", "-q").exit_code == 0
    assert fake_pipeline[-1]["context"] == Path("scan")


def test_help_has_examples() -> None:
    res = run("--help")
    assert res.exit_code == 0
    assert "Examples:" in res.stdout
    assert "--lang zh --pdf" in res.stdout
    assert run().exit_code == 2  # the id is required
    assert run(HOUSEHOLD, "--lang", "fr").exit_code == 2


@pytest.mark.slow
def test_installed_command_on_the_sample_county(sample_data: Path, tmp_path: Path) -> None:
    """From the shell, with no input flags: the (small copy of the) sample county, in Chinese."""
    if not (sample_data / "titles.gpkg").exists():
        pytest.skip("sample_data is not generated")
    exe = shutil.which("agrilend") or str(Path(sys.executable).with_name("agrilend"))
    if not Path(exe).exists():
        pytest.skip("the agrilend command is not installed (pip install -e .)")
    county = small_county(sample_data, tmp_path / "county")
    env = {**os.environ, "AGRILEND_SAMPLE_DATA": str(county)}
    # the household of the first title, pseudonymised with the key the pipeline will use
    first = gpd.read_file(county / "titles.gpkg", layer="titles", rows=1, ignore_geometry=True)
    household = str(pseudonymize([first["CBFBM"].iloc[0]])[0])
    args = [exe, "report", household, "--lang", "zh", "--json", "-q"]
    res = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert payload["household"] == household
    html = (tmp_path / payload["html"]).read_text(encoding="utf-8")
    assert "农户授信报告" in html
    assert figure_values(html, "credit_line") == [pytest.approx(payload["credit_line"])]
