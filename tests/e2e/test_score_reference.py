"""The batch engine's output equals the package scoring the whole file in one call.

The local engine spills leads and events to buckets, scores each bucket and streams the parts
back (bucket order, source order within each); ``ScoringPackage.score_leads`` on the whole
canonical frame is the straightforward reference. Several buckets (a batch size far below the
file's rows) exercise the spill, the per-bucket joins of reasons and the reassembly: a reason
joined to the wrong lead, a changed value or a lost row makes a column differ.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.data.contracts import ContractReport, canonical_activities, canonical_leads
from pipeline.explain.package import OUTPUT_COLUMNS
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
AS_OF = "2026-06-30T23:59:59"


@pytest.fixture(scope="module")
def reference(trained, small_world, tmp_path_factory):
    """The CLI's setup, and the package's scores of the whole file in one call."""
    config, result, _, _ = trained
    package = result.packages["model"]
    folder = tmp_path_factory.mktemp("reference")
    model = folder / "model.pkl"
    package.save(model)
    cfg = write_demo_config(folder, small_world)
    report = ContractReport()
    leads = canonical_leads(pd.read_parquet(small_world / "leads.parquet"), config,
                            "leads.parquet", report, scoring=True)
    activities = canonical_activities(pd.read_parquet(small_world / "activities.parquet"),
                                      leads, config, "activities.parquet", report, scoring=True)
    report.raise_if_failed()
    expected = {explain: package.score_leads(leads, activities, pd.Timestamp(AS_OF),
                                             explain_leads=explain)
                for explain in (True, False)}
    return folder, cfg, model, small_world, expected


@pytest.mark.parametrize("explain", [True, False], ids=["explain", "no-explain"])
def test_buckets_give_the_whole_file_scores(reference, tmp_path, explain):
    folder, cfg, model, data, expected = reference
    out = tmp_path / "scores.parquet"
    argv = ["score", "--config", str(cfg), "--model", str(model),
            "--input", str(data / "leads.parquet"),
            "--activities", str(data / "activities.parquet"),
            "--output", str(out), "--as-of", AS_OF, "--batch-size", "2500"]
    result = CliRunner().invoke(app, argv + ([] if explain else ["--no-explain"]))
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    # the output is in bucket order, source order within a bucket: align the reference by lead
    assert scored["lead_id"].is_unique
    want = expected[explain].set_index("lead_id", drop=False).loc[scored["lead_id"]]
    assert len(scored) == len(expected[explain]) > 4 * 2500  # several buckets
    assert (want["reason_1"].fillna("") != "").any() == explain  # reasons are compared too
    for column in OUTPUT_COLUMNS:
        got, ref = scored[column].reset_index(drop=True), want[column].reset_index(drop=True)
        if not explain and column in ("grade", "reason_1", "reason_2", "reason_3"):
            # None in both; Parquet keeps an all-null column as nulls of another type
            assert got.isna().all() and ref.isna().all(), column
            continue
        pd.testing.assert_series_equal(got, ref, check_dtype=False, check_exact=True,
                                       obj=column)
