"""The issue rows of a titles validation, and the order of its checks (shared by its parts)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

Severity = Literal["info", "warning", "error"]
#: Columns of :attr:`ValidationReport.issues`.
ISSUE_COLUMNS = ("row", "parcel_id", "check", "severity", "message")
#: The checks in the order they run, which is the order of a title's ``title_flags``.
CHECK_ORDER = (
    "empty",
    "non_finite",
    "3d_dropped",
    "not_polygonal",
    "mixed_geometry",
    "invalid",
    "repaired",
    "under_one_pixel",
    "few_pixels",
    "sliver",
    "missing_id",
    "duplicate_id",
    "overlap",
    "outside_imagery",
    "partly_outside",
    "declared_area_invalid",
    "area_mismatch",
)


class _Issues:
    """Collects issue rows while the checks run."""

    def __init__(self, ids: np.ndarray[Any, Any]) -> None:
        self.ids = ids
        self.rows: list[tuple[int, str, str, str, str]] = []

    def add(self, rows: Any, check: str, severity: Severity, message: str) -> None:
        """Add one issue per row; ``{id}`` in the message is replaced by the parcel id."""
        for r in np.atleast_1d(rows):
            pid = str(self.ids[r])
            self.rows.append((int(r), pid, check, severity, message.replace("{id}", repr(pid))))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(ISSUE_COLUMNS))
        return df.astype({"row": "int64"})


__all__ = ["CHECK_ORDER", "ISSUE_COLUMNS", "Severity"]
