"""Training commands: ``train``, ``evaluate``, ``report``, ``tune``, ``cv``, ``points``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import (
    ConfigOpt,
    SetOpt,
    app,
    load,
    load_clean,
    load_rules,
    load_truth,
    paths_of,
    run_id,
    tracking,
    tracking_on,
    user_errors,
    with_threads,
)
from pipeline.cli.console import Format, FormatOpt, emit, err, out, stage_progress
from pipeline.cli.tables import comparison_rows, comparison_table


@app.command()
@user_errors
def train(
    config: ConfigOpt,
    set_: SetOpt = None,
    evaluate_after: Annotated[bool, typer.Option(
        "--evaluate/--no-evaluate", help="Also evaluate, report and print the comparison.")] = True,
    track: Annotated[bool, typer.Option("--track/--no-track",
                                        help="Log the run and register the models.")] = True,
    table_format: FormatOpt = Format.table,
) -> None:
    """Fit every scorer kind on the same split; register the challenger."""
    import yaml

    from pipeline.data.artifacts import write_json, write_table
    from pipeline.stages.train import train_scorers

    cfg = with_threads(load(config, set_))
    paths = paths_of(cfg)
    leads, activities = load_clean(cfg)
    rules = load_rules(cfg)
    best = None
    if paths.best_params.is_file():
        best = (yaml.safe_load(paths.best_params.read_text()) or {}).get("params")
        err.print(f"using tuned parameters from {paths.best_params}")
    with stage_progress("train") as bar:
        # Without evaluation the bootstrap intervals are left to `leadscore evaluate`.
        result = train_scorers(cfg, leads, activities, rules, best_params=best,
                               truth=load_truth(cfg), rules_source=str(cfg.rules),
                               log=lambda line: err.print(line, highlight=False),
                               n_boot=500 if evaluate_after else 0, progress=bar)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")
    for name, package in result.packages.items():
        package.save(paths.package(name))
    write_table(paths.split, result.prepared.split_table())
    write_table(paths.audit, result.audit)
    if track:
        from pipeline.mlops.tracking import log_training

        tracking(cfg)
        with stage_progress("train") as bar:
            bar("log to MLflow")
            run = log_training(cfg, result, paths, leads, activities)
        write_json(paths.root / "run.json", {"run_id": run.run_id, "versions": run.versions})
        registered = " and ".join(f"{name} v{version}" for name, version in run.versions.items())
        err.print(f"MLflow run {run.run_id}: {registered} registered as @challenger")
    written = ", ".join(str(paths.package(name)) for name in result.packages)
    out.print(f"wrote {written}, {paths.split}")
    if evaluate_after:
        _evaluate(cfg, result, table_format, activities)
        _report(cfg)


def _evaluate(cfg, result, table_format: Format = Format.table, activities=None) -> None:
    from pipeline.stages.outputs import save_evaluation

    with stage_progress("evaluate") as bar:
        paths = save_evaluation(cfg, result, progress=bar, activities=activities)
        run = run_id(paths)
        if run and tracking_on():
            from pipeline.mlops.tracking import log_evaluation

            bar("log to MLflow")
            tracking(cfg)
            log_evaluation(run, result.metrics, paths)
    comparison_table(result.metrics, table_format)
    out.print(f"wrote {paths.metrics} and {paths.plots}/")


@app.command()
@user_errors
def evaluate(config: ConfigOpt, set_: SetOpt = None,
             table_format: FormatOpt = Format.table) -> None:
    """Score the saved packages on the split training saved; write evaluation.json and plots."""
    import pandas as pd

    from pipeline.data.errors import ModelError
    from pipeline.explain.package import load_package
    from pipeline.scorers import kinds
    from pipeline.stages.evaluate import evaluate_saved
    from pipeline.stages.train import TrainingResult

    cfg = load(config, set_)
    paths = paths_of(cfg)
    packages = {k: load_package(paths.package(k)) for k in kinds.names()}
    for package in packages.values():
        package.check_settings(cfg.features, str(cfg.source))
    leads, activities = load_clean(cfg)
    if not paths.split.is_file():
        raise ModelError(f"{paths.split}: no saved split (run `leadscore train` first)")
    with stage_progress("evaluate") as bar:
        prepared, metrics, probs = evaluate_saved(cfg, packages, leads, activities,
                                                  pd.read_parquet(paths.split), load_truth(cfg),
                                                  progress=bar)
    audit = pd.read_csv(paths.audit) if paths.audit.is_file() else pd.DataFrame()
    result = TrainingResult(prepared.training_set, audit, packages, prepared.X, metrics, probs,
                            {}, list(prepared.notes), prepared)
    _evaluate(cfg, result, table_format, activities)


def _report(cfg) -> None:
    from pipeline.stages.outputs import build_report

    paths = paths_of(cfg)
    path = build_report(cfg, paths)
    run = run_id(paths)
    if run and tracking_on():
        import mlflow

        tracking(cfg)
        with mlflow.start_run(run_id=run):
            mlflow.log_artifact(str(path))
    out.print(f"wrote {path}")


@app.command()
@user_errors
def report(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Write the self-contained HTML report (artifacts/<dataset>/report.html)."""
    _report(load(config, set_))


@app.command()
@user_errors
def tune(
    config: ConfigOpt,
    trials: Annotated[int | None, typer.Option(
        "--trials", min=1, help="Optuna trials (default: tuning.trials).")] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="Seconds (default: tuning.timeout_seconds).")] = None,
    scorer: Annotated[str | None, typer.Option(
        "--scorer", help="Scorer kind to tune (default: the challenger, model).")] = None,
    set_: SetOpt = None,
    track: Annotated[bool, typer.Option("--track/--no-track",
                                        help="Log the search and each trial to MLflow.")] = True,
) -> None:
    """Optuna search over a scorer's parameters; writes artifacts/<dataset>/best_params.yaml."""
    from pipeline.data.artifacts import write_yaml
    from pipeline.scorers import kinds
    from pipeline.stages.tune import tune as run_tuning

    cfg = with_threads(load(config, set_))
    paths = paths_of(cfg)
    kind = kinds.get(scorer or kinds.CHALLENGER).name
    leads, activities = load_clean(cfg)
    trials = trials or cfg.tuning.trials
    timeout = timeout if timeout is not None else cfg.tuning.timeout_seconds
    logger = None
    if track:
        import mlflow

        tracking(cfg)
        mlflow.start_run(run_name=f"tune-{cfg.dataset.name}",
                         tags={"dataset": cfg.dataset.name, "stage": "tune", "scorer": kind})
        from pipeline.scorers.lightgbm import threads_for

        mlflow.log_params({"model.n_jobs": str(cfg.model.n_jobs),
                           "threads": str(threads_for(cfg.model.n_jobs)),
                           "env.OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "")})

        def logger(number, params, value, state):
            with mlflow.start_run(run_name=f"trial-{number}", nested=True,
                                  tags={"state": state}):
                mlflow.log_params({k: str(v) for k, v in params.items()})
                if value is not None and math.isfinite(value):
                    mlflow.log_metric(f"valid_{cfg.tuning.objective}", value)
    try:
        with stage_progress(f"tune {kind}", total=trials, unit="trials") as bar:
            bar("features")

            def on_trial(study, trial):
                best = f", best {study.best_value:.5f}" if any(
                    t.value is not None for t in study.trials) else ""
                bar(f"trial {trial.number} {trial.state.name.lower()}{best}")
                bar.advance()

            result = run_tuning(cfg, leads, activities, trials, timeout, kind,
                                on_trial=on_trial, trial_logger=logger)
        if track:
            mlflow.log_metrics({"best_value": result.best_value,
                                "default_value": result.default_value})
            mlflow.log_params({f"best.{k}": str(v) for k, v in result.best_params.items()})
    finally:
        if track:
            mlflow.end_run()
    summary = {
        "objective": f"valid_{result.objective}", "default": result.default_value,
        "best": result.best_value, "trials": result.trials, "pruned": result.pruned,
        "interrupted": result.interrupted, "best_iteration": result.best_iteration,
    }
    write_yaml(paths.best_params, {"params": result.best_params, "summary": summary})
    if result.interrupted:
        err.print("[yellow]interrupted: kept the best trial so far[/]")
    out.print(f"validation {result.objective}: defaults {result.default_value:.5f} -> best "
              f"{result.best_value:.5f} after {result.trials} trials ({result.pruned} pruned); "
              f"wrote {paths.best_params}")


@app.command()
@user_errors
def cv(
    config: ConfigOpt,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20,
                                       help="Number of stratified folds.")] = 5,
    keep_leaky: Annotated[bool, typer.Option(
        "--keep-leaky", help="Keep the columns listed as leaky (to show what they do).")] = False,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Stratified k-fold metrics of every scorer kind (flat exports without timestamps)."""
    from pipeline.data.artifacts import write_table
    from pipeline.data.errors import ConfigError
    from pipeline.stages.cv import cross_validate

    cfg = load(config, set_)
    if cfg.dataset.mode != "flat":
        raise ConfigError(f"{cfg.source}: dataset.mode: cross-validation is for flat exports; "
                          "event data is judged on its time split")
    if keep_leaky:
        keep = {**{c: "cv --keep-leaky" for c in cfg.dataset.leaky}, **cfg.dataset.keep}
        cfg = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update={"keep": keep})})
        cfg = cfg.model_copy(update={"audit": cfg.audit.model_copy(update={"max_auc": 1.0})})
    leads, activities = load_clean(cfg)
    with stage_progress("cv", total=folds, unit="folds") as bar:
        table = cross_validate(cfg, leads, activities, load_rules(cfg), folds, str(cfg.rules),
                               on_fold=lambda k, n: bar.advance(), progress=bar)
    name = "cv_leaky.csv" if keep_leaky else "cv.csv"
    write_table(paths_of(cfg).root / name, table)
    rows = []
    for scorer, part in table.groupby("scorer", sort=False):
        aucs = part["roc_auc"].to_numpy()
        rows.append({"scorer": scorer, **{f"fold_{k}": a for k, a in enumerate(aucs, start=1)},
                     "mean": aucs.mean(), "sd": aucs.std(ddof=1)})
    emit(table_format, rows, lambda: _cv_view(rows, folds, keep_leaky))
    out.print(f"wrote {paths_of(cfg).root / name}")


def _cv_view(rows: list[dict], folds: int, keep_leaky: bool) -> None:
    from rich.table import Table

    view = Table(title=f"{folds}-fold test ROC-AUC" + (" (leaky columns KEPT)" if keep_leaky
                                                       else ""), title_justify="left")
    view.add_column("scorer")
    for k in range(1, folds + 1):
        view.add_column(f"fold {k}", justify="right")
    view.add_column("mean", justify="right")
    view.add_column("sd", justify="right")
    for row in rows:
        view.add_row(row["scorer"], *[f"{v:.4f}" for k, v in row.items() if k != "scorer"])
    out.print(view)


@app.command()
@user_errors
def points(
    config: ConfigOpt,
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Rules file to write (default configs/rules/<dataset>-learned.yaml); a "
                      "CSV for the CRM admin is written beside it.")] = None,
    scorer: Annotated[str | None, typer.Option(
        "--scorer", help="Whose points table (default: the learned points).")] = None,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Write a points table (rules format + CSV) and compare it with the other scorers."""
    import json

    import pandas as pd
    from rich.table import Table

    from pipeline.data.artifacts import write_table
    from pipeline.data.errors import ModelError
    from pipeline.explain.package import load_package
    from pipeline.scorers import kinds
    from pipeline.scorers.learned_points import points_table
    from pipeline.scorers.rules import write_rules

    cfg = load(config, set_)
    paths = paths_of(cfg)
    kind = kinds.get(scorer or kinds.POINTS_TABLE).name
    source = paths.package(kind)
    if not source.is_file():
        raise ModelError(f"{source}: no {kinds.display(kind)} table yet "
                         "(run `leadscore train` first)")
    package = load_package(source)
    package.check_settings(cfg.features, str(cfg.source))
    book = package.scorer.points_book()
    if book is None:
        raise ModelError(f"--scorer {kind}: not a points table (use one of "
                         f"{', '.join(kinds.names())} that is)")
    target = out_path or Path("configs/rules") / f"{cfg.dataset.name}-learned.yaml"
    header = (f"# {book.name}: written by `leadscore points --config {config}`.\n"
              f"# {book.description}\n# Load it like any hand-made sheet: rules: {target}")
    write_rules(book, target, header=header)
    decay = getattr(package.builder, "decay_", [])
    table = points_table(book, package.spec, {c.signal: c.every() for c in decay})
    csv_path = target.with_suffix(".csv")
    write_table(csv_path, table)
    metrics = json.loads(paths.metrics.read_text()) if paths.metrics.is_file() else None
    if table_format is not Format.table:
        rows = {"points": table.to_dict("records"),
                "half_lives": [c.as_row() for c in getattr(package.builder, "decay_", [])],
                **(comparison_rows(metrics) if metrics else {})}
        emit(table_format, rows, view=lambda: None, columns=list(table.columns))
        out.print(f"wrote {target} and {csv_path}")
        return
    n_rules = int((~table["rule"].isin(["base_points", "mql_threshold"])).sum())
    view = Table(title=f"{book.name}: {n_rules} rules, MQL at {book.mql_threshold:g} points",
                 title_justify="left")
    for col in table.columns:
        view.add_column(col, justify="right" if col == "points" else "left")
    shown = 40  # a table of the default 25 rules prints whole, with its start and MQL line
    for row in table.head(shown).itertuples(index=False):
        view.add_row(*["" if pd.isna(v) else str(v) for v in row])
    out.print(view)
    if len(table) > shown:
        out.print(f"... {len(table) - shown} more rows in {csv_path}")
    if decay:
        used = ("the model's features and the table's decayed rules"
                if package.builder.half_lives_ else "not used: the decay gate dropped them")
        out.print(f"half-lives of the decayed counts [95 % interval] ({used}): "
                  + "; ".join(f"{c.signal} {c.label()} ({c.source})" for c in decay))
    if metrics:
        comparison_table(metrics)
    out.print(f"wrote {target} and {csv_path}")
