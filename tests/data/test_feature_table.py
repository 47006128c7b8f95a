"""``leadscore features --out``: the feature table with what identifies and labels each row, so it
can be audited or trained on elsewhere, and nothing personal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
ROLES = ["row", "lead_id", "as_of", "label", "split", "age", "weight"]


@pytest.fixture(scope="module")
def feature_file(small_world, tmp_path_factory):
    """The CLI's table of the small world, with the `trained` fixture's config (no purge gap)."""
    folder = tmp_path_factory.mktemp("features_cli")
    cfg = write_demo_config(folder, small_world)
    out = folder / "features.parquet"
    run = CliRunner().invoke(app, ["features", "--config", str(cfg), "--out", str(out),
                                   "--set", "split.purge=0"])
    assert run.exit_code == 0, run.output
    return out


def test_rows_carry_lead_id_as_of_label_and_split(feature_file, small_world):
    table = pq.read_table(feature_file)
    frame = table.to_pandas()
    spec = json.loads(table.schema.metadata[b"leadscore.spec"])
    assert list(frame.columns) == ROLES + [f["name"] for f in spec["features"]]
    assert frame["row"].is_unique
    assert (frame["row"].str.split("@").str[0] == frame["lead_id"]).all()
    assert set(frame["split"]) == {"train", "valid", "test"}
    # the label, recomputed from the export: won within the 180-day horizon after as_of
    leads = pd.read_parquet(small_world / "leads.parquet").set_index("lead_id")
    lead = leads.loc[frame["lead_id"]].reset_index(drop=True)
    won = ((lead["outcome"] == "won") & (lead["outcome_at"] > frame["as_of"])
           & (lead["outcome_at"] <= frame["as_of"] + pd.Timedelta(days=180)))
    np.testing.assert_array_equal(frame["label"].to_numpy(), won.astype(int).to_numpy())
    age = (frame["as_of"] - lead["created_at"]).dt.total_seconds() / 86400
    np.testing.assert_allclose(frame["age"], age, atol=1e-6)


def test_no_personal_data_in_the_table(feature_file, small_world):
    frame = pd.read_parquet(feature_file)
    leads = pd.read_parquet(small_world / "leads.parquet")
    assert not {"name", "email", "phone", "company", "job_title"} & set(frame.columns)
    text = frame.select_dtypes(exclude="number")
    personal = set(pd.concat([leads[c].dropna().astype(str) for c in ("email", "name", "phone")]))
    assert len(personal) > 10_000
    for column in text.columns:
        assert not set(text[column].dropna().astype(str)) & personal, column


def test_the_table_is_what_train_fits_and_saves(feature_file, trained):
    """Same rows, labels and split as the `split.parquet` of the training run, same features."""
    _, result, _, _ = trained
    frame = pd.read_parquet(feature_file).set_index("row")
    saved = result.prepared.split_table().set_index("row")
    assert frame.index.equals(saved.index)
    pd.testing.assert_series_equal(frame["label"], saved["y"].astype(frame["label"].dtype),
                                   check_names=False)
    assert frame["split"].equals(saved["split"])
    assert (frame["lead_id"] == saved["lead_id"]).all()
    assert (frame["as_of"] == pd.to_datetime(saved["as_of"])).all()
    X = result.X.loc[frame.index]
    pd.testing.assert_frame_equal(frame[X.columns], X, check_index_type=False,
                                  check_categorical=False, check_names=False)
