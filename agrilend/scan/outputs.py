"""County scan outputs: the summary (JSON and a bilingual page with a county map), the
household list (an index and its pages), and the analysts' tables (GeoPackage with two layers,
CSV for Excel)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.assessment import Assessment
from agrilend.credit.sizing import credit_totals
from agrilend.outputs import atomic_write, write_table

log = logging.getLogger(__name__)


def _flags(cell: Any) -> list[str]:
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(x) for x in cell]
    if isinstance(cell, str) and cell.startswith("["):
        try:
            return [str(x) for x in json.loads(cell)]
        except json.JSONDecodeError:
            return [cell]
    return []


def build_summary(
    result: Assessment, *, quarantined: dict[str, str], n_chunks: int
) -> dict[str, Any]:
    """Counts by decision, the credit total, flags and data quality of a scan."""
    parcels, hh = result.parcels, result.households
    flags: Counter[str] = Counter()
    for cell in parcels.get("quality_flags", pd.Series(dtype=object)):
        flags.update(_flags(cell))
    usable = parcels["status"] != "error"
    clear = pd.to_numeric(parcels.loc[usable, "n_clear_obs"], errors="coerce")
    cloud = pd.to_numeric(parcels.loc[usable, "cloud_fraction"], errors="coerce")

    def med(s: pd.Series) -> float | None:
        return float(s.median()) if s.notna().any() else None

    credit = credit_totals(hh)
    return {
        "parcels": len(parcels),
        "households": len(hh),
        "status": {str(k): int(v) for k, v in parcels["status"].value_counts().items()},
        "decisions": {str(k): int(v) for k, v in hh["decision"].value_counts().items()},
        # approved lines; referred households' proposed lines apart (a person decides them)
        "credit_total": credit["approved"],
        "credit_referred": credit["referred"],
        "currency": str(hh["currency"].iloc[0]) if len(hh) else "",
        "flags": dict(sorted(flags.items())),
        "data_quality": {
            "usable_share": float(usable.mean()) if len(parcels) else 0.0,
            "median_clear_observations": med(clear),
            "median_cloud_fraction": med(cloud),
            "imagery_dates": len(result.provenance.get("imagery", {}).get("dates", [])),
        },
        "chunks": n_chunks,
        "quarantined_chunks": dict(sorted(quarantined.items())),
        "as_of": result.provenance.get("as_of"),
    }


def summary_html(summary: dict[str, Any], result: Assessment) -> str:
    """The county summary page: styled, bilingual, with the county map, decisions by village
    and flags by kind (:func:`agrilend.report.county.summary_page`)."""
    from agrilend.report.county import summary_page  # noqa: PLC0415  (matplotlib, jinja2)

    return summary_page(summary, result.parcels, result.households)


#: Files of the scan beside parcels.parquet, households.parquet and the summary (the household
#: list's pages are in the folder ``households/`` beside them, replaced whole when written).
PAGES = ("summary.html", "households.html")
TABLES = ("parcels.gpkg", "households.csv", "season_weather.parquet", "subsidies.parquet")
#: Subsidy columns kept for reports (never a raw owner id).
SUBSIDY_COLUMNS = (
    "scheme", "year", "parcel_id", "owner_ref", "area_ha", "amount", "currency", "matched_by",
)  # fmt: skip


def read_parcels(out_dir: str | Path, columns: list[str] | None = None) -> Any:
    """The parcels of a finished scan, in the titles' order, from its ``parcels.parquet``
    dataset (one GeoParquet file per chunk; ``geopandas.read_parquet`` or
    ``pyarrow.dataset`` read the folder as one table, in chunk order, with a ``title_row``
    column giving each row's title).

    Examples
    --------
    >>> parcels = read_parcels("county-scan")                 # doctest: +SKIP
    >>> parcels[["parcel_id", "crop", "status"]].head()         # doctest: +SKIP
    """
    import geopandas as gpd  # noqa: PLC0415

    from agrilend.scan.county_step import TITLE_ROW  # noqa: PLC0415

    path = Path(out_dir) / "parcels.parquet"
    wanted = None if columns is None else list(dict.fromkeys([*columns, TITLE_ROW]))
    frame = gpd.read_parquet(path, columns=wanted) if wanted is None or "geometry" in wanted \
        else pd.read_parquet(path, columns=wanted)  # fmt: skip
    if TITLE_ROW in frame.columns:
        frame = frame.sort_values(TITLE_ROW, kind="stable").drop(columns=TITLE_ROW)
    return frame.reset_index(drop=True)


def read_households(out_dir: str | Path) -> pd.DataFrame:
    """The households of a finished scan (its ``households.parquet`` dataset, one file per
    partition), ordered by ``owner_ref``."""
    frame = pd.read_parquet(Path(out_dir) / "households.parquet")
    order = np.argsort(frame["owner_ref"].astype(str).to_numpy(dtype=object), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


#: The GeoPackage is appended in batches of parts of about this many rows (bounded memory).
GPKG_BATCH_ROWS = 5_000


def _batches(files: list[str]) -> Any:
    """The files' rows, read part by part, in frames of about :data:`GPKG_BATCH_ROWS`."""
    import geopandas as gpd  # noqa: PLC0415

    from agrilend.scan.county_step import read_geo  # noqa: PLC0415

    held: list[Any] = []
    rows = 0
    for path in files:
        frame = read_geo(path)
        if len(frame):
            held.append(frame)
            rows += len(frame)
        if rows >= GPKG_BATCH_ROWS:
            yield gpd.GeoDataFrame(pd.concat(held, ignore_index=True), crs=held[0].crs)
            held, rows = [], 0
    if held:
        yield gpd.GeoDataFrame(pd.concat(held, ignore_index=True), crs=held[0].crs)


#: Rows per write when the GeoPackage is appended from Arrow (a household's outline is large).
ARROW_BATCH_ROWS = 2_000


def _append_arrow(path: Path, layer: str, files: list[str]) -> None:
    """Append GeoParquet files to a GeoPackage layer one by one, as Arrow tables."""
    import pyarrow.parquet as pq  # noqa: PLC0415
    import pyogrio  # noqa: PLC0415

    from agrilend.scan.county_step import geo_metadata, read_geo  # noqa: PLC0415

    kinds: set[str] = set()
    geo: dict[str, Any] = {}
    for f in files:
        geo = geo_metadata(pq.read_schema(f))
        col = geo.get("primary_column", "geometry")
        kinds.update(geo.get("columns", {}).get(col, {}).get("geometry_types") or ["Unknown"])
    if not files:
        return
    col = geo.get("primary_column", "geometry")
    crs = read_geo(files[0], columns=[col]).crs
    kind = kinds.pop() if len(kinds) == 1 else "Unknown"
    import pyarrow as pa  # noqa: PLC0415

    first = not path.exists()
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=ARROW_BATCH_ROWS):
            if not batch.num_rows:
                continue
            pyogrio.write_arrow(
                pa.Table.from_batches([batch]), path, layer=layer, driver="GPKG",
                append=not first, geometry_name=col, geometry_type=kind,
                crs=crs.to_wkt() if crs is not None else None,
            )  # fmt: skip
            first = False


#: households.csv is written this many households at a time (a partition of 20,000 parcels
#: read whole held about 100 MB more in the client at 10^5 parcels).
CSV_BATCH_ROWS = 2_000


def _household_batches(files: list[str]) -> Any:
    """The households of the partitions' files, :data:`CSV_BATCH_ROWS` at a time, as frames
    (every batch of a file with the file's column types)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    for path in files:
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        for batch in source.iter_batches(batch_size=CSV_BATCH_ROWS):
            yield pa.Table.from_batches([batch], schema=schema).to_pandas()


def write_tables(out: Path, outcome: Any) -> None:
    """The analysts' tables, written part by part from the county step's files (a
    :class:`agrilend.scan.county_flow.Outcome`): the GeoPackage (parcels, then households
    layer, each appended a part at a time), households.csv (UTF-8 with BOM, for Excel; appended
    a partition at a time), and the season weather and matched subsidies the reports show."""
    import csv  # noqa: PLC0415

    from agrilend.outputs import spreadsheet_safe, tabular  # noqa: PLC0415

    with atomic_write(out / "parcels.gpkg") as tmp:
        tmp.unlink(missing_ok=True)
        try:  # each part's Arrow table straight to GDAL: no pandas copy (GDAL >= 3.8)
            for layer, files in (("parcels", outcome.finals), ("households", outcome.areas)):
                _append_arrow(tmp, layer, files)
        except (AttributeError, RuntimeError, NotImplementedError) as exc:
            log.info("GeoPackage written through pandas (%s)", exc)
            tmp.unlink(missing_ok=True)
            mode = "w"
            for layer, files in (("parcels", outcome.finals), ("households", outcome.areas)):
                for batch in _batches(files):  # a few parts per write: each has its cost
                    batch.to_file(tmp, driver="GPKG", layer=layer, mode=mode)
                    mode = "a"
    csv_file = out / "households.csv"
    with atomic_write(csv_file) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        for k, batch in enumerate(_household_batches(outcome.households)):
            spreadsheet_safe(tabular(batch)).to_csv(
                fh, index=False, header=k == 0, quoting=csv.QUOTE_NONNUMERIC
            )
    weather = pd.DataFrame(outcome.season_weather.to_dict(orient="list"))
    write_table(weather, out / "season_weather.parquet", overwrite=True)
    subs = outcome.subsidies
    keep = [c for c in SUBSIDY_COLUMNS if c in subs.columns]
    plain = pd.DataFrame({c: subs[c].to_numpy() for c in keep})  # no attrs (not JSON-able)
    write_table(plain, out / "subsidies.parquet", overwrite=True)


#: Above this many parcels the county map draws a point per parcel (as the page itself does).
MAP_POLYGONS = 20_000


#: What the pages show of a household (its limits and other columns stay in the files).
PAGE_HOUSEHOLD_COLUMNS = (
    "owner_ref", "decision", "credit_line", "currency", "tenor_months", "n_parcels",
    "declared_area_ha", "cultivated_area_ha", "reason_codes", "reasons_en", "reasons_zh",
)  # fmt: skip


def _columns(path: str, wanted: tuple[str, ...]) -> list[str]:
    import pyarrow.parquet as pq  # noqa: PLC0415

    names = set(pq.read_schema(path).names)
    return [c for c in wanted if c in names]


def page_frames(outcome: Any) -> tuple[Any, pd.DataFrame]:
    """What the pages show, read back a part at a time: per parcel only its id, household,
    status, flags and outline (above :data:`MAP_POLYGONS` parcels its centroid, as two float
    columns ``x`` and ``y``, computed from the parts' WKB in Arrow: a point object per parcel
    cost the client about 0.6 KB per parcel at 10^5, a GeoDataFrame per part about 0.5 KB
    more in memory it did not give back); the households."""
    import geopandas as gpd  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from agrilend.scan.county_step import read_geo  # noqa: PLC0415

    cols = ["parcel_id", "owner_ref", "status", "quality_flags", "geometry"]
    n = sum(pq.ParquetFile(p).metadata.num_rows for p in outcome.finals)
    if n > MAP_POLYGONS:
        parcels = _centroid_frame(outcome.finals, cols)
    else:
        frames = [read_geo(path, columns=cols) for path in outcome.finals]
        parcels = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                                   crs=frames[0].crs if frames else None)  # fmt: skip
    hh = [pd.read_parquet(p, columns=_columns(p, PAGE_HOUSEHOLD_COLUMNS))
          for p in outcome.households]  # fmt: skip
    households = pd.concat(hh, ignore_index=True) if hh else pd.DataFrame(
        columns=["owner_ref", "decision", "credit_line", "currency"])  # fmt: skip
    return parcels, households


def _centroid_frame(files: list[str], columns: list[str]) -> pd.DataFrame:
    """``columns`` of the GeoParquet ``files`` but the geometry, with each outline's centroid
    as float columns ``x`` and ``y`` (the outlines decoded a file at a time, never kept)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    from agrilend.scan.county_step import geo_metadata  # noqa: PLC0415

    tables = []
    for path in files:
        schema = pq.read_schema(path)
        col = geo_metadata(schema).get("primary_column", "geometry")
        names = set(schema.names)
        table = pq.read_table(path, columns=[c for c in columns if c in names and c != col]
                              + [col])  # fmt: skip
        wkb = table.column(col).to_numpy(zero_copy_only=False)
        centre = shapely.centroid(shapely.from_wkb(wkb))
        centre[shapely.is_empty(centre)] = None  # no outline, no centre: NaN
        x, y = shapely.get_x(centre), shapely.get_y(centre)
        table = table.drop_columns([col])
        tables.append(table.append_column("x", pa.array(x)).append_column("y", pa.array(y)))
    if not tables:
        empty = {c: pd.Series(dtype=object) for c in columns if c != "geometry"}
        return pd.DataFrame(empty | {"x": pd.Series(dtype=float), "y": pd.Series(dtype=float)})
    frame: pd.DataFrame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    return frame.reindex(columns=[*[c for c in columns if c != "geometry"], "x", "y"])


def write_pages(out: Path, outcome: Any) -> None:
    """summary.html, atomically, and the household list: households.html and its pages in
    households/, written page by page (:mod:`agrilend.report.household_pages`)."""
    from agrilend.report.county import summary_page  # noqa: PLC0415
    from agrilend.report.household_pages import write_household_pages  # noqa: PLC0415

    summary = outcome.summary
    parcels, households = page_frames(outcome)
    pages = write_household_pages(out, parcels, households, currency=summary["currency"])
    page = summary_page(summary, parcels, households, village_pages=pages.villages)
    with atomic_write(out / "summary.html") as tmp:
        tmp.write_text(page, encoding="utf-8")


__all__ = [
    "MAP_POLYGONS",
    "PAGES",
    "TABLES",
    "build_summary",
    "page_frames",
    "read_households",
    "read_parcels",
    "summary_html",
    "write_pages",
    "write_tables",
]
