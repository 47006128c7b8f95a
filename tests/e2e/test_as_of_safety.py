"""`--as-of` and the snapshot, made safe (issue 17): through the real CLI and the pyfunc.

The snapshot bounds training only; scoring defaults to now and says so, warns when that default
is likely wrong (the input is older than the inactivity limit), and refuses an as_of before a
lead's creation. The small world ends at the demo snapshot, 2026-06-30.
"""

from __future__ import annotations

import importlib.util
import re
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()
SNAPSHOT = pd.Timestamp("2026-06-30T23:59:59")
LEADS = 1_200  # the newest leads of the world: enough for three batches, quick to score


@pytest.fixture(scope="module")
def setup(trained, small_world, tmp_path_factory):
    """The trained model, its package, a demo config, and the world's newest leads with events."""
    _, result, _, _ = trained
    folder = tmp_path_factory.mktemp("as_of")
    package = result.packages["model"]
    model = folder / "model.pkl"
    package.save(model)
    cfg = write_demo_config(folder, small_world)
    leads = pd.read_parquet(small_world / "leads.parquet")
    leads = leads.sort_values("created_at", kind="mergesort").tail(LEADS).reset_index(drop=True)
    events = pd.read_parquet(small_world / "activities.parquet")
    events = events[events["lead_id"].isin(leads["lead_id"])].reset_index(drop=True)
    return folder, cfg, model, package, leads, events


def _shifted(leads, events, days):
    """The same leads and events moved ``days`` in time (a past year, or after the snapshot)."""
    leads, events = leads.copy(), events.copy()
    for column in ("created_at", "outcome_at"):
        leads[column] = leads[column] + pd.Timedelta(days=days)
    events["occurred_at"] = events["occurred_at"] + pd.Timedelta(days=days)
    return leads, events


def _write(folder, leads, events, name):
    where = folder / name
    where.mkdir()
    leads.to_parquet(where / "leads.parquet", index=False)
    events.to_parquet(where / "activities.parquet", index=False)
    return where


def _score(cfg, model, where, output, *extra):
    return runner.invoke(app, [
        "score", "--config", str(cfg), "--model", str(model),
        "--input", str(where / "leads.parquet"), "--activities", str(where / "activities.parquet"),
        "--output", str(output), "--batch-size", "500", *extra])


def test_past_data_without_as_of_warns_with_the_dates(setup, tmp_path):
    folder, cfg, model, _, leads, events = setup
    old_leads, old_events = _shifted(leads, events, -3 * 365)
    where = _write(tmp_path, old_leads, old_events, "past")
    newest = old_events["occurred_at"].max()

    result = _score(cfg, model, where, tmp_path / "now.parquet")
    assert result.exit_code == 0, result.output
    used = re.search(r"as of (\d{4}-\d{2}-\d{2}) [\d:]+ \(now\)", result.stdout)
    assert used, result.stdout  # the default is printed, labelled as the wall clock
    as_of = pd.Timestamp(used.group(1))
    gap = (as_of - newest.normalize()).days
    warning = [line for line in result.stderr.splitlines() if "newest activity" in line]
    assert len(warning) == 1, result.stderr
    assert f"newest activity in {where / 'activities.parquet'} is {newest:%Y-%m-%d}" in warning[0]
    assert f"days before as_of {as_of:%Y-%m-%d} (inactivity limit 120 days)" in warning[0]
    days = int(re.search(r"(\d+) days before as_of", warning[0]).group(1))
    assert gap - 1 <= days <= gap  # whole days between the newest event and now
    assert "pass --as-of" in warning[0]

    export_date = f"{newest:%Y-%m-%dT23:59:59}"
    chosen = _score(cfg, model, where, tmp_path / "then.parquet", "--as-of", export_date)
    assert chosen.exit_code == 0, chosen.output
    assert "newest activity" not in chosen.output
    assert f"as of {newest:%Y-%m-%d} 23:59:59 (--as-of)" in chosen.stdout
    # the warning was right: as of now every lead is long inactive, as of the export few are
    now_status = pd.read_parquet(tmp_path / "now.parquet")["status"]
    then_status = pd.read_parquet(tmp_path / "then.parquet")["status"]
    assert (now_status == "disqualified").all()
    assert (then_status == "disqualified").mean() < 0.9


def test_no_events_warns_with_the_newest_lead(setup, tmp_path):
    folder, cfg, model, _, leads, events = setup
    old_leads, _ = _shifted(leads, events, -3 * 365)
    where = _write(tmp_path, old_leads, events.iloc[:0], "no_events")
    result = _score(cfg, model, where, tmp_path / "out.parquet")
    assert result.exit_code == 0, result.output
    newest = old_leads["created_at"].max()
    assert f"newest lead creation in {where / 'leads.parquet'} is {newest:%Y-%m-%d}" \
        in result.stderr


def test_leads_created_after_the_snapshot_score(setup, tmp_path):
    folder, cfg, model, _, leads, events = setup
    new_leads, new_events = _shifted(leads, events, 60)
    after = new_leads["created_at"] > SNAPSHOT
    assert after.sum() > 100  # the premise: many leads the snapshot would have refused
    where = _write(tmp_path, new_leads, new_events, "new")
    as_of = "2026-09-15T00:00:00"  # after every lead's creation and every event
    assert new_events["occurred_at"].max() < pd.Timestamp(as_of)

    result = _score(cfg, model, where, tmp_path / "scores.parquet", "--as-of", as_of)
    assert result.exit_code == 0, result.output
    assert "snapshot" not in result.output
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(scores) == LEADS
    assert set(new_leads.loc[after, "lead_id"]) <= set(scores["lead_id"])
    assert scores["score"].between(0, 100).all() and scores["reason_1"].notna().all()

    # events after the as_of (but not in the future) are accepted and never seen by a feature
    lead = str(new_leads.loc[after, "lead_id"].iloc[0])
    late = pd.DataFrame({"lead_id": lead, "occurred_at": pd.Timestamp("2026-10-01"),
                         "activity_type": "demo_request", "detail": None, "channel": "online"},
                        index=range(5))
    later = _write(tmp_path, new_leads, pd.concat([new_events, late], ignore_index=True),
                   "later")
    again = _score(cfg, model, later, tmp_path / "again.parquet", "--as-of", as_of)
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(scores.drop(columns="scored_at"),
                                  pd.read_parquet(tmp_path / "again.parquet")
                                  .drop(columns="scored_at"))


def test_as_of_before_creation_exits_2_naming_column_and_rows(setup, tmp_path):
    folder, _, model, _, leads, events = setup
    # the export's own column name, mapped in the config: the message must use it
    renamed = leads.rename(columns={"created_at": "Created Date"})
    where = _write(tmp_path, renamed, events, "renamed")
    cfg = write_demo_config(tmp_path, where, columns={"created_at": "Created Date"})
    as_of = leads["created_at"].iloc[-40]  # 39 leads are created after it
    late = leads["created_at"] > as_of
    output = tmp_path / "out.parquet"

    result = _score(cfg, model, where, output, "--as-of", f"{as_of:%Y-%m-%dT%H:%M:%S.%f}")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    line = lines[0]
    assert f"{where / 'leads.parquet'}: column 'Created Date': created after the scoring as_of" \
        in line
    rows = [int(r) for r in late.to_numpy().nonzero()[0][:5] + 1]
    assert f"({int(late.sum())} rows: {', '.join(map(str, rows))}, ...)" in line
    first = str(leads.loc[late, "lead_id"].iloc[0])
    assert f"'{first}'" in line
    assert "Traceback" not in result.output
    assert not output.exists() and not list(tmp_path.glob("out.parquet*"))


def test_pyfunc_scores_post_snapshot_leads_like_the_batch(setup, tmp_path):
    from mlflow.exceptions import MlflowException

    from pipeline.mlops.serving import LeadScoreModel, activities_to_json

    folder, cfg, model_file, package, leads, events = setup
    new_leads, new_events = _shifted(leads, events, 60)
    picked = new_leads[new_leads["created_at"] > SNAPSHOT].head(25).reset_index(drop=True)
    as_of = "2026-09-15T00:00:00"
    where = _write(tmp_path, picked, new_events[new_events["lead_id"].isin(picked["lead_id"])],
                   "picked")
    assert _score(cfg, model_file, where, tmp_path / "batch.parquet", "--as-of", as_of
                  ).exit_code == 0
    batch = pd.read_parquet(tmp_path / "batch.parquet").set_index("lead_id")

    frame = picked.drop(columns=["outcome", "outcome_at"])
    frame["activities"] = activities_to_json(new_events, frame["lead_id"])
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    model = LeadScoreModel()
    model.package = package
    served = model.predict(None, frame, params={"as_of": as_of}).set_index("lead_id")
    assert len(served) == len(picked)
    pd.testing.assert_series_equal(served["score"], batch.loc[served.index, "score"],
                                   check_dtype=False)

    # a bad request (HTTP 400), with the same one-line reason the batch gives
    with pytest.raises(MlflowException, match=r"request: column 'created_at': created after the "
                                              r"scoring as_of 2026-06-01 00:00 .*\(25 rows: 1, 2"):
        model.predict(None, frame, params={"as_of": "2026-06-01"})


def test_explain_names_its_as_of_and_refuses_one_before_creation(setup, small_world):
    from pipeline.cli.app import load, paths_of

    folder, cfg, _, package, leads, _ = setup
    package.save(paths_of(load(cfg, None)).package("model"))
    lead = leads.iloc[-1]
    ok = runner.invoke(app, ["explain", "--config", str(cfg), "--lead-id", lead["lead_id"]])
    assert ok.exit_code == 0, ok.output
    assert "as of 2026-06-30 23:59:59 (dataset.snapshot)" in ok.stdout  # the default, named

    before = lead["created_at"] - pd.Timedelta(days=1)
    refused = runner.invoke(app, ["explain", "--config", str(cfg), "--lead-id", lead["lead_id"],
                                  "--as-of", f"{before:%Y-%m-%dT%H:%M:%S}"])
    assert refused.exit_code == 2, refused.output
    world = pd.read_parquet(small_world / "leads.parquet")
    row = int((world["lead_id"] == lead["lead_id"]).to_numpy().nonzero()[0][0]) + 1
    assert refused.stderr.strip() == (
        f"error: {small_world / 'leads.parquet'}: column 'created_at': created after the scoring "
        f"as_of {before:%Y-%m-%d %H:%M} (lead '{lead['lead_id']}'): a lead cannot be scored "
        f"before it exists; pass a later --as-of (1 row: {row})")


@pytest.mark.spark
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
                    reason="the Spark engine needs pyspark and Java 17+")
def test_spark_engine_warns_like_the_local_one(setup, tmp_path):
    folder, cfg, model, _, leads, events = setup
    old_leads, old_events = _shifted(leads, events, -3 * 365)
    where = _write(tmp_path, old_leads, old_events, "past")
    result = _score(cfg, model, where, tmp_path / "spark.parquet", "--engine", "spark",
                    "--spark-master", "local[2]")
    assert result.exit_code == 0, result.output
    newest = old_events["occurred_at"].max()
    assert f"newest activity in {where / 'activities.parquet'} is {newest:%Y-%m-%d}" \
        in result.stderr
    assert "(now)" in result.stdout
