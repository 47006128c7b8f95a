"""FeatureBuilder: spec tags, rare and unseen levels, constants, flat mode, overrides, errors."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from features.build import OTHER, FeatureBuilder, feature_name
from features.firmographic import (
    REVENUE_BANDS,
    SIZE_BANDS,
    band,
    build_fit_features,
    email_domain_type,
    normalise_category,
)
from features.settings import FeatureSettings
from features.spec import DTYPES, GROUPS, MEASURES, FeatureInfo, FeatureSpec

AS_OF = pd.Timestamp("2025-01-15")


def _leads(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(n)],
        "created_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 10, n),
                                                                    unit="D"),
        "job_title": rng.choice(["VP Sales", "CTO", "Student", None], n),
        "email": rng.choice(["a@gmail.com", "b@acme.com", "c@rivalscore.com", None], n),
        "industry": ["Software"] * (n - 10) + ["mining"] * 5 + [None] * 5,
        "employees": rng.integers(1, 9000, n).astype(float),
        "annual_revenue": rng.uniform(1e5, 5e9, n),
    })


def _activities(leads, seed=0, per_lead=6):
    rng = np.random.default_rng(seed)
    lead = np.repeat(leads["lead_id"].to_numpy(), per_lead)
    return pd.DataFrame({
        "lead_id": lead,
        "occurred_at": np.repeat(leads["created_at"].to_numpy(), per_lead)
        + pd.to_timedelta(rng.uniform(0, 20, len(lead)), unit="D").to_numpy(),
        "activity_type": rng.choice(["web_visit", "email_open", "email_sent", "sales_call"],
                                    len(lead)),
        "detail": rng.choice(["pricing", "home", "careers"], len(lead)),
    })


SETTINGS = FeatureSettings(categorical=["industry"], rare_level_min_count=10,
                           competitor_domains=["rivalscore.com"])


@pytest.fixture(scope="module")
def fitted():
    leads = _leads()
    activities = _activities(leads)
    builder = FeatureBuilder(SETTINGS).fit(leads, activities, AS_OF)
    return builder, leads, activities, builder.transform(leads, activities, AS_OF)


# ------------------------------------------------------------------------------------- spec
def test_spec_tags_every_column(fitted):
    builder, _, _, X = fitted
    spec = builder.spec_
    assert list(X.columns) == spec.names == builder.get_feature_names_out()
    assert X.index.name == "lead_id" and X.index.is_unique
    for info in spec:
        assert info.measure in MEASURES and info.group in GROUPS and info.dtype in DTYPES
        assert info.monotone in (-1, 0, 1) and "{value" in info.template and info.factor
        if info.dtype == "categorical":
            assert isinstance(X[info.name].dtype, pd.CategoricalDtype)
            assert list(X[info.name].cat.categories) == builder.levels_[info.name]
        else:
            assert X[info.name].dtype == "float64"
    assert spec["seniority"].factor == "Seniority"
    assert spec["is_free_mail"].measure == "negative" and spec["is_free_mail"].group == "fit"
    assert spec["is_student"].measure == "negative" and spec["is_student"].group == "fit"
    assert spec["page_careers_30d"].measure == "negative"
    assert spec["page_careers_30d"].group == "engagement"
    assert spec["page_pricing_30d"].template == "Visited pricing {value:.0f} times in 30 days"
    assert spec.factor_of("page_pricing_7d") == "Pricing page interest"
    assert spec.features_of_factor("Company size") == [spec["company_size_band"],
                                                       spec["company_employees"]]
    assert len(spec.by_group("fit")) + len(spec.by_group("engagement")) == len(spec)
    assert spec.monotone_constraints()[spec.names.index("page_pricing_30d")] == 1
    # the raw title and email never become features
    assert "job_title" not in X.columns and "email" not in X.columns
    assert not X.select_dtypes("category").apply(
        lambda c: c.astype(str).str.contains("@").any()).any()


def test_spec_round_trips_through_json(fitted):
    spec = fitted[0].spec_
    again = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.names == spec.names and again.factors == spec.factors


def test_spec_refuses_bad_tags():
    with pytest.raises(ValueError, match="measure"):
        FeatureInfo("x", "X", "great", "fit", "numeric")
    with pytest.raises(ValueError, match="duplicate"):
        FeatureSpec([FeatureInfo("x", "X", "fit", "fit", "numeric")] * 2)
    with pytest.raises(ValueError, match="mixes"):
        FeatureSpec([FeatureInfo("x", "X", "fit", "fit", "numeric"),
                     FeatureInfo("y", "X", "engagement", "engagement", "numeric")])
    assert FeatureInfo("x", "X", "fit", "fit", "numeric", 0, "{value:.0f}x").reason(3.0) == "3x"


# ------------------------------------------------------------------------------ categoricals
def test_rare_levels_pooled_unseen_to_other_missing_stays_missing(fitted):
    builder, leads, activities, X = fitted
    # "mining" has 5 training leads < 10: pooled; "Software" is case-folded.
    assert builder.levels_["industry"] == ["software", OTHER]
    assert X["industry"].isna().sum() == 5
    new = leads.head(4).assign(industry=["SOFTWARE ", "mining", "space mining", None])
    Xn = builder.transform(new, activities, AS_OF)
    assert Xn["industry"].tolist()[:3] == ["software", OTHER, OTHER]
    assert pd.isna(Xn["industry"].iloc[3])
    assert list(Xn["industry"].cat.categories) == ["software", OTHER]


def test_band_levels_keep_band_order(fitted):
    builder = fitted[0]
    size_levels = builder.levels_["company_size_band"]
    assert size_levels[:-1] == [b for b in SIZE_BANDS[1] if b in size_levels]
    assert size_levels[-1] == OTHER


def test_bands_edges_and_invalid_values():
    size = band(pd.Series([0, 1, 10, 11, 50, 51, 5000, 5001, -3, np.nan, "12"]), SIZE_BANDS)
    assert size.tolist()[:8] == ["1-10", "1-10", "1-10", "11-50", "11-50", "51-200",
                                 "1001-5000", "5000+"]
    assert size.iloc[8:10].isna().all() and size.iloc[10] == "11-50"
    revenue = band(pd.Series([999_999.0, 1e6, 2e9]), REVENUE_BANDS, upper_inclusive=False)
    assert revenue.tolist() == ["<1M", "1-10M", "1B+"]


def test_email_domain_types():
    emails = pd.Series(["a@gmail.com", "B@Acme.COM ", "c@RivalScore.com", "d@eu.rivalscore.com",
                        None, "not-an-email", "x@localhost"])
    domain_type = email_domain_type(emails, ["gmail.com"], ["rivalscore.com"])
    assert domain_type.tolist()[:4] == ["free_mail", "corporate", "competitor", "competitor"]
    assert domain_type.iloc[4:].isna().all()


def test_normalise_category():
    values = pd.Series(["Google", "google ", " GOOGLE", "Direct  Traffic", "Select", "", None])
    out = normalise_category(values, ["select"])
    assert out.tolist()[:4] == ["google", "google", "google", "direct traffic"]
    assert out.iloc[4:].isna().all()


def test_fit_features_flags_and_no_pii():
    leads = _leads(16).head(8).assign(
        job_title=["Student"] * 4 + ["CTO"] * 4,
        email=["a@gmail.com", "b@acme.com", None, "c@rivalscore.com"] * 2)
    fit = build_fit_features(leads, SETTINGS)
    assert fit["is_student"].tolist() == [1.0] * 4 + [0.0] * 4
    assert fit["is_free_mail"].tolist()[:4] == [1.0, 0.0, 0.0, 0.0]
    assert fit["is_competitor"].tolist()[:4] == [0.0, 0.0, 0.0, 1.0]
    assert {"job_title", "email"}.isdisjoint(fit.columns)


# -------------------------------------------------------------------------------- constants
def test_constants_are_dropped_with_a_note():
    leads = _leads().assign(industry="software", employees=np.nan)
    builder = FeatureBuilder(FeatureSettings(categorical=["industry"], revenue_column=None))
    X = builder.fit_transform(leads, None, AS_OF)
    assert "industry" in builder.dropped_ and "always 'software'" in builder.dropped_["industry"]
    assert "always missing" in builder.dropped_["company_employees"]
    assert "web_visit_30d" not in X.columns  # no events at all: every count is constant
    assert set(builder.dropped_).isdisjoint(builder.spec_.names)
    assert "industry" not in builder.levels_


def test_categorical_with_only_rare_levels_is_dropped():
    leads = _leads().assign(industry=[f"ind{i}" for i in range(120)])
    builder = FeatureBuilder(FeatureSettings(categorical=["industry"])).fit(leads, None, AS_OF)
    assert "industry" in builder.dropped_  # every lead pooled into "other"


# -------------------------------------------------------------------------------- flat mode
FLAT = FeatureSettings(mode="flat", title_column=None, email_column=None, size_column=None,
                       revenue_column=None, categorical=["Lead Source"],
                       numeric=["Asymmetrique Score"], engagement=["TotalVisits"],
                       negative=["Do Not Email", "Bounces"], boolean=["Newspaper", "Search"],
                       missing_values=["Select"], rare_level_min_count=1)


def _flat_leads():
    return pd.DataFrame({
        "lead_id": ["a", "b", "c", "d"],
        "Lead Source": ["Google", "google ", "Select", "Direct Traffic"],
        "Asymmetrique Score": [14.0, 15.0, np.nan, 16.0],
        "TotalVisits": [1.0, np.nan, 3.0, 4.0],
        "Do Not Email": ["No", "Yes", "No", "No"],
        "Bounces": [0, 2, 5, 1],
        "Newspaper": ["No", "No", "No", "No"],
        "Search": ["Yes", "No", "no", None],
    })


def test_flat_mode_passthrough_yes_no_and_constants():
    leads = _flat_leads()
    builder = FeatureBuilder(FLAT).fit(leads)
    X = builder.transform(leads)
    assert feature_name("Newspaper") in builder.dropped_  # constant "No"
    # declared roles in order: categorical, numeric, boolean, engagement, negative
    assert list(X.columns) == ["lead_source", "asymmetrique_score", "search", "totalvisits",
                               "do_not_email", "bounces"]
    source = X["lead_source"].astype(object)
    assert source.iloc[0] == source.iloc[1] == "google"  # case and spaces folded
    assert pd.isna(source.iloc[2])  # "Select" means not answered
    assert X["do_not_email"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert X["search"].iloc[:3].tolist() == [1.0, 0.0, 0.0] and np.isnan(X["search"].iloc[3])
    assert X["totalvisits"].iloc[[0, 2, 3]].tolist() == [1.0, 3.0, 4.0]
    spec = builder.spec_
    assert spec["totalvisits"].group == "engagement" and spec["totalvisits"].measure == "engagement"
    assert spec["do_not_email"].measure == "negative" and spec["do_not_email"].monotone == -1
    assert spec["do_not_email"].dtype == "boolean"
    assert spec["bounces"].dtype == "numeric"  # counts, not a 0/1 flag
    assert spec["lead_source"].factor == "Lead source"
    assert spec["asymmetrique_score"].group == "fit"
    # activities and as_of are not used in flat mode
    pd.testing.assert_frame_equal(X, builder.transform(leads, pd.DataFrame(), AS_OF))


def test_factor_name_and_template_overrides():
    s = FLAT.model_copy(update={
        "factor_names": {"Lead Source": "Where they came from", "totalvisits": "Visits"},
        "factor_templates": {"totalvisits": "{value:.0f} visits"}})
    spec = FeatureBuilder(s).fit(_flat_leads()).spec_
    assert spec["lead_source"].factor == "Where they came from"
    assert spec["totalvisits"].factor == "Visits"
    assert spec["totalvisits"].reason(3.0) == "3 visits"
    events = FeatureSettings(factor_names={"page_pricing": "Pricing", "Webinars": "Events"},
                             factor_templates={"page_pricing_7": "Pricing x{value:.0f} (7d)"})
    leads = _leads(40)
    builder = FeatureBuilder(events).fit(leads, _activities(leads), AS_OF)
    assert builder.spec_["page_pricing_30d"].factor == "Pricing"
    assert builder.spec_["page_pricing_7d"].template == "Pricing x{value:.0f} (7d)"


# ------------------------------------------------------------------------- pickling, errors
def test_builder_pickles_and_rebuilds_identically(fitted):
    builder, leads, activities, X = fitted
    clone = pickle.loads(pickle.dumps(builder))
    pd.testing.assert_frame_equal(X, clone.transform(leads, activities, AS_OF))


def test_numeric_ids_in_one_table_and_strings_in_the_other():
    leads = _leads(30).assign(lead_id=range(30))
    activities = _activities(leads).assign(lead_id=lambda a: a["lead_id"].astype(str))
    builder = FeatureBuilder(SETTINGS).fit(leads, activities, AS_OF)
    X = builder.transform(leads, activities, AS_OF)
    assert X.index.tolist() == [str(i) for i in range(30)]
    assert X["activity_total"].sum() > 0


def test_errors_are_clear(fitted):
    builder, leads, activities, _ = fitted
    with pytest.raises(ValueError, match="not fitted"):
        FeatureBuilder(SETTINGS).transform(leads, activities, AS_OF)
    with pytest.raises(ValueError, match="duplicate lead_id"):
        builder.transform(pd.concat([leads, leads.head(1)]), activities, AS_OF)
    with pytest.raises(ValueError, match="needs as_of"):
        builder.transform(leads, activities, None)
    with pytest.raises(ValueError, match="lack declared feature column"):
        builder.transform(leads.drop(columns="industry"), activities, AS_OF)
    with pytest.raises(ValueError, match="cannot build feature"):
        builder.transform(leads.drop(columns="employees"), activities, AS_OF)
    with pytest.raises(ValueError, match="no time"):
        builder.transform(leads, activities, pd.Series(AS_OF, index=leads["lead_id"].head(3)))


def test_declared_column_may_not_shadow_a_derived_one():
    leads = _leads(40).assign(seniority="vp")
    with pytest.raises(ValueError, match="already derived"):
        FeatureBuilder(FeatureSettings(categorical=["seniority"])).fit(leads, None, AS_OF)
    flat = FLAT.model_copy(update={"categorical": ["Lead Source", "Seniority"]})
    X = FeatureBuilder(flat).fit_transform(_flat_leads().assign(Seniority=["VP", "vp", "x", "x"]))
    assert X["seniority"].astype(object).tolist() == ["vp", "vp", "x", "x"]
    with pytest.raises(ValueError, match="both give feature"):
        FeatureBuilder(FLAT.model_copy(update={"numeric": ["lead source"]})).fit(_flat_leads())


def test_one_day_window_reads_well():
    leads = _leads(40)
    builder = FeatureBuilder(FeatureSettings(windows_days=[1, 7])).fit(
        leads, _activities(leads), AS_OF)
    info = builder.spec_["page_pricing_1d"]
    assert info.template == "Visited pricing {value:.0f} times in 1 day"
    assert info.reason(0.0) == "No pricing page visits in the last day"
    assert info.reason(1.0) == "Visited pricing once in 1 day"


def test_settings_are_validated():
    with pytest.raises(ValidationError, match="extra"):
        FeatureSettings(windows=[7])
    with pytest.raises(ValidationError, match="positive"):
        FeatureSettings(windows_days=[0, 7])
    with pytest.raises(ValidationError, match="both"):
        FeatureSettings(categorical=["a"], numeric=["a"])
    with pytest.raises(ValidationError):
        FeatureSettings(mode="stream")
    s = FeatureSettings(windows_days=[90, 7, 7], high_value_pages=["Pricing "])
    assert s.windows_days == [7, 90] and s.high_value_pages == ["pricing"]
    with pytest.raises(ValidationError):
        s.mode = "flat"  # frozen


@pytest.mark.realdata
def test_real_x_education_export_builds(x_education_config):
    tree = yaml.safe_load(x_education_config.read_text())
    raw = pd.read_csv(tree["dataset"]["leads"])  # relative to the project root (the cwd)
    leaky = set(tree["dataset"]["leaky"])
    features = {k: ([c for c in v if c not in leaky] if isinstance(v, list) else v)
                for k, v in tree["features"].items()}
    leads = raw.rename(columns={"Prospect ID": "lead_id"})
    builder = FeatureBuilder(FeatureSettings(**features)).fit(leads)
    X = builder.transform(leads)
    assert X.shape[0] == 9240 and X.index.is_unique
    assert "magazine" in builder.dropped_  # every lead answered "No"
    assert set(X["do_not_email"].unique()) == {0.0, 1.0}
    assert builder.spec_["total_time_spent_on_website"].group == "engagement"
    assert "select" not in builder.levels_["specialization"]


def test_grid_rows_get_the_fit_features_of_their_own_record():
    # Fit features are computed once per distinct lead record across the grid's rows: equal to
    # building each row alone, and a row whose record differs keeps its own values.
    leads = _leads(40, seed=3)
    rows = pd.concat([leads, leads], ignore_index=True)
    rows.index = pd.Index([f"r{i}" for i in range(len(rows))], name="row")
    rows.loc["r40", "job_title"] = "Student"
    rows.loc["r0", "job_title"] = "CTO"
    as_of = pd.Series(np.r_[np.full(40, AS_OF.value), np.full(40, (AS_OF + pd.Timedelta(days=7))
                            .value)].astype("datetime64[ns]"), index=rows.index)
    builder = FeatureBuilder(SETTINGS).fit(leads, _activities(leads), AS_OF)
    table = builder.transform(rows, _activities(leads), as_of)
    assert table.loc["r0", "seniority"] != table.loc["r40", "seniority"]
    for key in ("r0", "r40", "r7", "r47"):
        alone = builder.transform(rows.loc[[key]], _activities(leads), as_of.loc[key])
        pd.testing.assert_frame_equal(table.loc[[key]], alone.set_axis([key]),
                                      check_names=False, check_exact=True)
