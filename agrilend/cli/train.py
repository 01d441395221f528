"""``agrilend train``: fit the crop-type classifier on declared or labelled parcels."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pandas as pd

from agrilend._paths import local_path
from agrilend.cli._progress import progress_steps
from agrilend.cli.options import (
    check_output,
    common_options,
    emit_json,
    json_option,
    overwrite_option,
)
from agrilend.errors import InsufficientEvidenceError, TableReadError

log = logging.getLogger(__name__)

#: Progress steps: reading, the evidence steps of assess, cross-validation, fitting.
_STEPS = 9

#: Column names accepted for the label in a labels file (first found wins).
LABEL_COLUMNS = ("crop", "label", "true_crop", "crop_type")
#: Fewest parcels per crop for a crop to be learnt (smaller classes are left out, and said so).
MIN_PER_CLASS = 5


def read_labels(path: Path) -> pd.Series:
    """Crop labels per parcel from a CSV (``parcel_id`` and ``crop`` or ``label`` columns).

    Raises
    ------
    TableReadError
        When the file cannot be read or lacks the columns.
    """
    try:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise TableReadError(
            f"labels file {path.name!r} could not be read: {exc}", path=path
        ) from exc
    label = next((c for c in LABEL_COLUMNS if c in df.columns), None)
    if "parcel_id" not in df.columns or label is None:
        raise TableReadError(
            f"labels file {path.name!r} needs a 'parcel_id' column and one of {LABEL_COLUMNS}; "
            f"it has {list(df.columns)}",
            path=path,
        )
    df = df.dropna(subset=["parcel_id", label])
    if df["parcel_id"].duplicated().any():
        dup = df.loc[df["parcel_id"].duplicated(), "parcel_id"].iloc[0]
        raise TableReadError(f"labels file {path.name!r} labels parcel {dup!r} twice", path=path)
    return df.set_index("parcel_id")[label].str.strip().rename("crop")


def training_labels(titles: pd.DataFrame, labels: pd.Series | None) -> pd.Series:
    """The label of every trainable parcel: given labels, else the declared crop.

    Parcels without a label, and crops with fewer than :data:`MIN_PER_CLASS` parcels, are
    left out (logged).

    Raises
    ------
    InsufficientEvidenceError
        When fewer than two crops remain.
    """
    ids = titles["parcel_id"].astype(str)
    if labels is not None:
        unknown = sorted(set(labels.index) - set(ids))
        if unknown:
            log.warning(
                "%d labelled parcels are not in the titles (e.g. %s)", len(unknown), unknown[0]
            )
        y = labels.reindex(ids.to_numpy())
    else:
        y = pd.Series(titles["declared_crop"].astype(str).to_numpy(), index=ids.to_numpy())
    y = y[y.notna() & (y.astype(str) != "")].astype(str)
    counts = y.value_counts()
    small = counts[counts < MIN_PER_CLASS]
    if len(small):
        log.warning(
            "left out crops with fewer than %d parcels: %s",
            MIN_PER_CLASS,
            {str(k): int(v) for k, v in small.items()},
        )
        y = y[~y.isin(small.index)]
    if y.nunique() < 2:
        raise InsufficientEvidenceError(
            f"{len(y)} labelled parcels in {y.nunique()} crop(s): a crop model needs at least two "
            f"crops with {MIN_PER_CLASS} or more parcels each; give more titles or a --labels file"
        )
    return y


@click.command(name="train")
@click.option("--titles", type=click.Path(dir_okay=False), required=True, help="Land titles.")
@click.option("--mapping", type=click.Path(dir_okay=False), help="Titles column mapping (TOML).")
@click.option("--imagery", type=click.Path(), required=True, help="Imagery cube of the season.")
@click.option(
    "--labels", type=click.Path(dir_okay=False),
    help="CSV of parcel_id,crop to learn from [default: the titles' declared crops].",
)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Model file to write.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-validation folds for the accuracy estimate.")  # fmt: skip
@overwrite_option
@json_option
@common_options
def command(  # noqa: PLR0917  (click passes every option by keyword)
    titles: str,
    mapping: str | None,
    imagery: str,
    labels: str | None,
    out: str,
    folds: int,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Train the crop-type classifier and report its cross-validated accuracy.

    By default the model learns from the crops the titles declare: the declaration check
    flags the ones the imagery makes unlikely (at the default policy's false-alarm rate), and
    the model learns from the others. The file is what `scan --model` and `report --model`
    take; it serves imagery of other dates that covers the same season. With --labels it
    learns from parcels whose crop was checked in the field. The accuracy printed is
    out-of-fold: each parcel is predicted by a model that did not see it.

    \b
    Examples:
      agrilend train --titles titles.gpkg --imagery cube.nc --out crops.agm
      agrilend train --titles t.gpkg --imagery cube.nc --labels field_checks.csv --out crops.agm
      agrilend train --titles t.gpkg --imagery cube.nc --out crops.agm --json | jq .accuracy
    """
    out_path = check_output(local_path(out, must_exist=False, what="model"), overwrite=overwrite)
    titles_path = local_path(titles, what="titles")
    imagery_path = local_path(imagery, what="imagery")
    mapping_path = local_path(mapping, what="titles mapping") if mapping else None
    if mapping_path is None and titles_path.with_name("titles_mapping.toml").exists():
        mapping_path = titles_path.with_name("titles_mapping.toml")
    label_series = read_labels(local_path(labels, what="labels")) if labels else None

    from sklearn.base import clone  # noqa: PLC0415

    from agrilend.credit import load_policy  # noqa: PLC0415
    from agrilend.parcels import read_titles  # noqa: PLC0415
    from agrilend.pipeline import gather_evidence  # noqa: PLC0415  (heavy imports when run)
    from agrilend.remote_sensing import open_cube  # noqa: PLC0415
    from agrilend.yield_models import (  # noqa: PLC0415
        CropTypeClassifier,
        audit_declarations,
        save_model,
    )

    with progress_steps(_STEPS) as step:
        step.advance("reading titles and imagery")
        parcels = read_titles(titles_path, mapping=mapping_path)
        cube = open_cube(imagery_path)
        y = training_labels(parcels, label_series)
        train = parcels[parcels["parcel_id"].astype(str).isin(set(y.index))]
        # the same evidence assess gathers: clear-only parcel NDVI on the imagery dates
        evidence = gather_evidence(cube, train, progress=step.advance)
        usable = (evidence.parcels["status"] != "error").to_numpy()
        ids = evidence.parcels["parcel_id"].astype(str).to_numpy()[usable]
        X = evidence.ndvi[usable]
        y = y.reindex(ids)
        step.advance(f"{folds}-fold cross-validation")
        template = CropTypeClassifier(times=list(evidence.times))
        # out of fold, with the declaration check (declared crops: one cleaning round); the
        # model learns from the labels the check does not flag, and keeps its threshold
        oof = audit_declarations(
            X, y, model=template, index=ids, n_splits=folds, min_class_size=MIN_PER_CLASS,
            false_alarm_rate=load_policy().crop_false_alarm_rate,
            clean_rounds=0 if labels else 1,
        )  # fmt: skip
        predicted = oof["crop"].astype(str).to_numpy()
        step.advance("fitting and saving")
        learn = ~oof["crop_mismatch"].to_numpy(dtype=bool)
        model = clone(template).fit(X[learn], y.to_numpy()[learn])
        model.mismatch_threshold_ = float(oof.attrs["threshold"])
        source = "labels " + Path(labels).name if labels else "declared crops"
        save_model(model, out_path, overwrite=overwrite, note=f"trained on {source}")

    truth = y.to_numpy()
    accuracy = float((predicted == truth).mean())
    per_crop = {
        str(c): {"n": int((truth == c).sum()), "recall": float((predicted[truth == c] == c).mean())}
        for c in sorted(set(truth))
    }
    result = {
        "model": str(out_path),
        "trained_on": "labels" if labels else "declared_crops",
        "n_parcels": len(truth),
        "folds": folds,
        "accuracy": accuracy,
        "per_crop": per_crop,
        "labels_flagged": int(oof["crop_mismatch"].sum()),
    }
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"wrote {out_path}: {len(truth)} parcels, {len(per_crop)} crops, "
        f"out-of-fold accuracy {100 * accuracy:.1f} % ({folds} folds)"
    )
    for crop, info in per_crop.items():
        click.echo(f"  {crop:<20} {info['n']:>5} parcels  recall {100 * info['recall']:5.1f} %")


__all__ = ["LABEL_COLUMNS", "MIN_PER_CLASS", "command", "read_labels", "training_labels"]
