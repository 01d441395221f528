"""Manifests: what a report or a scan was made from, so that it can be made again.

A manifest records the input files (path and SHA-256), the agrilend, model and policy versions,
the imagery dates and the decision date. :func:`inputs_from_manifest` re-opens exactly those
inputs, refusing files whose bytes changed.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agrilend import __version__
from agrilend.errors import InputsChangedError, TableReadError
from agrilend.inputs import InputFiles, file_checksum
from agrilend.outputs import write_json
from agrilend.settings import get_settings

MANIFEST_FORMAT = 1


def build_manifest(
    files: InputFiles, *, provenance: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """The manifest as a dict (no secret, no personal data: file paths and checksums only).

    Checksums already in ``provenance["inputs"]`` (recorded by :func:`agrilend.pipeline.assess`)
    are reused rather than computed again: county cubes can be large.
    """
    prov = dict(provenance or {})
    known = {
        name: info.get("checksum")
        for name, info in (prov.get("inputs") or {}).items()
        if isinstance(info, dict)
    }
    return {
        "manifest_format": MANIFEST_FORMAT,
        "agrilend_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {
            name: {
                "path": str(Path(path).resolve()),
                "checksum": known.get(name) or file_checksum(path),
            }
            for name, path in files.items()
        },
        "model_version": prov.get("model_version"),
        "policy_version": prov.get("policy_version"),
        "as_of": prov.get("as_of"),
        "imagery_dates": (prov.get("imagery") or {}).get("dates", []),
        "pseudonym_key": "public demo key" if get_settings().uses_demo_key else "set (not shown)",
        **extra,
    }


def write_manifest(
    path: str | Path,
    *,
    files: InputFiles,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = True,
    **extra: Any,
) -> Path:
    """Write :func:`build_manifest` as JSON at ``path`` (atomically)."""
    return write_json(
        build_manifest(files, provenance=provenance, **extra), path, overwrite=overwrite
    )


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a manifest written by :func:`write_manifest`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TableReadError(f"manifest {str(p)!r} cannot be read ({exc})", path=p) from exc
    if not isinstance(data, dict) or data.get("manifest_format") != MANIFEST_FORMAT:
        raise TableReadError(
            f"{str(p)!r} is not an agrilend manifest of format {MANIFEST_FORMAT}", path=p
        )
    return data


def inputs_from_manifest(path: str | Path, *, verify: bool = True) -> InputFiles:
    """The :class:`InputFiles` a manifest names; with ``verify`` their checksums must match.

    Raises
    ------
    InputsChangedError
        Naming each input whose bytes differ from the manifest's checksum.
    """
    data = read_manifest(path)
    paths = {name: info["path"] for name, info in data["inputs"].items()}
    files = InputFiles.from_paths(**paths)
    if verify:
        changed = [
            name
            for name, info in data["inputs"].items()
            if file_checksum(paths[name]) != info["checksum"]
        ]
        if changed:
            raise InputsChangedError(
                f"inputs {changed} changed since manifest {os.fspath(path)!r} was written; "
                "restore them, or re-run without the manifest"
            )
    return files


__all__ = ["build_manifest", "inputs_from_manifest", "read_manifest", "write_manifest"]
