"""The ``leadscore`` command line: load config, read inputs, call the core, write ``artifacts/``.

User mistakes (bad data, bad config, wrong model) end with one line on stderr and exit code 2,
never a traceback; drift alarms exit 3. Set ``LEADSCORE_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipeline.cli.console import err, out
from pipeline.data.errors import LeadScoreError

# pandera probes pyspark.pandas, which warns about pandas 3 on every command.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")

app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring that stays as legible as a points table.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="Dataset config, e.g. configs/demo.yaml.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key, e.g. --set model.n_estimators=50."),
]


def user_errors(func: F) -> F:
    """Turn LeadScoreError into one stderr line and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeadScoreError as exc:
            if os.environ.get("LEADSCORE_DEBUG"):
                raise
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            extra = len(getattr(exc, "details", [])) - 1
            if extra > 0:
                err.print(f"  (+{extra} more problems: run `leadscore validate` to list them)")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _load(config: Path, overrides: list[str] | None = None):
    from pipeline.data.config import load_config, parse_assignment

    return load_config(config, parse_assignment(overrides or []))


@app.command()
@user_errors
def validate(
    config: ConfigOpt,
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="Also write the result as JSON (for pipelines).")] = None,
    set_: SetOpt = None,
) -> None:
    """Check the dataset against the input contract; list every violation (exit 2 if any)."""
    from pipeline.data.io import load_dataset

    cfg = _load(config, set_)
    leads, activities, report = load_dataset(cfg)
    if report_path is not None and report.ok:
        from pipeline.data.artifacts import write_json

        write_json(report_path, {
            "leads": str(cfg.dataset.leads), "lead_rows": len(leads),
            "activity_rows": 0 if activities is None else len(activities),
            "positives": int((leads["outcome"] == "won").sum()),
            "violations": [str(v) for v in report.violations]})
    if not report.ok:
        for violation in report.violations:
            err.print(str(violation), highlight=False, soft_wrap=True, markup=False)
        err.print(f"[bold red]{len(report.violations)} problem(s) found[/]")
        raise typer.Exit(2)
    n_act = 0 if activities is None else len(activities)
    out.print(
        f"[green]ok[/] {cfg.dataset.leads}: {len(leads):,} leads"
        + (f", {cfg.dataset.activities}: {n_act:,} activities" if activities is not None else "")
    )


@app.command()
@user_errors
def synth(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Take size, seed and folder from here.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the files.")] = None,
    leads: Annotated[int | None, typer.Option("--leads", min=100, help="Number of leads.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same bytes).")] = None,
    base_rate: Annotated[float | None, typer.Option(min=0.005, max=0.5)] = None,
) -> None:
    """Generate the synthetic B2B CRM world: leads, activities and the true probabilities."""
    from pipeline.cli.console import progress
    from pipeline.synth.world import write_world

    if config is not None:
        cfg = _load(config)
        out_dir = out_dir or Path(cfg.dataset.leads).parent
        leads = leads or cfg.synth.leads
        seed = cfg.seed if seed is None else seed
        base_rate = base_rate or cfg.synth.base_rate
    out_dir = out_dir or Path("artifacts/demo/data")
    leads = leads or 40_000
    seed = 42 if seed is None else seed
    base_rate = base_rate or 0.08
    with progress("leads") as bar:
        task = bar.add_task("synth", total=leads, rate="")

        def _advance(done: int, total: int) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f}" if elapsed else "")

        summary = write_world(out_dir, n_leads=leads, seed=seed, base_rate=base_rate,
                              progress=_advance)
    out.print(
        f"[green]wrote[/] {out_dir}: "
        + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in summary.items())
    )


def _paths(cfg):
    from pipeline.data.artifacts import Paths

    return Paths(cfg.out_dir)


def _load_clean(cfg, scoring: bool = False):
    from pipeline.data.io import load_dataset

    leads, activities, report = load_dataset(cfg, scoring=scoring)
    report.raise_if_failed()
    return leads, activities


def _load_rules(cfg):
    from pipeline.data.errors import ConfigError
    from pipeline.scorers.rules import RulesBook, load_rules

    if cfg.rules is None:
        raise ConfigError(f"{cfg.source}: rules: no rules file configured for the baseline")
    return load_rules(cfg.rules) if cfg.rules else RulesBook()


def _truth(cfg):
    import pandas as pd

    if cfg.dataset.truth is None or not cfg.dataset.truth.is_file():
        return None
    frame = pd.read_parquet(cfg.dataset.truth)
    return pd.Series(frame["p_convert"].to_numpy(), index=frame["lead_id"].astype(str))


def _comparison_table(metrics: dict) -> None:
    from rich.table import Table

    names = [n for n in ("baseline", "learned_points", "model", "oracle") if n in metrics]
    table = Table(title="Test split: rules vs model", title_justify="left")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    rows = [("ROC-AUC", "roc_auc", "{:.3f}"), ("AUC 95% CI", None, None),
            ("PR-AUC", "pr_auc", "{:.3f}"), ("Brier", "brier", "{:.4f}"),
            ("log-loss", "log_loss", "{:.4f}"), ("ECE", "ece", "{:.4f}"),
            ("conversions in top 10%", "capture_top_10", "{:.1%}"),
            ("conversions in top 20%", "capture_top_20", "{:.1%}"),
            ("conversions in top 30%", "capture_top_30", "{:.1%}"),
            ("lift, top decile", "lift_decile_1", "{:.2f}x"),
            ("MQL precision", "mql_precision", "{:.1%}"), ("MQL recall", "mql_recall", "{:.1%}"),
            ("conversions/week to sales", "conversions_handed_per_week", "{:.1f}")]
    for label, key, fmt in rows:
        cells = []
        for name in names:
            m = metrics[name]
            if key is None:
                cells.append(f"{m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f}")
            elif key in m and m[key] is not None:
                cells.append(fmt.format(m[key]))
            else:
                cells.append("")
        table.add_row(label, *cells)
    out.print(table)
    model = metrics.get("model", {})
    if "auc_diff" in model:
        out.print(
            f"model - baseline AUC: {model['auc_diff']:+.3f} "
            f"(95% CI {model['auc_diff_ci_low']:+.3f} to {model['auc_diff_ci_high']:+.3f})"
        )
    if "auc_ratio_to_oracle" in model:
        out.print(f"model / oracle AUC: {model['auc_ratio_to_oracle']:.3f}")
    if metrics.get("segments"):
        _segment_table(metrics["segments"])


def _segment_table(segments: dict) -> None:
    from rich.table import Table

    table = Table(title="Test split per segment: ROC-AUC (top-20 % capture)",
                  title_justify="left")
    scorers = [n for n in ("baseline", "learned_points", "global_model", "model")
               if any(f"{n}_roc_auc" in e for e in segments.values())]
    short = {"baseline": "rules", "learned_points": "learned", "global_model": "global",
             "model": "selected", "conversions": "conv."}
    for col in ("segment", "leads", "conversions", "uses", *scorers):
        table.add_column(short.get(col, col), no_wrap=col == "segment",
                         justify="left" if col in ("segment", "uses") else "right")
    for level, entry in segments.items():
        cells = [f"{entry[f'{n}_roc_auc']:.3f} ({entry[f'{n}_capture_top_20']:.0%})"
                 if f"{n}_roc_auc" in entry else "" for n in scorers]
        table.add_row(level, f"{entry['leads']:,}", f"{entry['conversions']:,}",
                      str(entry.get("choice", "")), *cells)
    out.print(table)


@app.command()
@user_errors
def audit(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Leakage audit: single-column AUC on the training split and post-contact columns."""
    from rich.table import Table

    from pipeline.data.artifacts import write_table
    from pipeline.data.dataset import build_training_set
    from pipeline.stages.train import run_audit

    cfg = _load(config, set_)
    leads, activities = _load_clean(cfg)
    ts = build_training_set(
        leads, activities, cfg.dataset.mode, cfg.dataset.as_of, cfg.dataset.horizon_days,
        cfg.split, cfg.seed, snapshot=cfg.dataset.snapshot and __import__("pandas").Timestamp(
            cfg.dataset.snapshot),
    )
    table = run_audit(ts, cfg)
    write_table(_paths(cfg).audit, table)
    view = Table(title=f"Leakage audit ({len(ts.part('train')):,} training leads)",
                 title_justify="left")
    for col in ("column", "auc", "action", "reason"):
        view.add_column(col, justify="right" if col == "auc" else "left")
    for row in table.itertuples():
        style = "red" if row.action == "excluded" else ("yellow" if row.flagged else "")
        view.add_row(str(row.column), f"{row.auc:.3f}", row.action, row.reason, style=style)
    out.print(view)
    out.print(f"wrote {_paths(cfg).audit}")


def _mlflow(cfg):
    from pipeline.mlops.tracking import configure

    return configure(cfg)


def _run_id(paths) -> str | None:
    import json

    path = paths.root / "run.json"
    return json.loads(path.read_text()).get("run_id") if path.is_file() else None


@app.command()
@user_errors
def train(
    config: ConfigOpt,
    set_: SetOpt = None,
    evaluate_after: Annotated[bool, typer.Option(
        "--evaluate/--no-evaluate", help="Also evaluate, report and print the comparison.")] = True,
    track: Annotated[bool, typer.Option("--track/--no-track",
                                        help="Log the run and register the models.")] = True,
) -> None:
    """Fit the model and the rule baseline on the same split; register the challenger."""
    import yaml

    from pipeline.data.artifacts import write_json, write_table
    from pipeline.stages.train import train_scorers

    cfg = _load(config, set_)
    paths = _paths(cfg)
    leads, activities = _load_clean(cfg)
    rules = _load_rules(cfg)
    best = None
    if paths.best_params.is_file():
        best = (yaml.safe_load(paths.best_params.read_text()) or {}).get("params")
        err.print(f"using tuned parameters from {paths.best_params}")
    with err.status("training"):
        # Without evaluation the bootstrap intervals are left to `leadscore evaluate`.
        result = train_scorers(cfg, leads, activities, rules, best_params=best,
                               truth=_truth(cfg), rules_source=str(cfg.rules),
                               log=lambda line: err.print(line, highlight=False),
                               n_boot=500 if evaluate_after else 0)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")
    for name, package in result.packages.items():
        package.save(paths.package(name))
    ts = result.training_set
    import pandas as pd

    write_table(paths.split, pd.DataFrame({
        "lead_id": ts.y.index.astype(str), "as_of": ts.as_of.reindex(ts.y.index).to_numpy(),
        "y": ts.y.to_numpy(), "split": ts.split.reindex(ts.y.index).to_numpy()}))
    write_table(paths.audit, result.audit)
    run = None
    if track:
        from pipeline.mlops.tracking import log_training

        _mlflow(cfg)
        with err.status("logging to MLflow"):
            run = log_training(cfg, result, paths, leads, activities)
        write_json(paths.root / "run.json", {"run_id": run.run_id,
                                             "model_version": run.model_version,
                                             "baseline_version": run.baseline_version})
        err.print(f"MLflow run {run.run_id}: {cfg.model_name} v{run.model_version} and "
                  f"{cfg.baseline_model_name} v{run.baseline_version} registered as @challenger")
    out.print(f"wrote {paths.model}, {paths.baseline}, {paths.split}")
    if evaluate_after:
        _evaluate(cfg, result)
        _report(cfg)


def _evaluate(cfg, result) -> None:
    from pipeline.stages.outputs import save_evaluation

    paths = save_evaluation(cfg, result)
    _comparison_table(result.metrics)
    run_id = _run_id(paths)
    if run_id and os.environ.get("LEADSCORE_NO_TRACKING") is None:
        from pipeline.mlops.tracking import log_evaluation

        _mlflow(cfg)
        log_evaluation(run_id, result.metrics, paths)
    out.print(f"wrote {paths.metrics} and {paths.plots}/")


@app.command()
@user_errors
def evaluate(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Score the saved model and rules on the test split; write metrics.json and plots."""
    from pipeline.explain.package import load_package
    from pipeline.stages.train import TrainingResult, evaluate_packages, training_set_from_split

    cfg = _load(config, set_)
    paths = _paths(cfg)
    # The learned points table is optional (models trained before it existed have none).
    packages = {k: load_package(paths.package(k)) for k in ("model", "baseline", "learned_points")
                if k != "learned_points" or paths.package(k).is_file()}
    for package in packages.values():
        package.check_settings(cfg.features, str(cfg.source))
    leads, activities = _load_clean(cfg)
    import pandas as pd

    if not paths.split.is_file():
        from pipeline.data.errors import ModelError

        raise ModelError(f"{paths.split}: no saved split (run `leadscore train` first)")
    ts = training_set_from_split(leads, pd.read_parquet(paths.split))
    test_ids = ts.part("test")
    as_of = ts.as_of.loc[test_ids] if cfg.dataset.mode == "events" else None
    test_leads = ts.leads.loc[test_ids].reset_index(drop=True)
    X_test = packages["model"].features(test_leads, activities, as_of)
    metrics, probs = evaluate_packages(cfg, packages, ts, X_test, _truth(cfg))
    audit = pd.read_csv(paths.audit) if paths.audit.is_file() else pd.DataFrame()
    result = TrainingResult(ts, audit, packages, X_test, metrics, probs, {}, list(ts.notes))
    _evaluate(cfg, result)


def _report(cfg) -> None:
    from pipeline.stages.outputs import build_report

    paths = _paths(cfg)
    path = build_report(cfg, paths)
    run_id = _run_id(paths)
    if run_id and os.environ.get("LEADSCORE_NO_TRACKING") is None:
        import mlflow

        _mlflow(cfg)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_artifact(str(path))
    out.print(f"wrote {path}")


@app.command()
@user_errors
def report(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Write the self-contained HTML report (artifacts/<dataset>/report.html)."""
    _report(_load(config, set_))


@app.command()
@user_errors
def explain(
    config: ConfigOpt,
    lead_id: Annotated[str | None, typer.Option("--lead-id", help="Lead to explain.")] = None,
    best_open: Annotated[bool, typer.Option(
        "--best-open", help="Explain the highest-scored open lead.")] = False,
    scorer: Annotated[str, typer.Option("--scorer", help="model or rules.")] = "model",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of (default: the "
                                                             "data snapshot).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    set_: SetOpt = None,
) -> None:
    """Why a lead scores what it scores: points per factor, grade, reasons."""
    from pipeline.cli.explain import explain_lead

    cfg = _load(config, set_)
    kind = {"model": "model", "rules": "baseline", "baseline": "baseline"}.get(scorer)
    if kind is None:
        from pipeline.data.errors import ConfigError

        raise ConfigError(f"--scorer {scorer!r}: use 'model' or 'rules'")
    explain_lead(cfg, _paths(cfg), kind, lead_id, best_open, as_of, fmt)


@app.command()
@user_errors
def tune(
    config: ConfigOpt,
    trials: Annotated[int | None, typer.Option("--trials", min=1)] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds.")] = None,
    set_: SetOpt = None,
    track: Annotated[bool, typer.Option("--track/--no-track")] = True,
) -> None:
    """Optuna search over LightGBM parameters; writes artifacts/<dataset>/best_params.yaml."""
    from pipeline.cli.tune import run_tuning

    cfg = _load(config, set_)
    if track:
        _mlflow(cfg)
    run_tuning(cfg, _paths(cfg), _load_clean(cfg), trials, timeout, track)


@app.command()
@user_errors
def promote(
    config: ConfigOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide but change nothing.")] = False,
    set_: SetOpt = None,
) -> None:
    """Gate: promote @challenger to @champion only if it beats the champion and the rules."""
    from pipeline.mlops.registry import promote_challenger

    cfg = _load(config, set_)
    _mlflow(cfg)
    decision = promote_challenger(cfg, _load_clean(cfg), dry_run=dry_run, truth=_truth(cfg))
    color = "green" if decision.promote else "yellow"
    out.print(f"[{color}]{decision.summary()}[/]" + (" (dry run)" if dry_run else ""))


@app.command()
@user_errors
def models(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Registered versions with their aliases and key metrics."""
    from rich.table import Table

    from pipeline.mlops.registry import list_versions

    cfg = _load(config, set_)
    _mlflow(cfg)
    table = Table(title=f"Registered models ({cfg.model_name}, {cfg.baseline_model_name})",
                  title_justify="left")
    for col in ("model", "version", "aliases", "roc_auc", "ece", "created", "gate"):
        table.add_column(col)
    for row in list_versions(cfg):
        row["gate"] = str(row.get("gate", "")).split(":")[0]
        table.add_row(*[str(row.get(c, "")) for c in ("model", "version", "aliases", "roc_auc",
                                                       "ece", "created", "gate")])
    out.print(table)


@app.command()
@user_errors
def features(
    config: ConfigOpt,
    out_path: Annotated[Path | None, typer.Option("--out", help="Parquet file.")] = None,
    set_: SetOpt = None,
) -> None:
    """Write the feature table of the eligible training leads (spec in the file metadata)."""
    from pipeline.stages.feature_table import write_feature_table

    cfg = _load(config, set_)
    path = write_feature_table(cfg, _load_clean(cfg), out_path or _paths(cfg).features)
    out.print(f"wrote {path}")


@app.command()
@user_errors
def points(
    config: ConfigOpt,
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Rules file to write (default configs/rules/<dataset>-learned.yaml); a "
                      "CSV for the CRM admin is written beside it.")] = None,
    set_: SetOpt = None,
) -> None:
    """Write the learned points table (rules format + CSV) and compare it with rules and model."""
    import json

    import pandas as pd
    from rich.table import Table

    from pipeline.data.artifacts import write_table
    from pipeline.data.errors import ModelError
    from pipeline.explain.package import load_package
    from pipeline.scorers.learned_points import points_table
    from pipeline.scorers.rules import write_rules

    cfg = _load(config, set_)
    paths = _paths(cfg)
    source = paths.package("learned_points")
    if not source.is_file():
        raise ModelError(f"{source}: no learned points table yet (run `leadscore train` first)")
    package = load_package(source)
    package.check_settings(cfg.features, str(cfg.source))
    book = package.scorer.book
    target = out_path or Path("configs/rules") / f"{cfg.dataset.name}-learned.yaml"
    header = (f"# {book.name}: written by `leadscore points --config {config}`.\n"
              f"# {book.description}\n# Load it like any hand-made sheet: rules: {target}")
    write_rules(book, target, header=header)
    table = points_table(book, package.spec)
    csv_path = target.with_suffix(".csv")
    write_table(csv_path, table)
    n_rules = int((~table["rule"].isin(["base_points", "mql_threshold"])).sum())
    view = Table(title=f"{book.name}: {n_rules} rules, MQL at {book.mql_threshold:g} points",
                 title_justify="left")
    for col in table.columns:
        view.add_column(col, justify="right" if col == "points" else "left")
    for row in table.head(25).itertuples(index=False):
        view.add_row(*["" if pd.isna(v) else str(v) for v in row])
    out.print(view)
    if len(table) > 25:
        out.print(f"... {len(table) - 25} more rows in {csv_path}")
    if paths.metrics.is_file():
        _comparison_table(json.loads(paths.metrics.read_text()))
    out.print(f"wrote {target} and {csv_path}")


@app.command()
@user_errors
def cv(
    config: ConfigOpt,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20)] = 5,
    keep_leaky: Annotated[bool, typer.Option(
        "--keep-leaky", help="Keep the columns listed as leaky (to show what they do).")] = False,
    set_: SetOpt = None,
) -> None:
    """Stratified k-fold metrics of model and rules (flat exports without timestamps)."""
    from rich.table import Table

    from pipeline.data.artifacts import write_table
    from pipeline.data.errors import ConfigError
    from pipeline.stages.train import cross_validate

    cfg = _load(config, set_)
    if cfg.dataset.mode != "flat":
        raise ConfigError(f"{cfg.source}: dataset.mode: cross-validation is for flat exports; "
                          "event data is judged on its time split")
    if keep_leaky:
        cfg = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(
            update={"keep_leaky": list(cfg.dataset.leaky)})})
        cfg = cfg.model_copy(update={"audit": cfg.audit.model_copy(update={"max_auc": 1.0})})
    leads, activities = _load_clean(cfg)
    with err.status(f"{folds}-fold cross-validation"):
        table = cross_validate(cfg, leads, activities, _load_rules(cfg), folds, str(cfg.rules))
    name = "cv_leaky.csv" if keep_leaky else "cv.csv"
    write_table(_paths(cfg).root / name, table)
    view = Table(title=f"{folds}-fold test ROC-AUC" + (" (leaky columns KEPT)" if keep_leaky
                                                       else ""), title_justify="left")
    view.add_column("scorer")
    for k in range(1, folds + 1):
        view.add_column(f"fold {k}", justify="right")
    view.add_column("mean", justify="right")
    view.add_column("sd", justify="right")
    for scorer, part in table.groupby("scorer", sort=False):
        aucs = part["roc_auc"].to_numpy()
        view.add_row(scorer, *[f"{a:.4f}" for a in aucs], f"{aucs.mean():.4f}",
                     f"{aucs.std(ddof=1):.4f}")
    out.print(view)
    out.print(f"wrote {_paths(cfg).root / name}")


def _resolve_model(cfg, model: str | None):
    """(package, model_name, model_version) from a file path or a models:/ URI."""
    import hashlib

    from pipeline.explain.package import load_package

    uri = model or f"models:/{cfg.model_name}@champion"
    if uri.startswith(("models:/", "runs:/")):
        from pipeline.mlops.tracking import load_registered_package

        _mlflow(cfg)
        package = load_registered_package(uri)
        name, _, ref = uri.removeprefix("models:/").partition("@")
        version = ref
        if ref and not ref.isdigit():
            from pipeline.mlops.tracking import alias_version

            version = alias_version(name, ref) or ref
        return package, name, str(version)
    path = Path(uri)
    package = load_package(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return package, path.stem, f"file:{digest}"


def _as_of_option(as_of: str | None):
    """``--as-of`` as a timestamp; without it, now (UTC, to the second)."""
    import pandas as pd

    from pipeline.data.errors import ConfigError

    if not as_of:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    try:
        when = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        when = pd.NaT
    if pd.isna(when):
        raise ConfigError(f"--as-of {as_of!r}: not a date (e.g. 2026-06-30T23:59:59)")
    return when.tz_convert("UTC").tz_localize(None) if when.tzinfo else when


@app.command()
@user_errors
def score(
    config: ConfigOpt,
    input_path: Annotated[Path, typer.Option("--input", help="Leads to score (CSV/Parquet).")],
    output: Annotated[Path, typer.Option("--output", help="Scores file (.parquet or .csv).")],
    activities: Annotated[Path | None, typer.Option("--activities", help="Activity log.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="models:/NAME@ALIAS or a model.pkl (default: the champion).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of (default: now).")] = (
        None
    ),
    engine: Annotated[str, typer.Option("--engine", help="local or spark.")] = "local",
    spark_master: Annotated[str, typer.Option("--spark-master")] = "local[*]",
    explain_leads: Annotated[bool, typer.Option("--explain/--no-explain")] = True,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=100)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted job.")] = False,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Only the N best leads.")] = None,
    min_score: Annotated[int | None, typer.Option("--min-score", min=0, max=100)] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="parquet or csv.")] = None,
    open_only: Annotated[bool, typer.Option("--open-only", help="Skip decided leads.")] = False,
    set_: SetOpt = None,
) -> None:
    """Score leads in bounded memory; atomic output; resumable; local or Spark engine."""

    from pipeline.data.artifacts import write_json
    from pipeline.data.errors import ConfigError
    from pipeline.evaluation.drift import DriftMonitor
    from pipeline.batch.local import ScoreJob, run_score_job

    cfg = _load(config, set_)
    if engine not in ("local", "spark"):
        raise ConfigError(f"--engine {engine!r}: use 'local' or 'spark'")
    if fmt not in (None, "csv", "parquet"):
        raise ConfigError(f"--format {fmt!r}: use 'csv' or 'parquet'")
    package, model_name, model_version = _resolve_model(cfg, model)
    package.check_settings(cfg.features, str(cfg.source))
    when = _as_of_option(as_of)
    job = ScoreJob(
        leads_path=input_path, output_path=output,
        activities_path=activities if activities else None, as_of=when,
        explain=explain_leads, batch_size=batch_size or cfg.scoring.batch_size, resume=resume,
        top=top, min_score=min_score, output_format=fmt, model_name=model_name,
        model_version=model_version, open_only=open_only,
    )
    monitor = DriftMonitor(package.reference, cfg.monitor.psi_warn, cfg.monitor.psi_alarm) \
        if package.reference else None
    if engine == "spark":
        from pipeline.batch.spark import run_spark_job

        summary = run_spark_job(package, cfg, job, master=spark_master)
    else:
        from pipeline.cli.console import progress

        with progress("leads") as bar:
            task = bar.add_task("score", total=None, rate="")

            def _advance(done: int, total: int, rows: int) -> None:
                elapsed = bar.tasks[task].elapsed or 1e-9
                bar.update(task, total=total, completed=done, rate=f"{rows / elapsed:,.0f}")

            summary = run_score_job(package, cfg, job, progress=_advance, monitor=monitor)
    if monitor is not None and monitor.rows:
        drift = monitor.result()
        write_json(output.with_name(output.name + ".drift.json"),
                   {"rows": monitor.rows, "psi": drift.to_dict("records")})
        flagged = drift[drift["status"] != "ok"]
        if len(flagged):
            err.print(f"[yellow]drift:[/] {len(flagged)} feature(s) above PSI "
                      f"{cfg.monitor.psi_warn}: " + ", ".join(
                          f"{r.feature} {r.psi:.2f}" for r in flagged.head(5).itertuples()))
    out.print(f"[green]scored[/] {summary['input_rows']:,} leads -> {output} "
              f"({summary['output_rows']:,} rows, {summary['rows_per_second']:,} leads/s, "
              f"model {model_name} {model_version})")


@app.command()
@user_errors
def drift(
    config: ConfigOpt,
    input_path: Annotated[Path, typer.Option("--input", help="New leads (CSV/Parquet).")],
    activities: Annotated[Path | None, typer.Option("--activities")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="JSON report path.")] = None,
    set_: SetOpt = None,
) -> None:
    """PSI of every feature and of the score against training; exit 3 on an alarm."""

    from pipeline.cli.drift import drift_report

    cfg = _load(config, set_)
    package, _, _ = _resolve_model(cfg, model)
    package.check_settings(cfg.features, str(cfg.source))
    drift_report(cfg, package, input_path, activities, _as_of_option(as_of),
                 output or _paths(cfg).root / "drift.json")


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline.cli.app``."""
    app(prog_name="leadscore")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
