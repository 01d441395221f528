"""The county step's households: sized in partitions of households on the workers.

Step 4 of :mod:`agrilend.scan.county_step`: households are put in partitions by a hash of
``owner_ref`` (:func:`household_part`); one task per partition reads its households' final
parcel rows from the ``parcels.parquet`` dataset, sizes them with the subsidies matched on the
client (:func:`record_titles` gives the titles the records can match) and writes one file of
the ``households.parquet`` folder and its households' outlines (for the GeoPackage).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.sizing import credit_totals
from agrilend.scan.county_step import Mapper, PartSpec, _read_columns
from agrilend.scan.parts import ROW

#: Households are sized in partitions of about this many parcels (at least one partition).
HOUSEHOLD_PARTITION_PARCELS = 20_000


def size_in_partitions(
    folder: Path,
    step: Path,
    specs: list[PartSpec],
    *,
    n_titles: int,
    subsidies: pd.DataFrame | None,
    policy: Any,
    climate: float | None,
    as_of: Any,
    reference_yields: Any,
    run: Mapper,
) -> tuple[list[dict[str, Any]], pd.DataFrame, list[str], list[str]]:
    """Size the county's households in partitions on the workers, from the parts' final rows.

    Writes ``folder`` (the ``households.parquet`` dataset, one file per partition) and the
    partitions' outlines in ``step``. Returns each partition's counts (for the summary), the
    matched subsidy records, the dataset's files and the outlines' files (by partition; a
    partition without households has neither file written).
    """
    import math  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from agrilend.credit import match_subsidies  # noqa: PLC0415
    from agrilend.credit.subsidy import normalise_subsidies  # noqa: PLC0415

    matched = None
    subs_table = pd.DataFrame()
    if subsidies is not None and len(subsidies):
        subs = normalise_subsidies(subsidies)
        matched = match_subsidies(subs, record_titles(specs, subs))
        subs_table = matched.matched
    n_parts = max(1, math.ceil(n_titles / HOUSEHOLD_PARTITION_PARCELS))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    finals = [s.final for s in specs]
    hh_files = [str((folder / f"part-{i:05d}.parquet").resolve()) for i in range(n_parts)]
    areas = [str((step / f"households-{i:05d}.parquet").resolve()) for i in range(n_parts)]
    sized = run(households_task, [
        (i, n_parts, finals, policy, matched, climate, as_of, reference_yields, hh_files[i],
         areas[i]) for i in range(n_parts)
    ])  # fmt: skip
    return sized, subs_table, hh_files, areas


def household_part(owners: Any, n_parts: int) -> np.ndarray[Any, Any]:
    """The partition of each household (a hash of ``owner_ref``, stable across runs)."""
    arr = pd.Series(owners).astype(str).to_numpy(dtype=object)
    if not arr.size:
        return np.zeros(0, dtype=np.int64)
    return (pd.util.hash_array(arr) % np.uint64(max(n_parts, 1))).astype(np.int64)


def households_task(  # noqa: PLR0917 (a Dask task: positional arguments)
    i: int,
    n_parts: int,
    finals: list[str],
    policy: Any,
    subsidies: Any,
    climate: Any,
    as_of: Any,
    reference_yields: Any,
    out: str,
    areas: str,
) -> dict[str, Any]:
    """Size partition ``i`` of the households from their final parcel rows; write it (and its
    households' outlines for the GeoPackage)."""
    import geopandas as gpd  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.credit import size_households  # noqa: PLC0415
    from agrilend.credit.subsidy import SubsidyMatch  # noqa: PLC0415
    from agrilend.outputs import atomic_write, household_areas, write_table  # noqa: PLC0415

    tables = []
    for path in finals:
        owners = pq.read_table(path, columns=["owner_ref"]).column("owner_ref").to_pandas()
        mask = household_part(owners, n_parts) == i
        if mask.any():
            tables.append(pq.read_table(path).filter(pa.array(mask)))
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive")
        parcels = gpd.GeoDataFrame.from_arrow(table) if "geometry" in table.column_names \
            else table.to_pandas()  # fmt: skip
        parcels = _unjson(parcels)
    else:
        parcels = None
    matched = subsidies
    if subsidies is not None:
        keep = household_part(subsidies.matched["owner_ref"], n_parts) == i
        matched = SubsidyMatch(matched=subsidies.matched[keep], unmatched=subsidies.unmatched)
    if parcels is None or not len(parcels):
        return {"households": 0}
    hh = size_households(parcels, policy, subsidies=matched, climate=climate, as_of=as_of,
                         reference_yields=reference_yields)  # fmt: skip
    order = np.argsort(hh["owner_ref"].astype(str).to_numpy(dtype=object), kind="stable")
    hh = hh.iloc[order].reset_index(drop=True)
    write_table(hh, out, overwrite=True)
    outline = household_areas(parcels, hh)
    with atomic_write(Path(areas)) as tmp:
        outline.to_parquet(tmp, index=False)
    return {
        "households": len(hh),
        "decisions": Counter(hh["decision"].astype(str)),
        "credit": credit_totals(hh),
        "currency": str(hh["currency"].iloc[0]) if len(hh) else "",
    }


def _unjson(parcels: pd.DataFrame) -> pd.DataFrame:
    """The final rows as the county step made them: ``quality_flags`` back to lists."""
    import json  # noqa: PLC0415

    out = parcels.copy()
    if "quality_flags" in out:
        out["quality_flags"] = [
            json.loads(v) if isinstance(v, str) and v.startswith("[") else v
            for v in out["quality_flags"]
        ]
    return out


def record_titles(specs: list[PartSpec], records: pd.DataFrame) -> pd.DataFrame:
    """``parcel_id`` and ``owner_ref`` of the titles that records (subsidies) can match: those
    whose parcel id or owner is named by a record, in title order (matching against them is
    matching against every title: :func:`agrilend.credit.match_subsidies`)."""
    pids = set(records["parcel_id"].fillna("").astype(str)) - {""}
    owners = set(records["owner_ref"].fillna("").astype(str)) - {""}
    frames = []
    for spec in specs:
        if spec.part is None:
            part = pd.DataFrame(spec.errors.drop(columns="geometry"))
        else:
            part = _read_columns(spec.part, [ROW, "parcel_id", "owner_ref"])
        part = part.reindex(columns=[ROW, "parcel_id", "owner_ref"])
        hit = part["parcel_id"].astype(str).isin(pids) | part["owner_ref"].astype(str).isin(owners)
        frames.append(part[hit.to_numpy()])
    if not frames:
        return pd.DataFrame({"parcel_id": [], "owner_ref": []})
    out = pd.concat(frames, ignore_index=True).sort_values(ROW, kind="stable")
    return out[["parcel_id", "owner_ref"]].reset_index(drop=True)


__all__ = [
    "HOUSEHOLD_PARTITION_PARCELS",
    "household_part",
    "households_task",
    "record_titles",
    "size_in_partitions",
]
