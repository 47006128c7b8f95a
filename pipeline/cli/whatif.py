"""``leadscore whatif``: one lead's actions ranked by what the model predicts each would add."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import (
    ConfigOpt,
    SetOpt,
    app,
    as_of_option,
    load,
    load_clean,
    paths_of,
    resolve_model,
    user_errors,
)
from pipeline.cli.console import Format, FormatOpt, emit, err, out
from pipeline.data.errors import ConfigError, DataError


@app.command()
@user_errors
def whatif(
    config: ConfigOpt,
    lead_id: Annotated[str, typer.Option("--lead-id", help="Lead to simulate.")],
    input_path: Annotated[Path | None, typer.Option(
        "--input", help="Leads file holding the lead (default: the config's training "
        "export).")] = None,
    activities: Annotated[Path | None, typer.Option(
        "--activities", help="Activity log of --input.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Simulate as of (default: dataset.snapshot, else the export's latest "
        "date; with --input: now).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="models:/NAME@ALIAS or a model.pkl (default: the trained model "
        "kind's package).")] = None,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """The configured actions (`actions.offer`) ranked by the model's predicted score gain.

    Each action appends its one event at as_of and rescores the lead through the same model:
    what the model predicts, not a causal effect (docs/WHATIF.md)."""
    import numpy as np

    from pipeline.cli.explain import _as_of
    from pipeline.data.io import load_dataset
    from pipeline.data.scoring_time import GIVEN, NOW, ScoringTime, check_created_by, wall_clock
    from pipeline.explain.package import load_package
    from pipeline.explain.whatif import action_line, require_events, what_if
    from pipeline.scorers import kinds

    cfg = load(config, set_)
    require_events(cfg.dataset.mode, str(cfg.source))
    if as_of:
        as_of_option(as_of)
    if model:
        package = resolve_model(cfg, model)[0]
    else:
        package = load_package(paths_of(cfg).package(kinds.CHALLENGER))
    package.check_settings(cfg.features, str(cfg.source))
    require_events(package.mode)
    if input_path is not None:
        leads, events, report = load_dataset(cfg, input_path, activities, scoring=True)
        report.raise_if_failed()
        timing = ScoringTime(as_of_option(as_of), GIVEN) if as_of else \
            ScoringTime(wall_clock(), NOW)
        source = str(input_path)
    else:
        leads, events = load_clean(cfg)
        timing = _as_of(cfg, leads, events, as_of)
        source = str(cfg.dataset.leads)
    hit = (leads["lead_id"].astype(str) == str(lead_id)).to_numpy()
    if not hit.any():
        raise DataError(f"{source}: column 'lead_id': no lead {lead_id!r}")
    row = leads[hit]
    check_created_by(row, timing.as_of, source, cfg.dataset.columns.created_at or "created_at",
                     rows=np.flatnonzero(hit))
    offered, left_out = cfg.actions.offered(cfg.logged_activity_types())
    if left_out:
        err.print(f"[cyan]note:[/] not offered, this dataset logs none of their events: "
                  f"{', '.join(left_out)} (actions.offer)", highlight=False, soft_wrap=True)
    if not offered:
        raise ConfigError(f"{cfg.source}: actions.offer: none of its actions' events is one "
                          "this dataset logs: define some under actions.define")
    result = what_if(package, row, events, timing.as_of, offered, factors=True)
    ranked = result.describe(0)
    payload = {
        "lead_id": str(lead_id), "as_of": str(timing.as_of), "as_of_source": timing.source,
        "scale": package.scale.unit, "score": float(result.score[0]),
        "probability": round(float(result.probability[0]), 6),
        "actions": [{**a, "probability_gain": round(a["probability_gain"], 6),
                     "factors": [{"factor": f, "points": round(v, 2)} for f, v in a["factors"]]}
                    for a in ranked],
        "note": "what the model predicts for one more such event, not a causal effect",
    }
    if Format(table_format) is Format.json:
        print(json.dumps(payload, indent=2))
        return
    if Format(table_format) is Format.csv:
        emit(table_format, [{"lead_id": str(lead_id), "rank": k, "action": a["action"],
                             "label": a["label"], "score_gain": a["score_gain"],
                             "probability_gain": a["probability_gain"],
                             "factors": "; ".join(f"{f} {v:+.1f}" for f, v in a["factors"])}
                            for k, a in enumerate(ranked, 1)], lambda: None)
        return
    out.print(f"Lead {lead_id}: score {payload['score']:.0f} as of {timing} - what the model "
              "predicts one more event would add (not a causal effect):", highlight=False)
    for k, entry in enumerate(ranked, 1):
        out.print(f"{k}. {action_line(entry)}", highlight=False)
