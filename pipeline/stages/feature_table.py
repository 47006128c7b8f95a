"""The training feature table as a Parquet file, with its spec as metadata (``leadscore
features``): every eligible lead's features, built by the builder fitted on the training leads,
with its label and split beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.data.config import Config
from pipeline.data.io import atomic_path
from pipeline.stages.prepare import prepare


def write_feature_table(config: Config, data, path: Path) -> Path:
    """Prepare the training set and write its feature table atomically."""
    leads, activities = data
    prepared = prepare(config, leads, activities)
    ts, X = prepared.training_set, prepared.X
    X = X.assign(label=ts.y.reindex(X.index).to_numpy(),
                 split=ts.split.reindex(X.index).to_numpy()).reset_index()
    table = pa.Table.from_pandas(X, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"leadscore.spec"] = json.dumps(prepared.builder.spec_.to_dict()).encode()
    meta[b"leadscore.dropped"] = json.dumps(prepared.builder.dropped_).encode()
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
    return path
