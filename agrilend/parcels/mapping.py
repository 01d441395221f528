"""Which registry column is which: :class:`TitleMapping` (arguments, a TOML file or a preset of
:data:`MAPPINGS`), and the guesses made when no mapping is given (id, owner, area and its unit,
crop)."""

from __future__ import annotations

import codecs
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from agrilend._limits import load_toml
from agrilend._paths import local_path
from agrilend.errors import TitleMappingError
from agrilend.parcels.crs import _utm_crs
from agrilend.parcels.pseudonym import _normalise
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
        data = load_toml(p, f"titles mapping {p.name!r}", error=TitleMappingError)
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


__all__ = ["AREA_UNITS_HA", "MAPPINGS", "TITLE_COLUMNS", "AreaUnit", "TitleMapping"]
