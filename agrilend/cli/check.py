"""``agrilend check``: validate titles, imagery, subsidy, weather and policy files."""

from __future__ import annotations

import importlib
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from agrilend._paths import local_path
from agrilend.cli._progress import progress_steps
from agrilend.cli.options import common_options, emit_json, json_option
from agrilend.errors import AgrilendError
from agrilend.inputs import InputFiles
from agrilend.outputs import terminal_safe

log = logging.getLogger(__name__)

#: Problems listed per input in the human output (all are in --json).
MAX_SHOWN = 10


@dataclass
class InputCheck:
    """What was found in one input file."""

    input: str
    file: str
    status: str = "ok"  # ok, warning, error, skipped
    summary: str = ""
    problems: list[dict[str, str]] = field(default_factory=list)

    def add(self, severity: str, message: str, where: str = "") -> None:
        self.problems.append({"severity": severity, "where": where, "message": message})
        rank = {"ok": 0, "skipped": 0, "info": 0, "warning": 1, "error": 2}
        if rank.get(severity, 0) > rank.get(self.status, 0):
            self.status = severity

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "file": self.file,
            "status": self.status,
            "summary": self.summary,
            "problems": self.problems,
        }


def _library(*modules: str, name: str) -> Callable[..., Any] | None:
    """A library function another layer provides (first module that has it), or None."""
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn
    return None


def _caught(res: InputCheck, caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        res.add("warning", str(w.message))


def _check_imagery(path: Path) -> tuple[InputCheck, Any]:
    res = InputCheck("imagery", path.name)
    open_cube = _library(
        "agrilend.remote_sensing", "agrilend.remote_sensing.cube", name="open_cube"
    )
    validate_cube = _library("agrilend.remote_sensing", name="validate_cube")
    if open_cube is None or validate_cube is None:
        res.status = "skipped"
        res.summary = "this agrilend cannot open imagery yet (no remote_sensing.open_cube)"
        return res, None
    cube = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cube = open_cube(path)
            validate_cube(cube)
        except AgrilendError as exc:
            res.add("error", str(exc))
    _caught(res, caught)
    if cube is not None:
        times = cube["time"].to_numpy()
        valid = float(cube["valid"].mean()) if "valid" in cube else float("nan")
        res.summary = (
            f"{len(times)} dates {str(times[0])[:10]}..{str(times[-1])[:10]}, "
            f"{cube.sizes.get('y', 0)} x {cube.sizes.get('x', 0)} px, "
            f"CRS {cube.rio.crs}, {100 * valid:.0f} % clear pixels"
        )
        if not math.isnan(valid) and valid < 0.2:
            res.add("warning", f"only {100 * valid:.0f} % of pixels are clear over all dates")
    return res, cube


def _check_titles(path: Path, mapping: Path | str | None, cube: Any) -> tuple[InputCheck, Any]:
    from agrilend.parcels import read_titles, validate_titles  # noqa: PLC0415  (heavy)

    res = InputCheck("titles", path.name)
    titles = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            titles = read_titles(path, mapping=mapping)
            report = validate_titles(titles, imagery_bounds=cube)
        except AgrilendError as exc:
            res.add("error", str(exc))
            report = None
    # per-parcel problems are in the report; the warnings that announce them add nothing
    if report is None:
        _caught(res, caught)
        return res, titles
    s = report.summary()
    res.summary = (
        f"{s['n_titles']} titles: {s['n_ok']} ok, {s['n_flagged']} flagged, {s['n_error']} error"
    )
    for _, issue in report.issues.iterrows():
        if issue["severity"] in {"warning", "error"}:
            res.add(str(issue["severity"]), str(issue["message"]), f"parcel {issue['parcel_id']}")
    return res, report.titles


def _check_subsidies(path: Path, titles: Any) -> InputCheck:
    from agrilend.credit import match_subsidies, read_subsidies  # noqa: PLC0415

    res = InputCheck("subsidies", path.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            subs = read_subsidies(path, errors="drop")
        except AgrilendError as exc:
            res.add("error", str(exc))
            _caught(res, caught)
            return res
    rejected = subs.attrs.get("rejected")
    if rejected is not None:
        for _, r in rejected.iterrows():
            res.add("error", str(r["reason"]), f"record {r['record']}")
    res.summary = f"{len(subs)} records read"
    if titles is not None and len(subs):
        m = match_subsidies(subs, titles)
        res.summary += f", {len(m.matched)} match a title, {len(m.unmatched)} do not"
        for _, r in m.unmatched.iterrows():
            where = f"parcel {r['parcel_id']}" if r.get("parcel_id") else f"owner {r['owner_ref']}"
            res.add("warning", f"{r['scheme']} {r['year']}: {r.get('reason', 'no title')}", where)
    return res


def _check_weather(path: Path) -> InputCheck:
    res = InputCheck("weather", path.name)
    read_weather = _library(
        "agrilend.yield_models", "agrilend.yield_models.weather", name="read_weather"
    )
    if read_weather is None:
        res.status = "skipped"
        res.summary = "this agrilend cannot read weather yet (no yield_models.read_weather)"
        return res
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            weather = read_weather(path)
        except AgrilendError as exc:
            res.add("error", str(exc))
            weather = None
    _caught(res, caught)
    if weather is not None:
        index = getattr(weather, "index", None)
        res.summary = f"{len(weather)} days"
        if index is not None and len(index) and hasattr(index[0], "year"):
            res.summary += f" {str(index[0])[:10]}..{str(index[-1])[:10]}"
    return res


def _check_policy(path: Path) -> InputCheck:
    from agrilend.credit import load_policy  # noqa: PLC0415

    res = InputCheck("policy", path.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            policy = load_policy(path)
        except AgrilendError as exc:
            res.add("error", str(exc), str(getattr(exc, "key", "") or ""))
            policy = None
    _caught(res, caught)
    if policy is not None:
        res.summary = policy.describe() if hasattr(policy, "describe") else "valid"
    return res


def run_checks(
    files: dict[str, Path | None], *, mapping: Path | str | None = None
) -> list[InputCheck]:
    """Check every given file; imagery first, so titles can be checked against its extent."""
    given = {k: v for k, v in files.items() if v is not None}
    results: list[InputCheck] = []
    cube = titles = None
    with progress_steps(len(given)) as step:
        if (p := given.get("imagery")) is not None:
            with step(f"checking imagery {p.name}"):
                res, cube = _check_imagery(p)
                results.append(res)
        if (p := given.get("titles")) is not None:
            with step(f"checking titles {p.name}"):
                res, titles = _check_titles(p, mapping, cube)
                results.append(res)
        if (p := given.get("subsidies")) is not None:
            with step(f"checking subsidies {p.name}"):
                results.append(_check_subsidies(p, titles))
        if (p := given.get("weather")) is not None:
            with step(f"checking weather {p.name}"):
                results.append(_check_weather(p))
        if (p := given.get("policy")) is not None:
            with step(f"checking policy {p.name}"):
                results.append(_check_policy(p))
    return results


_STYLE = {"ok": "green", "warning": "yellow", "error": "red", "skipped": "blue"}


def _print(results: list[InputCheck], *, quiet: bool) -> None:
    for r in results:
        head = click.style(f"{r.status.upper():8}", fg=_STYLE.get(r.status), bold=True)
        # file contents (parcel ids, names) are escaped: no control sequence reaches the terminal
        click.echo(f"{head} {r.input:<10} {terminal_safe(r.file)}  {terminal_safe(r.summary)}")
        if quiet:
            continue
        errors = [p for p in r.problems if p["severity"] == "error"]
        shown = (errors + [p for p in r.problems if p["severity"] != "error"])[:MAX_SHOWN]
        for p in shown:
            where = f"{p['where']}: " if p["where"] else ""
            click.echo(f"    {p['severity']:7} {terminal_safe(where + str(p['message']))}")
        if len(r.problems) > len(shown):
            click.echo(f"    ... and {len(r.problems) - len(shown)} more (see --json)")


@click.command(name="check")
@click.option("--titles", type=click.Path(dir_okay=False), help="Land titles (GeoPackage, ...).")
@click.option("--mapping", type=click.Path(dir_okay=False), help="Titles column mapping (TOML).")
@click.option("--imagery", type=click.Path(), help="Imagery cube (NetCDF, GeoTIFF, Zarr).")
@click.option("--subsidies", type=click.Path(dir_okay=False), help="Subsidy records (CSV, ...).")
@click.option("--weather", type=click.Path(dir_okay=False), help="Daily weather (CSV).")
@click.option("--policy", type=click.Path(dir_okay=False), help="Credit policy (TOML).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@json_option
@common_options
def command(  # noqa: PLR0917  (click passes every option by keyword)
    titles: str | None,
    mapping: str | None,
    imagery: str | None,
    subsidies: str | None,
    weather: str | None,
    policy: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Check input files and print what is wrong with each.

    Titles are read with their column mapping (--mapping, or a titles_mapping.toml beside
    them) and checked parcel by parcel, also against the imagery's extent when --imagery is
    given; subsidy records are matched to the titles. With no file given, the embedded sample
    county is checked. Exit code 0 when nothing is wrong, 1 when errors were found.

    \b
    Examples:
      agrilend check                                  # the sample county
      agrilend check --titles titles.gpkg --imagery cube.nc
      agrilend check --subsidies subsidies.csv --json | jq '.inputs[].status'
    """
    names = {"titles": titles, "imagery": imagery, "subsidies": subsidies, "weather": weather}
    names["policy"] = policy
    if all(v is None for v in names.values()):
        sample = InputFiles.sample()
        files: dict[str, Path | None] = {
            k: getattr(sample, k) for k in ("titles", "imagery", "subsidies", "weather", "policy")
        }
        mapping_path: Path | str | None = sample.titles_mapping
        log.info("no file given: checking the sample county in %s", sample.titles.parent)
    else:
        files = {k: local_path(v, what=k) if v is not None else None for k, v in names.items()}
        mapping_path = local_path(mapping, what="titles mapping") if mapping else None
        if mapping_path is None and files["titles"] is not None:
            beside = files["titles"].with_name("titles_mapping.toml")
            mapping_path = beside if beside.exists() else None
    results = run_checks(files, mapping=mapping_path)
    failed = any(r.status == "error" for r in results) or (
        strict and any(r.status == "warning" for r in results)
    )
    if as_json:
        emit_json({"ok": not failed, "inputs": [r.as_dict() for r in results]})
    else:
        ctx = click.get_current_context()
        _print(results, quiet=bool(ctx.meta.get("agrilend.quiet")))
    if failed:
        raise SystemExit(1)


__all__ = ["InputCheck", "command", "run_checks"]
