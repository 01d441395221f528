"""The bad-input catalogue holds at least 200 cases across the suite; count them honestly.

A case is one collected test item that feeds one malformed input to a reader or to the pipeline
and expects a typed agrilend error (or, inside a batch, a row with a status and a message).
Hypothesis fuzz tests are not counted (each is one item running many examples), nor are tests
of good inputs. The count comes from pytest's own collection, in a subprocess, of the test
functions listed here.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from tests.conftest import REPO

#: Test functions whose every parametrized item is one bad input expecting a typed error.
CATALOGUE = {
    "imagery": [
        "tests/reliability/test_bad_imagery.py::test_truncated_geotiff",
        "tests/reliability/test_bad_imagery.py::test_truncated_file_inside_a_stack_names_it",
        "tests/reliability/test_bad_imagery.py::test_other_format_under_a_tif_name_is_refused",
        "tests/reliability/test_bad_imagery.py::test_disguised_file_inside_a_stack_is_refused",
        "tests/reliability/test_bad_imagery.py::test_complex_geotiff_is_refused",
        "tests/reliability/test_bad_imagery.py::test_band_of_a_wrong_dtype_is_refused",
        "tests/reliability/test_bad_imagery.py::test_bad_dataset",
        "tests/reliability/test_bad_imagery.py::test_bad_imagery_file",
        "tests/reliability/test_bad_imagery.py::test_remote_imagery_paths_are_refused",
        "tests/reliability/test_bad_imagery.py::test_imagery_wrong_for_the_titles",
    ],
    "parcels": [
        "tests/reliability/test_bad_parcels_in_batch.py::test_bad_parcel_gets_a_status_and_a_message",
        "tests/parcels/test_validate.py::test_catalogue",
        "tests/parcels/test_titles.py::test_invalid_mapping",
        "tests/parcels/test_titles.py::test_invalid_mapping_file",
        "tests/parcels/test_titles.py::test_remote_paths_refused",
    ],
    "tables": [
        "tests/reliability/test_bad_tables.py::test_bad_weather_file",
        "tests/reliability/test_bad_tables.py::test_bad_subsidy_file",
        "tests/reliability/test_bad_tables.py::test_subsidy_with_unknown_reference_is_unmatched",
        "tests/reliability/test_bad_tables.py::test_bad_county_yields",
        "tests/reliability/test_bad_tables.py::test_remote_table_paths_are_refused",
        "tests/reliability/test_bad_tables.py::test_a_folder_is_not_a_table",
        "tests/credit/test_subsidy.py::test_bad_files_raise_typed_errors",
        "tests/credit/test_subsidy.py::test_bad_records_raise_with_the_record_number",
    ],
    "credit records": [
        "tests/reliability/test_bad_credit_records.py::test_bad_price_file",
        "tests/reliability/test_bad_credit_records.py::test_bad_transfer_file",
        "tests/reliability/test_bad_credit_records.py::test_bad_insurance_file",
        "tests/reliability/test_bad_credit_records.py::test_bad_own_evidence",
        "tests/reliability/test_bad_credit_records.py::test_remote_record_paths_are_refused",
    ],
    "policy": [
        "tests/reliability/test_bad_policy.py::test_bad_policy_file_names_the_key",
        "tests/reliability/test_bad_policy.py::test_policy_without_extends_needs_every_table",
        "tests/reliability/test_bad_policy.py::test_broken_policy_file",
        "tests/credit/test_policy.py::test_wrong_policy_names_the_key",
    ],
}


def _collect(node_ids: list[str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *node_ids],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_catalogue_holds_at_least_200_bad_inputs() -> None:
    every = [n for ids in CATALOGUE.values() for n in ids]
    items = _collect(every)
    per_function = Counter(item.split("[", 1)[0] for item in items)
    # every listed function exists and contributes
    missing = [n for n in every if per_function[n] == 0]
    assert not missing, missing
    per_area = {area: sum(per_function[n] for n in ids) for area, ids in CATALOGUE.items()}
    total = sum(per_area.values())
    print(f"bad-input catalogue: {total} cases {per_area}")
    assert len(set(items)) == len(items) == total
    assert total >= 200
    assert all(n >= 20 for n in per_area.values()), per_area
