"""The promotion gate on paired intervals: each refusal reason, the holdout choice, and the
0.004-AUC-per-promotion drift the old point rule let through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.data.errors import ModelError
from pipeline.data.schema import PromotionConfig
from pipeline.evaluation.metrics import (
    adaptive_calibration_error,
    expected_calibration_error,
    paired_differences,
    ranking_metrics,
)
from pipeline.mlops.registry import choose_holdout, gate

POLICY = PromotionConfig()
LEADS, BASE_RATE, SEED = 4000, 0.08, 7


def _expit(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def world():
    """y and a calibrated champion at an 8 % base rate; rules and points clearly weaker."""
    rng = np.random.default_rng(SEED)
    z = rng.normal(0, 1.4, LEADS)
    # the spread of the log-odds lowers the mean probability: -0.7 brings it back to ~8 %
    z += np.log(BASE_RATE / (1 - BASE_RATE)) - 0.7
    p = _expit(z)
    y = (rng.random(LEADS) < p).astype(int)
    rules = _expit(z + rng.normal(0, 1.2, LEADS))
    points = _expit(z + rng.normal(0, 0.8, LEADS))
    return y, p, rules, points


def _degraded(y: np.ndarray, p: np.ndarray, loss: float, seed: int) -> np.ndarray:
    """``p`` with noise on its log-odds, scaled (bisection) so its AUC is ``loss`` lower."""
    noise = np.random.default_rng(seed).normal(size=len(p))
    target = roc_auc_score(y, p) - loss
    lo, hi = 0.0, 2.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if roc_auc_score(y, _expit(_logit(p) + mid * noise)) > target:
            lo = mid
        else:
            hi = mid
    return _expit(_logit(p) + hi * noise)


def _old_gate(y, challenger, champion, rules, policy=PromotionConfig(rules_margin=0.01)) -> bool:
    """The point-estimate rule the gate replaced (AUC >= champion - 0.005, >= rules + 0.01,
    equal-width ECE <= 0.03)."""
    auc = roc_auc_score(y, challenger)
    return bool(auc >= roc_auc_score(y, champion) - policy.auc_tolerance
                and auc >= roc_auc_score(y, rules) + policy.rules_margin
                and expected_calibration_error(y, challenger) <= policy.max_ece)


# --------------------------------------------------------------------------- metrics


def test_adaptive_ece_golden():
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9])
    # two equal-mass bins: {.1,.2,.3} gap |1 - .6| = .4 ; {.4,.5,.9} gap |2 - 1.8| = .2
    assert adaptive_calibration_error(y, p, bins=2) == pytest.approx(0.6 / 6)


def test_ranking_metrics_carry_both_eces(world):
    y, p, _, _ = world
    m = ranking_metrics(y, p)
    assert m["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert m["ece_adaptive"] == pytest.approx(adaptive_calibration_error(y, p))


def test_adaptive_ece_sees_miscalibration_equal_width_bins_hide():
    # low base rate: every probability sits in the first equal-width bin [0, 0.1)
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.09, 50_000)
    y = (rng.random(p.size) < p).astype(int)
    timid = 0.045 + 0.2 * (p - 0.045)  # right on average, far too timid lead by lead
    assert expected_calibration_error(y, timid) < 0.002
    assert adaptive_calibration_error(y, timid) > 0.015
    assert adaptive_calibration_error(y, p) < 0.003


def test_paired_differences_golden_and_zero_width_for_an_identical_scorer(world):
    y, p, rules, _ = world
    out = paired_differences(y, p, {"same": p, "rules": rules}, n_boot=200, seed=1)
    assert out["same"] == {k: 0.0 for k in out["same"]}
    r = out["rules"]
    assert r["auc_diff"] == pytest.approx(roc_auc_score(y, p) - roc_auc_score(y, rules))
    assert r["brier_diff"] == pytest.approx(np.mean((p - y) ** 2) - np.mean((rules - y) ** 2))
    assert r["auc_diff_ci_low"] < r["auc_diff"] < r["auc_diff_ci_high"]
    assert r["brier_diff_ci_low"] < r["brier_diff"] < r["brier_diff_ci_high"]
    again = paired_differences(y, p, {"rules": rules}, n_boot=200, seed=1)
    assert again["rules"] == r  # seeded: the gate is deterministic


# --------------------------------------------------------------------------- each reason


def test_no_champion_promotes_on_rules_points_and_calibration(world):
    y, p, rules, points = world
    d = gate(y, p, POLICY, rules=rules, points=points, holdout="challenger's saved test split")
    assert d.promote, d.summary()
    assert d.summary().startswith("PROMOTE: no champion yet; AUC vs rules +")
    assert [c.against for c in d.comparisons] == ["rules", "learned points"]
    assert f"holdout: challenger's saved test split, {LEADS} leads, {y.sum()} conversions" \
        in d.reasons


def test_identical_retrain_has_a_zero_width_interval_and_is_promoted(world):
    y, p, rules, points = world
    d = gate(y, p, POLICY, rules=rules, points=points, champion=p.copy())
    assert d.promote, d.summary()
    assert d.summary().startswith("PROMOTE: AUC vs champion +0.0000 (95% CI +0.0000 to +0.0000)"
                                  " lower bound > -0.005")
    assert "Brier vs champion +0.0000 (95% CI +0.0000 to +0.0000) upper bound < 0.002" \
        in d.reasons


def test_refused_against_the_champion_prints_the_failed_interval(world):
    y, p, rules, points = world
    worse = _degraded(y, p, 0.02, seed=3)
    d = gate(y, worse, POLICY, rules=rules, points=points, champion=p)
    assert not d.promote
    failed = [c for c in d.comparisons if not c.passed]
    assert [(c.metric, c.against) for c in failed][0] == ("AUC", "champion")
    line = failed[0].reason()
    assert line.startswith("AUC vs champion -0.02") and line.endswith("lower bound < -0.005")
    assert d.summary().startswith("KEEP CHAMPION: AUC vs champion -0.0")


def test_refused_when_not_significantly_better_than_the_rules(world):
    y, p, _, points = world
    rules = _degraded(y, p, 0.004, seed=5)  # rules nearly as good: the lower bound dips below 0
    d = gate(y, p, POLICY, rules=rules, points=points)
    assert not d.promote
    (c,) = [c for c in d.comparisons if not c.passed]
    assert c.against == "rules" and c.diff > 0 and c.low <= 0
    assert c.reason().endswith("lower bound < 0")
    assert d.summary().startswith("KEEP CHAMPION: no champion yet; AUC vs rules +0.004")


def test_refused_when_worse_than_the_learned_points(world):
    y, p, rules, _ = world
    challenger = _degraded(y, p, 0.015, seed=9)
    d = gate(y, challenger, POLICY, rules=rules, points=p)
    assert not d.promote
    (c,) = [c for c in d.comparisons if not c.passed]
    assert c.against == "learned points" and c.low < -POLICY.auc_tolerance


def test_refused_on_a_brier_loss_with_the_same_ranking(world):
    y, p, rules, points = world
    too_high = np.clip(p * 1.6, 0, 1)  # the same order, probabilities 60 % too high
    d = gate(y, too_high, PromotionConfig(max_ece=1.0), rules=rules, points=points, champion=p)
    assert not d.promote
    (c,) = [c for c in d.comparisons if not c.passed]
    assert (c.metric, c.against, c.bound) == ("Brier", "champion", "upper")
    assert c.low > 0 and c.reason().endswith("upper bound > 0.002")


def test_refused_on_the_adaptive_ece(world):
    y, p, rules, points = world
    too_high = np.clip(p * 1.6, 0, 1)
    d = gate(y, too_high, POLICY, rules=rules, points=points)
    assert not d.promote and all(c.passed for c in d.comparisons)
    ece = next(r for r in d.reasons if r.startswith("adaptive ECE"))
    assert f"> {POLICY.max_ece:g} (equal-width" in ece
    assert d.figures["challenger_ece_adaptive"] > POLICY.max_ece


def test_without_registered_points_the_gate_says_so(world):
    y, p, rules, _ = world
    d = gate(y, p, POLICY, rules=rules)
    assert d.promote
    assert any(r.startswith("no learned points registered") for r in d.reasons)


# --------------------------------------------------------------------------- acceptance


def test_a_challenger_worse_by_0004_three_times_is_refused_at_least_once(world):
    """Each challenger is the previous one with 0.004 less AUC. The old point rule promotes all
    three (0.012 lost); the interval gate refuses at least once."""
    y, p, rules, points = world
    champion, old_champion, previous = p, p, p
    verdicts, old_verdicts = [], []
    for step in range(3):
        challenger = _degraded(y, previous, 0.004, seed=100 + step)
        assert roc_auc_score(y, previous) - roc_auc_score(y, challenger) == pytest.approx(
            0.004, abs=2e-4)
        old = _old_gate(y, challenger, old_champion, rules)
        old_verdicts.append(old)
        if old:
            old_champion = challenger
        d = gate(y, challenger, POLICY, rules=rules, points=points, champion=champion,
                 seed=step)
        verdicts.append(d)
        if d.promote:
            champion = challenger
        previous = challenger
    assert old_verdicts == [True, True, True]
    assert not all(d.promote for d in verdicts), [d.summary() for d in verdicts]
    refused = next(d for d in verdicts if not d.promote)
    assert refused.summary().startswith("KEEP CHAMPION: AUC vs champion -0.0")
    assert roc_auc_score(y, champion) > roc_auc_score(y, old_champion) + 0.004


# --------------------------------------------------------------------------- the holdout


def _split(prefix: str, parts: dict[str, range]) -> pd.DataFrame:
    rows = [(f"{prefix}{i}", part, i % 5 == 0) for part, ids in parts.items() for i in ids]
    table = pd.DataFrame(rows, columns=["lead_id", "split", "y"])
    return table.assign(as_of=pd.Timestamp("2026-01-01"), y=table["y"].astype("int8"))


def test_holdout_is_the_challengers_own_test_split_without_a_champion():
    split = _split("L", {"train": range(0, 60), "valid": range(60, 80), "test": range(80, 100)})
    table, source = choose_holdout(split, None)
    assert source == "challenger's saved test split"
    assert list(table["lead_id"]) == [f"L{i}" for i in range(80, 100)]


def test_holdout_is_the_champions_test_split_while_the_challenger_never_trained_on_it():
    champion = _split("L", {"train": range(0, 60), "valid": range(60, 80),
                            "test": range(80, 100)})
    challenger = _split("L", {"train": range(0, 50), "valid": range(50, 80),
                              "test": range(80, 110)})
    table, source = choose_holdout(challenger, champion)
    assert source == "champion's saved test split"
    assert set(table["split"]) == {"test"} and len(table) == 20


def test_holdout_is_fresh_and_common_once_the_data_moved_on():
    champion = _split("L", {"train": range(0, 60), "valid": range(60, 80),
                            "test": range(80, 100)})
    # retrained on a later export: the champion's test leads are now training rows
    challenger = _split("L", {"train": range(0, 100), "valid": range(100, 120),
                              "test": range(120, 150)})
    table, source = choose_holdout(challenger, champion)
    assert source == "fresh common holdout (the data moved on)"
    assert list(table["lead_id"]) == [f"L{i}" for i in range(120, 150)]
    # some of the challenger's test leads were the champion's training rows: left out
    partly = _split("L", {"train": range(40, 100), "test": range(0, 40)})
    table, _ = choose_holdout(partly, champion.assign(split=lambda t: t["split"].where(
        ~t["lead_id"].isin([f"L{i}" for i in range(20, 40)]), "test")))
    assert list(table["lead_id"]) == [f"L{i}" for i in range(20, 40)]


def test_no_common_holdout_is_a_one_line_model_error():
    champion = _split("L", {"train": range(0, 60), "valid": range(60, 80),
                            "test": range(80, 100)})
    challenger = _split("L", {"train": range(60, 100), "test": range(0, 20)})
    with pytest.raises(ModelError, match=r"no common holdout: .* 0 are new to both models"):
        choose_holdout(challenger, champion)


def test_promote_prints_every_comparison_with_its_interval_and_rule(world, monkeypatch):
    from pipeline.cli.console import out
    from pipeline.cli.registry import gate_table

    monkeypatch.setattr(out, "_width", 200)  # a wide terminal: no wrapped cells

    y, p, rules, points = world
    d = gate(y, _degraded(y, p, 0.02, seed=3), POLICY, rules=rules, points=points, champion=p,
             holdout="champion's saved test split")
    with out.capture() as captured:
        gate_table(d)
    text = captured.get()
    assert f"Promotion gate on the champion's saved test split, {LEADS} leads" in text
    for c in d.comparisons:
        assert f"{c.low:+.4f} to {c.high:+.4f}" in text and c.rule() in text
    assert "FAIL" in text and "pass" in text
    assert "adaptive ECE" in text and "equal-width ECE" in text and "Brier" in text
