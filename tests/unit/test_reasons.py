"""Reasons people believe: zero and singular forms, display values, grades independent of
engagement, and scorers that keep the spec's business directions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features.spec import (
    ACTIVITY_CATALOGUE,
    PAGE_CATALOGUE,
    FeatureInfo,
    FeatureSpec,
    describe_feature,
)
from pipeline.explain.grades import GradeCuts, group_points
from pipeline.explain.reasons import explain, reason_texts
from pipeline.scorers.base import INTERACTION, monotone_directions
from pipeline.scorers.logistic import LogisticScorer
from pipeline.scorers.scaling import shares_to_points, split_points


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype="float64")))


# -- templates ------------------------------------------------------------------------------------
#: "1" before a plural noun ("1 emails", "1 sales calls", "1 days"), one word between at most.
ONE_PLURAL = re.compile(r"\b1 (?:[a-z-]+ )?(?:emails|visits|assets|webinars|forms|events|calls|"
                        r"times|activities|days|employees|downloads|registrations|pages|"
                        r"studies|messages)\b")
WINDOWED = [f"{base}_30d" for base in ACTIVITY_CATALOGUE] + [
    f"page_{page}_30d" for page in PAGE_CATALOGUE] + ["chat_message_30d", "page_blog_30d"]


@pytest.mark.parametrize("name", WINDOWED)
def test_a_zero_count_reads_as_an_absence_and_one_in_the_singular(name):
    info = describe_feature(name)
    zero, one, many = info.reason(0.0), info.reason(1.0), info.reason(4.0)
    assert zero.startswith("No ") and "last 30 days" in zero and not re.search(r"\b0\b", zero)
    assert not ONE_PLURAL.search(one), one
    assert re.search(r"\b4\b", many) and "4x" not in many
    assert info.count and info.is_absence(0.0) and not info.is_absence(1.0)


def test_golden_sentences_and_the_one_day_window():
    assert describe_feature("email_sent_30d").reason(1.0) == "Was sent 1 email in 30 days"
    assert describe_feature("web_visit_30d").reason(0.0) == "No website visits in the last 30 days"
    assert describe_feature("web_visit_30d").reason(1.0) == "Visited the website once in 30 days"
    assert describe_feature("sales_call_7d").reason(0.0) == "No sales calls in the last 7 days"
    assert describe_feature("sales_call_1d").reason(0.0) == "No sales calls in the last day"
    assert describe_feature("sales_call_1d").reason(1.0) == "Had 1 sales call in 1 day"
    last = describe_feature("days_since_last_activity")
    assert [last.reason(v) for v in (np.nan, 0.2, 1.0, 12.0)] == [
        "No activity yet", "Last activity today", "Last activity 1 day ago",
        "Last activity 12 days ago"]
    assert describe_feature("is_free_mail").reason(1.0) == "Free-mail address: yes"


def test_a_config_template_replaces_the_catalogue_forms():
    info = describe_feature("web_visit_30d", factor_templates={"web_visit": "Site hits: {value}"})
    assert info.reason(1.0) == "Site hits: 1.0" and info.reason(0.0) == "Site hits: 0.0"
    assert info.count  # still an absence: never a reason for points in its favour


def test_every_count_with_a_known_direction_is_constrained():
    for base, entry in ACTIVITY_CATALOGUE.items():
        expected = {"engagement": 1, "negative": -1}[entry.measure]
        assert entry.monotone == (0 if base == "email_sent" else expected), base
    assert describe_feature("page_careers_30d").monotone == -1
    assert describe_feature("high_value_visits_30d").monotone == 1
    assert describe_feature("decayed_activity").monotone == 1


def test_a_factor_has_at_most_one_display_feature():
    a = FeatureInfo("a", "F", "engagement", "engagement", "numeric", display=True)
    b = FeatureInfo("b", "F", "engagement", "engagement", "numeric", display=True)
    with pytest.raises(ValueError, match="two display features"):
        FeatureSpec([a, b])
    spec = FeatureSpec([describe_feature(n) for n in (
        "days_since_last_activity", "days_since_first_activity", "decayed_activity")])
    assert spec.display_of("Recency of activity") == "days_since_last_activity"


# -- reason sentences -----------------------------------------------------------------------------
def _spec():
    return FeatureSpec([describe_feature(n) for n in (
        "seniority", "web_visit_7d", "web_visit_30d", "days_since_last_activity",
        "decayed_activity", "email_sent_30d")])


def _frames(rows, shares_rows):
    spec = _spec()
    X = pd.DataFrame(rows, columns=spec.names)
    shares = pd.DataFrame(shares_rows, columns=spec.names, dtype="float64")
    factor_shares = shares.T.groupby([spec.factor_of(c) for c in shares.columns],
                                     sort=False).sum().T[spec.factors]
    points = factor_shares * 10.0  # any positive scale keeps the signs
    return spec, X, shares, points


def test_a_zero_count_is_a_reason_against_only():
    spec, X, shares, points = _frames(
        [["vp", 0.0, 0.0, 3.0, 1.2, 1.0], ["vp", 0.0, 0.0, 3.0, 1.2, 0.0]],
        [[0.3, -0.1, -0.6, 0.0, 0.0, 0.0], [0.3, 0.1, 0.4, 0.0, 0.0, 0.2]])
    texts = reason_texts(points, shares, X, spec, top=3)
    first = list(texts.loc[0, ["reason_1", "reason_2", "reason_3"]])
    assert "No website visits in the last 30 days: -7" in first  # the 30d window pushes hardest
    # row 1: "no visits" and "no emails" carry positive points (a model without constraints):
    # never voiced
    second = " | ".join(texts.loc[1])
    assert "No website" not in second and "No emails" not in second
    assert texts.loc[1, "reason_1"] == "Seniority: vp: +3"


def test_what_fit_and_engagement_add_together_is_never_a_reason():
    spec, X, shares, points = _frames([["vp", 2.0, 5.0, 4.0, 1.0, 1.0]],
                                      [[0.3, 0.0, 0.2, 0.0, 0.0, 0.0]])
    points[INTERACTION] = -40.0  # larger than any factor
    texts = reason_texts(points, shares, X, spec, top=3)
    assert texts.loc[0, "reason_1"] == "Seniority: vp: +3"
    assert not any("together" in t for t in texts.loc[0])


def test_a_factor_is_voiced_by_its_display_feature():
    spec, X, shares, points = _frames(
        [["vp", 2.0, 5.0, 4.0, 8.37, 1.0], ["vp", 2.0, 5.0, np.nan, 0.0, 1.0]],
        [[0.0, 0.0, 0.0, 0.1, 0.9, 0.0], [0.0, 0.0, 0.0, -0.4, -0.1, 0.0]])
    texts = reason_texts(points, shares, X, spec, top=1)
    assert texts.loc[0, "reason_1"] == "Last activity 4 days ago: +10"
    assert texts.loc[1, "reason_1"] == "No activity yet: -5"
    assert "8.4" not in " ".join(texts.loc[0])


def test_the_voice_pushes_in_the_direction_of_the_points():
    # 7-day window against, 30-day window for: the factor is positive, the 30-day count speaks
    spec, X, shares, points = _frames([["vp", 0.0, 6.0, 1.0, 1.0, 0.0]],
                                      [[0.0, -0.2, 0.5, 0.0, 0.0, 0.0]])
    assert reason_texts(points, shares, X, spec, top=1).loc[0, "reason_1"] == \
        "Visited the website 6 times in 30 days: +3"


# -- grade independent of engagement --------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(arrays("float64", st.tuples(st.integers(1, 12), st.just(4)),
              elements=st.floats(-3, 3, allow_nan=False)),
       st.floats(-4, 1), st.floats(-3, 3, allow_nan=False))
def test_the_same_fit_shares_give_the_same_fit_points_at_any_engagement(shares, base, other):
    groups = ["fit", "fit", "engagement", "engagement"]
    points, interaction, base_score = split_points(shares, groups, base, sigmoid)
    moved = shares.copy()
    moved[:, 2:] += other  # the same leads, more or less engaged
    points2, interaction2, _ = split_points(moved, groups, base, sigmoid)
    np.testing.assert_allclose(points2[:, :2], points[:, :2], atol=1e-9)
    # each axis moves through the scale on its own: fit points are g(base + F) - g(base)
    np.testing.assert_allclose(points[:, :2].sum(axis=1),
                               100 * (sigmoid(base + shares[:, :2].sum(axis=1)) - sigmoid(base)),
                               atol=1e-9)
    for p, i, s in ((points, interaction, shares), (points2, interaction2, moved)):
        np.testing.assert_allclose(base_score + p.sum(axis=1) + i,
                                   100 * sigmoid(base + s.sum(axis=1)), atol=1e-9)
    assert np.all(points * shares >= -1e-12)


def test_split_points_golden_and_order_independent():
    shares = np.array([[1.0, 1.0]])
    points, interaction, base_score = split_points(shares, ["fit", "engagement"], -2.0, sigmoid)
    one = 100 * (sigmoid(-1.0) - sigmoid(-2.0))  # 14.97 each, with the other at the base
    assert points[0] == pytest.approx([one, one], abs=1e-9)
    assert interaction[0] == pytest.approx(100 * sigmoid(0.0) - base_score - 2 * one, abs=1e-9)
    flipped, interaction_f, _ = split_points(shares[:, ::-1], ["engagement", "fit"], -2.0,
                                             sigmoid)
    np.testing.assert_allclose(flipped[:, ::-1], points)
    np.testing.assert_allclose(interaction_f, interaction)
    # one group only: exactly the plain Aumann-Shapley points, nothing left over
    alone, rest, _ = split_points(np.array([[1.5, -0.5]]), ["fit", "fit"], -2.0, sigmoid)
    np.testing.assert_allclose(alone, shares_to_points(np.array([[1.5, -0.5]]), -2.0, sigmoid)[0])
    assert rest[0] == pytest.approx(0.0, abs=1e-12)


def _lead_table(n, rng):
    spec = FeatureSpec([describe_feature(n) for n in (
        "company_employees", "web_visit_30d", "page_pricing_30d")])
    X = pd.DataFrame({"company_employees": rng.lognormal(4, 1.5, n).round(),
                      "web_visit_30d": rng.poisson(2, n).astype(float),
                      "page_pricing_30d": rng.poisson(0.5, n).astype(float)})
    logit = (-2.5 + 0.4 * np.log1p(X["company_employees"]) - 1.5 + 0.3 * X["web_visit_30d"]
             + 0.8 * X["page_pricing_30d"])
    y = (rng.random(n) < sigmoid(logit)).astype(int)
    return spec, X, y


def test_a_scorer_grades_the_same_fit_alike_at_any_engagement():
    rng = np.random.default_rng(3)
    spec, X, y = _lead_table(6000, rng)
    scorer = LogisticScorer(spec, calibration_methods=("sigmoid",)).fit(
        X[:4000], y[:4000], X[4000:], y[4000:])
    # one company, engagement from none to a lot
    leads = pd.DataFrame({"company_employees": 250.0, "web_visit_30d": [0.0, 3.0, 12.0, 30.0],
                          "page_pricing_30d": [0.0, 1.0, 4.0, 9.0]})
    points = scorer.factor_points(leads)
    fit_pts, eng_pts = group_points(points, spec)
    np.testing.assert_allclose(fit_pts, fit_pts[0], atol=1e-9)
    assert np.all(np.diff(eng_pts) > 0)
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * scorer.predict_proba(leads)[:, 1], atol=1e-6)
    cuts = GradeCuts.fit(*group_points(scorer.factor_points(X), spec), [0.8, 0.5, 0.2],
                         [0.8, 0.5, 0.2])
    expl = explain(scorer, leads, cuts, top=3)
    assert len(set(expl.grade)) == 1 and list(expl.engagement_level) == sorted(
        expl.engagement_level, reverse=True)
    assert INTERACTION in points.columns and INTERACTION not in spec.factors


# -- business directions --------------------------------------------------------------------------
def test_the_logistic_scorer_keeps_the_spec_direction():
    rng = np.random.default_rng(5)
    spec, X, _ = _lead_table(6000, rng)
    # a world where pricing visits *lower* the odds: the spec says +1, so the weight may only
    # vanish, never turn negative
    logit = -1.5 + 0.3 * X["web_visit_30d"] - 0.9 * X["page_pricing_30d"]
    y = (rng.random(len(X)) < sigmoid(logit)).astype(int)
    fitted = LogisticScorer(spec, calibration_methods=("sigmoid",)).fit(
        X[:4000], y[:4000], X[4000:], y[4000:])
    free = LogisticScorer(spec, calibration_methods=("sigmoid",), use_spec_monotone=False).fit(
        X[:4000], y[:4000], X[4000:], y[4000:])
    pricing = fitted.owners_.index("page_pricing_30d")
    assert free.coef_[pricing] < -0.1  # the data alone would reverse it
    assert fitted.coef_[pricing] == 0.0
    more = X.head(200).assign(page_pricing_30d=X.head(200)["page_pricing_30d"] + 3)
    assert np.all(fitted.decision_function(more) >= fitted.decision_function(X.head(200)) - 1e-12)
    none = X.head(200).assign(page_pricing_30d=0.0)
    shares, _ = fitted.contributions(none)
    assert np.all(shares["page_pricing_30d"] <= 1e-12)  # "no pricing visits" never adds points


def test_monotone_directions_skip_categoricals_and_refuse_unknown_features():
    spec = FeatureSpec([describe_feature("seniority"), describe_feature("web_visit_30d"),
                        describe_feature("email_bounce_30d")])
    assert monotone_directions(spec) == [0, 1, -1]
    assert monotone_directions(spec, {"web_visit_30d": 0}) == [0, 0, -1]
    assert monotone_directions(spec, use_spec=False) == [0, 0, 0]
    with pytest.raises(ValueError, match="unknown features"):
        monotone_directions(spec, {"nope": 1})
