"""The county step's households: sized in partitions of households on the workers.

Step 4 of :mod:`agrilend.scan.county_step`. While the crops are made, a worker plans the
partitions from the titles file (:func:`plan_from_titles`, :func:`plan_households`): each
household (its ``owner_ref`` after the transfer contracts, whose tenants farm the titles) goes
to the partition of its *home chunk*, the first chunk holding one of its titles, and the chunks
are cut into :func:`chunk_partitions`, runs of consecutive chunks of about
:data:`HOUSEHOLD_PARTITION_PARCELS` titles. Chunks are spatial and a household's titles lie in a
village, so a partition's households live in a few chunks.

Each part is then written (:func:`write_final`, called by ``decide_task``) sorted by partition,
one Parquet row group per partition present (transfers applied first); its task returns which
row group holds which partition. One task per partition (:func:`households_task`) reads only
its row groups, sizes its households with only its records (the subsidies, and with credit
extras the insurance and own evidence, routed where the plan is made: :func:`route_records`)
and writes one file of the ``households.parquet`` folder and its households' outlines (for the
GeoPackage). No column is added to the parcels: the partitions live in the row groups only.

Credit extras (:class:`agrilend.credit.CreditExtras`) are sized as
:func:`agrilend.credit.size_with_extras` sizes a whole county: the prices are county-wide (the
priced policy is made once, with the plan); transfers are applied to each part by its titles'
contracts (the partition key is the holder after transfers) and their conflict flags, found
with the plan, go to the partitions of both sides; insurance and own evidence go with the
household they match; a photo counts once in the county (the digests counted in another
partition are passed on).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.sizing import credit_totals
from agrilend.scan.county_step import TITLE_ROW, Mapper
from agrilend.scan.memory import peak_mb, resident_mb
from agrilend.scan.parts import ROW, chunk_of_rows, positions_of

#: Households are sized in partitions of about this many parcels (at least one partition).
#: A partition reads only its own rows: the step's CPU barely grows with the number of
#: partitions in one process (``bench_households.py`` at 10^5 parcels, 2026-12-05: 10.3 s CPU
#: in 5 partitions of 20,000, 10.7 s in 10 of 10,000, 12.6 s in 20 of 5,000); a task's memory
#: grows with its partition (+138, +46, +34 MB). In a scan on 2 workers, 10,000 cost more than
#: it saved: decide 8.6 -> 9.4 s and households 6.1 -> 7.0 s of wall, the workers' CPU in the
#: county step 50.4 -> 56.3 s (more row groups written and read), so 20,000 it stays.
HOUSEHOLD_PARTITION_PARCELS = 20_000

_FLAG_COLUMNS = ["parcel_id", "holder_ref", "tenant_ref", "why"]


@dataclass(frozen=True)
class PartHouseholds:
    """What a part's ``decide_task`` needs to write its rows by household partition.

    ``rows`` are the part's title rows (ascending), ``parts`` the partition of each; with
    transfer contracts given, ``transfers`` are the active contracts of the part's titles and
    ``claims`` the records presented for them (:func:`agrilend.credit.transfers.apply_transfers`
    on the part gives what it gives on the county), else None.
    """

    rows: np.ndarray[Any, Any]
    parts: np.ndarray[Any, Any]
    transfers: pd.DataFrame | None = None
    claims: pd.DataFrame | None = None
    as_of: Any = None


@dataclass(frozen=True)
class PartitionRecords:
    """The records of one partition's households (the rest of the county's left out)."""

    subsidies: Any = None
    insurance: pd.DataFrame | None = None
    evidence: pd.DataFrame | None = None
    flags: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_FLAG_COLUMNS))
    counted_photos: frozenset[str] = frozenset()


@dataclass
class HouseholdPlan:
    """The county's households and their partitions (the client's; each part gets its
    :class:`PartHouseholds`, each partition its :class:`PartitionRecords`)."""

    n_parts: int
    owners: pd.Index  # every household (owner_ref after transfers), unique
    part_of_owner: np.ndarray[Any, Any]  # its partition (-1: no title left, not a household)
    named: pd.DataFrame  # title rows whose parcel id a record names: ROW, parcel_id, owner_ref
    parts: list[PartHouseholds]
    flags: pd.DataFrame
    extras: Any = None  # CreditExtras, when some are given and a decision date is known
    policy: Any = None  # priced (:func:`agrilend.credit.extras.priced_policy`)
    #: each partition's records and the matched subsidy records, when routed where the plan
    #: was made (:func:`plan_from_titles`: the owners then stay there)
    routed: tuple[list[PartitionRecords], pd.DataFrame] | None = None

    def part_of(self, owners: Any) -> np.ndarray[Any, Any]:
        """The partition of each owner (-1: not a household of the county). A plan whose
        records were routed where it was made (``routed``) came back without its owners: it
        refuses, rather than call every owner no household."""
        if self.routed is not None:
            from agrilend.errors import ScanError  # noqa: PLC0415

            raise ScanError("this households' plan left its owners where it was made (its "
                            "records are routed already: use plan.routed)")  # fmt: skip
        idx = self.owners.get_indexer(pd.Index(pd.Series(owners, dtype=object).astype(str)))
        return np.where(idx >= 0, self.part_of_owner[np.maximum(idx, 0)], -1)


def n_partitions(n_titles: int, slots: int = 1) -> int:
    """How many partitions the households of ``n_titles`` titles are sized in, on ``slots``
    workers (threads): about :data:`HOUSEHOLD_PARTITION_PARCELS` titles each, and when there
    are several, a whole number of rounds of the workers (5 partitions on 2 workers leave one
    idle while the last runs; 6 do not).

    Examples
    --------
    >>> n_partitions(10), n_partitions(HOUSEHOLD_PARTITION_PARCELS + 1)
    (1, 2)
    >>> n_partitions(5 * HOUSEHOLD_PARTITION_PARCELS, slots=2), n_partitions(10, slots=8)
    (6, 1)
    """
    n = max(1, math.ceil(n_titles / HOUSEHOLD_PARTITION_PARCELS))
    return n if n == 1 or slots <= 1 else math.ceil(n / slots) * slots


def chunk_partitions(sizes: list[int], n_parts: int) -> np.ndarray[Any, Any]:
    """The partition of each chunk: runs of consecutive chunks of about equal numbers of
    titles (a chunk goes to the partition its first title falls in).

    Examples
    --------
    >>> chunk_partitions([5, 5, 5, 5], 2).tolist(), chunk_partitions([9, 0, 1], 2).tolist()
    ([0, 0, 1, 1], [0, 1, 1])
    """
    arr = np.asarray(sizes, dtype=np.int64)
    total = max(int(arr.sum()), 1)
    before = np.cumsum(arr) - arr
    return np.minimum(before * n_parts // total, n_parts - 1).astype(np.int64)


def _named_sets(extras: Any, subsidies: pd.DataFrame | None) -> tuple[set[str], set[str]]:
    """Parcel ids any record names, and owners the subsidy records name (the title rows they
    name are read with their parcel id: matching against them is matching against every
    title, :func:`agrilend.credit.match_subsidies`)."""
    pids: set[str] = set()
    owners: set[str] = set()
    tables = [subsidies]
    if extras is not None:
        tables += [extras.transfers, extras.insurance, extras.evidence]
    for t in tables:
        if t is not None and len(t) and "parcel_id" in t.columns:
            pids |= set(t["parcel_id"].fillna("").astype(str)) - {""}
    if subsidies is not None and len(subsidies) and "owner_ref" in subsidies.columns:
        owners = set(subsidies["owner_ref"].fillna("").astype(str)) - {""}
    return pids, owners


def plan_households(
    chunks: list[Any],
    titles: pd.DataFrame,
    *,
    subsidies: pd.DataFrame | None,
    extras: Any,
    policy: Any,
    as_of: Any,
    slots: int = 1,
) -> HouseholdPlan:
    """The partitions of the county's households (module doc), from the titles' ``owner_ref``
    (which every part's rows carry unchanged, error rows too) and the transfer contracts;
    :func:`n_partitions` of them for ``slots`` workers.

    ``extras`` are used when some are given and ``as_of`` is known (as
    :func:`agrilend.pipeline.decide_with_crops` uses them).
    """
    from agrilend.credit.extras import priced_policy, transfer_claims  # noqa: PLC0415
    from agrilend.credit.transfers import apply_transfers  # noqa: PLC0415
    from agrilend.errors import ScanError  # noqa: PLC0415

    if extras is not None and (extras.is_empty() or as_of is None):
        extras = None
    n = len(titles)
    chunk_of_row = chunk_of_rows(chunks, n)
    sizes = [len(c.rows) for c in chunks]
    if sum(sizes) != n or (chunk_of_row < 0).any():
        raise ScanError(f"the chunks hold {sum(sizes)} rows for {n} titles: the plan is damaged; "
                        "scan again with --overwrite")  # fmt: skip
    owner = titles["owner_ref"].fillna("").astype(str)
    pid = titles["parcel_id"].fillna("").astype(str)
    # the owners' column as it is (no Python string per title: a county holds a million)
    codes, names = pd.factorize(owner)
    codes = np.asarray(codes, dtype=np.int64)
    names = pd.Index(names)
    pids, record_owners = _named_sets(extras, subsidies)
    hit = (pid.isin(pids) | owner.isin(record_owners)).to_numpy()
    named = pd.DataFrame({ROW: np.flatnonzero(hit), "parcel_id": pid[hit].to_numpy(dtype=object),
                          "owner_ref": owner[hit].to_numpy(dtype=object)})  # fmt: skip
    named["owner_after"] = named["owner_ref"]

    flags = pd.DataFrame(columns=_FLAG_COLUMNS)
    part_transfers: list[pd.DataFrame | None] = [None] * len(chunks)
    part_claims: list[pd.DataFrame | None] = [None] * len(chunks)
    transfers = None if extras is None else extras.transfers
    if transfers is not None and len(transfers):
        claims = transfer_claims(extras)
        t_pid = transfers["parcel_id"].astype(str)
        t_hit = named["parcel_id"].isin(set(t_pid)).to_numpy()
        mine = named[t_hit]
        moved, flags = apply_transfers(mine[["parcel_id", "owner_ref"]].reset_index(drop=True),
                                       transfers, as_of=as_of, claims=claims)  # fmt: skip
        after = moved["owner_ref"].astype(str).to_numpy(dtype=object)
        named.loc[t_hit, "owner_after"] = after
        changed = after != mine["owner_ref"].to_numpy(dtype=object)
        if changed.any():
            names = names.append(pd.Index(sorted(set(after[changed]) - set(names)), dtype=object))
            codes[mine[ROW].to_numpy()[changed]] = names.get_indexer(
                pd.Index(after[changed], dtype=object))  # fmt: skip
        # a contract goes to the part holding the last title of its parcel id (the one
        # apply_transfers moves), with the records claiming that parcel
        last = mine.groupby("parcel_id")[ROW].max()
        chunk_of_pid = pd.Series(chunk_of_row[last.to_numpy()], index=last.index)
        t_chunk = chunk_of_pid.reindex(t_pid).to_numpy()
        c_chunk = chunk_of_pid.reindex(claims["parcel_id"].astype(str)).to_numpy()
        for k in range(len(chunks)):
            part_transfers[k] = transfers[t_chunk == k].reset_index(drop=True)
            part_claims[k] = claims[c_chunk == k].reset_index(drop=True)

    n_parts = n_partitions(n, slots)
    home = np.full(len(names), len(chunks), dtype=np.int64)
    np.minimum.at(home, codes, chunk_of_row)
    of_chunk = np.append(chunk_partitions(sizes, n_parts), -1)  # -1: holds no title any more
    part_of_owner = of_chunk[home]
    part_of_row = part_of_owner[codes]
    parts = []
    for k, c in enumerate(chunks):
        rows = np.sort(np.asarray(c.rows, dtype=np.int32))
        parts.append(PartHouseholds(rows=rows, parts=part_of_row[rows].astype(np.int32),
                                    transfers=part_transfers[k], claims=part_claims[k],
                                    as_of=as_of))  # fmt: skip
    priced = policy if extras is None else priced_policy(policy, extras, as_of=as_of)[0]
    return HouseholdPlan(n_parts=n_parts, owners=names, part_of_owner=part_of_owner,
                         named=named, parts=parts, flags=flags, extras=extras,
                         policy=priced)  # fmt: skip


def plan_from_titles(  # noqa: PLR0917 (a Dask task: positional arguments)
    titles_file: str,
    chunks: list[Any],
    n_titles: int,
    subsidies: pd.DataFrame | None,
    extras: Any,
    policy: Any,
    as_of: Any,
    slots: int = 1,
) -> HouseholdPlan:
    """:func:`plan_households` from the owners and parcel ids of the scan's titles file
    (:mod:`agrilend.scan.title_store`; a task on a worker: the client reads no title), which
    must hold the plan's ``n_titles`` titles; the records are routed to the partitions there
    (:func:`route_records` of ``subsidies``: ``routed``), and the plan comes back without its
    owners."""
    from agrilend.errors import ScanError  # noqa: PLC0415
    from agrilend.scan.title_store import read_title_columns  # noqa: PLC0415

    titles = read_title_columns(titles_file, ["parcel_id", "owner_ref"])
    if len(titles) != n_titles:
        raise ScanError(f"the scan's titles {titles_file!r} hold {len(titles)} titles, the plan "
                        f"{n_titles}; scan again with --overwrite")  # fmt: skip
    plan = plan_households(chunks, titles, subsidies=subsidies, extras=extras, policy=policy,
                           as_of=as_of, slots=slots)  # fmt: skip
    del titles
    # the records routed here: the owners (a third of the titles) need not travel
    plan.routed = route_records(plan, subsidies)
    plan.owners, plan.part_of_owner = pd.Index([], dtype=object), np.zeros(0, dtype=np.int64)
    plan.named = plan.named.iloc[0:0]
    return plan


def without_parts(plan: HouseholdPlan) -> HouseholdPlan:
    """The plan without its parts' :class:`PartHouseholds` (a task beside the plan kept on a
    worker: the parts go from there to their parts' tasks, never through the client)."""
    return replace(plan, parts=[])


def part_households(plan: HouseholdPlan, k: int) -> PartHouseholds:
    """The :class:`PartHouseholds` of the plan's part ``k`` (a task beside the plan)."""
    return plan.parts[k]


def route_records(
    plan: HouseholdPlan, subsidies: pd.DataFrame | None
) -> tuple[list[PartitionRecords], pd.DataFrame]:
    """Each partition's records, and the county's matched subsidy records (for the reports).

    Subsidies are matched to the titles before transfers (as
    :func:`agrilend.pipeline.decide_with_crops` matches them), insurance records to the titles
    after them (as :func:`agrilend.credit.size_with_extras`): a record goes to the partition
    of the household it matches, and matches it again there. Own evidence goes with its
    household, a transfer flag to the partitions of both sides; records matching no household
    go nowhere (they size nothing).
    """
    from agrilend.credit import match_subsidies  # noqa: PLC0415
    from agrilend.credit.subsidy import SubsidyMatch, normalise_subsidies  # noqa: PLC0415

    n = plan.n_parts
    out = [PartitionRecords(flags=plan.flags.iloc[0:0]) for _ in range(n)]
    subs_table = pd.DataFrame()
    if subsidies is not None and len(subsidies):
        matched = match_subsidies(normalise_subsidies(subsidies),
                                  plan.named[["parcel_id", "owner_ref"]])  # fmt: skip
        subs_table = matched.matched
        where = plan.part_of(subs_table["owner_ref"])
        none = matched.unmatched.iloc[0:0]
        for i in range(n):
            mine = subs_table[where == i].reset_index(drop=True)
            out[i] = replace(out[i], subsidies=SubsidyMatch(matched=mine, unmatched=none))
    extras = plan.extras
    if extras is not None and extras.insurance is not None:
        where = plan.part_of(_insurance_households(plan, extras.insurance))
        for i in range(n):
            out[i] = replace(out[i], insurance=extras.insurance[where == i].reset_index(drop=True))
    if extras is not None and extras.evidence is not None:
        records = extras.evidence
        where = plan.part_of(records["owner_ref"].fillna("").astype(str))
        photo = (records["kind"] == "photo").to_numpy()
        digests = records["digest"].astype(str).to_numpy()[photo]
        first = pd.Series(where[photo]).groupby(digests, sort=False).first()
        for i in range(n):
            counted = {d for d in digests[where[photo] == i] if int(first[d]) != i}
            out[i] = replace(out[i], evidence=records[where == i].reset_index(drop=True),
                             counted_photos=frozenset(counted))  # fmt: skip
    if len(plan.flags):
        sides = [[str(r.holder_ref), *str(r.tenant_ref).split(",")]
                 for r in plan.flags.itertuples()]  # fmt: skip
        touched = [set(plan.part_of([s for s in side if s]).tolist()) for side in sides]
        for i in range(n):
            keep = np.array([i in t for t in touched], dtype=bool)
            out[i] = replace(out[i], flags=plan.flags[keep].reset_index(drop=True))
    return out, subs_table


def _insurance_households(plan: HouseholdPlan, records: pd.DataFrame) -> np.ndarray[Any, Any]:
    """The household each insurance record matches after transfers, as
    :func:`agrilend.credit.insurance.match_insurance` matches it on the whole county (``""``:
    none): by parcel id (the last title of that id), else by owner among the households."""
    owner_of = dict(zip(plan.named["parcel_id"], plan.named["owner_after"], strict=True))
    pid = records["parcel_id"].fillna("").astype(str).to_numpy(dtype=object)
    own = records["owner_ref"].fillna("").astype(str).to_numpy(dtype=object)
    held = plan.part_of(own) >= 0
    return np.asarray(
        [owner_of[p] if p and p in owner_of else (o if o and h else "")
         for p, o, h in zip(pid, own, held, strict=True)], dtype=object,
    )  # fmt: skip


# --- on the workers ------------------------------------------------------------------------------


def geoparquet_table(gdf: Any) -> Any:
    """The Arrow table GeoPandas writes for ``gdf`` as GeoParquet (its ``geo`` metadata
    included), made in memory: about a tenth of the CPU of writing the file and reading it back.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> t = geoparquet_table(gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)]))
    >>> t.column_names, b"geo" in t.schema.metadata
    (['a', 'geometry'], True)
    """
    try:  # GeoPandas' own step of to_parquet (1.x), before the file is written
        from geopandas.io.arrow import _geopandas_to_arrow  # noqa: PLC0415
    except ImportError:  # a GeoPandas that moved it: through the bytes of a file
        import io  # noqa: PLC0415

        import pyarrow.parquet as pq  # noqa: PLC0415

        buf = io.BytesIO()
        gdf.to_parquet(buf, index=False)
        return pq.read_table(io.BytesIO(buf.getvalue()))
    return _geopandas_to_arrow(gdf, index=False)


def write_final(
    parcels: Any, path: str, households: PartHouseholds | None, outlines: Any = None
) -> dict[int, int]:
    """Write a part's final parcel rows (``decide_task``): transfers applied, rows sorted by
    household partition (stable), one row group per partition present. Returns partition ->
    row group. Without ``households`` the rows form one row group of partition 0.

    ``outlines``: the rows' outlines as the part holds them
    (:class:`agrilend.scan.county_step.Outlines`; the frame's geometry is then empty), written
    as they are."""
    import geopandas as gpd  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.credit.transfers import apply_transfers  # noqa: PLC0415
    from agrilend.errors import ScanError  # noqa: PLC0415
    from agrilend.outputs import atomic_write, tabular  # noqa: PLC0415

    rows = parcels[TITLE_ROW].to_numpy(dtype=np.int64)
    if households is None:
        part = np.zeros(len(parcels), dtype=np.int64)
    else:
        if households.transfers is not None:
            parcels, _ = apply_transfers(parcels, households.transfers, as_of=households.as_of,
                                         claims=households.claims)  # fmt: skip
        at = positions_of(households.rows, rows)
        if at is None:
            raise ScanError(f"part {Path(path).stem}: its rows are not the titles planned for it")
        part = households.parts[at]
    order = np.argsort(part, kind="stable")
    # the GeoParquet table as write_parcels writes it, then cut in row groups
    gdf = gpd.GeoDataFrame(tabular(parcels.iloc[order]), geometry="geometry", crs=parcels.crs)
    table = geoparquet_table(gdf)
    if outlines is not None:
        table = outlines.put(table, rows[order])
    sorted_part = part[order]
    groups: dict[int, int] = {}
    with atomic_write(Path(path)) as tmp, pq.ParquetWriter(str(tmp), table.schema) as writer:
        for p in np.unique(sorted_part):
            lo, hi = np.searchsorted(sorted_part, [p, p + 1])
            groups[int(p)] = len(groups)
            writer.write_table(table.slice(int(lo), int(hi - lo)))
    return groups


def size_in_partitions(
    folder: Path,
    step: Path,
    plan: HouseholdPlan,
    groups: list[tuple[str, dict[int, int]]],
    *,
    subsidies: pd.DataFrame | None,
    climate: float | None,
    as_of: Any,
    reference_yields: Any,
    run: Mapper,
) -> tuple[list[dict[str, Any]], pd.DataFrame, list[str], list[str]]:
    """Size the county's households in partitions on the workers, from the parts' row groups.

    ``groups`` are each final part's file and its row group of each partition (as
    :func:`write_final` returned them). Writes ``folder`` (the ``households.parquet`` dataset,
    one file per partition) and the partitions' outlines in ``step``. Returns each partition's
    counts (for the summary), the matched subsidy records, the dataset's files and the
    outlines' files (by partition; a partition without households has neither file written).
    """
    import shutil  # noqa: PLC0415

    records, subs_table = plan.routed if plan.routed is not None else \
        route_records(plan, subsidies)  # fmt: skip
    n_parts = plan.n_parts
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    reads: list[list[tuple[str, int]]] = [[] for _ in range(n_parts)]
    for path, by_part in groups:
        for p, group in sorted(by_part.items()):
            if 0 <= p < n_parts:
                reads[p].append((path, group))
    hh_files = [str((folder / f"part-{i:05d}.parquet").resolve()) for i in range(n_parts)]
    areas = [str((step / f"households-{i:05d}.parquet").resolve()) for i in range(n_parts)]
    sized = run(households_task, [
        (reads[i], plan.policy, records[i], plan.extras is not None, climate, as_of,
         reference_yields, hh_files[i], areas[i]) for i in range(n_parts)
    ])  # fmt: skip
    return sized, subs_table, hh_files, areas


def read_partition(reads: list[tuple[str, int]]) -> Any:
    """A partition's final parcel rows: its row group of each part that holds some, as a
    GeoDataFrame (None when no part holds any)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.scan.county_step import geo_frame  # noqa: PLC0415

    tables = [pq.ParquetFile(path).read_row_group(group) for path, group in reads]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = geo_frame(table)
    return _unjson(frame if frame is not None else table.to_pandas())


def households_task(  # noqa: PLR0917 (a Dask task: positional arguments)
    reads: list[tuple[str, int]],
    policy: Any,
    records: PartitionRecords,
    with_extras: bool,
    climate: Any,
    as_of: Any,
    reference_yields: Any,
    out: str,
    areas: str,
) -> dict[str, Any]:
    """Size one partition of the households from its final parcel rows (``reads``: its row
    groups) and its records; write it (and its households' outlines for the GeoPackage)."""
    import time  # noqa: PLC0415

    from agrilend.credit import CreditExtras, size_households  # noqa: PLC0415
    from agrilend.credit.extras import size_transferred  # noqa: PLC0415
    from agrilend.outputs import atomic_write, household_areas, write_table  # noqa: PLC0415

    cpu, rss = time.process_time(), resident_mb()
    parcels = read_partition(reads)
    if parcels is None or not len(parcels):
        return {"households": 0, "cpu_s": time.process_time() - cpu}
    kw: dict[str, Any] = {"subsidies": records.subsidies, "climate": climate, "as_of": as_of,
                          "reference_yields": reference_yields}  # fmt: skip
    if with_extras:
        mine = CreditExtras(insurance=records.insurance, evidence=records.evidence)
        hh = size_transferred(parcels, policy, mine, flags=records.flags,
                              counted_photos=records.counted_photos, **kw).households  # fmt: skip
    else:
        hh = size_households(parcels, policy, **kw)
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
        "rows": len(parcels),
        "row_groups": len(reads),
        "cpu_s": time.process_time() - cpu,
        # this process's resident memory before and after, and its peak so far (MB)
        "rss_mb": (rss, resident_mb()),
        "peak_mb": peak_mb(),
    }


def _unjson(parcels: pd.DataFrame) -> pd.DataFrame:
    """The final rows as the county step made them: ``quality_flags`` back to lists."""
    import json  # noqa: PLC0415

    out = parcels.copy()
    if "quality_flags" in out:
        read: dict[str, list[Any]] = {}  # a few distinct lists of flags: each decoded once

        def flags(v: Any) -> Any:
            if not (isinstance(v, str) and v.startswith("[")):
                return v
            if v not in read:
                read[v] = json.loads(v)
            return list(read[v])  # a list of its own for each row, as json.loads gave

        out["quality_flags"] = [flags(v) for v in out["quality_flags"]]
    return out


__all__ = [
    "HOUSEHOLD_PARTITION_PARCELS",
    "HouseholdPlan",
    "PartHouseholds",
    "PartitionRecords",
    "chunk_partitions",
    "households_task",
    "n_partitions",
    "part_households",
    "plan_from_titles",
    "plan_households",
    "read_partition",
    "route_records",
    "size_in_partitions",
    "without_parts",
    "write_final",
]
