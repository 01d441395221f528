"""Claimed vs observed crop of farmer-drawn claims, through the crop-declaration check.

The parcels layer verifies where a claim lies (:func:`agrilend.parcels.verify.verify_claims`);
what it grows is a question for the crop models of :mod:`agrilend.yield_models`, which sit
above the parcels layer (imports run remote_sensing -> parcels -> yield_models -> credit). This
check therefore lives at the pipeline level, where both layers are visible: the registry
titles' declared crops teach an out-of-fold crop model, the verified claims are predicted by it
(claims never teach), and a claimed crop the imagery contradicts gets the flag
``crop_mismatch``.

With ``--claims`` the verified claims join the titles (:func:`agrilend.inputs.with_claims`) and
the pipeline's own declaration check (:mod:`agrilend.yield_models.declaration`) covers them
like any title; :func:`check_claimed_crops` is the same question asked of the claims alone,
before they join (the benchmark's figure).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend.errors import InsufficientEvidenceError
from agrilend.parcels.verify import FLAGS, claims_as_titles
from agrilend.parcels.zonal import zonal_series
from agrilend.yield_models.crop_type import crop_mismatch, predict_out_of_fold

log = logging.getLogger(__name__)

#: Least calibrated probability of another crop that contradicts a claimed crop.
CROP_THRESHOLD = 0.8


def check_claimed_crops(
    verified: gpd.GeoDataFrame,
    cube: xr.Dataset,
    titles: gpd.GeoDataFrame,
    *,
    threshold: float = CROP_THRESHOLD,
) -> gpd.GeoDataFrame:
    """The verified claims with ``observed_crop`` and the flag ``crop_mismatch`` where the
    imagery contradicts the claimed crop.

    Parameters
    ----------
    verified
        Output of :func:`agrilend.parcels.verify.verify_claims` (not changed).
    cube
        The contract cube the claims were verified on.
    titles
        Registry titles whose ``declared_crop`` teach the crop model (at least two crops with
        five declarations each); claims never teach.
    threshold
        Least probability of the predicted crop for a contradiction
        (:func:`agrilend.yield_models.crop_type.crop_mismatch`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``verified``; ``observed_crop`` is ``""`` for claims not checked (in error,
        no outline) and for all of them when the titles cannot teach a model (logged).

    Examples
    --------
    >>> from agrilend.testing import make_test_cube, make_test_titles
    >>> from agrilend.parcels.verify import verify_claims
    >>> cube = make_test_cube(seed=2, size_px=(40, 40), clouds=False, step_days=10)
    >>> titles = make_test_titles(seed=2, size_px=(40, 40))
    >>> t = titles.iloc[:3]
    >>> claims = gpd.GeoDataFrame({"claim_id": ["C-1", "C-2", "C-3"],
    ...     "owner_ref": list(t["owner_ref"]), "claimed_crop": list(t["declared_crop"]),
    ...     "claimed_area_ha": [float("nan")] * 3, "repairs": [""] * 3,
    ...     "claim_status": ["ok"] * 3, "claim_message": [""] * 3, "drawn_wkt": [""] * 3},
    ...     geometry=list(t.geometry.buffer(-3)), crs=titles.crs)
    >>> checked = check_claimed_crops(verify_claims(claims, cube), cube, titles)
    >>> len(checked) == 3 and "observed_crop" in checked
    True
    """
    out = verified.copy()
    out["observed_crop"] = ""
    geoms = out.geometry
    empty = np.asarray([g is None or g.is_empty for g in geoms], dtype=bool)
    ok = out["claim_status"].eq("ok").to_numpy(dtype=bool) & ~empty
    if not ok.any():
        return out
    rows = claims_as_titles(out[ok])
    ref = titles[["parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry"]]
    both = gpd.GeoDataFrame(
        pd.concat([ref.to_crs(out.crs), rows[list(ref.columns)]], ignore_index=True),
        geometry="geometry",
        crs=out.crs,
    )
    series = zonal_series(cube, both)
    ndvi = series["NDVI_mean"].where(series["valid_fraction"] >= 0.5)
    X = ndvi.to_pandas().T.interpolate(limit_direction="both").T.fillna(0.0)
    declared = both["declared_crop"].where(both.index < len(ref), "")  # claims never teach
    try:
        pred = predict_out_of_fold(X.to_numpy(), declared.to_numpy(), index=both["parcel_id"])
    except InsufficientEvidenceError as exc:
        log.warning("crop check of claims skipped: %s", exc)
        return out
    p = pred.iloc[len(ref) :]
    mism = crop_mismatch(rows["declared_crop"], p["crop"], p["crop_confidence"],
                         threshold=threshold)  # fmt: skip
    flags = out["flags"].astype(str).tolist() if "flags" in out else [""] * len(out)
    observed = [""] * len(out)
    for k, i in enumerate(np.flatnonzero(ok)):
        observed[i] = str(p["crop"].iloc[k])
        if mism[k]:
            have = set(filter(None, flags[i].split(","))) | {"crop_mismatch"}
            flags[i] = ",".join(f for f in FLAGS if f in have)
    out["observed_crop"] = observed
    out["flags"] = flags
    return out


__all__ = ["CROP_THRESHOLD", "check_claimed_crops"]
