"""Checks of input files: what is wrong with each titles, imagery, subsidy, weather or policy
file, as a list of findings a person (``agrilend check``) or a script reads.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agrilend.errors import AgrilendError, ExtentMismatchError, ImageryValueError


@contextmanager
def _no_step(description: str) -> Iterator[None]:
    yield


@dataclass
class InputCheck:
    """What was found in one input file."""

    input: str
    file: str
    status: str = "ok"  # ok, warning, error, skipped
    summary: str = ""
    problems: list[dict[str, str]] = field(default_factory=list)

    def add(self, severity: str, message: str, where: str = "", kind: str = "") -> None:
        """Record a problem; ``kind`` groups problems of one sort (a validation check's name)."""
        self.problems.append(
            {"severity": severity, "where": where, "message": message, "kind": kind or severity}
        )
        rank = {"ok": 0, "skipped": 0, "info": 0, "warning": 1, "error": 2}
        if rank.get(severity, 0) > rank.get(self.status, 0):
            self.status = severity

    def counts(self) -> list[tuple[str, str, int]]:
        """``(severity, kind, count)`` per kind of problem: errors first, then by count."""
        seen = Counter((p["severity"], p.get("kind", p["severity"])) for p in self.problems)
        rank = {"error": 0, "warning": 1}
        return sorted(
            ((s, k, n) for (s, k), n in seen.items()),
            key=lambda c: (rank.get(c[0], 2), -c[2], c[1]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "file": self.file,
            "status": self.status,
            "summary": self.summary,
            "counts": [{"severity": s, "kind": k, "count": n} for s, k, n in self.counts()],
            "problems": self.problems,
        }


def _caught(res: InputCheck, caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        res.add("warning", str(w.message))


def _check_imagery(path: Path, policy: Any = None) -> tuple[InputCheck, Any]:
    res = InputCheck("imagery", path.name)
    from agrilend.remote_sensing import open_cube, validate_cube  # noqa: PLC0415  (heavy)

    cube = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cube = open_cube(path)
            validate_cube(cube)
        except ImageryValueError as exc:
            res.add("error", str(exc), kind="implausible values")
        except AgrilendError as exc:
            res.add("error", str(exc), kind="unreadable")
    _caught(res, caught)
    if cube is not None:
        times = cube["time"].to_numpy()
        valid = float(cube["valid"].mean()) if "valid" in cube else float("nan")
        res.summary = (
            f"{len(times)} dates {str(times[0])[:10]}..{str(times[-1])[:10]}, "
            f"{cube.sizes.get('y', 0)} x {cube.sizes.get('x', 0)} px, "
            f"CRS {cube.rio.crs}, {100 * valid:.0f} % clear pixels"
        )
        for key in ("value_check", "boa_offset", "index_scale"):
            if cube.attrs.get(key):
                res.add("info", f"{key.replace('_', ' ')}: {cube.attrs[key]}", kind=key)
        if not math.isnan(valid) and valid < 0.2:
            res.add(
                "warning",
                f"only {100 * valid:.0f} % of pixels are clear over all dates",
                kind="cloudy",
            )
        _check_season(res, cube, policy)
    return res, cube


def _check_season(res: InputCheck, cube: Any, policy: Any) -> None:
    """Warn when the imagery's clear dates miss a season of the policy's crop calendars."""
    from agrilend.credit import load_policy  # noqa: PLC0415
    from agrilend.credit.season import imagery_seasons  # noqa: PLC0415

    if policy is None:
        policy = load_policy()
    if "valid" not in cube:
        return
    share = cube["valid"].mean(dim=("y", "x")).to_numpy()
    unseen = imagery_seasons(cube.indexes["time"], share, policy)
    if unseen:
        res.add(
            "warning",
            f"the imagery's clear dates do not cover the season of {unseen} in the policy's "
            f"crop calendar: every parcel will be early-season (no confident crop; policy "
            f"decision: {policy.season['early_season']}); add imagery of those months",
            kind="early season",
        )


def _check_titles(
    path: Path, mapping: Path | str | None, cube: Any, layer: str | None = None
) -> tuple[InputCheck, Any]:
    from agrilend.parcels import read_titles, validate_titles  # noqa: PLC0415  (heavy)
    from agrilend.parcels.extent import require_overlap  # noqa: PLC0415

    res = InputCheck("titles", path.name)
    titles = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            titles = read_titles(path, mapping=mapping, layer=layer)
            if cube is not None:
                require_overlap(titles, cube)
            report = validate_titles(titles, imagery_bounds=cube)
        except ExtentMismatchError as exc:
            res.add("error", str(exc), kind="off the imagery")
            report = None
        except AgrilendError as exc:
            res.add("error", str(exc), kind="unreadable")
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
            res.add(
                str(issue["severity"]),
                str(issue["message"]),
                f"parcel {issue['parcel_id']}",
                kind=str(issue.get("check", "")),
            )
    return res, report.titles


def _check_claims(path: Path, cube: Any, titles: Any) -> InputCheck:
    """Read and repair farmer-drawn claims; verify them when the imagery is given."""
    from agrilend.parcels.claims import read_claims  # noqa: PLC0415  (heavy)
    from agrilend.parcels.verify import CONFLICT_FLAGS, verify_claims  # noqa: PLC0415

    res = InputCheck("claims", path.name)
    try:
        claims = read_claims(path, crs=cube.rio.crs if cube is not None else None)
    except AgrilendError as exc:
        res.add("error", str(exc))
        return res
    for r in claims.itertuples():
        if r.claim_status != "ok":
            res.add("error", str(r.claim_message), f"claim {r.claim_id}")
        elif r.repairs:
            res.add("info", f"drawing repaired: {r.repairs}", f"claim {r.claim_id}")
    n_ok = int((claims["claim_status"] == "ok").sum())
    res.summary = f"{len(claims)} claims: {n_ok} readable"
    if cube is None:
        return res
    verified = verify_claims(claims, cube, titles=titles)
    n_flag = 0
    for r in verified.itertuples():
        bad = [f for f in str(r.flags).split(",") if f in CONFLICT_FLAGS]
        if bad:
            n_flag += 1
            res.add(
                "warning",
                f"{', '.join(bad)} (drawn {r.drawn_area_ha:.2f} ha, verified "
                f"{r.verified_area_ha:.2f} ha)",
                f"claim {r.claim_id}",
            )
    res.summary += f", {n_flag} flagged (inflated or contested)"
    return res


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
            res.add("error", str(r["reason"]), f"record {r['record']}", kind="rejected record")
    res.summary = f"{len(subs)} records read"
    if titles is not None and len(subs):
        m = match_subsidies(subs, titles)
        res.summary += f", {len(m.matched)} match a title, {len(m.unmatched)} do not"
        for _, r in m.unmatched.iterrows():
            where = f"parcel {r['parcel_id']}" if r.get("parcel_id") else f"owner {r['owner_ref']}"
            res.add(
                "warning",
                f"{r['scheme']} {r['year']}: {r.get('reason', 'no title')}",
                where,
                kind="no matching title",
            )
    return res


def _check_weather(path: Path) -> InputCheck:
    res = InputCheck("weather", path.name)
    from agrilend.yield_models.weather import read_weather  # noqa: PLC0415  (heavy)

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


def _policy_or_none(path: Path | None) -> Any:
    """The given policy for the season check (the default when none is given or it is bad:
    the policy's own check reports its problems)."""
    from agrilend.credit import load_policy  # noqa: PLC0415

    try:
        return load_policy(path)
    except AgrilendError:
        return None


def check_inputs(
    files: Mapping[str, Path | None],
    *,
    mapping: Path | str | None = None,
    layer: str | None = None,
    step: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> list[InputCheck]:
    """Check every given input file and say what is wrong with each.

    Imagery is checked first, so titles can be checked against its extent; subsidy records are
    matched to the titles. Nothing raises for a bad file: its problems are in its result.

    Parameters
    ----------
    files
        Input kind (``imagery``, ``titles``, ``subsidies``, ``weather``, ``policy``) -> path,
        or None for an input not given.
    mapping
        The titles' column mapping (TOML), if any.
    layer
        The layer of a titles file (or the file in a zip) that holds the titles.
    step
        Called with a description around each input's check (a progress display).

    Examples
    --------
    >>> from agrilend.inputs import InputFiles
    >>> sample = InputFiles.sample()
    >>> [r.status for r in check_inputs({"policy": sample.policy})]
    ['ok']
    """
    given = {k: v for k, v in files.items() if v is not None}
    results: list[InputCheck] = []
    cube = titles = None
    step = step or _no_step
    if (p := given.get("imagery")) is not None:
        with step(f"checking imagery {p.name}"):
            res, cube = _check_imagery(p, _policy_or_none(given.get("policy")))
            results.append(res)
    if (p := given.get("titles")) is not None:
        with step(f"checking titles {p.name}"):
            res, titles = _check_titles(p, mapping, cube, layer)
            results.append(res)
    if (p := given.get("claims")) is not None:
        with step(f"checking claims {p.name}"):
            results.append(_check_claims(p, cube, titles))
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


__all__ = ["InputCheck", "check_inputs"]
