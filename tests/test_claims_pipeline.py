"""Claims everywhere titles go: inputs, the credit layer's haircuts, the policy, `check`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from agrilend.cli.main import cli
from agrilend.credit import load_policy, size_households
from agrilend.credit.policy import policy_from_dict
from agrilend.errors import PolicyError
from agrilend.inputs import InputFiles, with_claims
from agrilend.parcels import read_titles
from agrilend.remote_sensing import open_cube

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_sample_claims_join_the_titles_with_their_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    # the sample claims carry the households' pseudonyms under the public demo key, which the
    # sample county's titles take when no key is set (the test suite sets its own key)
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("AGRILEND_PSEUDONYM_KEY_FILE", raising=False)
    files = InputFiles.sample()
    titles = read_titles(files.titles, mapping=files.titles_mapping)
    cube = open_cube(files.imagery)
    out = with_claims(titles, SAMPLE / "claims.geojson", cube, load_policy())
    claims = out[out["source"] == "claim"]
    truth = pd.read_csv(SAMPLE / "truth_claims.csv", dtype=str)
    assert len(out) == len(titles) + len(claims)
    assert set(claims["parcel_id"]) <= set(truth["claim_id"])
    assert claims["owner_ref"].str.match(r"^H-[0-9a-f]{12}$").all()
    # every sample claim lies over a registered field: a household's claim over its own title
    # adds nothing (the title counts, once) and is left out; a claim over another household's
    # title is kept with nothing lent on it, and that title is flagged as contested too
    assert 0 < len(claims) < (truth["file"] == "claims.geojson").sum()
    assert not claims["trust_flags"].str.contains("titled").any()
    assert (claims["trust_haircut"] >= 0.1).all()  # the policy's base haircut at least
    conflict = claims["trust_flags"].str.contains("conflict")
    assert conflict.mean() > 0.5
    assert (claims.loc[conflict, "trust_haircut"] == 1.0).all()
    contested = out[(out["source"] == "title") & (out["trust_flags"] == "claim_conflict")]
    assert len(contested) > 0
    assert (contested["trust_haircut"] == 1.0).all()
    assert out.loc[out["source"] == "title", "drawn_wkt"].eq("").all()
    assert claims["drawn_wkt"].str.match(r"^(MULTI)?POLYGON").all()


def test_trust_haircut_cuts_the_line_with_its_reason() -> None:
    est = pd.DataFrame(
        {
            "parcel_id": ["P1", "C-1"],
            "owner_ref": ["H-000000000001", "H-000000000002"],
            "declared_area_ha": [1.0, 1.0],
            "crop": ["maize", "maize"],
            "cultivated_area_ha": [1.0, 1.0],
            "yield_t_ha": [7.0, 7.0],
            "yield_low": [5.2, 5.2],
            "yield_high": [8.8, 8.8],
            "n_clear_obs": [20, 20],
            "n_pixels": [100, 100],
            "trust_flags": ["", "mixed_series"],
            "trust_haircut": [0.0, 0.37],
        }
    )
    # without the margin limit, which binds both lines alike and would hide the haircut
    policy = load_policy()
    no_margin = policy_from_dict({k: v for k, v in policy.to_dict().items() if k != "margin"})
    out = size_households(est, no_margin, as_of=date(2024, 3, 1)).set_index("owner_ref")
    assert out.loc["H-000000000001", "credit_line"] > 0
    titled, claimed = out.loc["H-000000000001"], out.loc["H-000000000002"]
    assert claimed.credit_line == pytest.approx(titled.credit_line * 0.63, abs=100)
    assert "CLAIM_TRUST" in json.loads(claimed.reason_codes)
    assert "mixed_series" in claimed.reasons_en
    assert "CLAIM_TRUST" not in json.loads(titled.reason_codes)


def test_policy_claims_table_is_optional_checked_and_overridable() -> None:
    base = load_policy()
    assert base.claim_haircuts["claim_conflict"] == 1.0
    data = base.to_dict()
    data["claims"] = {"base": 0.2}
    assert policy_from_dict(data).claim_haircuts["base"] == 0.2
    data.pop("claims")
    assert policy_from_dict(data).claim_haircuts["base"] == pytest.approx(0.1)
    data["claims"] = {"bogus": 0.2}
    with pytest.raises(PolicyError, match="bogus"):
        policy_from_dict(data)
    data["claims"] = {"base": 1.5}
    with pytest.raises(PolicyError, match=r"claims\.base"):
        policy_from_dict(data)


def test_check_claims_lists_repairs_and_flags() -> None:
    res = CliRunner().invoke(
        cli,
        ["check", "--imagery", str(SAMPLE / "imagery.nc"), "--claims", str(SAMPLE / "claims.gpx"),
         "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    payload = json.loads(res.stdout)
    claims = next(r for r in payload["inputs"] if r["input"] == "claims")
    assert claims["summary"].startswith("8 claims: 8 readable")
    assert any("walk" in p["message"] for p in claims["problems"])
