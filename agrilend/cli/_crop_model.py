"""``--model``: a crop model from ``agrilend train`` put into a county context (scan, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def with_crop_model(context: Any, path: Path) -> Any:
    """A county context whose crop model is the one saved at ``path``.

    The model replaces the context's (or starts an otherwise empty context: peers and normals
    are then learnt from the parcels assessed). The model refuses imagery whose dates do not
    cover the season it learnt, with a :class:`~agrilend.errors.ModelError`.

    Raises
    ------
    ModelVersionError
        When the file is not a crop model agrilend can load.
    """
    from agrilend.assessment import CountyContext  # noqa: PLC0415
    from agrilend.yield_models import load_crop_model  # noqa: PLC0415

    model = load_crop_model(path)
    out = context.copy() if context is not None else CountyContext()
    out.crop_model = model
    out.meta = {**out.meta, "crop_model_file": path.name}
    return out


__all__ = ["with_crop_model"]
