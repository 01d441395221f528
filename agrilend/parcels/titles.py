"""Land titles from any registry into one schema.

:func:`read_titles` opens a registry extract (GeoPackage, Shapefile -- also zipped, also in a
sub-folder of the zip --, GeoJSON, GeoParquet, plain Parquet with a WKB ``geometry`` column,
FlatGeobuf, GML), and :func:`as_titles` maps its columns to the titles schema of DEVELOPERS.md:

=================== =====================================================================
column              meaning
=================== =====================================================================
``parcel_id``       registry parcel code as text (generated ``P-000001``... when absent)
``owner_ref``       keyed pseudonym of the holder (:func:`~agrilend.parcels.pseudonymize`)
``declared_area_ha`` declared area in hectares (NaN when the registry has none)
``declared_crop``   declared crop, through ``crop_codes`` when given (``""`` when absent)
``geometry``        in a projected CRS (a geographic one is projected to the local UTM zone)
=================== =====================================================================

plus the columns the mapping ``keep`` names. The raw owner id and the ``personal`` columns are
dropped before anything leaves this module.

Which registry column is which is a :class:`TitleMapping`, given as arguments, a TOML file or one
of the presets in :data:`MAPPINGS`.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

from agrilend._paths import is_remote, local_path
from agrilend.errors import CRSError, MissingCRSError, TitleMappingError, TitlesReadError
from agrilend.parcels._title_files import first_line, open_vector
from agrilend.parcels.pseudonym import _normalise, pseudonymize
from agrilend.parcels.validate import check_crs
from agrilend.vocabulary import HA_PER_MU

log = logging.getLogger(__name__)

AreaUnit = Literal["ha", "m2", "mu", "a"]
#: Hectares per unit of declared area (1 mu = 666.6667 m2 = 1/15 ha; 1 a = 100 m2).
AREA_UNITS_HA: dict[str, float] = {"ha": 1.0, "m2": 1e-4, "mu": HA_PER_MU, "a": 0.01}
#: The columns every titles frame starts with, in order.
TITLE_COLUMNS = ("parcel_id", "owner_ref", "declared_area_ha", "declared_crop")
#: Refuse files with more features than this unless ``max_features`` is raised.
DEFAULT_MAX_FEATURES = 5_000_000

# Column names tried, case-insensitively and in order, when no mapping is given.
_GUESS_ID = ("parcel_id", "parcelid", "id_parcel", "dkbm", "plot_id", "field_id", "title_id", "id")
_GUESS_OWNER = ("owner", "owner_id", "cbfbm", "holder_id", "farmer_id", "household_id")
_GUESS_AREA = (
    ("declared_area_ha", "ha"),
    ("area_ha", "ha"),
    ("htmjm", "mu"),
    ("area_mu", "mu"),
    ("area_m2", "m2"),
    ("surf_parc", "ha"),
    ("area", "?"),
)
_GUESS_CROP = ("declared_crop", "crop", "crop_type", "zzzw", "crop_name", "crop_code")


@dataclass(frozen=True)
class TitleMapping:
    """Which registry column is which.

    Attributes
    ----------
    parcel_id
        Column of the parcel code; None generates ``P-000001``, ``P-000002``...
    owner
        Column of the holder's id (pseudonymised on read, never kept); None leaves ``owner_ref``
        empty.
    declared_area
        Column of the declared area, in ``declared_area_unit``.
    declared_area_unit
        ``"ha"``, ``"m2"``, ``"mu"`` (Chinese mu, 1/15 ha) or ``"a"`` (are).
    declared_crop
        Column of the declared crop (a code or a name).
    crop_codes
        Registry code -> crop label (a canonical crop name or any label); codes not listed are
        kept as they are.
    personal
        Columns holding personal data; dropped on read, never kept.
    keep
        Other columns to keep in the output (none by default: privacy by default).
    layer
        Layer to read in a multi-layer file (GeoPackage), or the member of a zip.
    encoding
        Text encoding of the attributes when the file does not say (e.g. ``"gbk"`` for a Chinese
        shapefile without a ``.cpg``).
    crs
        CRS to assign when the file has none (never overrides a CRS the file states).

    Examples
    --------
    >>> m = TitleMapping(parcel_id="DKBM", declared_area="HTMJM", declared_area_unit="mu")
    >>> m.declared_area_unit, m.personal
    ('mu', ())
    """

    parcel_id: str | None = None
    owner: str | None = None
    declared_area: str | None = None
    declared_area_unit: AreaUnit = "ha"
    declared_crop: str | None = None
    crop_codes: Mapping[str, str] | None = field(default=None, hash=False)
    personal: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None

    def __post_init__(self) -> None:
        if self.declared_area_unit not in AREA_UNITS_HA:
            raise TitleMappingError(
                f"declared_area_unit {self.declared_area_unit!r} is not one of "
                f"{list(get_args(AreaUnit))}; use 'ha', 'm2', 'mu' or 'a'",
                key="declared_area_unit",
            )
        for name in ("parcel_id", "owner", "declared_area", "declared_crop", "layer"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise TitleMappingError(
                    f"mapping key {name!r} must be a column name (text), got {value!r}", key=name
                )
        for name in ("personal", "keep"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            if not all(isinstance(v, str) for v in value):
                raise TitleMappingError(f"mapping key {name!r} must list column names", key=name)
            object.__setattr__(self, name, tuple(value))
        if self.crop_codes is not None:
            if not isinstance(self.crop_codes, Mapping):
                raise TitleMappingError(
                    "crop_codes must map registry codes to crop labels", key="crop_codes"
                )
            codes = {_normalise(k): str(v) for k, v in self.crop_codes.items()}
            object.__setattr__(self, "crop_codes", codes)
        private = {c for c in (self.owner, *self.personal) if c}
        leaked = sorted(private & set(self.keep))
        if leaked:
            raise TitleMappingError(
                f"mapping keeps {leaked}, which are the owner id or personal columns; personal "
                "data never leaves read_titles: remove them from keep",
                key="keep",
            )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except (LookupError, TypeError) as exc:
                raise TitleMappingError(
                    f"encoding {self.encoding!r} is unknown; pass a codec name such as 'gbk', "
                    "'gb18030', 'cp1252' or 'utf-8'",
                    key="encoding",
                ) from exc
        if self.crs is not None:
            try:
                CRS.from_user_input(self.crs)
            except Exception as exc:  # pyproj raises CRSError, TypeError...
                raise TitleMappingError(
                    f"mapping crs {self.crs!r} is not a CRS pyproj knows ({exc}); use e.g. "
                    "'EPSG:4490'",
                    key="crs",
                ) from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> TitleMapping:
        """Read a mapping from a TOML file of top-level keys named like the attributes.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "m.toml"
        >>> _ = f.write_text('parcel_id = "DKBM"\\ndeclared_area_unit = "mu"\\n'
        ...                  '[crop_codes]\\n"0101" = "rice"\\n', encoding="utf-8")
        >>> TitleMapping.from_toml(f).crop_codes
        {'0101': 'rice'}
        """
        p = local_path(path, what="titles mapping")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TitleMappingError(
                f"titles mapping {p.name!r} is not a readable UTF-8 TOML file ({exc}); fix its "
                "syntax"
            ) from exc
        if isinstance(data.get("titles"), dict) and len(data) == 1:
            data = data["titles"]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TitleMappingError(
                f"titles mapping {p.name!r} has unknown keys {unknown}; allowed keys are "
                f"{sorted(known)}",
                key=unknown[0],
            )
        try:
            return cls(**data)
        except TitleMappingError as exc:
            raise TitleMappingError(f"titles mapping {p.name!r}: {exc}", key=exc.key) from exc


#: Mappings for the registries agrilend has been tried on. ``cn_contract`` is the Chinese rural
#: land-contract (确权) database of the sample county; the others are public registry samples.
MAPPINGS: dict[str, TitleMapping] = {
    "cn_contract": TitleMapping(
        parcel_id="DKBM",
        owner="CBFBM",
        declared_area="HTMJM",
        declared_area_unit="mu",
        declared_crop="ZZZW",
        personal=("CBFMC", "ZJHM", "LXDH"),
        keep=("DKMC",),
    ),
    "fr_rpg": TitleMapping(
        parcel_id="id_parcel", declared_area="surf_parc", declared_crop="code_cultu"
    ),
    "at_inspire": TitleMapping(
        parcel_id="GEO_ID",
        declared_area="SL_FLAECHE_BRUTTO_HA",
        declared_crop="SNAR_BEZEICHNUNG",
        keep=("SNAR_CODE",),
    ),
    "be_vlg": TitleMapping(
        parcel_id="REF_ID", declared_area="GRAF_OPP", declared_crop="GWSNAM_H", keep=("GWSCOD_H",)
    ),
    "ch_lwb": TitleMapping(
        parcel_id="nutzungsidentifikator",
        declared_area="flaeche_m2",
        declared_area_unit="m2",
        declared_crop="nutzung",
        keep=("lnf_code", "beitragsberechtigt"),
    ),
    # Brandenburg's ref_ident is the reference plot, shared by several applications: no unique id
    "de_bb": TitleMapping(declared_area="groesse", declared_crop="code_bez", keep=("ref_ident",)),
    "eurocrops_si": TitleMapping(
        parcel_id="ID", declared_area="AREA", declared_area_unit="m2", declared_crop="EC_hcat_n"
    ),
    "eurocrops_lv": TitleMapping(
        parcel_id="PARCEL_ID", declared_area="AREA_DECLA", declared_crop="EC_hcat_n"
    ),
    "pt_aveiro": TitleMapping(
        parcel_id="CUL_ID",
        declared_area="Shape_Area",
        declared_area_unit="m2",
        declared_crop="CT_português",
        layer="Culturas_Aveiro",
    ),
    "jecam": TitleMapping(parcel_id="Id", declared_area="Area_ha", declared_crop="CropType1"),
    "india_10k": TitleMapping(declared_area="area", declared_area_unit="m2"),
    "ai4sf": TitleMapping(),
}


# --- mapping columns ------------------------------------------------------------------------------


def _resolve_mapping(mapping: TitleMapping | str | Path | None) -> TitleMapping | None:
    if mapping is None or isinstance(mapping, TitleMapping):
        return mapping
    if isinstance(mapping, str) and mapping in MAPPINGS:
        return MAPPINGS[mapping]
    if isinstance(mapping, str | Path) and str(mapping).lower().endswith(".toml"):
        return TitleMapping.from_toml(mapping)
    raise TitleMappingError(
        f"mapping {mapping!r} is neither a TitleMapping, a .toml file nor a preset "
        f"({sorted(MAPPINGS)})",
        key="mapping",
    )


def _guess_mapping(gdf: gpd.GeoDataFrame, given: Mapping[str, Any], source: str) -> TitleMapping:
    """Fill the fields ``given`` leaves open from common column names, and log each guess."""
    cols = {str(c).lower(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    fields: dict[str, Any] = dict(given)

    def pick(candidates: tuple[str, ...]) -> str | None:
        return next((cols[c] for c in candidates if c in cols), None)

    if "parcel_id" not in fields:
        col = pick(_GUESS_ID)
        if col is not None and gdf[col].notna().all() and gdf[col].is_unique:
            fields["parcel_id"] = col
    if "owner" not in fields:
        fields["owner"] = pick(_GUESS_OWNER)
    if "declared_crop" not in fields:
        fields["declared_crop"] = pick(_GUESS_CROP)
    if "declared_area" not in fields:
        for cand, unit in _GUESS_AREA:
            if cand in cols:
                fields["declared_area"] = cols[cand]
                if "declared_area_unit" not in fields:
                    fields["declared_area_unit"] = (
                        _guess_area_unit(gdf, cols[cand]) if unit == "?" else unit
                    )
                break
    mapping = TitleMapping(**fields)
    guessed = {k: v for k, v in fields.items() if k not in given and v is not None}
    log.info(
        "%s: no titles mapping given; guessed %s%s",
        source,
        guessed or "nothing",
        "" if mapping.parcel_id else "; parcel ids are generated (P-000001...)",
    )
    return mapping


def _guess_area_unit(gdf: gpd.GeoDataFrame, col: str) -> str:
    """The unit that brings the column closest to the mapped area (median ratio)."""
    values = pd.to_numeric(gdf[col], errors="coerce").to_numpy(float)
    try:
        geo = gdf.geometry
        if geo.crs is not None and not geo.crs.is_projected:
            geo = geo.to_crs(_utm_crs(geo))
        mapped_ha = geo.area.to_numpy(float) / 10_000
    except Exception:  # no usable CRS or geometry: fall back on hectares
        return "ha"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = values / mapped_ha
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    ratio = float(np.median(ratios)) if len(ratios) else np.nan
    if not np.isfinite(ratio):
        return "ha"
    return min(AREA_UNITS_HA, key=lambda u: abs(np.log(ratio * AREA_UNITS_HA[u])))


def _utm_crs(geo: gpd.GeoSeries) -> CRS:
    """The WGS 84 UTM zone at the centre of the (finite) coordinates."""
    xy = shapely.get_coordinates(np.asarray(geo.values))
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        raise CRSError("titles have no finite coordinates to choose a UTM zone from")
    lon, lat = xy.mean(axis=0)
    zone = min(max(int((lon + 180) // 6) + 1, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _column(gdf: pd.DataFrame, col: str, role: str, source: str) -> str:
    """The actual column name (exact, else case-insensitive match), or an error."""
    if col in gdf.columns:
        return col
    folded = [c for c in gdf.columns if str(c).lower() == col.lower()]
    if len(folded) == 1:
        log.info("%s: mapping column %r matched %r ignoring case", source, col, folded[0])
        return str(folded[0])
    have = [str(c) for c in gdf.columns if c != getattr(gdf, "_geometry_column_name", None)]
    raise TitlesReadError(
        f"column {col!r} ({role}) is not in {source}; its columns are {have[:30]}: fix the "
        "titles mapping",
        path=source,
    )


def _texts(values: Any) -> list[str]:
    return [_normalise(v) for v in values]


def _as_titles(
    gdf: Any,
    mapping: TitleMapping | None,
    *,
    key: str | bytes | None,
    source: str,
    given: Mapping[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    if isinstance(gdf, pd.DataFrame) and not isinstance(gdf, gpd.GeoDataFrame):
        if "geometry" not in gdf.columns:
            raise TitlesReadError(
                f"{source} is a table without a geometry column; titles need parcel polygons",
                path=source,
            )
        gdf = gpd.GeoDataFrame(gdf, geometry="geometry")
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TitlesReadError(
            f"{source} must be a GeoDataFrame, got {type(gdf).__name__}; read files with "
            "read_titles",
            path=source,
        )
    try:
        geometry_name = gdf.geometry.name
    except AttributeError as exc:
        raise TitlesReadError(
            f"{source} has no active geometry column; set one with gdf.set_geometry(...)",
            path=source,
        ) from exc
    if mapping is None:
        mapping = _guess_mapping(gdf, given or {}, source)
    if gdf.crs is None:
        if mapping.crs is None:
            raise MissingCRSError(
                f"{source} has no CRS; pass the CRS the registry uses as crs= (e.g. "
                "crs='EPSG:4490' for CGCS2000 longitude/latitude)"
            )
        gdf = gdf.set_crs(mapping.crs)
        log.info("%s: no CRS in the file; assigned %s from the mapping", source, mapping.crs)
    elif mapping.crs is not None and CRS.from_user_input(mapping.crs) != gdf.crs:
        log.info(
            "%s: the file states its CRS (%s); the mapping's crs=%s is only used for files "
            "without one",
            source,
            gdf.crs.to_string(),
            mapping.crs,
        )
    check_crs(gdf, what=source)

    n = len(gdf)
    out: dict[str, Any] = {}
    if mapping.parcel_id:
        col = _column(gdf, mapping.parcel_id, "parcel_id", source)
        out["parcel_id"] = _texts(gdf[col])
    else:
        width = max(6, len(str(n)))
        out["parcel_id"] = [f"P-{i + 1:0{width}d}" for i in range(n)]
    if mapping.owner:
        col = _column(gdf, mapping.owner, "owner", source)
        out["owner_ref"] = list(pseudonymize(gdf[col], key=key))
    else:
        out["owner_ref"] = [""] * n
        log.info("%s: no owner column mapped; owner_ref is empty", source)
    if mapping.declared_area:
        col = _column(gdf, mapping.declared_area, "declared_area", source)
        raw = gdf[col]
        if raw.dtype == np.float32:  # 0.45 stored as float32 reads 0.44999998807907104
            raw = pd.Series([float(str(v)) for v in raw.to_numpy()], index=raw.index)
        area = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        bad = int((np.isnan(area) & raw.notna().to_numpy()).sum())
        if bad:
            log.warning("%s: %d values of %r are not numbers; read as NaN", source, bad, col)
        out["declared_area_ha"] = area * AREA_UNITS_HA[mapping.declared_area_unit]
    else:
        out["declared_area_ha"] = np.full(n, np.nan)
    if mapping.declared_crop:
        col = _column(gdf, mapping.declared_crop, "declared_crop", source)
        crops = _texts(gdf[col])
        if mapping.crop_codes:
            codes = mapping.crop_codes
            unknown = sorted({c for c in crops if c and c not in codes})
            if unknown:
                log.info(
                    "%s: crop codes not in crop_codes kept as they are: %s", source, unknown[:10]
                )
            crops = [codes.get(c, c) for c in crops]
        out["declared_crop"] = crops
    else:
        out["declared_crop"] = [""] * n
    kept = {}
    for name in mapping.keep:
        col = _column(gdf, name, "keep", source)
        if col in TITLE_COLUMNS or col == geometry_name:
            continue
        kept[col] = gdf[col].to_numpy()

    geo = gdf.geometry
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        target = _utm_crs(geo)
        log.info("%s: geographic CRS %s projected to %s", source, crs.to_string(), target.name)
        geo = geo.to_crs(target)
    elif not crs.is_projected:
        raise CRSError(
            f"{source} is in {crs.to_string()}, neither geographic nor projected; reproject it "
            "to a projected CRS first"
        )
    frame = pd.DataFrame(
        {
            "parcel_id": pd.array(out["parcel_id"], dtype="str"),
            "owner_ref": pd.array(out["owner_ref"], dtype="str"),
            "declared_area_ha": out["declared_area_ha"],
            "declared_crop": pd.array(out["declared_crop"], dtype="str"),
            **kept,
        }
    )
    titles = gpd.GeoDataFrame(frame, geometry=geo.to_numpy(), crs=geo.crs)
    titles.attrs["source"] = source
    return titles


def as_titles(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    *,
    mapping: TitleMapping | str | Path | None = None,
    key: str | bytes | None = None,
) -> gpd.GeoDataFrame:
    """Map any ``GeoDataFrame`` of land titles to the titles schema.

    Parameters
    ----------
    gdf
        Registry records with a geometry (a ``DataFrame`` with a shapely ``geometry`` column is
        accepted too).
    mapping
        A :class:`TitleMapping`, a preset name from :data:`MAPPINGS`, or a TOML file. None guesses
        common column names and logs the guesses.
    key
        Pseudonym key; defaults to ``Settings.pseudonym_key``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id``, ``owner_ref``, ``declared_area_ha``, ``declared_crop``, the kept columns
        and ``geometry``, in a projected CRS. Raw owner ids and personal columns are gone.

    Raises
    ------
    TitlesReadError
        A mapped column is missing, or the input has no geometry.
    MissingCRSError, CRSError
        No CRS and none in the mapping; or a CRS that contradicts the coordinates.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"DKBM": ["1301", "1302"], "CBFBM": ["A1", "A1"],
    ...     "HTMJM": [3.0, 1.5], "CBFMC": ["张三", "张三"]}, crs="EPSG:32650",
    ...     geometry=[shapely.box(0, 0, 100, 200), shapely.box(100, 0, 200, 100)])
    >>> t = as_titles(g, mapping=TitleMapping(parcel_id="DKBM", owner="CBFBM",
    ...     declared_area="HTMJM", declared_area_unit="mu", personal=("CBFMC",)), key="k")
    >>> list(t.columns)
    ['parcel_id', 'owner_ref', 'declared_area_ha', 'declared_crop', 'geometry']
    >>> t["declared_area_ha"].round(2).tolist(), t["owner_ref"].nunique()
    ([0.2, 0.1], 1)
    """
    return _as_titles(gdf, _resolve_mapping(mapping), key=key, source="titles frame")


def read_titles(
    path: str | Path,
    *,
    mapping: TitleMapping | str | Path | None = None,
    key: str | bytes | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    allow_remote: bool | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    **mapping_overrides: Any,
) -> gpd.GeoDataFrame:
    """Read land titles from a registry file into the titles schema.

    Parameters
    ----------
    path
        GeoPackage, Shapefile, zip holding a shapefile or GeoPackage (also in a sub-folder),
        GeoJSON, FlatGeobuf, GML, GeoParquet or Parquet with a WKB ``geometry`` column. URLs
        and GDAL virtual paths are refused unless ``allow_remote`` (or
        ``AGRILEND_ALLOW_REMOTE=1``).
    mapping
        A :class:`TitleMapping`, a preset name from :data:`MAPPINGS`, or a TOML file. None guesses
        the columns the keyword overrides leave open (and logs the guesses).
    key
        Pseudonym key; defaults to ``Settings.pseudonym_key``.
    layer, encoding
        Override the mapping's layer and text encoding (e.g. ``encoding="gbk"``).
    allow_remote
        Let URLs and ``/vsi*/`` paths through.
    max_features
        Refuse larger files (a registry of a whole province is better read by village).
    **mapping_overrides
        Any :class:`TitleMapping` field (``parcel_id="DKBM"``, ``declared_area_unit="mu"``...).

    Returns
    -------
    geopandas.GeoDataFrame
        See :func:`as_titles`.

    Raises
    ------
    InputPathError
        A remote path that is not allowed, or a missing file.
    TitlesReadError
        The file cannot be opened or mapped; the message names the file and says what to do.
    TitleMappingError
        The mapping is invalid.
    MissingCRSError, CRSError
        As in :func:`as_titles`.

    Notes
    -----
    Geometries are read as they are: run :func:`~agrilend.parcels.validate_titles` next to
    repair them and flag slivers, overlaps, duplicates and parcels off the imagery.

    Examples
    --------
    >>> import geopandas as gpd, shapely, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "titles.gpkg"
    >>> gpd.GeoDataFrame({"DKBM": ["1301"], "CBFBM": ["A1"], "HTMJM": [1.5]},
    ...     geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:32650").to_file(f)
    >>> t = read_titles(f, parcel_id="DKBM", owner="CBFBM", declared_area="HTMJM",
    ...                 declared_area_unit="mu", key="k")
    >>> t["parcel_id"].tolist(), t["declared_area_ha"].tolist()
    (['1301'], [0.1])
    """
    resolved = _resolve_mapping(mapping)
    known = {f.name for f in dataclasses.fields(TitleMapping)}
    unknown = sorted(set(mapping_overrides) - known)
    if unknown:
        raise TitleMappingError(
            f"read_titles got unknown mapping keys {unknown}; allowed: {sorted(known)}",
            key=unknown[0],
        )
    given = dict(mapping_overrides)
    if layer is not None:
        given["layer"] = layer
    if encoding is not None:
        given["encoding"] = encoding
    final: TitleMapping | None
    if resolved is not None:
        final = dataclasses.replace(resolved, **given) if given else resolved
    else:
        final = None
    remote = is_remote(path)
    checked = local_path(path, what="titles", allow_remote=allow_remote)
    src: Path | str = str(path) if remote else checked
    lyr = final.layer if final else given.get("layer")
    enc = final.encoding if final else given.get("encoding")
    gdf = open_vector(src, layer=lyr, encoding=enc, max_features=max_features)
    name = Path(str(path)).name
    if final is None:
        final = _guess_mapping(gdf, given, name)
    try:
        titles = _as_titles(gdf, final, key=key, source=name)
    except (UnicodeDecodeError, pa.ArrowException) as exc:  # text a damaged file garbled
        raise TitlesReadError(
            f"text in {name!r} is not valid in its encoding ({first_line(exc)}); pass the "
            "registry's encoding as encoding= (e.g. 'gbk')",
            path=checked,
        ) from exc
    log.info("%s: read %d titles", name, len(titles))
    return titles


__all__ = [
    "AREA_UNITS_HA",
    "DEFAULT_MAX_FEATURES",
    "MAPPINGS",
    "TITLE_COLUMNS",
    "TitleMapping",
    "as_titles",
    "read_titles",
]
