"""``agrilend report ID``: one household's or parcel's report as HTML (and PDF)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from agrilend._paths import local_path
from agrilend.cli._crop_model import with_crop_model
from agrilend.cli._progress import progress_steps
from agrilend.cli.options import (
    check_output,
    common_options,
    emit_json,
    input_files,
    input_options,
    json_option,
    overwrite_option,
)
from agrilend.glossary import term
from agrilend.report.i18n import Lang

if TYPE_CHECKING:
    from agrilend.inputs import InputFiles

log = logging.getLogger(__name__)

#: Progress steps: opening inputs, the steps of assess, rendering.
_STEPS = 14


def run_assessment(
    files: InputFiles,
    *,
    context: Path | None = None,
    target: str | None = None,
    progress: Callable[[str], None] | None = None,
    model: Path | None = None,
) -> tuple[Any, Any, Any]:
    """Open the inputs and run :func:`agrilend.pipeline.assess`.

    Returns ``(assessment, cube, titles)``: ``titles`` are the county's titles when a household
    was decided alone (the report's overview map draws its neighbours among them), else None.

    ``context`` is a folder left by ``agrilend scan`` (its county context: crop model, peers,
    normals); when given, the household is judged against the county it was scanned with
    instead of against the parcels of these inputs alone, and with a ``target`` (a household
    pseudonym or a parcel id) only that household's parcels are read and decided
    (:func:`agrilend.scan.decide_household`: about a second, whatever the county's size).
    The input files' names and checksums go into the provenance, so the report can be
    reproduced. ``model`` is a crop model file from ``agrilend train``: it replaces the
    context's crop model (or is the only thing taken from elsewhere).
    """
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.pipeline import assess  # noqa: PLC0415  (heavy imports only when run)

    if progress is not None:
        progress("opening inputs")
    if context is None:
        inputs = load_inputs(files)
        county = with_crop_model(None, model) if model is not None else None
        return assess(inputs, context=county, progress=progress), inputs.cube, None
    from agrilend.scan import decide_household, load_context  # noqa: PLC0415

    county = load_context(context)
    if model is not None:
        county = with_crop_model(county, model)
    if target is None:
        inputs = load_inputs(files)
        return assess(inputs, context=county, progress=progress), inputs.cube, None
    inputs = load_inputs(files, chunks={})  # lazy: only the household's window is read
    assessment = decide_household(
        inputs.cube, inputs.titles, target, context=county, weather=inputs.weather,
        subsidies=inputs.subsidies, policy=inputs.policy,
    )  # fmt: skip
    assessment.provenance["inputs"] = files.describe()
    return assessment, inputs.cube, inputs.titles


def check_id(files: InputFiles, target_id: str) -> str:
    """``target_id`` checked against the titles alone (fast), normalised; else a clear error.

    Raises
    ------
    UnknownTargetError
        No title carries it as household pseudonym (any case, ``h-`` too) or parcel id.
    """
    from agrilend.parcels import read_titles  # noqa: PLC0415
    from agrilend.report.from_scan import check_target  # noqa: PLC0415

    titles = read_titles(files.titles, mapping=files.titles_mapping)
    return check_target(
        target_id, titles["owner_ref"], titles["parcel_id"], where=f"{files.titles.name!r}"
    )


def _default_out(target_id: str, lang: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in target_id)
    return Path(f"report-{safe}-{lang}.html")


@click.command(name="report")
@click.argument("target_id", metavar="HOUSEHOLD_OR_PARCEL_ID")
@input_options()
@click.option(
    "--context",
    type=click.Path(file_okay=False),
    help="Folder of a county scan: its household's own rows and decision (else its crop "
    "model, peers and normals); the report goes to its reports/ folder by default.",
)
@click.option(
    "--model", type=click.Path(dir_okay=False),
    help="Crop model file from `agrilend train` (replaces a --context's crop model).",
)  # fmt: skip
@click.option(
    "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
    help="Language of the report (zh: Chinese).",
)  # fmt: skip
@click.option("--pdf", is_flag=True, help="Also print a PDF beside the HTML.")
@click.option(
    "--out", type=click.Path(dir_okay=False),
    help="HTML file to write [default: report-ID-LANG.html here].",
)  # fmt: skip
@overwrite_option
@json_option
@common_options
def command(  # noqa: PLR0917  (click passes every option by keyword)
    target_id: str,
    given: dict[str, str | None],
    context: str | None,
    model: str | None,
    lang: str,
    pdf: bool,
    out: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write the report of one household (pseudonym H-...) or one parcel.

    The report is one self-contained HTML file (it opens offline and can be mailed): maps of
    the parcels, their NDVI curves against peers, crop, area, vigour, yield, weather,
    subsidies, the credit line with its reasons, and what is needed to reproduce it. With no
    input files the embedded sample county is used; give --titles and --imagery (and the other
    files) to report on your own data.

    \b
    Examples:
      agrilend report H-1a2b3c4d5e6f                       # sample county, English
      agrilend report H-1a2b3c4d5e6f --lang zh --pdf       # Chinese, with a PDF to print
      agrilend report 1311991012010100082 --titles t.gpkg --imagery cube.nc --out parcel.html
      agrilend report H-1a2b3c4d5e6f --json | jq .credit_line
      agrilend report H-1a2b3c4d5e6f --model crops.agm   # a model from `agrilend train`
    """
    from agrilend.report import render_report  # noqa: PLC0415  (matplotlib is slow to import)
    from agrilend.report.from_scan import (  # noqa: PLC0415
        ScanFolder,
        check_target,
        open_from_scan,
        report_path,
        scan_files,
    )
    from agrilend.report.target import resolve_target  # noqa: PLC0415

    files = input_files(given, doing="using")
    context_dir = local_path(context, what="scan context") if context else None
    folder = ScanFolder.find(context_dir) if context_dir is not None else None
    # the id is checked (case-insensitively) before anything heavy is read
    if folder is not None:
        tid = check_target(target_id, *folder.ids(), where=f"the scan in {str(folder.root)!r}")
        if all(v is None for v in given.values()):
            files = scan_files(folder, files)
        default_out = report_path(folder.root, tid, lang)
    else:
        tid = check_id(files, target_id)
        default_out = _default_out(tid, lang)
    html_path = check_output(Path(out) if out else default_out, overwrite=overwrite)
    pdf_path = html_path.with_suffix(".pdf") if pdf else None
    if pdf_path is not None:
        check_output(pdf_path, overwrite=overwrite)

    # only a given --model is passed on (run_assessment's other callers do not know it)
    extra = {"model": local_path(model, what="crop model")} if model else {}
    with progress_steps(_STEPS) as step:
        if folder is not None and model is None:  # one truth: the scan's own rows and decision
            step.advance("reading the household's rows from the scan")
            assessment, cube, neighbours = open_from_scan(folder, tid, files=files)
        else:
            assessment, cube, neighbours = run_assessment(
                files, context=context_dir, target=tid, progress=step.advance, **extra
            )
        target = resolve_target(assessment, tid)
        step.advance(f"rendering the {lang} report" + (" and its PDF" if pdf else ""))
        monitoring = _monitoring(context_dir, target.owner_ref)
        written = render_report(
            assessment, target.target_id, cube=cube, lang=cast(Lang, lang), out=html_path,
            pdf=pdf, neighbours=neighbours, monitoring=monitoring,
        )  # fmt: skip
        from agrilend.manifest import write_manifest  # noqa: PLC0415

        manifest = write_manifest(
            html_path.with_name(html_path.stem + ".manifest.json"),
            files=files,
            provenance=assessment.provenance,
            target=target.target_id,
            lang=lang,
        )

    hh = target.household
    summary: dict[str, Any] = {
        "target": target.target_id,
        "kind": target.kind,
        "household": target.owner_ref,
        "lang": lang,
        "html": str(written),
        "pdf": str(pdf_path) if pdf_path else None,
        "manifest": str(manifest),
        "n_parcels": len(target.parcels),
    }
    if hh is not None:
        for key in ("decision", "credit_line", "currency", "tenor_months"):
            summary[key] = hh.get(key)
    if as_json:
        emit_json(summary)
        return
    line = f"wrote {written}"
    if pdf_path is not None:
        line += f" and {pdf_path}"
    if hh is not None:
        import pandas as pd  # noqa: PLC0415

        tenor = hh.get("tenor_months")
        months = "" if tenor is None or pd.isna(tenor) else f" for {int(tenor)} months"
        line += (
            f" ({target.owner_ref}: {term('decision', hh.get('decision'))}, "
            f"{hh.get('currency', '')} {float(hh.get('credit_line') or 0):,.0f}{months})"
        )
    click.echo(line)


def _monitoring(context_dir: Path | None, owner_ref: str | None) -> list[dict[str, Any]]:
    """The household's monitoring history when the scan given by --context was monitored."""
    if context_dir is None or owner_ref is None:
        return []
    from agrilend.monitor import household_history  # noqa: PLC0415

    scan_dir = context_dir.parent if context_dir.name == "context" else context_dir
    return household_history(scan_dir, owner_ref)


__all__ = ["check_id", "command", "run_assessment"]
