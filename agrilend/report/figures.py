"""Figures for the report, drawn with matplotlib (Agg) and inlined as base64 PNG data URIs.

The Chinese report needs a CJK font in its figures: :func:`figure_style` finds one (Noto Sans
CJK, Source Han Sans, WenQuanYi...) and, when none is installed, falls back to English labels
in the figures so no character is drawn as an empty box.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never needs a display; set before pyplot is imported

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from agrilend.report.i18n import Lang, text

log = logging.getLogger(__name__)

#: Families tried, in order, for Chinese text.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))

# the report's palette (also used in the HTML template)
GREEN = "#2e7d32"
INK = "#263238"
GREY = "#90a4ae"
PEER = "#a5d6a7"
CLOUD = "#b0bec5"
ACCENT = "#c62828"


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can use, or None.

    Fonts installed after matplotlib built its cache are found by scanning the usual font
    folders and registering the files.
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in known:
            return fam
    for d in _FONT_DIRS:
        base = Path(d)
        if not base.is_dir():
            continue
        for pattern in ("*CJK*", "*SourceHan*", "wqy*", "*SC-*"):
            for f in base.rglob(pattern):
                if f.suffix.lower() in {".ttc", ".otf", ".ttf"}:
                    try:
                        font_manager.fontManager.addfont(str(f))
                    except (RuntimeError, OSError, ValueError):  # unreadable font file
                        continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in known:
            return fam
    return None


def figure_lang(lang: Lang) -> Lang:
    """The language figures are labelled in: Chinese only when a CJK font is installed."""
    if lang == "zh" and cjk_font() is None:
        log.warning(
            "no CJK font found (install fonts-noto-cjk); figures of the Chinese report are "
            "labelled in English"
        )
        return "en"
    return lang


@contextmanager
def figure_style(lang: Lang) -> Iterator[Lang]:
    """Matplotlib settings of the report; yields the language to label figures in."""
    flang = figure_lang(lang)
    families = ["DejaVu Sans"]
    cjk = cjk_font()
    if cjk is not None:
        families = [cjk, "DejaVu Sans"] if flang == "zh" else ["DejaVu Sans", cjk]
    rc: dict[str, Any] = {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.edgecolor": "#b0bec5",
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        # text comes from registries (parcel ids, field names): never parsed as mathtext, where
        # "$...$" could raise or recurse without end
        "text.parse_math": False,
    }
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        yield flang


def to_data_uri(fig: Figure, *, dpi: int = 120) -> str:
    """Render ``fig`` to a PNG ``data:`` URI and close it.

    Figures lay themselves out (fixed margins), so they are drawn once, not twice as with
    ``bbox_inches="tight"``: a report has many of them.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def ndvi_curve(
    times: pd.DatetimeIndex,
    raw: np.ndarray[Any, Any],
    *,
    clear: np.ndarray[Any, Any] | None = None,
    smooth: np.ndarray[Any, Any] | None = None,
    peer: tuple[pd.DatetimeIndex, np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]
    | None = None,
    phenology: dict[str, Any] | None = None,
    title: str = "",
    lang: Lang = "en",
) -> str:
    """One parcel's NDVI through the season, as a PNG data URI.

    Parameters
    ----------
    times
        Dates of ``raw``, ``clear`` and ``smooth``.
    raw
        The observed parcel NDVI per date (NaN where nothing was seen).
    clear
        True where the observation was clear; others are drawn as cloud-masked.
    smooth
        The smoothed curve.
    peer
        ``(times, p10, p50, p90)`` of peer parcels of the same crop.
    phenology
        ``{"sos": date, "pos": date, "eos": date}``; missing dates are skipped.
    title
        Drawn above the plot.
    lang
        Language of the labels.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=10, freq="MS")
    >>> uri = ndvi_curve(t, np.linspace(0.1, 0.8, 10))
    >>> uri.startswith("data:image/png;base64,")
    True
    """
    raw = np.asarray(raw, dtype=float)
    clear_mask = np.isfinite(raw) if clear is None else np.asarray(clear, dtype=bool)
    with figure_style(lang) as flang:
        fig, ax = plt.subplots(figsize=(7.6, 2.7))
        fig.subplots_adjust(left=0.075, right=0.70, top=0.84, bottom=0.17)
        if peer is not None:
            pt, p10, p50, p90 = peer
            ax.fill_between(
                pt, p10, p90, color=PEER, alpha=0.45, lw=0, label=text("peer_band", flang)
            )
            ax.plot(
                pt, p50, color=GREEN, lw=1, ls="--", alpha=0.8, label=text("peer_median", flang)
            )
        if smooth is not None:
            ax.plot(times, smooth, color=INK, lw=2, label=text("smoothed", flang))
        ok = clear_mask & np.isfinite(raw)
        cloudy = ~clear_mask & np.isfinite(raw)
        ax.scatter(
            times[ok],
            raw[ok],
            s=16,
            color=GREEN,
            edgecolor="white",
            lw=0.5,
            zorder=3,
            label=text("obs_clear", flang),
        )
        if cloudy.any():
            ax.scatter(
                times[cloudy],
                raw[cloudy],
                s=18,
                marker="x",
                color=GREY,
                lw=1,
                zorder=3,
                label=text("obs_cloud", flang),
            )
        unseen = ~np.isfinite(raw)
        if unseen.any():
            ax.plot(
                times[unseen],
                np.full(unseen.sum(), -0.08),
                "|",
                color=CLOUD,
                ms=8,
                label=text("obs_none", flang),
            )
        for key, style in (("sos", ":"), ("pos", "-"), ("eos", ":")):
            when = (phenology or {}).get(key)
            if when is None or pd.isna(when):
                continue
            ax.axvline(
                mdates.date2num(pd.Timestamp(when)), color=ACCENT, lw=0.9, ls=style, alpha=0.8
            )
            ax.annotate(
                text(f"{key}_short", flang),
                (pd.Timestamp(when), 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color=ACCENT,
                ha="center",
                va="bottom",
            )
        ax.set_ylim(-0.12, 1.0)
        ax.set_ylabel(text("ndvi", flang))
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m" if flang == "zh" else "%b"))
        if flang == "zh":
            ax.set_xlabel("月份")
        ax.grid(axis="y", color="#eceff1", lw=0.8)
        if title:
            ax.set_title(title, loc="left", color=INK, pad=14)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7.5)
        return to_data_uri(fig)


__all__ = ["CJK_FAMILIES", "cjk_font", "figure_lang", "figure_style", "ndvi_curve", "to_data_uri"]
