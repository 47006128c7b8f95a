"""The model choice: simplest candidate not significantly worse than the best, never on test.

The comparison is checked on simulated validation scores whose true strengths are known; the
protocol on a real training run: the test split is read only by the final evaluation (a spy on
the prepared rows), and flipping every test lead's outcome changes no design choice.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from pipeline.scorers import kinds
from pipeline.scorers.selection import choice_reason, compare_candidates, reason_of
from pipeline.stages import prepare as prepare_module
from pipeline.stages.train import train_scorers

ORDER = ["learned_points", "logistic", "lightgbm"]


def _world(n: int, strengths: dict[str, float], seed: int = 0):
    """Labels and one noisy score per candidate; a larger strength ranks the leads better."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(latent * 1.5 - 2.4)))).astype(int)
    return y, {name: s * latent + rng.normal(size=n) for name, s in strengths.items()}


def test_a_clearly_better_complex_candidate_is_chosen():
    y, raw = _world(6000, {"learned_points": 0.4, "logistic": 0.5, "lightgbm": 1.5})
    table = compare_candidates([(y, raw)], ORDER, 0.95, 500, seed=1)
    chosen = table.loc[table["chosen"], "candidate"].item()
    assert chosen == "lightgbm"
    simpler = table[table["candidate"] != "lightgbm"]
    assert (simpler["diff_vs_best_ci_high"] < 0).all()  # significantly worse, both
    reason = choice_reason(table, 0.95)
    assert reason.startswith("lightgbm has the best validation AUC")
    assert "significantly worse" in reason and "learned_points" in reason


def test_a_tie_goes_to_the_simplest_candidate():
    # Same strength everywhere: any difference on validation is noise.
    y, raw = _world(3000, {"learned_points": 1.0, "logistic": 1.0, "lightgbm": 1.0}, seed=3)
    table = compare_candidates([(y, raw)], ORDER, 0.95, 500, seed=1)
    assert table.loc[table["chosen"], "candidate"].item() == "learned_points"
    row = table.set_index("candidate").loc["learned_points"]
    assert row["diff_vs_best_ci_low"] <= 0 <= row["diff_vs_best_ci_high"]
    if not table.set_index("candidate").loc["learned_points", "best"]:
        assert "not significantly worse" in choice_reason(table, 0.95)


def test_the_interval_is_paired_and_narrower_than_unpaired():
    # Two scores sharing most of their noise differ by little on every resample: the paired
    # interval of the difference is much narrower than either AUC's own interval.
    rng = np.random.default_rng(5)
    y, raw = _world(4000, {"learned_points": 1.0}, seed=5)
    raw["lightgbm"] = raw["learned_points"] + 0.2 * rng.normal(size=len(y))
    table = compare_candidates([(y, raw)], ["learned_points", "lightgbm"], 0.95, 500, seed=2)
    row = table.set_index("candidate").loc["learned_points"] if not table.iloc[0]["best"] \
        else table.set_index("candidate").loc["lightgbm"]
    own = row["valid_auc_ci_high"] - row["valid_auc_ci_low"]
    paired = row["diff_vs_best_ci_high"] - row["diff_vs_best_ci_low"]
    assert paired < own / 2


def test_folds_are_averaged_per_resample():
    y1, raw1 = _world(2000, {"learned_points": 1.0, "lightgbm": 1.6}, seed=7)
    y2, raw2 = _world(2000, {"learned_points": 1.0, "lightgbm": 1.6}, seed=8)
    table = compare_candidates([(y1, raw1), (y2, raw2)], ["learned_points", "lightgbm"], 0.95,
                               300, seed=0)
    from sklearn.metrics import roc_auc_score

    expected = (roc_auc_score(y1, raw1["lightgbm"]) + roc_auc_score(y2, raw2["lightgbm"])) / 2
    assert table.set_index("candidate").loc["lightgbm", "valid_auc"] == pytest.approx(expected)
    assert table.attrs["folds"] == 2
    assert "1 time-ordered folds" in choice_reason(table, 0.95)


def test_the_model_kind_ships_the_chosen_candidate(trained):
    _, result, _, _ = trained
    scorer = result.packages[kinds.CHALLENGER].scorer
    choice = scorer.selection()
    chosen = scorer.candidate_scorers()[choice["chosen"]]
    X = result.X.loc[result.training_set.part("test")]
    np.testing.assert_array_equal(scorer.predict_proba(X), chosen.predict_proba(X))
    np.testing.assert_array_equal(scorer.factor_points(X).to_numpy(),
                                  chosen.factor_points(X).to_numpy())
    selection = result.metrics["selection"]
    assert selection["chosen"] == choice["chosen"]
    assert set(selection["candidates"]) == set(ORDER)
    for figures in selection["candidates"].values():
        assert figures["test_auc_ci_low"] <= figures["test_roc_auc"] <= figures["test_auc_ci_high"]
    assert result.metrics[kinds.CHALLENGER]["roc_auc"] == pytest.approx(
        selection["candidates"][choice["chosen"]]["test_roc_auc"])


def test_thin_validation_adds_time_ordered_folds(trained):
    cfg, result, _, _ = trained
    thin = cfg.model_copy(update={"selection": cfg.selection.model_copy(update={
        "min_valid_conversions": 10**6, "candidates": ["learned_points", "logistic"],
        "n_boot": 200})})
    prepared = result.prepared
    prepared_thin = type(prepared)(thin, prepared.training_set, prepared.audit,
                                   prepared.excluded, prepared.builder, prepared.X)
    scorer = kinds.get(kinds.CHALLENGER).build(prepared_thin.scorer_context()).fit(
        *prepared_thin.fit_rows())
    choice = scorer.selection()
    assert choice["folds"] + scorer.skipped_folds_ == 1 + thin.selection.cv_folds
    assert choice["folds"] >= 2
    assert "time-ordered folds" in reason_of(choice)
    # the sentence evaluation.json does not store is rebuilt from its figures, word for word
    assert reason_of(choice) == scorer.reason_


def _outcomes_flipped(leads: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    flipped = leads.copy()
    rows = flipped["lead_id"].astype(str).isin(ids.astype(str))
    swap = {"won": "lost", "lost": "won"}
    flipped.loc[rows, "outcome"] = flipped.loc[rows, "outcome"].map(lambda o: swap.get(o, o))
    return flipped


def _design_choices(result) -> dict:
    model = result.packages[kinds.CHALLENGER].scorer
    choice = model.selection()
    lightgbm = model.candidate_scorers()["lightgbm"]
    return {
        "chosen": choice["chosen"],
        "valid": {n: c["valid_auc"] for n, c in choice["candidates"].items()},
        "rounds": lightgbm.fit_metrics(),
        "calibrators": {n: s.calibrator_.method_ for n, s in model.candidate_scorers().items()},
        "segments": lightgbm.selection_.to_json(),  # JSON: NaN equals NaN
        "points": result.packages["learned_points"].scorer.points_book().model_dump(),
        "audit": result.audit.to_json(),
        "split": result.prepared.split_table()["split"].tolist(),
    }


def test_no_design_choice_reads_the_test_split(trained, monkeypatch):
    cfg, result, leads, activities = trained
    test_ids = result.training_set.leads_of(result.training_set.part("test"))
    readers: list[str] = []
    rows = prepare_module.Prepared.rows

    def spy(self, part):
        if part == "test":
            readers.append(inspect.stack()[1].function)
        return rows(self, part)

    monkeypatch.setattr(prepare_module.Prepared, "rows", spy)
    flipped = train_scorers(cfg, _outcomes_flipped(leads, test_ids), activities, None
                            if cfg.rules is None else result.packages["rules"].scorer.book,
                            n_boot=100)
    # only the final evaluation asked for the test rows
    assert readers and set(readers) <= {"evaluate_packages"}
    # the flip really changed what the test split says...
    assert flipped.metrics[kinds.CHALLENGER]["roc_auc"] < 0.5 < result.metrics[
        kinds.CHALLENGER]["roc_auc"]
    # ...and nothing that was chosen
    assert _design_choices(flipped) == _design_choices(result)
