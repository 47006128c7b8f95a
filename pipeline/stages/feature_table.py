"""The training feature table as a Parquet file, with its spec as metadata (``leadscore
features``): every eligible row's features, built by the builder fitted on the training leads,
beside what identifies and labels it: ``lead_id``, ``as_of``, ``label`` and ``split`` (plus
``row``, ``age`` and ``weight`` on an as_of grid), the same values ``train`` saves in
``split.parquet`` (``as_of`` is empty for a flat export without dates). A data scientist can
audit the table or train on it elsewhere (e.g. with
:class:`pipeline.stages.estimator.LeadScoreClassifier`); no PII column is ever a feature."""

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
    X = prepared.X
    roles = prepared.split_table().rename(columns={"y": "label"})
    roles = roles.set_axis(roles["row"].to_numpy()).loc[X.index.astype(str)]
    if not prepared.training_set.grid:
        roles = roles.drop(columns="row")  # one row per lead: the row key is its lead_id
    frame = roles.reset_index(drop=True).join(X.reset_index(drop=True))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"leadscore.spec"] = json.dumps(prepared.builder.spec_.to_dict()).encode()
    meta[b"leadscore.dropped"] = json.dumps(prepared.builder.dropped_).encode()
    with atomic_path(path, suffix=".parquet.tmp") as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
    return path
