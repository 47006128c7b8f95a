"""The ``leadscore`` command line: load config, read inputs, call the core, write ``artifacts/``.

User mistakes (bad data, bad config, wrong model) end with one line on stderr and exit code 2,
never a traceback; drift alarms exit 3. Set ``LEADSCORE_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipeline.console import err, out
from pipeline.errors import LeadScoreError

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
    from pipeline.config import load_config, parse_assignment

    return load_config(config, parse_assignment(overrides or []))


@app.command()
@user_errors
def validate(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Check the dataset against the input contract; list every violation (exit 2 if any)."""
    from pipeline.io import load_dataset

    cfg = _load(config, set_)
    leads, activities, report = load_dataset(cfg)
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
    from pipeline.console import progress
    from pipeline.synth import write_world

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
    from pipeline.artifacts import Paths

    return Paths(cfg.out_dir)


def _load_clean(cfg, scoring: bool = False):
    from pipeline.io import load_dataset

    leads, activities, report = load_dataset(cfg, scoring=scoring)
    report.raise_if_failed()
    return leads, activities


def _load_rules(cfg):
    from pipeline.errors import ConfigError
    from pipeline.rules import RulesBook, load_rules

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


@app.command()
@user_errors
def audit(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Leakage audit: single-column AUC on the training split and post-contact columns."""
    from rich.table import Table

    from pipeline.artifacts import write_table
    from pipeline.dataset import build_training_set
    from pipeline.training import run_audit

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


@app.command()
@user_errors
def train(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Fit the model and the rule baseline on the same split, evaluate both, save artifacts."""
    import yaml

    from pipeline.reporting import save_training_outputs
    from pipeline.training import train_scorers

    cfg = _load(config, set_)
    paths = _paths(cfg)
    leads, activities = _load_clean(cfg)
    rules = _load_rules(cfg)
    best = None
    if paths.best_params.is_file():
        best = yaml.safe_load(paths.best_params.read_text()).get("params")
        err.print(f"using tuned parameters from {paths.best_params}")
    with err.status("training"):
        result = train_scorers(cfg, leads, activities, rules, best_params=best,
                               truth=_truth(cfg), rules_source=str(cfg.rules),
                               log=lambda line: err.print(line, highlight=False))
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")
    save_training_outputs(cfg, result)
    _comparison_table(result.metrics)
    out.print(f"wrote {paths.root}/ (model.pkl, baseline.pkl, metrics.json, plots/)")


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline.cli``."""
    app(prog_name="leadscore")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
