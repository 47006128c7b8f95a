"""The ``monitor`` stage: read past score files and a later outcomes export, judge, write.

Score files are what ``leadscore score`` writes (either engine): ``lead_id``, ``probability``,
``band``, ``mql``, ``model_name``, ``model_version`` and ``as_of``. A file from before the
``as_of`` column falls back to ``scored_at``, which has always held the job's as_of, with a
warning. The outcomes export is a leads export read through the config's column mapping and
the training contract (:func:`pipeline.data.contracts.canonical_leads`); only the lead roles
matter here, so declared feature columns may be absent, and leads created after the training
``dataset.snapshot`` are what it is for. The computation is :mod:`pipeline.evaluation.monitor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.artifacts import Paths, write_bytes, write_json
from pipeline.data.config import Config
from pipeline.data.contracts import (
    FALSE_VALUES,
    TRUE_VALUES,
    ContractReport,
    canonical_leads,
    parse_dates,
    suggest_column,
)
from pipeline.data.dataset import data_snapshot
from pipeline.data.errors import ConfigError
from pipeline.data.io import atomic_path, read_table
from pipeline.data.lifecycle import funnel_stages
from pipeline.evaluation.funnel import lifecycle_funnel
from pipeline.evaluation.monitor import MonitorResult, monitor

REQUIRED = ("lead_id", "probability", "band", "mql", "model_version")
JSON_NAME, HTML_NAME, PLOT_NAME = "monitor.json", "monitor.html", "reliability.png"


@dataclass
class MonitorRun:
    """The result and what the caller prints beside it (warnings: older score files)."""

    result: MonitorResult
    warnings: list[str] = field(default_factory=list)


def read_scores(path: Path, warnings: list[str]) -> pd.DataFrame:
    """One score file as :func:`~pipeline.evaluation.monitor.join_outcomes` takes it.

    Raises
    ------
    DataError
        A required column missing, or a probability, mql or as_of that cannot be read (file,
        column and rows named).
    """
    raw = read_table(path)
    file = str(path)
    report = ContractReport()
    when = "as_of" if "as_of" in raw.columns else "scored_at" if "scored_at" in raw.columns \
        else None
    for column in REQUIRED:
        if column not in raw.columns:
            report.add(file, column, "missing (a `leadscore score` output column)"
                       + suggest_column(column, raw.columns))
    if when is None:
        report.add(file, "as_of", "missing (and no scored_at to fall back on)"
                   + suggest_column("as_of", raw.columns))
    report.raise_if_failed()
    if when == "scored_at":
        warnings.append(f"{file}: no as_of column (written before LeadScore had it): as_of read "
                        "from scored_at, which holds the same scoring as_of")
    probability = pd.to_numeric(raw["probability"], errors="coerce")
    report.add(file, "probability", "not a probability in [0, 1]",
               ~probability.between(0.0, 1.0).to_numpy(dtype=bool))
    as_of = parse_dates(raw[when])
    report.add(file, when, "not a date", as_of.isna().to_numpy(dtype=bool))
    mql = _flags(raw["mql"])
    report.add(file, "mql", "not true/false", mql.isna().to_numpy(dtype=bool))
    ids = raw["lead_id"].astype("string").str.strip()
    report.add(file, "lead_id", "empty lead id", (ids.isna() | (ids == "")).to_numpy(dtype=bool))
    report.raise_if_failed()
    name = raw["model_name"].astype(str) if "model_name" in raw.columns else pd.Series(
        "", index=raw.index)
    return pd.DataFrame({
        "lead_id": ids.astype(object), "model_name": name.to_numpy(),
        "model_version": raw["model_version"].astype(str).to_numpy(),
        "as_of": as_of.to_numpy(dtype="datetime64[ns]"),
        "probability": probability.to_numpy(dtype="float64"),
        "band": raw["band"].astype(str).to_numpy(), "mql": mql.to_numpy(dtype=bool),
    })


def _flags(raw: pd.Series) -> pd.Series:
    """Booleans as Parquet has them, or as CSV spells them (True/False, 1/0, yes/no)."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(object)
    text = raw.astype("string").str.strip().str.casefold()
    out = pd.Series(None, index=raw.index, dtype=object)
    out[text.isin(TRUE_VALUES).fillna(False).to_numpy(dtype=bool)] = True
    out[text.isin(FALSE_VALUES).fillna(False).to_numpy(dtype=bool)] = False
    return out


def _outcomes_config(config: Config) -> Config:
    """The config with the lead roles only: declared feature columns are not needed here, and
    the training snapshot does not bound a later export."""
    fs = config.features.model_copy(update={
        "categorical": [], "numeric": [], "boolean": [], "engagement": [], "negative": [],
        "title_column": None, "email_column": None})
    ds = config.dataset.model_copy(update={"snapshot": None, "segment": None})
    return config.model_copy(update={"features": fs, "dataset": ds})


def read_outcomes(config: Config, path: Path) -> pd.DataFrame:
    """The outcomes export's canonical leads (``lead_id``, ``created_at``, ``outcome``,
    ``outcome_at``), validated like training's.

    Raises
    ------
    ConfigError
        A flat dataset, or no ``columns.outcome_at``: nothing to mature outcomes by.
    DataError
        The export breaks the contract, or lacks the outcome or close-date column.
    """
    ds = config.dataset
    if ds.mode != "events":
        raise ConfigError(f"{config.source}: dataset.mode: {ds.mode}: monitor needs each score's "
                          "as_of and dated outcomes (dataset.mode: events)")
    if not ds.columns.outcome_at:
        raise ConfigError(f"{config.source}: dataset.columns.outcome_at is not set: monitor "
                          "needs the close date to tell which outcomes have matured")
    raw = read_table(path, ds.read.delimiter, ds.read.encoding)
    report = ContractReport()
    for column, role in ((ds.columns.outcome, "outcome: won/lost/open"),
                         (ds.columns.outcome_at, "close date: outcomes mature by it")):
        if column and column not in raw.columns:
            report.add(str(path), column, f"missing ({role})" + suggest_column(column, raw.columns))
    report.raise_if_failed()
    leads = canonical_leads(raw, _outcomes_config(config), str(path), report)
    report.raise_if_failed()
    return leads[["lead_id", "created_at", "outcome", "outcome_at",
                  *funnel_stages(ds).values()]]


def funnel_section(config: Config, scores: pd.DataFrame, outcomes: pd.DataFrame,
                   snapshot: pd.Timestamp) -> dict[str, Any] | None:
    """The lifecycle funnel of the scored leads, when ``dataset.stages`` names stage dates.

    The "too generous" reference is the training period: the leads of the saved split's
    training part, as the later export now shows them (their stages kept moving after training).
    """
    stages = funnel_stages(config.dataset)
    if not stages:
        return None
    split_path = Paths(config.out_dir).split
    training = None
    if split_path.exists():
        split = pd.read_parquet(split_path, columns=["lead_id", "split"])
        train_ids = split.loc[split["split"] == "train", "lead_id"].astype(str).unique()
        training = outcomes[outcomes["lead_id"].astype(str).isin(train_ids)]
    report = lifecycle_funnel(outcomes, scores, stages, config.dataset.horizon_days, snapshot,
                              training_leads=training)
    tables = [{"title": title, "columns": list(frame.columns),
               "rows": frame.astype(object).where(frame.notna(), "").values.tolist()}
              for title, frame in (("Step conversion by score band", report.steps),
                                   ("Days to the next stage", report.timing))]
    return {"title": "Lifecycle funnel", "text": report.generous["sentence"], "tables": tables,
            **report.to_dict()}


def run_monitor(config: Config, score_paths: list[Path], outcomes_path: Path,
                snapshot: pd.Timestamp | None = None) -> MonitorRun:
    """Read every score file and the outcomes export; judge each version and scoring month.

    ``snapshot``: when the outcomes export was taken (default: its latest date, as training
    takes its own; a later one would count still-running horizons as elapsed).
    """
    warnings: list[str] = []
    scores = pd.concat([read_scores(Path(p), warnings) for p in score_paths], ignore_index=True)
    outcomes = read_outcomes(config, outcomes_path)
    when = snapshot if snapshot is not None else data_snapshot(outcomes, None)
    mon = config.monitor
    result = monitor(scores, outcomes, horizon_days=config.dataset.horizon_days, snapshot=when,
                     ece_limit=mon.ece_limit, min_matured=mon.min_matured, n_boot=mon.n_boot,
                     seed=config.seed, missing_outcome_at=config.dataset.missing_outcome_at)
    funnel = funnel_section(config, scores, outcomes, when)
    if funnel is not None:
        result.sections["funnel"] = funnel
    result.settings["score_files"] = [str(p) for p in score_paths]
    result.settings["outcomes_file"] = str(outcomes_path)
    return MonitorRun(result, warnings)


def write_monitor(result: MonitorResult, folder: Path, dataset: str = "") -> dict[str, Path]:
    """The JSON summary, the reliability plot and the HTML page in ``folder``, each atomic."""
    from pipeline.evaluation.monitor_report import render_monitor
    from pipeline.evaluation.plots import reliability_figure, to_png

    paths = {"json": folder / JSON_NAME, "html": folder / HTML_NAME, "plot": folder / PLOT_NAME}
    png = to_png(reliability_figure(result.groups))
    summary = result.to_dict()
    write_json(paths["json"], summary)
    write_bytes(paths["plot"], png)
    with atomic_path(paths["html"]) as tmp:
        tmp.write_text(render_monitor(summary, png, dataset), encoding="utf-8")
    return paths

