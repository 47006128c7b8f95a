"""A learned points table a CRM can run: short, one encoding per field, monotone, typed edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.spec import FeatureInfo, FeatureSpec, source_field
from pipeline.scorers.learned_points import LearnedPointsScorer, learn_points
from pipeline.scorers.points_table import NICE_MANTISSAS, n_rules, points_table
from pipeline.scorers.rules import ActivityRule, RulesBook, RuleScorer

MAX_RULES = 25


def table_problems(book: RulesBook, spec: FeatureSpec, windows: tuple[int, ...]) -> list[str]:
    """Everything that keeps a CRM admin from typing the table in as it is."""
    problems = []
    if n_rules(book) > MAX_RULES:
        problems.append(f"{n_rules(book)} rules")
    encodings: dict[str, set[tuple[str, str]]] = {}
    for section in ("attributes", "flags", "thresholds"):
        for feature in getattr(book, section):
            field = source_field(feature)
            if field is None:
                problems.append(f"{feature}: no CRM holds it")
            encodings.setdefault(str(field), set()).add((section, feature))
    for signal in book.activities:
        encodings.setdefault(signal, set()).add(("activities", signal))
    problems += [f"{field} encoded {len(ways)} ways: {sorted(ways)}"
                 for field, ways in encodings.items() if len(ways) > 1]
    for feature, steps in book.thresholds.items():
        for step in steps:
            if abs(step.min) < 1 or not float(step.min).is_integer():
                problems.append(f"{feature} >= {step.min}: below a whole unit")
            elif abs(step.min) >= 10 and (abs(step.min) / 10 ** np.floor(np.log10(abs(step.min)))
                                          not in NICE_MANTISSAS):
                problems.append(f"{feature} >= {step.min}: not a number a person types")
        signs = {np.sign(s.points) for s in steps}
        if spec[feature].monotone and signs - {spec[feature].monotone}:
            problems.append(f"{feature}: steps against the business direction")
    for signal, rule in book.activities.items():
        if rule.window is not None and rule.window not in windows:
            problems.append(f"{signal}: window {rule.window} is no feature window")
        if rule.cap is None or rule.cap % abs(rule.points):
            problems.append(f"{signal}: cap {rule.cap} is not a whole number of events")
        column = f"{signal}_{rule.window or max(windows)}d"
        if column in spec and spec[column].monotone * rule.points < 0:
            problems.append(f"{signal}: per-event points against the business direction")
    for feature, pts in book.flags.items():
        if spec[feature].monotone * pts < 0:
            problems.append(f"{feature}: flag points against the business direction")
    return problems


def _spec() -> FeatureSpec:
    eng = {"measure": "engagement", "group": "engagement", "dtype": "numeric"}
    fit = {"measure": "fit", "group": "fit"}
    return FeatureSpec([
        FeatureInfo("company_size_band", "Company size", dtype="categorical", **fit),
        FeatureInfo("company_employees", "Company size", dtype="numeric", **fit),
        *[FeatureInfo(f"page_pricing_{w}d", "Pricing page interest", monotone=1, **eng)
          for w in (7, 30, 90)],
        *[FeatureInfo(f"page_careers_{w}d", "Careers page", monotone=-1, **eng)
          for w in (7, 30, 90)],
        FeatureInfo("email_open_rate", "Email engagement", **eng),
        FeatureInfo("days_since_last_activity", "Recency of activity", measure="negative",
                    group="engagement", dtype="numeric", monotone=-1),
    ])


def _leads(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads whose odds rise with size and pricing visits and, against the careers page's
    business direction, with careers visits too (the table must not give them points)."""
    rng = np.random.default_rng(seed)
    employees = np.round(np.exp(rng.uniform(0, 9, n)))
    pricing_7d = rng.poisson(0.4, n)
    pricing_30d = pricing_7d + rng.poisson(0.6, n)
    careers_7d = rng.poisson(0.2, n)
    careers_30d = careers_7d + rng.poisson(0.3, n)
    rate = rng.uniform(0, 1, n)
    X = pd.DataFrame({
        "company_size_band": pd.cut(employees, [0, 10, 50, 200, 1000, np.inf],
                                    labels=["1-10", "11-50", "51-200", "201-1000", "1000+"]
                                    ).astype(str),
        "company_employees": employees,
        "page_pricing_7d": pricing_7d, "page_pricing_30d": pricing_30d,
        "page_pricing_90d": pricing_30d + rng.poisson(0.5, n),
        "page_careers_7d": careers_7d, "page_careers_30d": careers_30d,
        "page_careers_90d": careers_30d + rng.poisson(0.3, n),
        "email_open_rate": rate,
        "days_since_last_activity": rng.exponential(20, n) + rng.uniform(0, 0.01, n),
    })
    X[X.columns[1:]] = X[X.columns[1:]].astype("float64")
    logit = (-2 + 0.35 * np.log1p(employees) + 0.5 * np.minimum(pricing_30d, 3)
             + 0.3 * careers_30d + 1.5 * rate - 0.02 * X["days_since_last_activity"])
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_a_learned_table_is_short_encodes_each_field_once_and_keeps_business_directions():
    spec = _spec()
    X, y = _leads(6000, seed=1)
    X_valid, y_valid = _leads(3000, seed=2)
    learned = learn_points(X, y, X_valid, y_valid, spec, max_rules=8)
    book = learned.book
    assert table_problems(book, spec, (7, 30, 90)) == []
    assert 1 <= learned.n_rules <= 8
    assert "page_careers" not in book.activities  # its data says "good", its direction "bad"
    assert "email_open_rate" not in book.thresholds  # a rate: no CRM field
    # Pricing visits: per event in one recency window, capped after whole events.
    pricing = book.activities["page_pricing"]
    assert pricing.points > 0 and pricing.window in (7, 30, 90)
    # What the table says on validation is what the RuleScorer runs.
    scorer = RuleScorer(spec, book).fit(X, pd.Series(y), X_valid, pd.Series(y_valid))
    assert learned.valid_auc == pytest.approx(
        roc_auc_score(y_valid, scorer.decision_function(X_valid)), abs=1e-9)


def test_more_rules_allowed_never_gives_a_table_longer_than_the_limit():
    spec = _spec()
    X, y = _leads(4000, seed=3)
    X_valid, y_valid = _leads(2000, seed=4)
    sizes = [learn_points(X, y, X_valid, y_valid, spec, max_rules=k).n_rules for k in (2, 4)]
    assert sizes[0] <= 2 and sizes[1] <= 4


def test_a_windowed_activity_rule_counts_only_that_window_up_to_its_cap():
    spec = _spec()
    X = pd.DataFrame({"page_pricing_7d": [0.0, 1, 1, 4], "page_pricing_30d": [0.0, 1, 3, 6],
                      "page_pricing_90d": [2.0, 5, 5, 9]}).reindex(columns=spec.names,
                                                                  fill_value=0.0)
    book = RulesBook(activities={"page_pricing": ActivityRule(points=8, cap=24, window=30)})
    scorer = RuleScorer(spec, book)
    assert scorer.check_book() == []
    np.testing.assert_array_equal(scorer.decision_function(X), [0, 8, 24, 24])
    table = points_table(book, spec)
    assert table.iloc[0]["condition"] == "per event in the last 30 days (cap 24)"
    assert table.iloc[0]["factor"] == "Pricing page interest"


def test_a_window_the_feature_table_lacks_is_one_clear_problem():
    book = RulesBook(activities={"page_pricing": ActivityRule(points=8, cap=24, window=14)})
    assert RuleScorer(_spec(), book, source="sheet.yaml").check_book() == [
        "sheet.yaml: activities.page_pricing.window: 14 is not a feature window (7, 30, 90 days)"]


def test_with_learned_decay_the_table_decays_each_event_with_the_models_half_life():
    """Model and table share the half-life: a signal with a ``decayed_<signal>`` column gets
    per-event rules on that column, written with its half-life, and no window rules."""
    spec = FeatureSpec([*_spec(), FeatureInfo("decayed_page_pricing", "Pricing page interest",
                                              "engagement", "engagement", "numeric", 1)])
    rng = np.random.default_rng(9)

    def leads(n, seed):
        X, _ = _leads(n, seed)
        X["decayed_page_pricing"] = X["page_pricing_7d"] * rng.uniform(0.3, 1.0, n)
        logit = -1.5 + 1.2 * np.minimum(X["decayed_page_pricing"], 3)
        return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)

    (X, y), (X_valid, y_valid) = leads(6000, 1), leads(3000, 2)
    learned = learn_points(X, y, X_valid, y_valid, spec, max_rules=8,
                           half_lives={"page_pricing": 3.0})
    pricing = learned.book.activities["page_pricing"]
    assert pricing.half_life_days == 3.0 and pricing.window is None and pricing.points > 0
    # the rules file reads back unchanged, and runs the decayed column with its cap
    book = RulesBook.model_validate(learned.book.model_dump(mode="json"))
    scorer = RuleScorer(spec, book)
    assert scorer.check_book() == []
    shares, _ = scorer.contributions(X_valid)
    expected = np.minimum(X_valid["decayed_page_pricing"] * pricing.points, pricing.cap)
    np.testing.assert_allclose(shares["decayed_page_pricing"], expected)
    assert not shares[["page_pricing_7d", "page_pricing_30d", "page_pricing_90d"]].any().any()
    table = points_table(book, spec, {"page_pricing": "3 days [2, 5]"})
    row = table[table["field"] == "page_pricing"].iloc[0]
    assert row["condition"] == f"per event, halving every 3 days [2, 5] (cap {pricing.cap:g})"
    assert row["factor"] == "Pricing page interest"


def test_a_decayed_rule_needs_its_column_and_no_window():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="window and half_life_days: give one of them"):
        ActivityRule(points=8, cap=24, window=30, half_life_days=3)
    book = RulesBook(activities={"page_pricing": ActivityRule(points=8, half_life_days=3)})
    assert RuleScorer(_spec(), book, source="sheet.yaml").check_book() == [
        "sheet.yaml: activities.page_pricing.half_life_days: no 'decayed_page_pricing' feature "
        "(features.decay: learn or fixed)"]


# ------------------------------------------------------------- the acceptance on real tables
def _learned_table(config):
    from pipeline.data.io import load_dataset
    from pipeline.stages.prepare import prepare

    leads, activities, report = load_dataset(config)
    report.raise_if_failed()
    prepared = prepare(config, leads, activities)
    ctx = prepared.scorer_context()
    scorer = LearnedPointsScorer(ctx.spec, windows=ctx.windows, dropped=ctx.dropped,
                                 max_rules=config.points.max_rules).fit(*prepared.fit_rows())
    return scorer.points_book(), ctx


@pytest.mark.slow
def test_the_demo_worlds_learned_table_is_one_a_crm_can_run(small_world):
    from tests.conftest import demo_config

    config = demo_config(small_world)
    assert config.points.max_rules == MAX_RULES  # the default
    book, ctx = _learned_table(config)
    assert table_problems(book, ctx.spec, ctx.windows) == []
    assert book.activities, "engagement is written as per-event rules"


@pytest.mark.slow
@pytest.mark.realdata
def test_x_educations_learned_table_is_one_a_crm_can_run(x_education_config):
    from pipeline.data.config import load_config

    book, ctx = _learned_table(load_config(x_education_config))
    assert table_problems(book, ctx.spec, ctx.windows) == []
    assert n_rules(book) >= 5
