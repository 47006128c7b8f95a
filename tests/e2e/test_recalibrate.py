"""`leadscore recalibrate` end to end under a base-rate drift.

The champion is trained and promoted on an early world (base rate 8 %, to mid-2025). A later
world (base rate 25 %, from July 2025, lead ids M...) stands for what came after: its export as
of the end of February 2026 (later outcomes still open, later events not yet there) is what
`recalibrate` reads, and its leads created after that export, judged on the whole later world,
are the later leads neither the champion nor the calibrator saw. One registry (sqlite in a
temporary folder) is built once for the module; the tests read what was recorded on the way.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from tests.conftest import write_demo_config
from tests.e2e.test_mlflow_lifecycle import _cli, _client

pytestmark = pytest.mark.slow

MODEL = "leadscore-demo"
EXPORT_AT = pd.Timestamp("2026-02-28T23:59:59")  # the recalibration export's snapshot
WORLD_END = pd.Timestamp("2026-06-30T23:59:59")
HORIZON = 60


def drift_world(folder: Path) -> dict[str, Path]:
    """The early world, the later world (ids ``M...``) and the later world's export at
    :data:`EXPORT_AT`, each as leads/activities/truth Parquet files in its own folder."""
    from pipeline.synth.world import make_world

    early = make_world(5_000, seed=5, base_rate=0.08, end="2025-06-30", months=12)
    later = make_world(8_000, seed=6, base_rate=0.25, end="2026-06-30", months=12)
    for name in ("leads", "activities", "truth"):
        table = getattr(later, name)
        # the generator numbers every world's leads from L0000001: the later ones must differ
        table["lead_id"] = ("M" + table["lead_id"].astype(str).str[1:]).astype(object)
    leads = later.leads[later.leads["created_at"] <= EXPORT_AT].copy()
    unknown = leads["outcome_at"] > EXPORT_AT
    leads.loc[unknown, "outcome"] = "open"
    leads.loc[unknown, "outcome_at"] = pd.NaT
    export = replace(later, leads=leads,
                     activities=later.activities[later.activities["occurred_at"] <= EXPORT_AT])
    folders = {}
    for key, world in (("early", early), ("later", later), ("export", export)):
        folders[key] = folder / key
        folders[key].mkdir(parents=True)
        for name in ("leads", "activities", "truth"):
            getattr(world, name).to_parquet(folders[key] / f"{name}.parquet", index=False)
    return folders


def _versions() -> dict[str, dict]:
    client = _client()
    return {str(v.version): dict(client.get_model_version(MODEL, v.version).tags or {})
            for v in client.search_model_versions(f"name='{MODEL}'")}


def _aliases() -> dict[str, str]:
    return {a: str(v) for a, v in _client().get_registered_model(MODEL).aliases.items()}


def _registry(cfg) -> None:
    """Point MLflow at the module's registry (a test of another store may have moved it)."""
    from pipeline.mlops.tracking import configure

    configure(cfg)


@pytest.fixture(scope="module")
def recalibrated(tmp_path_factory):
    """Train + promote on the early world, then recalibrate (a dry run first) on the export."""
    folder = tmp_path_factory.mktemp("recalibrate")
    worlds = drift_world(folder)
    config = write_demo_config(folder, worlds["early"], horizon_days=HORIZON,
                               snapshot="2025-06-30T23:59:59", segment=None,
                               as_of={"rule": "grid", "grid_days": [0, 14, 30]})
    tree = yaml.safe_load(config.read_text())
    # cheap training (as the lifecycle test's): the trees only need to rank, the test is about
    # their calibration
    tree.update(model={"n_estimators": 100}, split={"purge": 0}, points={"max_rules": 4},
                selection={"candidates": ["lightgbm"], "n_boot": 200},
                promotion={"n_boot": 300})
    config.write_text(yaml.safe_dump(tree, sort_keys=False))
    export = worlds["export"]
    args = ("--config", str(config), "--leads", str(export / "leads.parquet"),
            "--activities", str(export / "activities.parquet"),
            "--set", f"dataset.snapshot={EXPORT_AT:%Y-%m-%dT%H:%M:%S}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", "unset")  # so that teardown removes what mlflow sets
        mp.delenv("MLFLOW_TRACKING_URI")
        mp.setenv("COLUMNS", "200")
        _cli("train", "--config", str(config), "--no-evaluate")
        _cli("promote", "--config", str(config))
        before = {"versions": _versions(), "aliases": _aliases()}
        dry = _cli("recalibrate", *args, "--dry-run")
        after_dry = {"versions": _versions(), "aliases": _aliases()}
        run = _cli("recalibrate", *args)
        from pipeline.data.config import load_config

        yield {"config": config, "cfg": load_config(config), "worlds": worlds, "args": args,
               "before": before, "after_dry": after_dry, "dry": dry.output, "run": run.output,
               "versions": _versions(), "aliases": _aliases(), "folder": folder}


def _later_rows(cfg, worlds) -> pd.DataFrame:
    """The later leads created after the export, labelled on the whole later world."""
    from pipeline.stages.recalibrate import recent_leads

    leads = pd.read_parquet(worlds["later"] / "leads.parquet")
    activities = pd.read_parquet(worlds["later"] / "activities.parquet")
    cfg = cfg.model_copy(update={
        "guard": cfg.guard.model_copy(update={"min_valid_conversions": 1}),
        "dataset": cfg.dataset.model_copy(update={"snapshot": WORLD_END})})
    split = recent_leads(cfg, leads, activities, EXPORT_AT, 0.5).split.assign(split="test")
    return split, leads, activities


@pytest.fixture(scope="module")
def later(recalibrated):
    """Champion and recalibrated probabilities (and the champion's raw values) on later leads."""
    from pipeline.mlops.registry import holdout_probabilities, load_registered_package

    cfg, versions = recalibrated["cfg"], recalibrated["versions"]
    _registry(cfg)
    champion_v = recalibrated["before"]["aliases"]["champion"]
    new_v = max(versions, key=int)
    split, leads, activities = _later_rows(cfg, recalibrated["worlds"])
    packages = {"champion": load_registered_package(f"models:/{MODEL}/{champion_v}"),
                "recalibrated": load_registered_package(f"models:/{MODEL}/{new_v}")}
    probs = {}
    for name, package in packages.items():
        y, probs[name] = holdout_probabilities(package, cfg, leads, activities, split)
    from pipeline.stages.prepare import prepare_saved

    prepared = prepare_saved(cfg, leads, activities, split, packages["champion"].builder)
    X, _ = prepared.rows("test")
    return {"y": y, "p": probs, "packages": packages, "X": X, "split": split,
            "raw": packages["champion"].scorer.decision_function(X)}


def test_the_recalibrated_version_halves_the_ece_on_later_leads(later):
    from pipeline.evaluation.metrics import ranking_metrics

    y = later["y"]
    assert len(y) > 1_000 and 100 < y.sum() < len(y)
    old, new = (ranking_metrics(y, later["p"][k]) for k in ("champion", "recalibrated"))
    print(f"later rows {len(y)}, rate {y.mean():.4f}; " + "; ".join(
        f"{k}: mean p {m['mean_probability']:.4f}, adaptive ECE {m['ece_adaptive']:.4f}, "
        f"ECE {m['ece']:.4f}, Brier {m['brier']:.4f}, AUC {m['roc_auc']:.6f}"
        for k, m in (("champion", old), ("recalibrated", new))))
    # the drift is real: the champion under-predicts the later leads' rate
    assert old["mean_probability"] < 0.7 * y.mean()
    assert new["ece_adaptive"] <= 0.5 * old["ece_adaptive"], (old, new)
    assert new["ece"] <= 0.5 * old["ece"], (old, new)
    assert new["brier"] < old["brier"]


def test_the_ranking_is_the_champions(later):
    """Both calibrators are sigmoid here (chosen by cross-validated Brier, as in training), so
    the probabilities are a strictly increasing map of the same raw values and the AUC is equal
    to 1e-9. An isotonic calibrator is flat beyond its first and last block: ties there could
    move the AUC a little, never reverse an order (checked below for any method)."""
    p_old, p_new, raw = later["p"]["champion"], later["p"]["recalibrated"], later["raw"]
    order = np.argsort(raw, kind="mergesort")
    assert np.all(np.diff(p_new[order]) >= 0)
    methods = {k: later["packages"][k].scorer.calibrator_.method_ for k in later["packages"]}
    assert methods == {"champion": "sigmoid", "recalibrated": "sigmoid"}
    y = later["y"]
    assert abs(roc_auc_score(y, p_new) - roc_auc_score(y, p_old)) <= 1e-9
    assert abs(roc_auc_score(y, p_new) - roc_auc_score(y, raw)) <= 1e-9


def test_explanations_keep_the_raw_shares_and_add_up_to_the_new_score(later):
    X = later["X"].iloc[:: max(1, len(later["X"]) // 25)]
    old, new = later["packages"]["champion"].scorer, later["packages"]["recalibrated"].scorer
    shares_old, _ = old.explain_points(X)
    shares_new, points = new.explain_points(X)
    pd.testing.assert_frame_equal(shares_old, shares_new)
    p = new.predict_proba(X)[:, 1]
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * p, atol=1e-6)
    assert np.all(np.abs(total - new.score(X)) <= 0.5 + 1e-9)
    assert points.attrs["base_score"] > old.base_score_  # the base rate moved up
    scored = later["packages"]["recalibrated"].score_features(X)
    assert scored["reason_1"].notna().all()


def test_new_version_has_its_lineage_the_alias_and_the_gate(recalibrated):
    before, versions, aliases = recalibrated["before"], recalibrated["versions"], \
        recalibrated["aliases"]
    champion = before["aliases"]["champion"]
    new = max(versions, key=int)
    assert set(versions) == set(before["versions"]) | {new} and new not in before["versions"]
    tags = versions[new]
    assert tags["leadscore.recalibrated_from"] == champion
    assert tags["leadscore.calibration"] == "sigmoid"
    fit_leads, holdout_leads = (int(tags[f"leadscore.recent_{k}"].split()[0])
                                for k in ("fit", "holdout"))
    assert int(tags["leadscore.recent_leads"]) == fit_leads + holdout_leads > 1_000
    first, last = tags["leadscore.recent_as_of"].split(" to ")
    assert pd.Timestamp(first) >= pd.Timestamp("2025-07-01")
    assert pd.Timestamp(last) <= EXPORT_AT - pd.Timedelta(days=HORIZON)
    assert tags["gate"].startswith(("PROMOTE", "KEEP CHAMPION"))
    assert aliases["challenger"] == new
    assert aliases["champion"] == (new if tags["gate"].startswith("PROMOTE") else champion)
    # the default --since: after the newest as_of of the champion's saved split
    from pipeline.mlops.registry import saved_split

    _registry(recalibrated["cfg"])
    trained = saved_split(MODEL, champion)
    assert pd.Timestamp(tags["leadscore.recent_since"]) == \
        pd.Timestamp(trained["as_of"].max()).floor("s")
    run = recalibrated["run"]
    assert f"registered {MODEL} v{new} as @challenger" in run
    assert "Promotion gate on the newest recent leads" in run
    assert tags["gate"].split(":")[0] in run


def test_the_dry_run_prints_the_gate_and_registers_nothing(recalibrated):
    assert recalibrated["after_dry"] == recalibrated["before"]
    dry = recalibrated["dry"]
    assert "Calibration on the holdout" in dry and "(dry run)" in dry
    assert "registered" not in dry
    assert any(line.startswith(("PROMOTE", "KEEP CHAMPION")) for line in dry.splitlines())


def _one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


def test_too_few_matured_leads_is_one_line_with_the_counts(recalibrated):
    line = _one_line_error(_cli("recalibrate", *recalibrated["args"], "--since", "2025-12-20",
                                ok=False), 2)
    assert "leads created after 2025-12-20" in line
    assert "conversions to fit the calibrator" in line and "guard.min_valid_conversions" in line


def test_no_champion_is_one_line_naming_the_alias(recalibrated, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    line = _one_line_error(_cli("recalibrate", *recalibrated["args"], ok=False), 2)
    assert f"{MODEL}: no @champion version" in line


def test_an_unreachable_tracking_store_exits_1(recalibrated, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    line = _one_line_error(_cli("recalibrate", *recalibrated["args"], ok=False), 1)
    assert "MLflow tracking store http://127.0.0.1:9" in line and "unreachable" in line
