"""The bundle of input files one assessment reads, their checksums, and the embedded sample.

:class:`InputFiles` names the files (titles, imagery, weather, subsidies, policy, county yield
statistics); :meth:`InputFiles.sample` points at the embedded synthetic county; :func:`load_inputs`
opens them all through the layers' own readers. The checksums go into every manifest, so a report
or a scan can be reproduced from exactly the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend._paths import local_path
from agrilend.errors import InputPathError
from agrilend.settings import get_settings

_CHUNK = 1 << 20
#: Pixels of margin read around the titles' extent from a STAC source.
STAC_MARGIN_PX = 3
log = logging.getLogger(__name__)


def sample_data_dir(*, generate: bool = True) -> Path:
    """The folder of the embedded synthetic county.

    Looks at ``AGRILEND_SAMPLE_DATA``, then the repository's ``sample_data/`` beside the package
    (an editable install), then the cache. When none holds it and ``generate`` is set (an
    installation from a wheel), the county is generated into the cache from its fixed seed,
    which gives the same files as the repository's.

    Raises
    ------
    InputPathError
        When the folder cannot be found and ``generate`` is False.
    """
    env = os.environ.get("AGRILEND_SAMPLE_DATA")
    cache = get_settings().cache_dir / "sample_data"
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[1] / "sample_data", cache]
    for c in candidates:
        if (c / "titles.gpkg").exists() and (c / "imagery.nc").exists():
            return c
    if not generate:
        raise InputPathError(
            "the sample county was not found (looked in "
            f"{', '.join(str(c) for c in candidates)}); set AGRILEND_SAMPLE_DATA to a "
            "sample_data folder or run `python -m agrilend.synthetic DIR`",
            path=str(candidates[-1]),
        )
    from agrilend.synthetic import generate_county  # noqa: PLC0415  (only when needed)

    log.info("generating the sample county into %s (once)", cache)
    generate_county(cache, overwrite=True)
    return cache


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file (or of every file in a folder, in sorted order), as ``sha256:<hex>``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_text("abc")
    >>> file_checksum(p)[:15]
    'sha256:ba7816bf'
    """
    p = Path(path)
    if not p.is_dir():
        with p.open("rb") as fh:
            return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
    # a folder (Zarr): each file's relative name, then its bytes, in sorted order, in one hash
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(p)).encode())
        with f.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class InputFiles:
    """Paths of one assessment's inputs; only ``titles`` and ``imagery`` are required."""

    titles: Path
    imagery: Path
    weather: Path | None = None
    subsidies: Path | None = None
    policy: Path | None = None
    county_yields: Path | None = None
    #: A TOML mapping file, or the name of a preset in :data:`agrilend.parcels.MAPPINGS`.
    titles_mapping: Path | str | None = None
    #: Credit records beyond the crop (issue 20): market prices, land-transfer contracts,
    #: crop insurance and the farmer's own evidence (a manifest beside its photos).
    prices: Path | None = None
    transfers: Path | None = None
    insurance: Path | None = None
    own_evidence: Path | None = None
    #: Farmer-drawn claims (GeoJSON or GPX, :func:`agrilend.parcels.claims.read_claims`).
    claims: Path | None = None

    @classmethod
    def sample(cls) -> InputFiles:
        """The embedded synthetic county."""
        d = sample_data_dir()

        def opt(name: str) -> Path | None:
            return d / name if (d / name).exists() else None

        return cls(
            titles=d / "titles.gpkg",
            imagery=d / "imagery.nc",
            weather=opt("weather.csv"),
            subsidies=opt("subsidies.csv"),
            policy=opt("policy.toml"),
            county_yields=opt("county_yields.csv"),
            titles_mapping=opt("titles_mapping.toml") or "cn_contract",
            prices=opt("prices.csv"),
            transfers=opt("transfers.csv"),
            insurance=opt("insurance.csv"),
            own_evidence=opt("own_evidence/evidence.csv"),
        )

    @classmethod
    def from_paths(cls, **paths: str | Path | None) -> InputFiles:
        """Check user-given paths (local files only) and bundle them.

        Unknown names raise ``TypeError``; missing files raise :class:`InputPathError`.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(paths) - known
        if unknown:
            raise TypeError(f"unknown input names {sorted(unknown)}; expected some of {known}")
        checked = {
            k: (local_path(v, what=k.replace("_", " ")) if v is not None else None)
            for k, v in paths.items()
        }
        return cls(**checked)  # type: ignore[arg-type]

    def items(self) -> list[tuple[str, Path]]:
        """The given inputs as ``(name, path)`` pairs."""
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if isinstance(getattr(self, f.name), Path)
        ]

    def absolute(self) -> InputFiles:
        """The same inputs with every local path made absolute (a mapping preset's name and a
        remote address stay as they are): what a process with another working directory, a
        cluster's worker, can open.

        Examples
        --------
        >>> f = InputFiles(Path("t.gpkg"), Path("c.nc"), titles_mapping="cn_contract")
        >>> f.absolute().titles.is_absolute(), f.absolute().titles_mapping
        (True, 'cn_contract')
        """
        from dataclasses import replace  # noqa: PLC0415

        from agrilend._paths import is_remote  # noqa: PLC0415

        moved: dict[str, Any] = {
            name: path.absolute() for name, path in self.items() if not is_remote(str(path))
        }
        mapping = self.titles_mapping
        if isinstance(mapping, str) and Path(mapping).is_file():  # a TOML file named as text
            moved["titles_mapping"] = Path(mapping).absolute()
        return replace(self, **moved)

    def checksums(self) -> dict[str, str]:
        """``{name: "sha256:..."}`` for every given input."""
        return {name: file_checksum(path) for name, path in self.items()}

    def describe(self) -> dict[str, Any]:
        """Names, file names (not full paths, which may hold user names) and checksums."""
        return {
            name: {"file": path.name, "checksum": file_checksum(path)}
            for name, path in self.items()
        }


@dataclass
class Inputs:
    """Opened inputs of one assessment (what :func:`agrilend.pipeline.assess` takes)."""

    cube: xr.Dataset
    titles: gpd.GeoDataFrame
    weather: pd.DataFrame | None = None
    subsidies: pd.DataFrame | None = None
    policy: Any = None
    county_yields: dict[str, float] | None = None
    files: InputFiles | None = None
    #: :class:`agrilend.credit.CreditExtras` when any record beyond the crop is given.
    credit_extras: Any = None


#: ``(minx, miny, maxx, maxy)``.
Bounds = tuple[float, float, float, float]


def total_bounds(titles: gpd.GeoDataFrame) -> Bounds:
    """The titles' total bounds as four floats."""
    minx, miny, maxx, maxy = (float(v) for v in titles.total_bounds)
    return minx, miny, maxx, maxy


def load_inputs(
    files: InputFiles,
    *,
    chunks: Any = None,
    frozen_items: str | Path | None = None,
    titles: gpd.GeoDataFrame | None = None,
    titles_extent: tuple[Bounds, Any] | None = None,
    check_values: bool = True,
) -> Inputs:
    """Open every input of ``files`` with its layer's reader.

    The titles go through :func:`agrilend.parcels.read_titles` (owners pseudonymised there),
    the imagery through :func:`open_imagery`, subsidies through
    :func:`agrilend.credit.read_subsidies`, weather through
    :func:`agrilend.yield_models.read_weather`; the policy defaults to the packaged one.

    ``titles`` are titles read already (with their claims), as a county scan's client keeps
    them (:mod:`agrilend.scan.staging`): they are used as they are, and ``titles_extent`` (the
    titles' total bounds and CRS as read) places the search of imagery given as a STAC spec.
    ``check_values`` as in :func:`open_imagery`.
    """
    from agrilend.credit import load_policy, read_subsidies  # noqa: PLC0415  (heavy, lazy)
    from agrilend.yield_models.weather import read_weather  # noqa: PLC0415
    from agrilend.yield_models.yields import read_county_yields  # noqa: PLC0415

    if titles is None:
        titles, cube, policy = titles_and_imagery(
            files, chunks=chunks, frozen_items=frozen_items, check_values=check_values
        )
    else:
        bounds, crs = titles_extent or (total_bounds(titles), titles.crs)
        cube = open_imagery(
            files, bounds, crs, chunks=chunks, frozen_items=frozen_items, check_values=check_values
        )
        policy = load_policy(files.policy)
    return Inputs(
        cube=cube,
        titles=titles,
        weather=read_weather(files.weather) if files.weather else None,
        subsidies=read_subsidies(files.subsidies) if files.subsidies else None,
        policy=policy,
        county_yields=read_county_yields(files.county_yields) if files.county_yields else None,
        files=files,
        credit_extras=_credit_extras(files, policy),
    )


def titles_and_imagery(
    files: InputFiles,
    *,
    chunks: Any = None,
    frozen_items: str | Path | None = None,
    key: str | bytes | None = None,
    check_values: bool = True,
) -> tuple[gpd.GeoDataFrame, xr.Dataset, Any]:
    """``(titles, cube, policy)``: the titles read (with ``key``, default the settings' key)
    and their verified claims appended, the imagery opened over them (``check_values`` as in
    :func:`open_imagery`), the policy."""
    from agrilend.credit import load_policy  # noqa: PLC0415  (heavy, lazy)
    from agrilend.parcels import read_titles  # noqa: PLC0415

    titles = read_titles(files.titles, mapping=files.titles_mapping, key=key)
    cube = open_imagery(
        files,
        total_bounds(titles),
        titles.crs,
        chunks=chunks,
        frozen_items=frozen_items,
        check_values=check_values,
    )
    policy = load_policy(files.policy)
    if files.claims is not None:
        titles = with_claims(titles, files.claims, cube, policy)
    return titles, cube, policy


def open_imagery(
    files: InputFiles,
    bounds: Bounds,
    crs: Any,
    *,
    chunks: Any = None,
    frozen_items: str | Path | None = None,
    check_values: bool = True,
) -> xr.Dataset:
    """The imagery of ``files``: a cube file opened with
    :func:`agrilend.remote_sensing.open_cube`, or a STAC search
    (:mod:`agrilend.remote_sensing.sources.spec`) opened over ``bounds`` (the titles' total
    bounds, in ``crs``) on the titles' grid. ``frozen_items`` names the saved answer of that
    search: read when the file exists, else the search runs once and its answer is saved there
    (a scan freezes its search so that every worker, and every resume, reads the same scenes).
    ``check_values=False`` opens the grid without sampling the reflectances
    (:func:`agrilend.remote_sensing.sanity.check_values`): only where the same imagery's values
    are checked elsewhere.
    """
    from agrilend.remote_sensing import (  # noqa: PLC0415
        is_imagery_spec,
        open_cube,
        read_imagery_spec,
    )
    from agrilend.remote_sensing.sources.spec import titles_area  # noqa: PLC0415

    if not is_imagery_spec(files.imagery):
        return open_cube(files.imagery, chunks=chunks, check_values=check_values)
    spec = read_imagery_spec(files.imagery)
    area = titles_area(bounds, margin=STAC_MARGIN_PX * spec.resolution)
    if frozen_items is not None and not Path(frozen_items).exists():
        spec.freeze(area, crs, frozen_items)
    return spec.open(area, crs, items=frozen_items, chunks=chunks, check_values=check_values)


def _credit_extras(files: InputFiles, policy: Any) -> Any:
    """The records beyond the crop, each through its reader; ``None`` when none is given."""
    from agrilend.credit import (  # noqa: PLC0415  (lazy, like the other readers)
        CreditExtras,
        read_insurance,
        read_own_evidence,
        read_prices,
        read_transfers,
    )

    if not any((files.prices, files.transfers, files.insurance, files.own_evidence)):
        return None
    return CreditExtras(
        prices=read_prices(files.prices, currency=policy.currency, harvests=tuple(policy.harvests))
        if files.prices
        else None,
        transfers=read_transfers(files.transfers) if files.transfers else None,
        insurance=read_insurance(files.insurance, currency=policy.currency)
        if files.insurance
        else None,
        # one farmer's unreadable photo must not stop the county: dropped, and logged
        evidence=read_own_evidence(files.own_evidence, errors="drop")
        if files.own_evidence
        else None,
    )


def with_claims(
    titles: gpd.GeoDataFrame, claims: str | Path, cube: xr.Dataset, policy: Any
) -> gpd.GeoDataFrame:
    """The titles with the verified claims of ``claims`` appended as title rows.

    Claims are read (:func:`agrilend.parcels.claims.read_claims`), verified against the cube
    and the titles (:func:`agrilend.parcels.verify.verify_claims`) and appended with
    ``source = "claim"``, their ``trust_flags`` and the policy's ``trust_haircut``; titles
    another household's claim covers get the flag ``claim_conflict`` and its haircut. Claims
    that cannot be read as polygons, and claims that are the household's own title (flag
    ``titled``: the title counts, once), are logged and left out.
    """
    from agrilend.parcels.claims import read_claims  # noqa: PLC0415
    from agrilend.parcels.verify import claims_as_titles, verify_claims  # noqa: PLC0415

    drawn = read_claims(claims, crs=titles.crs)
    bad = drawn[drawn["claim_status"] != "ok"]
    for r in bad.itertuples():
        log.warning("claim %s left out: %s", r.claim_id, r.claim_message)
    verified = verify_claims(drawn, cube, titles=titles)
    rows = claims_as_titles(verified, haircuts=policy.claim_haircuts)
    if rows.crs != titles.crs:
        drawn = gpd.GeoSeries.from_wkt(rows["drawn_wkt"].replace("", None), crs=rows.crs)
        rows["drawn_wkt"] = drawn.to_crs(titles.crs).to_wkt().fillna("").to_numpy()
        rows = rows.to_crs(titles.crs)
    out = titles.copy()
    out["source"] = "title"
    contested = {t for ids in verified["overlap_titles"] for t in str(ids).split(",") if t}
    is_contested = out["parcel_id"].astype(str).isin(contested)
    out["trust_flags"] = np.where(is_contested, "claim_conflict", "")
    out["trust_haircut"] = np.where(
        is_contested, float(policy.claim_haircuts.get("claim_conflict", 0.0)), 0.0
    )
    out["drawn_wkt"] = ""
    # a claim over the household's own title adds no land: the title counts, once
    own = rows["trust_flags"].str.split(",").map(lambda f: "titled" in f)
    if own.any():
        log.info("%d claims are their household's own titles and are not added", int(own.sum()))
        rows = rows[~own]
    clash = set(rows["parcel_id"]) & set(out["parcel_id"].astype(str))
    if clash:
        rows = rows[~rows["parcel_id"].isin(clash)]
        log.warning("claims %s share an id with a title and are left out", sorted(clash)[:5])
    merged = pd.concat([out, rows], ignore_index=True)
    log.info("%d claims verified, %d added as titles", len(verified), len(rows))
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=titles.crs)


__all__ = [
    "Bounds",
    "InputFiles",
    "Inputs",
    "file_checksum",
    "load_inputs",
    "open_imagery",
    "sample_data_dir",
    "titles_and_imagery",
    "total_bounds",
    "with_claims",
]
