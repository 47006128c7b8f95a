"""FeatureBuilder: spec tags, rare and unseen levels, constants, flat mode, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from features.build import OTHER, FeatureBuilder, feature_name
from features.settings import FeatureSettings


def _leads(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(n)],
        "created_at": pd.Timestamp("2025-01-01"),
        "job_title": rng.choice(["VP Sales", "CTO", "Student"], n),
        "email": rng.choice(["a@gmail.com", "b@acme.com"], n),
        "industry": ["software"] * (n - 5) + ["mining"] * 5,
        "employees": rng.integers(1, 9000, n).astype(float),
    })


def test_spec_tags_every_column_and_pools_rare_levels():
    leads = _leads()
    settings = FeatureSettings(categorical=["industry"], rare_level_min_count=10,
                               revenue_column=None)
    builder = FeatureBuilder(settings).fit(leads, None, pd.Timestamp("2025-01-15"))
    X = builder.transform(leads, None, pd.Timestamp("2025-01-15"))
    assert list(X.columns) == builder.spec_.names
    assert {f.group for f in builder.spec_} <= {"fit", "engagement"}
    assert builder.spec_["seniority"].factor == "Seniority"
    assert builder.spec_["is_free_mail"].kind == "negative"
    # "mining" has 5 leads < 10: pooled
    assert builder.levels_["industry"] == ["software", OTHER]
    new = leads.head(3).assign(industry=["software", "mining", "space mining"])
    Xn = builder.transform(new, None, pd.Timestamp("2025-01-15"))
    assert Xn["industry"].tolist()[1:] == [OTHER, OTHER]
    assert isinstance(Xn["industry"].dtype, pd.CategoricalDtype)


def test_constants_are_dropped_with_a_note():
    leads = _leads().assign(industry="software")
    builder = FeatureBuilder(FeatureSettings(categorical=["industry"], revenue_column=None))
    builder.fit(leads, None, pd.Timestamp("2025-01-15"))
    assert "industry" in builder.dropped_
    assert "industry" not in builder.spec_.names


def test_flat_mode_passthrough_and_yes_no():
    leads = pd.DataFrame({
        "lead_id": ["a", "b", "c", "d"],
        "Lead Source": ["Google", "google ", "Select", "Direct"],
        "TotalVisits": [1.0, np.nan, 3.0, 4.0],
        "Do Not Email": [1.0, 0.0, 0.0, 1.0],
        "Newspaper": ["No", "No", "No", "No"],
    })
    settings = FeatureSettings(mode="flat", title_column=None, email_column=None,
                               size_column=None, revenue_column=None, categorical=["Lead Source"],
                               engagement=["TotalVisits"], negative=["Do Not Email"],
                               boolean=["Newspaper"], missing_values=["Select"],
                               rare_level_min_count=1)
    builder = FeatureBuilder(settings).fit(leads, None, None)
    X = builder.transform(leads, None, None)
    assert feature_name("Newspaper") in builder.dropped_  # constant "No"
    source = X["lead_source"].astype(object)
    assert source.iloc[0] == source.iloc[1] == "google"  # case and spaces folded
    assert pd.isna(source.iloc[2])  # "Select" means not answered
    assert builder.spec_["totalvisits"].group == "engagement"
    assert builder.spec_["do_not_email"].kind == "negative"
    assert builder.spec_["do_not_email"].monotone == -1


def test_builder_pickles_and_rebuilds_identically():
    leads = _leads()
    builder = FeatureBuilder(FeatureSettings(categorical=["industry"], revenue_column=None))
    builder.fit(leads, None, pd.Timestamp("2025-01-15"))
    clone = pickle.loads(pickle.dumps(builder))
    pd.testing.assert_frame_equal(builder.transform(leads, None, pd.Timestamp("2025-01-15")),
                                  clone.transform(leads, None, pd.Timestamp("2025-01-15")))
