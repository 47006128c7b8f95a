"""The foreign-shaped export generators (tests/foreign/exports.py) and the vendor presets.

The generators are test infrastructure: these tests check that each world is what it claims
(deterministic bytes, row counts, encoding and separator, events after creation, won leads with
close dates, a base rate and a learnable signal a time split can train on), and tie each preset
in ``pipeline/data/presets`` to the fixture of the same vendor: every column a preset names
exists in the fixture's header, every activity type and status value of the fixture is mapped
(or deliberately left out), and the preset validates as part of a config.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from features.activity import page_name
from pipeline.data.config import Config, _deep_merge, packaged_defaults_path, read_yaml_text
from pipeline.data.errors import DataError
from pipeline.data.io import read_table
from tests.foreign import exports

PRESETS = packaged_defaults_path().with_name("presets")
CRM = ("salesforce", "hubspot", "marketo")
FLAT = ("bank_flat", "sessions_flat")
AS_OF_DAYS, HORIZON_DAYS = 14, 180


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Each shape written once per module, at its default size and seed."""
    cache: dict[str, exports.Export] = {}

    def get(shape: str) -> exports.Export:
        if shape not in cache:
            cache[shape] = exports.SHAPES[shape](tmp_path_factory.mktemp(shape))
        return cache[shape]

    return get


def _leads(ex: exports.Export) -> pd.DataFrame:
    return read_table(ex.leads, ex.delimiter, ex.encoding)


def _activities(ex: exports.Export) -> pd.DataFrame:
    return read_table(ex.activities, ex.delimiter, ex.encoding)


def _dates(values: pd.Series) -> pd.Series:
    """Parsed as the contract parses them: any offset to UTC, no offset read as UTC."""
    parsed = pd.to_datetime(values.astype("string").str.strip(), utc=True, format="mixed")
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def _preset(shape: str) -> dict:
    return read_yaml_text((PRESETS / f"{shape}.yaml").read_text())


def _merge(base: dict, override: dict) -> dict:
    return _deep_merge(base, override)  # the layering load_config does


def _config(shape: str, ex: exports.Export | None = None, over_defaults: bool = False) -> Config:
    """The preset in a minimal config (name and paths added), optionally over the defaults."""
    paths = {"name": f"{shape}_export", "leads": str(ex.leads if ex else f"{shape}/leads.csv"),
             "activities": str(ex.activities if ex else f"{shape}/activities.csv")}
    tree = _merge({"dataset": paths}, _preset(shape))
    if over_defaults:
        tree = _merge(read_yaml_text(packaged_defaults_path().read_text()), tree)
    return Config.model_validate(tree)


def _canonical_outcome(shape: str, values: pd.Series) -> pd.Series:
    """won / lost / open of each raw status value, by the preset's outcome_values."""
    table = {v.strip().casefold(): k for k, vs in _config(shape).dataset.outcome_values.items()
             for v in vs}
    return values.astype("string").str.strip().str.casefold().map(table)


# --------------------------------------------------------------------------------------------
# the generators
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [*CRM, *FLAT])
def test_same_seed_same_bytes_other_seed_other_bytes(shape, tmp_path):
    make = exports.SHAPES[shape]
    size = {"n_rows": 400} if shape in FLAT else {"n_leads": 300}
    first, again = make(tmp_path / "a", seed=5, **size), make(tmp_path / "b", seed=5, **size)
    other = make(tmp_path / "c", seed=6, **size)
    files = [("leads", first.leads, again.leads, other.leads)]
    if first.activities is not None:
        files.append(("activities", first.activities, again.activities, other.activities))
    for what, a, b, c in files:
        assert a.read_bytes() == b.read_bytes(), f"{shape} {what}: same seed, other bytes"
        assert a.read_bytes() != c.read_bytes(), f"{shape} {what}: other seed, same bytes"


@pytest.mark.parametrize("shape", [*CRM, *FLAT])
def test_row_counts_and_outcome_counts(shape, made):
    ex = made(shape)
    leads = _leads(ex)
    assert len(leads) == ex.n_leads
    assert ex.n_won + ex.n_lost + ex.n_open == ex.n_leads
    if ex.activities is not None:
        assert len(_activities(ex)) == ex.n_activities > 10 * ex.n_leads
    if shape in CRM:
        outcome = _canonical_outcome(shape, leads[ex.outcome_column])
        assert outcome.notna().all(), "every status value is mapped by the preset"
        assert outcome.value_counts().to_dict() == {"won": ex.n_won, "lost": ex.n_lost,
                                                    "open": ex.n_open}
    else:
        target = leads[ex.outcome_column].str.strip()
        assert (target == ex.won_values[0]).sum() == ex.n_won


def test_bank_file_is_latin1_semicolon_separated_without_id(made):
    ex = made("bank_flat")
    raw = ex.leads.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    header = text.splitlines()[0]
    assert "," not in header and header.count(";") == 16
    assert "técnico" in text and "administração" in text
    with pytest.raises(DataError, match="not valid utf-8"):
        read_table(ex.leads)  # the reader's defaults: utf-8, ","
    leads = _leads(ex)
    assert ex.id_column is None and not any(c.casefold() == "id" for c in leads.columns)
    assert set(leads["y"]) == {"yes", "no"} and set(leads["default"]) == {"yes", "no"}


def test_bank_duration_is_the_leak_and_the_rest_is_learnable(made):
    leads = _leads(made("bank_flat"))
    y = (leads["y"] == "yes").to_numpy()
    assert 0.08 <= y.mean() <= 0.15
    duration_auc = roc_auc_score(y, leads["duration"].astype(float))
    assert duration_auc >= 0.95, duration_auc
    for column in ("age", "balance", "campaign", "pdays"):
        auc = roc_auc_score(y, leads[column].astype(float))
        assert max(auc, 1 - auc) < 0.75, column
    success = leads["poutcome"] == "success"
    assert y[success].mean() > 2 * y[~success].mean()


def test_sessions_are_in_time_order_with_drift(made):
    ex = made("sessions_flat")
    leads = _leads(ex)
    assert ex.delimiter == "," and ex.encoding == "utf-8" and ex.id_column is None
    assert not [c for c in leads.columns if "date" in c.casefold() or "time" in c.casefold()]
    assert set(leads["Revenue"]) == set(leads["Weekend"]) == {"TRUE", "FALSE"}
    y = (leads["Revenue"] == "TRUE").to_numpy()
    n = len(y)
    old, new = slice(0, int(0.65 * n)), slice(int(0.8 * n), n)
    assert y[old].sum() >= 150
    assert y[new].mean() - y[old].mean() > 0.05, "conversion drifts upwards"
    page_values = leads["PageValues"].astype(float).to_numpy()
    assert (page_values[new] > 0).mean() > (page_values[old] > 0).mean() + 0.05
    assert np.median(page_values[new][page_values[new] > 0]) > \
        np.median(page_values[old][page_values[old] > 0])
    months = pd.unique(leads["Month"])
    assert list(months) == list(exports._SESSION_MONTHS), "months appear in time order"
    auc = roc_auc_score(y, page_values)
    assert 0.6 < auc < 0.95


@pytest.mark.parametrize("shape", CRM)
def test_events_after_creation_not_after_export_and_of_known_leads(shape, made):
    ex = made(shape)
    leads, acts = _leads(ex), _activities(ex)
    created = pd.Series(_dates(leads[ex.created_column]).to_numpy(),
                        index=leads[ex.id_column].str.strip())
    assert created.notna().all() and created.index.is_unique
    occurred = _dates(acts[ex.occurred_column])
    lead_of = acts[ex.activity_id_column].str.strip()
    assert occurred.notna().all()
    assert lead_of.isin(created.index).all()
    assert (occurred.to_numpy() > lead_of.map(created).to_numpy()).all()
    assert occurred.max() <= ex.export_date
    assert created.max() <= ex.export_date
    assert created.max() - created.min() > pd.Timedelta(days=850), "about 30 months of leads"


def test_salesforce_dates_mix_offsets_and_flags(made):
    ex = made("salesforce")
    leads = _leads(ex)
    created = leads["CreatedDate"]
    for suffix in ("Z", "+0000", "-0500"):
        assert created.str.endswith(suffix).mean() > 0.1, suffix
    raw = ex.leads.read_text()
    assert raw.startswith('"Id","FirstName"'), "Data Loader quotes every field"
    assert set(leads["IsConverted"]) == {"true", "false"}
    assert leads["NumberOfEmployees"].isna().mean() > 0.05, "blank cells"
    assert (leads["Status"] != leads["Status"].str.strip()).any(), "trailing spaces"


@pytest.mark.parametrize("shape", CRM)
def test_won_leads_have_close_dates_after_creation(shape, made):
    ex = made(shape)
    leads = _leads(ex)
    outcome = _canonical_outcome(shape, leads[ex.outcome_column])
    won = (outcome == "won").to_numpy()
    close = _dates(leads[ex.outcome_at_column])
    created = _dates(leads[ex.created_column])
    assert close[won].notna().all()
    assert close[~won].isna().all(), "only won leads have a close date"
    assert (close[won] > created[won]).all()
    assert (close[won] <= ex.export_date).all()
    if shape == "salesforce":
        assert (leads.loc[won, "IsConverted"] == "true").all()
        assert (leads.loc[~won, "IsConverted"] == "false").all()


def _eligible(ex: exports.Export, leads: pd.DataFrame) -> pd.DataFrame:
    """As the pipeline builds a training set: as_of = created + 14 days, a 180-day horizon."""
    shape = ex.shape
    frame = pd.DataFrame({
        "lead_id": leads[ex.id_column].str.strip(),
        "created": _dates(leads[ex.created_column]),
        "outcome": _canonical_outcome(shape, leads[ex.outcome_column]),
        "close": _dates(leads[ex.outcome_at_column]),
    })
    frame["as_of"] = frame["created"] + pd.Timedelta(days=AS_OF_DAYS)
    end = frame["as_of"] + pd.Timedelta(days=HORIZON_DAYS)
    decided_early = frame["outcome"].isin(["won", "lost"]) & (frame["close"] < frame["as_of"])
    keep = (end <= ex.export_date) & ~decided_early
    frame["y"] = ((frame["outcome"] == "won") & (frame["close"] >= frame["as_of"])
                  & (frame["close"] < end)).astype(int)
    return frame[keep].sort_values(["as_of", "lead_id"], kind="mergesort")


def _engagement(ex: exports.Export, eligible: pd.DataFrame) -> pd.DataFrame:
    """Per eligible lead: buying-signal and negative events strictly before its as_of."""
    acts = _activities(ex)
    mapping = _config(ex.shape).dataset.activity_mapping()
    raw = acts[ex.activity_type_column].str.strip()
    kinds = {v: mapping.canonical(v) for v in raw.unique()}
    detail_column = _config(ex.shape).dataset.activity_columns.detail
    events = pd.DataFrame({"lead_id": acts[ex.activity_id_column].str.strip(),
                           "at": _dates(acts[ex.occurred_column]), "kind": raw.map(kinds),
                           "detail": acts[detail_column]})
    pages = ["pricing", "demo", "case_study"]
    page = {d: page_name(d, pages) for d in events["detail"].dropna().unique()}
    events["page"] = events["detail"].map(page)
    events = events.merge(eligible[["lead_id", "as_of"]], on="lead_id")
    events = events[events["at"] < events["as_of"]]
    buying = events["kind"].isin(["demo_request", "email_click"]) | (
        (events["kind"] == "web_visit") & events["page"].isin(["pricing", "demo"]))
    negative = events["kind"].isin(["email_bounce", "email_unsubscribe"])
    out = pd.DataFrame(index=eligible["lead_id"])
    out["buying"] = events[buying].groupby("lead_id").size().reindex(out.index, fill_value=0)
    out["negative"] = events[negative].groupby("lead_id").size().reindex(out.index,
                                                                         fill_value=0)
    return out


@pytest.mark.parametrize("shape", CRM)
def test_base_rate_and_conversions_a_time_split_trains_on(shape, made):
    ex = made(shape)
    leads = _leads(ex)
    decided = ex.n_won + ex.n_lost
    assert 0.08 <= ex.n_won / decided <= 0.15
    created = _dates(leads[ex.created_column])
    recent = (created > ex.export_date - pd.Timedelta(days=183)).to_numpy()
    outcome = _canonical_outcome(shape, leads[ex.outcome_column]).to_numpy()
    assert (outcome[recent] == "open").mean() > 0.5, "leads of the last months are mostly open"
    eligible = _eligible(ex, leads)
    train = eligible.iloc[: int(0.65 * len(eligible))]
    assert train["y"].sum() >= 150
    assert 0.06 <= eligible["y"].mean() <= 0.15


@pytest.mark.parametrize("shape", CRM)
def test_signal_is_learnable_but_not_given_away(shape, made):
    ex = made(shape)
    eligible = _eligible(ex, _leads(ex))
    signal = _engagement(ex, eligible)
    y = eligible["y"].to_numpy()
    auc = roc_auc_score(y, signal["buying"].to_numpy())
    assert 0.58 < auc < 0.9, auc
    negative = signal["negative"].to_numpy() > 0
    assert negative.mean() > 0.02
    assert y[negative].mean() < 0.6 * y[~negative].mean(), "bounces and unsubscribes predict no"


# --------------------------------------------------------------------------------------------
# the presets, tied to the fixtures
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", CRM)
def test_preset_parses_the_same_with_any_yaml_reader(shape):
    text = (PRESETS / f"{shape}.yaml").read_text()
    safe = yaml.safe_load(text)
    assert safe == read_yaml_text(text), "a value is read differently under YAML 1.1 and 1.2"
    assert set(safe) == {"dataset", "features"}
    assert not {"name", "leads", "activities", "truth"} & set(safe["dataset"])


@pytest.mark.parametrize("shape", CRM)
@pytest.mark.parametrize("over_defaults", [False, True], ids=["minimal", "over_defaults"])
def test_preset_validates_in_a_config(shape, over_defaults):
    config = _config(shape, over_defaults=over_defaults)
    assert config.dataset.mode == "events" and config.features.mode == "events"
    assert config.dataset.missing_outcome_at == "horizon"
    assert config.dataset.activity_mapping() is not None


@pytest.mark.parametrize("shape", CRM)
def test_preset_columns_exist_in_the_fixture_headers(shape, made):
    ex = made(shape)
    config = _config(shape, ex)
    ds, fs = config.dataset, config.features
    lead_header = set(_leads(ex).columns)
    activity_header = set(_activities(ex).columns)
    roles = {k: v for k, v in ds.columns.model_dump().items() if v is not None}
    assert set(roles.values()) <= lead_header, roles
    activity_roles = {k: v for k, v in ds.activity_columns.model_dump().items() if v is not None}
    assert set(activity_roles.values()) <= activity_header, activity_roles
    declared = {fs.title_column, fs.email_column, fs.size_column, fs.revenue_column,
                *fs.categorical, *fs.numeric, *fs.boolean, *fs.engagement, *fs.negative} - {None}
    assert declared <= lead_header, declared - lead_header
    assert set(ds.pii) == set(ex.pii) <= lead_header
    assert set(ds.ignore) <= lead_header
    # Marketo's standard lead fields carry no stage dates (its Revenue Cycle Modeler does)
    assert bool(ds.stages) == (shape != "marketo") and set(ds.stages.values()) <= lead_header
    assert ds.account in lead_header  # the account key of `score --by account`
    # what the fixture knows about its own shape agrees with the preset
    assert (roles["lead_id"], roles["created_at"], roles["outcome"]) == (
        ex.id_column, ex.created_column, ex.outcome_column)
    assert (activity_roles["lead_id"], activity_roles["occurred_at"],
            activity_roles["activity_type"]) == (
        ex.activity_id_column, ex.occurred_column, ex.activity_type_column)
    assert set(ex.leaky) <= set(ds.leaky), set(ex.leaky) - set(ds.leaky)


@pytest.mark.parametrize("shape", CRM)
def test_preset_maps_every_activity_type_of_the_fixture(shape, made):
    ex = made(shape)
    mapping = _config(shape).dataset.activity_mapping()
    values = _activities(ex)[ex.activity_type_column].str.strip().unique()
    unmapped = {v.casefold() for v in ex.unmapped_types}
    for value in values:
        canonical = mapping.canonical(value)
        if value.casefold() in unmapped:
            assert canonical is None, f"{value!r} should be left to unknown_activity"
        else:
            assert canonical is not None, f"{value!r} is not mapped"
    assert {v.casefold() for v in values} >= unmapped, "the fixture holds every unmapped type"


@pytest.mark.parametrize(("shape", "value", "canonical"), [
    ("salesforce", "CALL", "sales_call"), ("salesforce", "Meeting", "sales_call"),
    ("salesforce", "email", "email_sent"), ("salesforce", "List Email", "email_sent"),
    ("salesforce", "Demo", "demo_request"), ("salesforce", "Web Visit", "web_visit"),
    ("salesforce", "Page Visit", "web_visit"), ("salesforce", "Email Bounced", "email_bounce"),
    ("salesforce", "Other", None),
    ("hubspot", "page view", "web_visit"), ("hubspot", "Marketing Email Opened", "email_open"),
    ("hubspot", "MARKETING EMAIL CLICKED", "email_click"), ("hubspot", "EMAIL", "email_sent"),
    ("hubspot", "Marketing Email Delivered", None), ("hubspot", "NOTE", None),
    ("marketo", "1", "web_visit"), ("marketo", "10", "email_open"),
    ("marketo", "11", "email_click"), ("marketo", "8", "email_bounce"),
    ("marketo", "9", "email_unsubscribe"), ("marketo", "7", None), ("marketo", "104", None),
])
def test_preset_activity_mapping_examples(shape, value, canonical):
    assert _config(shape).dataset.activity_mapping().canonical(value) == canonical


@pytest.mark.parametrize("shape", CRM)
def test_preset_outcome_values_are_disjoint(shape):
    values = _config(shape).dataset.outcome_values
    seen: dict[str, str] = {}
    for outcome, spellings in values.items():
        for spelling in spellings:
            key = spelling.strip().casefold()
            assert seen.setdefault(key, outcome) == outcome, f"{spelling!r} in two outcomes"
