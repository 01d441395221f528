"""Shared reading of record tables (prices, transfers, insurance, own evidence).

Private: one way to open a CSV (UTF-8 or GB18030), Excel or Parquet file as text columns, find
columns by their aliases, parse numbers, months and dates, and refuse a bad record with the
file, the record number and what to do. Each public reader keeps its own catalogue of bad inputs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from agrilend._paths import local_path
from agrilend.errors import TableReadError

_NUMBER_JUNK = re.compile(r"[,\s元¥]|CNY|RMB", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?月?(?:[ T].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")


class RecordFile:
    """An opened record table: text columns, the resolved column names and error helpers."""

    def __init__(self, path: str | Path, what: str, aliases: Mapping[str, Sequence[str]]) -> None:
        self.what = what
        self.path = local_path(path, what=what)
        self.raw = read_raw(self.path, what)
        names = {str(c).strip().lower(): c for c in self.raw.columns}
        self.cols: dict[str, str | None] = {
            field: next((str(names[a.lower()]) for a in al if a.lower() in names), None)
            for field, al in aliases.items()
        }
        if self.raw.empty:
            self.fail(f"{what} file {self.path.name!r} holds no record; give at least one")

    def fail(self, message: str) -> None:
        raise TableReadError(message, path=self.path)

    def require(self, *fields: str) -> None:
        missing = [f for f in fields if self.cols.get(f) is None]
        if missing:
            self.fail(
                f"{self.what} file {self.path.name!r} lacks the columns for {missing} (it has "
                f"{list(map(str, self.raw.columns))}); rename the columns"
            )

    def bad(self, row: int, message: str) -> None:
        self.fail(
            f"{self.what} file {self.path.name!r}, record {row + 1}: {message}; fix the record"
        )

    def text(self, field: str) -> np.ndarray:
        col = self.cols.get(field)
        if col is None:
            return np.full(len(self.raw), "", dtype=object)
        out = []
        for v in self.raw[col].tolist():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                out.append("")
            elif isinstance(v, float) and v.is_integer():
                out.append(str(int(v)))
            else:
                out.append(str(v).strip())
        return np.array(out, dtype=object)

    def number(
        self,
        field: str,
        *,
        low: float | None = 0.0,
        high: float | None = None,
        required: bool = True,
        strict_low: bool = False,
    ) -> np.ndarray:
        """Numbers of a column, each checked; empty cells are NaN unless ``required``."""
        texts = self.text(field)
        out = np.full(len(texts), np.nan)
        for i, t in enumerate(texts):
            if t == "":
                if required:
                    self.bad(i, f"{field} is empty")
                continue
            try:
                v = float(_NUMBER_JUNK.sub("", t))
            except ValueError:
                self.bad(i, f"{field} {t!r} is not a number")
                continue
            if not np.isfinite(v):
                self.bad(i, f"{field} {t!r} is not a finite number")
            if low is not None and (v <= low if strict_low else v < low):
                self.bad(i, f"{field} {v:g} is {'not above' if strict_low else 'below'} {low:g}")
            if high is not None and v > high:
                self.bad(i, f"{field} {v:g} is absurd (above {high:g})")
            out[i] = v
        return out

    def dates(self, field: str, *, required: bool = True, month_only: bool = False) -> list[date]:
        """Dates (or months, as their first day) of a column, each checked."""
        out: list[date] = []
        for i, t in enumerate(self.text(field)):
            d = parse_date(t, month_only=month_only)
            if d is None:
                if t == "" and not required:
                    out.append(date.min)
                    continue
                form = "2024-09 or 2024-09-15" if month_only else "2024-09-15"
                self.bad(i, f"{field} {t!r} is not a date; write it like {form}")
                out.append(date.min)
            else:
                out.append(d)
        return out


def parse_date(text: str, *, month_only: bool = False) -> date | None:
    """A date from ``2024-09-15``, ``2024/9/15``, ``2024年9月15日``, ``20240915``, ``2024-09``.

    A month alone gives its first day; a month alone is refused unless ``month_only``.

    Examples
    --------
    >>> parse_date("2024年9月15日"), parse_date("2024-09", month_only=True), parse_date("9/15")
    (datetime.date(2024, 9, 15), datetime.date(2024, 9, 1), None)
    """
    t = text.strip()
    m = _MONTH.match(t) or _COMPACT.match(t)
    if m is None:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), m.group(3)
    if day is None and not month_only:
        return None
    try:
        return date(year, month, int(day) if day else 1)
    except ValueError:
        return None


def read_raw(p: Path, what: str, encoding: str | None = None) -> pd.DataFrame:
    """A record file (CSV in UTF-8 or GBK, Excel, Parquet) as text columns, as it is.

    ``what`` names the kind of record in errors; ``encoding`` overrides the guess for CSV.
    """
    suffix = p.suffix.lower()
    try:
        if suffix in {".csv", ".txt"}:
            text = decode_text(p.read_bytes(), p, what, encoding)
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        if suffix in {".xlsx", ".xlsm"}:
            return pd.read_excel(p, dtype=str, keep_default_na=False)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(p)
    except TableReadError:
        raise
    except Exception as exc:
        raise TableReadError(
            f"{what} file {p.name!r} could not be read as {suffix[1:]} ({exc}); check the file",
            path=p,
        ) from exc
    raise TableReadError(
        f"{what} file {p.name!r} has an unknown type {suffix!r}; use .csv, .xlsx or .parquet",
        path=p,
    )


def _looks_cjk(c: str) -> bool:
    o = ord(c)
    return 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF


def decode_text(data: bytes, p: Path, what: str, encoding: str | None = None) -> str:
    """Decode a CSV; without an encoding, pick the reading whose non-ASCII text looks Chinese.

    Short GBK texts are often valid UTF-8 too (元 in GBK reads as the Armenian Ԫ in UTF-8), so
    "it decodes" is not enough: of the decodings that succeed, the one with the larger share of
    CJK characters among its non-ASCII characters wins, UTF-8 on a tie.
    """
    if b"\x00" in data[:4096]:
        raise TableReadError(f"{what} file {p.name!r} is binary, not a text table", path=p)
    tries = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    best: tuple[float, str] | None = None
    for enc in tries:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        wide = [c for c in text if ord(c) > 127]
        score = sum(_looks_cjk(c) for c in wide) / len(wide) if wide else 1.0
        if best is None or score > best[0]:
            best = (score, text)
    if best is None:
        raise TableReadError(
            f"{what} file {p.name!r} is not valid {' or '.join(tries)} text; save it as UTF-8 "
            "or pass encoding=... (e.g. 'gbk' or 'utf-8')",
            path=p,
        )
    return best[1]


def owner_refs(raw_ids: np.ndarray, key: str | bytes | None) -> np.ndarray:
    """Pseudonyms for raw owner ids (kept as they are when already ``H-...``; ``""`` stays)."""
    from agrilend.parcels.pseudonym import pseudonymize  # noqa: PLC0415

    pattern = re.compile(r"^H-[0-9a-f]{12}$")
    out = np.array(raw_ids, dtype=object)
    todo = np.array([bool(o) and not pattern.match(o) for o in out], dtype=bool)
    if todo.any():
        out[todo] = pseudonymize(out[todo], key=key)
    return out


def match_records(records: pd.DataFrame, titles: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match records to titles by parcel id first, then by owner pseudonym.

    Returns ``(matched, unmatched)``: matched records carry the title holder's ``owner_ref``
    (when matched by parcel), ``matched_by`` and ``owner_conflict`` (the record's owner differs
    from the title holder); unmatched ones a ``reason``. Subsidies and insurance records share it.
    """
    for col in ("parcel_id", "owner_ref"):
        if col not in titles.columns:
            raise TableReadError(f"titles lack the column {col!r}; pass titles from read_titles")
        if col not in records.columns:
            raise TableReadError(f"records lack the column {col!r}; read them with their reader")
    owner_of = dict(
        zip(titles["parcel_id"].astype(str), titles["owner_ref"].astype(str), strict=True)
    )
    owners = set(owner_of.values())
    pid = records["parcel_id"].fillna("").astype(str).to_numpy()
    own = records["owner_ref"].fillna("").astype(str).to_numpy()
    by: list[str] = []
    ref: list[str] = []
    conflict: list[bool] = []
    reason: list[str] = []
    for p_, o in zip(pid, own, strict=True):
        if p_ and p_ in owner_of:
            by.append("parcel_id")
            ref.append(owner_of[p_])
            conflict.append(bool(o) and o != owner_of[p_])
            reason.append("")
        elif o and o in owners:
            by.append("owner_ref")
            ref.append(o)
            conflict.append(False)
            reason.append("")
        else:
            by.append("")
            ref.append(o)
            conflict.append(False)
            if p_ and o:
                reason.append(f"parcel id {p_!r} and its owner are not in the titles")
            elif p_:
                reason.append(f"parcel id {p_!r} is not in the titles and no owner is given")
            elif o:
                reason.append("the owner is not in the titles and no parcel id is given")
            else:
                reason.append("neither a parcel id nor an owner is given")
    df = records.copy()
    df["owner_ref"] = pd.array(ref, dtype="str")
    df["matched_by"] = pd.array(by, dtype="str")
    df["owner_conflict"] = np.array(conflict, dtype=bool)
    ok = np.array(by) != ""
    matched = df[ok].reset_index(drop=True)
    unmatched = df[~ok].drop(columns=["matched_by", "owner_conflict"]).reset_index(drop=True)
    unmatched["reason"] = pd.array(np.array(reason, dtype=object)[~ok].astype(str), dtype="str")
    return matched, unmatched


__all__ = ["RecordFile", "match_records", "owner_refs", "parse_date"]
