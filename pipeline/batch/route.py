"""The routing file of ``leadscore score --route``: the hand-off list a CRM workflow imports.

Read from the finished score output (so both the rows and the ``mql`` flag are exactly the ones
the score file holds), routed by :func:`pipeline.explain.routing.route` (the MQLs that are not
disqualified, best first, capped at ``routing.capacity_per_week`` times the weeks the run
covers) and written as one CSV in the chosen layout (:data:`pipeline.explain.routing.FORMATS`),
atomically and under its own lock, with a summary JSON beside it (``<route file>.json``) that
counts the MQLs held back. Optional columns are picked up by name: ``next_action`` and
``next_action_gain`` (``score --next-action``) and ``account`` (``dataset.account``) are
written when the score output has them and left blank otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.batch.guard import output_lock
from pipeline.data.errors import ConfigError, DataError
from pipeline.data.io import atomic_path
from pipeline.explain.routing import FORMATS, ROUTE_COLUMNS, RouteFormat, route, run_capacity

#: what routing needs of the score output besides the columns it writes
_NEEDED = ("lead_id", "probability", "mql", "status")
OPTIONAL = ("next_action", "next_action_gain", "account")


def route_format(name: str) -> RouteFormat:
    """The layout called ``name``, its lead id header the preset's own lead id column."""
    from pipeline.stages.profile import load_preset

    if name not in FORMATS:
        raise ConfigError(f"--route-format {name!r}: use {', '.join(FORMATS)}")
    layout = FORMATS[name]
    if layout.preset is not None:
        preset_id = load_preset(layout.preset)["dataset"]["columns"]["lead_id"]
        if layout.headers["lead_id"] != preset_id:  # the file must read back with the preset
            raise AssertionError(f"{name}: lead id header {layout.headers['lead_id']!r} is not "
                                 f"the preset's {preset_id!r}")
    return layout


def default_route_path(output: Path) -> Path:
    """``scores.parquet`` -> ``scores.route.csv`` beside it."""
    return output.with_name(f"{output.stem}.route.csv")


def _refuse_inputs(path: Path, inputs: dict[str, Path | None]) -> None:
    target = path.resolve()
    for option, source in inputs.items():
        if source is not None and (target == Path(source).resolve() or (
                target.exists() and Path(source).exists() and os.path.samefile(target, source))):
            raise ConfigError(f"--route-output {path}: is the {option} file; choose another "
                              "path for the routing file")


def _read_scores(scores: Path) -> tuple[pd.DataFrame, int]:
    """The MQL rows of the score output (only the columns routing uses) and its row count."""
    if scores.suffix.lower() == ".csv":
        frame = pd.read_csv(scores, dtype=str, keep_default_na=False)
        total = len(frame)
        missing = [c for c in _NEEDED if c not in frame]
        if missing:
            raise DataError(f"{scores}: no {', '.join(missing)} column: not a score output")
        frame = frame[frame["mql"].str.lower() == "true"]
        frame = frame.assign(probability=pd.to_numeric(frame["probability"]), mql=True)
    else:
        names = pq.ParquetFile(scores).schema_arrow.names
        missing = [c for c in _NEEDED if c not in names]
        if missing:
            raise DataError(f"{scores}: no {', '.join(missing)} column: not a score output")
        wanted = [c for c in dict.fromkeys((*_NEEDED, *ROUTE_COLUMNS)) if c in names]
        total = pq.ParquetFile(scores).metadata.num_rows
        frame = pq.read_table(scores, columns=wanted, filters=[("mql", "==", True)]).to_pandas()
    return frame.reset_index(drop=True), total


def routing_frame(mqls: pd.DataFrame, layout: RouteFormat, capacity: int | None
                  ) -> tuple[pd.DataFrame, Any]:
    """The routed leads in ``layout``'s columns, best first, and the :class:`Routing`."""
    ids = mqls["lead_id"].astype(str).to_numpy()
    routing = route(mqls["probability"].to_numpy(dtype="float64"),
                    np.ones(len(mqls), dtype=bool), capacity,
                    eligible=(mqls["status"].astype(str) != "disqualified").to_numpy(),
                    tiebreak=pd.factorize(ids, sort=True)[0])
    chosen = mqls.iloc[routing.order].reset_index(drop=True)
    chosen["rank"] = np.arange(1, len(chosen) + 1)
    if layout.bands and "band" in chosen:
        chosen["band"] = chosen["band"].astype(str).str.lower().map(layout.bands)
    out = pd.DataFrame({layout.headers[c]: chosen[c] if c in chosen else pd.Series(
        [None] * len(chosen), dtype=object) for c in ROUTE_COLUMNS})
    for position, (header, value) in enumerate(layout.constants.items(), start=1):
        out.insert(position, header, value)
    return out, routing


def write_route(scores: Path, path: Path, layout: RouteFormat, capacity_per_week: int | None,
                weeks: float, inputs: dict[str, Path | None], about: dict[str, Any]) -> dict:
    """Write the routing file of ``scores`` at ``path`` and its summary JSON; return the summary.

    ``about`` goes into the summary as it is (the MQL rule in words, model, as_of). No MQL is
    not an error: the file then holds the header only and the summary says why.
    """
    _refuse_inputs(path, inputs)
    capacity = run_capacity(capacity_per_week, weeks)
    with output_lock(path):
        mqls, total = _read_scores(scores)
        frame, routing = routing_frame(mqls, layout, capacity)
        with atomic_path(path, suffix=".csv.tmp") as tmp:
            frame.to_csv(tmp, index=False, encoding="utf-8")
        summary = {
            "route": str(path), "format": layout.name, "scores": str(scores),
            "scored_leads": int(total), "mqls": routing.mqls + routing.disqualified,
            "disqualified_mqls": routing.disqualified, "routed": int(len(frame)),
            "held_back": routing.held_back, "capacity_per_week": capacity_per_week,
            "weeks": weeks, "capacity": capacity,
            "held_back_kept": "counted only: they stay in the score output with mql true and "
                              "are scored again by the next run",
            "blank_columns": [c for c in OPTIONAL if c not in mqls],
            **about,
        }
        with atomic_path(path.with_name(path.name + ".json")) as tmp:
            tmp.write_text(json.dumps(summary, indent=2, default=str))
    return summary
