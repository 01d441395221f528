"""The farmer's own evidence (百灵): geotagged photos, receipts, purchase contracts, loans repaid.

A farmer may add evidence of their own to raise a line. Each kind is a documented, capped raise
(``[evidence]`` in the policy), and evidence that contradicts the imagery lowers trust instead:

==========  ================================================  =================================
kind        verified when                                     raise (share of the line)
==========  ================================================  =================================
photo       EXIF position inside one of the household's      ``photo_raise`` per parcel shown,
            parcels (within ``photo_tolerance_m``), EXIF      at most ``photo_max``
            time in the season
receipt     a sale in the two years before the decision, of   ``receipt_share`` x amount / line,
            a crop the household is seen growing              at most ``receipt_max``
contract    a purchase contract for a crop seen this season   ``contract_share`` x value / line,
                                                              at most ``contract_max``
loan_repaid an earlier agricultural loan repaid, dated        ``repaid_raise``
            before the decision
==========  ================================================  =================================

All raises together are capped by ``max_total_raise``; they raise only the limits that rest on
expected revenue (the margin and revenue limits), never the caps. A photo outside its parcel (or
of a parcel that is not the household's), a photo out of season, or a receipt or contract for a
crop not seen contradicts the imagery: each cuts the line by ``contradiction_cut`` (at most
``max_contradiction_cut``) and the household is referred (``OWN_EVIDENCE_CONTRADICTS``).

Nothing that identifies a person is kept: owner ids become the titles' keyed pseudonyms; of a
photo only its position, time and a short content digest (to count one photo once) are read, not
the camera's make, serial number, owner name or any other EXIF field; of a receipt only its
date, crop and amount (no buyer or seller name is read).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from agrilend._paths import is_remote
from agrilend.credit._records import RecordFile, owner_refs, parse_date
from agrilend.credit.policy import CreditPolicy
from agrilend.errors import TableReadError

log = logging.getLogger(__name__)

#: Kinds of own evidence.
KINDS = ("photo", "receipt", "contract", "loan_repaid")
#: Columns of the table :func:`read_own_evidence` returns.
EVIDENCE_COLUMNS = (
    "owner_ref",
    "kind",
    "parcel_id",
    "crop",
    "amount",
    "date",
    "lat",
    "lon",
    "digest",
)

_ALIASES = {
    "owner": ("owner_id", "owner_ref", "CBFBM", "承包方编码"),
    "kind": ("kind", "type", "类型"),
    "parcel_id": ("parcel_id", "DKBM", "地块编码"),
    "crop": ("crop", "作物"),
    "amount": ("amount", "amount_cny", "金额", "金额(元)"),
    "date": ("date", "日期"),
    "file": ("file", "photo", "文件"),
}
_GPS, _EXIF = 0x8825, 0x8769
_DATETIME, _DATETIME_ORIGINAL = 306, 36867


def _dms(value: Any) -> float:
    d, m, s = (float(x) for x in value)
    return d + m / 60.0 + s / 3600.0


def read_photo(path: Path) -> dict[str, Any]:
    """Position (WGS 84 degrees), time and content digest of a geotagged JPEG; nothing else.

    Raises
    ------
    TableReadError
        Not an image, or no GPS position or time in its EXIF, or an impossible position.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jpg"
    >>> exif = Image.Exif()
    >>> exif[0x8825] = {1: "N", 2: (38.0, 3.0, 0.0), 3: "E", 4: (114.5, 0.0, 0.0)}
    >>> exif[306] = "2024:07:15 10:00:00"
    >>> Image.new("RGB", (8, 8)).save(p, exif=exif)
    >>> r = read_photo(p)
    >>> r["lat"], r["lon"], r["taken"]
    (38.05, 114.5, datetime.date(2024, 7, 15))
    """
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415  (only for photos)

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            gps = dict(exif.get_ifd(_GPS))
            stamp = exif.get_ifd(_EXIF).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise TableReadError(
            f"photo {path.name!r} is not a readable image ({exc}); send the original JPEG",
            path=path,
        ) from exc
    if not all(k in gps for k in (1, 2, 3, 4)):
        raise TableReadError(
            f"photo {path.name!r} has no GPS position in its EXIF; take it with location on",
            path=path,
        )
    try:
        lat = _dms(gps[2]) * (-1 if str(gps[1]).upper().startswith("S") else 1)
        lon = _dms(gps[4]) * (-1 if str(gps[3]).upper().startswith("W") else 1)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise TableReadError(
            f"photo {path.name!r}: its GPS position is malformed", path=path
        ) from exc
    if not (np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise TableReadError(
            f"photo {path.name!r}: GPS position {lat}, {lon} is impossible", path=path
        )
    taken = None
    if stamp:
        try:
            taken = datetime.strptime(str(stamp).strip()[:19], "%Y:%m:%d %H:%M:%S").date()
        except ValueError:
            taken = None
    if taken is None:
        raise TableReadError(
            f"photo {path.name!r} has no readable EXIF time; send the original photo", path=path
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {"lat": round(lat, 7), "lon": round(lon, 7), "taken": taken, "digest": digest}


def read_own_evidence(
    path: str | Path,
    *,
    key: str | bytes | None = None,
    errors: Literal["raise", "drop"] = "raise",
    max_amount: float = 5_000_000.0,
) -> pd.DataFrame:
    """Read a household evidence manifest and the photos it names.

    Parameters
    ----------
    path
        A table with ``owner_id``, ``kind`` (one of :data:`KINDS`), and per kind: ``parcel_id``
        and ``file`` (a JPEG beside the manifest, in it or below it) for a photo; ``date``,
        ``crop`` and ``amount`` for a receipt or contract; ``date`` for a loan repaid.
    key
        Key of the owner pseudonyms (default: the settings' key).
    errors
        ``"raise"`` on the first bad record, or ``"drop"`` it (reasons in
        ``df.attrs["rejected"]``): one farmer's unreadable photo must not stop the others.
    max_amount
        Above this an amount is absurd.

    Returns
    -------
    pandas.DataFrame
        :data:`EVIDENCE_COLUMNS`: a photo's date is its EXIF time, ``lat``/``lon`` its position.

    Raises
    ------
    TableReadError
        Unreadable manifest, missing columns, or a bad record (named by its number): an unknown
        kind, no owner, a photo without parcel or file, a file outside the manifest's folder, a
        remote or missing file, an image without GPS position or time, a receipt or contract
        without a date, crop or amount, an amount not above zero or absurd.
    """
    f = RecordFile(path, "own evidence", _ALIASES)
    f.require("owner", "kind")
    root = f.path.parent.resolve()
    rejected: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []
    owners, kinds = f.text("owner"), f.text("kind")
    pids, crops, files = f.text("parcel_id"), f.text("crop"), f.text("file")
    dates, amounts = f.text("date"), f.text("amount")
    for i in range(len(kinds)):
        try:
            rows.append(
                _record(
                    i,
                    owner=owners[i],
                    kind=kinds[i],
                    pid=pids[i],
                    crop=crops[i],
                    file=files[i],
                    when=dates[i],
                    amount=amounts[i],
                    root=root,
                    max_amount=max_amount,
                    f=f,
                )
            )
        except TableReadError as exc:
            if errors == "raise":
                raise
            rejected.append((i + 1, str(exc)))
    out = pd.DataFrame(rows, columns=[c for c in EVIDENCE_COLUMNS if c != "owner_ref"] + ["owner"])
    out.insert(0, "owner_ref", owner_refs(out.pop("owner").to_numpy(dtype=object), key).astype(str))
    if rejected:
        log.warning("own evidence %s: %d record(s) dropped", f.path.name, len(rejected))
    out.attrs["rejected"] = pd.DataFrame(rejected, columns=["record", "reason"])
    return out


def _record(
    i: int,
    *,
    owner: str,
    kind: str,
    pid: str,
    crop: str,
    file: str,
    when: str,
    amount: str,
    root: Path,
    max_amount: float,
    f: RecordFile,
) -> dict[str, Any]:
    def bad(msg: str) -> None:
        f.bad(i, msg)

    if not owner:
        bad("the owner is missing")
    if kind not in KINDS:
        bad(f"kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    rec: dict[str, Any] = {
        "owner": owner,
        "kind": kind,
        "parcel_id": pid,
        "crop": crop,
        "amount": np.nan,
        "date": None,
        "lat": np.nan,
        "lon": np.nan,
        "digest": "",
    }
    if kind == "photo":
        if not pid or not file:
            bad("a photo needs its parcel_id and its file")
        if is_remote(file):
            bad(f"photo file {file!r} is remote; give a file beside the manifest")
        target = (root / file).resolve()
        if not target.is_relative_to(root):
            bad(f"photo file {file!r} lies outside the manifest's folder")
        if not target.is_file():
            bad(f"photo file {file!r} does not exist")
        try:
            photo = read_photo(target)
        except TableReadError as exc:
            bad(str(exc))
            raise
        rec |= {
            "date": photo["taken"],
            "lat": photo["lat"],
            "lon": photo["lon"],
            "digest": photo["digest"],
        }
        return rec
    d = parse_date(when)
    if d is None:
        bad(f"date {when!r} is not a date; write it like 2024-09-15")
    rec["date"] = d
    if kind in ("receipt", "contract"):
        if not crop:
            bad(f"a {kind} needs the crop it is for")
        try:
            value = float(amount.replace(",", ""))
        except ValueError:
            bad(f"amount {amount!r} is not a number")
            raise
        if not (np.isfinite(value) and 0 < value <= max_amount):
            bad(f"amount {value:g} is not above zero or is absurd (above {max_amount:,.0f})")
        rec["amount"] = value
    return rec


def check_own_evidence(
    evidence: pd.DataFrame,
    parcels: pd.DataFrame,
    policy: CreditPolicy,
    *,
    as_of: date,
    lines: pd.Series | None = None,
    season: tuple[date, date] | None = None,
    counted: Collection[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check each item against the imagery and turn each household's items into adjustments.

    Parameters
    ----------
    evidence
        Output of :func:`read_own_evidence`.
    parcels
        Parcel estimates with ``parcel_id``, ``owner_ref`` and ``crop`` (after transfers), and
        a ``geometry`` (a GeoDataFrame with a CRS) for photos to be checked.
    policy
        Needs an ``[evidence]`` table (without one, nothing is raised or cut).
    as_of
        The decision date.
    lines
        Each household's line before its own evidence (``owner_ref`` -> amount): receipts and
        contracts raise in proportion to it. Absent households get no money-based raise.
    season
        The season photos must fall in; default the 365 days before ``as_of``.
    counted
        Digests of photos already counted before these items (elsewhere in the county, when a
        part of it is checked alone): those photos are ``unusable`` here, as a repeat is.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Items with ``verdict`` (``verified``, ``contradicts``, ``unusable``) and ``why``
        (positions are not repeated); and per household (indexed by ``owner_ref``) the
        adjustment columns sizing reads: ``evidence_raise``, ``evidence_cut``, ``n_photos``,
        ``n_receipts``, ``n_contracts``, ``n_repaid``, ``n_outside``, ``n_season``, ``n_crop``,
        ``evidence_items`` (JSON).
    """
    rule = policy.evidence
    start, end = season or (as_of - timedelta(days=365), as_of)
    parcel_at = parcels.set_index(parcels["parcel_id"].astype(str))
    crops_of: dict[str, set[str]] = {
        str(o): set(map(str, g)) for o, g in parcels.groupby("owner_ref")["crop"]
    }
    harvest_crop = {h: c for c, hs in policy.crops.items() for h in hs}
    dist = _photo_distances(evidence, parcels)
    items = []
    seen_digest: set[str] = set(map(str, counted))
    for k, r in enumerate(evidence.itertuples(index=False)):
        verdict, why = "verified", ""
        owner = str(r.owner_ref)
        grown = crops_of.get(owner, set())
        when = r.date if isinstance(r.date, date) else None
        if r.kind == "photo":
            pid = str(r.parcel_id)
            if r.digest in seen_digest:
                verdict, why = "unusable", "the same photo was already counted"
            elif pid not in parcel_at.index or str(parcel_at.loc[pid, "owner_ref"]) != owner:
                verdict, why = "contradicts", "outside: not one of the household's parcels"
            elif not np.isfinite(dist[k]) or dist[k] > rule.get("photo_tolerance_m", 30.0):
                verdict, why = "contradicts", f"outside: {dist[k]:.0f} m from the parcel"
            elif when is None or not (start <= when <= end):
                verdict, why = "contradicts", "season: taken out of the season"
            seen_digest.add(str(r.digest))
        elif r.kind in ("receipt", "contract"):
            crop = harvest_crop.get(str(r.crop), str(r.crop))
            horizon = as_of - timedelta(days=730) if r.kind == "receipt" else start
            if when is None or when > as_of:
                verdict, why = "unusable", "dated after the decision"
            elif when < horizon:
                verdict, why = "unusable", "too old to speak for this season"
            elif crop not in grown:
                verdict, why = "contradicts", f"crop: {r.crop} is not seen on the household's land"
        elif r.kind == "loan_repaid" and (when is None or when > as_of):
            verdict, why = "unusable", "dated after the decision"
        items.append(
            {
                "owner_ref": owner,
                "kind": r.kind,
                "parcel_id": str(r.parcel_id),
                "crop": str(r.crop),
                "amount": r.amount,
                "verdict": verdict,
                "why": why,
            }
        )
    table = pd.DataFrame(
        items, columns=["owner_ref", "kind", "parcel_id", "crop", "amount", "verdict", "why"]
    )
    return table, _household_raises(table, rule, lines)


def _photo_distances(evidence: pd.DataFrame, parcels: pd.DataFrame) -> np.ndarray:
    out = np.full(len(evidence), np.nan)
    photo = (evidence["kind"] == "photo").to_numpy()
    if not photo.any() or "geometry" not in parcels.columns:
        return out
    import geopandas as gpd  # noqa: PLC0415  (only with photos)

    gdf = parcels if isinstance(parcels, gpd.GeoDataFrame) else gpd.GeoDataFrame(parcels)
    if gdf.crs is None:
        return out
    pts = gpd.GeoSeries(
        gpd.points_from_xy(evidence["lon"][photo], evidence["lat"][photo]), crs="EPSG:4326"
    ).to_crs(gdf.crs)
    geom = gdf.set_index(gdf["parcel_id"].astype(str)).geometry
    for j, (k, pid) in enumerate(
        zip(np.flatnonzero(photo), evidence["parcel_id"][photo], strict=True)
    ):
        if str(pid) in geom.index:
            out[k] = float(geom.loc[str(pid)].distance(pts.iloc[j]))
    return out


def _household_raises(items: pd.DataFrame, rule: Any, lines: pd.Series | None) -> pd.DataFrame:
    cols = [
        "evidence_raise",
        "evidence_cut",
        "n_photos",
        "n_receipts",
        "n_contracts",
        "n_repaid",
        "n_outside",
        "n_season",
        "n_crop",
        "evidence_items",
    ]
    if items.empty or not rule:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="owner_ref"))
    rows = []
    for owner, g in items.groupby("owner_ref", sort=True):
        ok = g[g["verdict"] == "verified"]
        contra = g[g["verdict"] == "contradicts"]
        line = float(lines.get(owner, 0.0)) if lines is not None else 0.0
        n_photos = ok.loc[ok["kind"] == "photo", "parcel_id"].nunique()
        receipts = float(ok.loc[ok["kind"] == "receipt", "amount"].sum())
        contracts = float(ok.loc[ok["kind"] == "contract", "amount"].sum())
        parts = {
            "photo": min(rule["photo_raise"] * n_photos, rule["photo_max"]),
            "receipt": min(rule["receipt_share"] * receipts / line, rule["receipt_max"])
            if line > 0
            else 0.0,
            "contract": min(rule["contract_share"] * contracts / line, rule["contract_max"])
            if line > 0
            else 0.0,
            "loan_repaid": rule["repaid_raise"] if (ok["kind"] == "loan_repaid").any() else 0.0,
        }
        why = contra["why"].str.split(":").str[0]
        n_contra = len(contra)
        doc = [
            {
                "kind": str(r.kind),
                "verdict": str(r.verdict),
                "why": str(r.why),
                "raise": round(parts.get(str(r.kind), 0.0), 4) if r.verdict == "verified" else 0.0,
            }
            for r in g.itertuples()
        ]
        rows.append(
            {
                "owner_ref": owner,
                "evidence_raise": min(sum(parts.values()), rule["max_total_raise"]),
                "evidence_cut": min(
                    n_contra * rule["contradiction_cut"], rule["max_contradiction_cut"]
                ),
                "n_photos": n_photos,
                "n_receipts": int((ok["kind"] == "receipt").sum()),
                "n_contracts": int((ok["kind"] == "contract").sum()),
                "n_repaid": int((ok["kind"] == "loan_repaid").sum()),
                "n_outside": int((why == "outside").sum()),
                "n_season": int((why == "season").sum()),
                "n_crop": int((why == "crop").sum()),
                "evidence_items": json.dumps(doc, ensure_ascii=False),
            }
        )
    return pd.DataFrame(rows).set_index("owner_ref")[cols]


__all__ = ["EVIDENCE_COLUMNS", "KINDS", "check_own_evidence", "read_own_evidence", "read_photo"]
