"""``leadscore features``: the training feature table as Parquet, with its spec as metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.data.config import Config
from pipeline.data.dataset import build_training_set
from pipeline.data.io import atomic_path
from pipeline.stages.train import _activities_of, excluded_by_audit, feature_settings, run_audit


def write_feature_table(config: Config, data, path: Path) -> Path:
    """Build features of every eligible lead (builder fitted on the training split) and write."""
    from features.build import FeatureBuilder

    leads, activities = data
    ts = build_training_set(
        leads, activities, config.dataset.mode, config.dataset.as_of, config.dataset.horizon_days,
        config.split, config.seed,
        snapshot=pd.Timestamp(config.dataset.snapshot) if config.dataset.snapshot else None)
    settings = feature_settings(config, excluded_by_audit(run_audit(ts, config)))
    train_ids = ts.part("train")
    as_of = ts.as_of if config.dataset.mode == "events" else None
    builder = FeatureBuilder(settings).fit(
        ts.leads.loc[train_ids].reset_index(drop=True), _activities_of(activities, train_ids),
        None if as_of is None else as_of.loc[train_ids])
    X = builder.transform(ts.leads.reset_index(drop=True), activities, as_of)
    X = X.assign(label=ts.y.reindex(X.index).to_numpy(),
                 split=ts.split.reindex(X.index).to_numpy()).reset_index()
    table = pa.Table.from_pandas(X, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"leadscore.spec"] = json.dumps(builder.spec_.to_dict()).encode()
    meta[b"leadscore.dropped"] = json.dumps(builder.dropped_).encode()
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
    return path
