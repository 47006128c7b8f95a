"""Setting up a new export: ``init`` (profile it, write a starter config and rules sheet) and
``config`` (the effective config, each value with where it came from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, user_errors
from pipeline.cli.console import Format, FormatOpt, emit, err, out


@app.command()
@user_errors
def init(
    leads: Annotated[Path, typer.Option("--leads", help="The leads export (CSV or Parquet).")],
    out_path: Annotated[Path, typer.Option("--out", help="Config to write, e.g. "
                                           "configs/mycrm.yaml.")],
    activities: Annotated[Path | None, typer.Option(
        "--activities", help="The activity log (tasks, events, web and email activity).")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", help="CRM field names: salesforce, hubspot or marketo.")] = None,
    rules_out: Annotated[Path | None, typer.Option(
        "--rules-out", help="Starter rules sheet (default configs/rules/<name>.yaml).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    table_format: FormatOpt = Format.table,
) -> None:
    """Profile an export and write a commented starter config and rules sheet.

    Prints what it guessed (roles, outcome grouping, PII, leakage suspects, activity mapping)
    and what you must check, then runs the same check as `leadscore validate`.
    """
    from pipeline.data.config import load_config
    from pipeline.data.errors import ConfigError
    from pipeline.data.io import atomic_path
    from pipeline.stages.profile import profile_export
    from pipeline.stages.starter import render_config

    name = _dataset_name(out_path)
    rules_path = rules_out or out_path.parent / "rules" / f"{name}.yaml"
    for target in (out_path, rules_path):
        if target.exists() and not force:
            raise ConfigError(f"--out {target}: exists already (use --force to overwrite)")
    for given in (leads, activities):
        if given is not None and given.resolve() in (out_path.resolve(), rules_path.resolve()):
            raise ConfigError(f"--out {given}: that is an input file")
    with err.status("profiling the export"):
        profile = profile_export(leads, activities, preset)
    text = render_config(profile, name, rules_path)
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)
    try:
        config = load_config(out_path)
    except ConfigError:
        out_path.unlink()  # never leave a config the tool itself cannot read
        raise
    emit(table_format, [{"column": c.name, "type": c.form, "filled": c.filled,
                         "levels": c.levels, "guess": _guess(profile, c)}
                        for c in profile.columns], lambda: None)
    _print_profile(profile, table_format)
    _check(config, out_path, profile, rules_path)


def _dataset_name(path: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_\-]+", "_", path.stem).strip("_") or "crm"


def _guess(profile, c) -> str:
    """What the profile takes a column for: a role, PII, a leak suspect, a feature group."""
    roles = {v: k for k, v in profile.roles.items() if v}
    features = {col: k for k, cols in profile.features.items() if isinstance(cols, list)
                for col in cols}
    features.update({v: k for k, v in profile.features.items() if isinstance(v, str)})
    return roles.get(c.name) or (f"PII: {c.pii}" if c.pii else None) or \
        (f"LEAK? {c.leak}" if c.leak else None) or features.get(c.name, "ignored")


def _print_profile(profile, table_format: Format = Format.table) -> None:
    from rich.markup import escape
    from rich.table import Table

    if table_format is Format.table:
        view = Table(title=f"{profile.path}: {profile.rows:,} rows", title_justify="left")
        for col in ("column", "type", "filled", "levels", "guess"):
            view.add_column(col)
        for c in profile.columns:
            style = "red" if c.leak else "magenta" if c.pii else ""
            view.add_row(escape(c.name), c.form, f"{c.filled:.0%}", f"{c.levels:,}",
                         escape(_guess(profile, c)), style=style)
        out.print(view)
    if profile.activities is not None:
        act = profile.activities
        out.print(f"{act.path}: {act.rows:,} events; columns {act.columns}", markup=False,
                  highlight=False)
        for canonical, values in act.mapping.items():
            out.print(f"  {canonical:<20} <- {', '.join(map(str, values))}", highlight=False,
                      markup=False)
        if act.unmapped:
            shown = ", ".join(f"{v} ({n:,})" for v, n in act.unmapped.items())
            out.print(f"  not mapped: {shown}", highlight=False, markup=False)
    for check in profile.checks:
        out.print(f"check: {check}", highlight=False, markup=False)


def _check(config, path: Path, profile, rules_path: Path) -> None:
    """Write the starter sheet from the training set the check builds, then check it too."""
    from pipeline.data.io import atomic_path
    from pipeline.stages.check import check_training_inputs
    from pipeline.stages.starter import render_rules, starter_rules

    def write_sheet(prepared, leads) -> None:
        # only features the training leads really have (none known if the data is refused)
        names = [] if prepared is None else list(prepared.builder.spec_.names)
        with atomic_path(rules_path) as tmp:
            tmp.write_text(render_rules(starter_rules(profile, names, leads)))
        out.print(f"[green]wrote[/] {path} and {rules_path}")

    with err.status("checking it the way train will"):
        result = check_training_inputs(config, starter=write_sheet)
    for warning in result.warnings:
        err.print(f"[yellow]note:[/] {warning}", highlight=False, soft_wrap=True)
    if result.ok:
        out.print(f"[green]ok[/]: `leadscore train --config {path}` will accept it")
        return
    for problem in result.problems:
        err.print(problem, highlight=False, soft_wrap=True, markup=False)
    err.print(f"[bold red]{len(result.problems)} problem(s)[/]: edit {path}, then "
              f"`leadscore validate --config {path}`")
    raise typer.Exit(2)


@app.command("config")
@user_errors
def show_config(
    config: ConfigOpt,
    set_: SetOpt = None,
    only: Annotated[str | None, typer.Option(
        "--only", help="Keys starting with this, e.g. model or dataset.columns.")] = None,
    config_format: Annotated[str, typer.Option(
        "--format", help="table (for people); json or csv (for scripts: key, value, from); "
        "tsv (key, JSON value, from: one line each).")] = "table",
) -> None:
    """Print the effective config: every value and where it came from (default, base.yaml,
    the dataset file, --set)."""
    from pipeline.data.config import effective_config, parse_assignment

    rows = effective_config(config, parse_assignment(set_ or []))
    if only:
        rows = [r for r in rows if r[0] == only or r[0].startswith(only.rstrip(".") + ".")]
    if config_format == "tsv":
        for key, value, origin in rows:
            typer.echo(f"{key}\t{json.dumps(value)}\t{origin}")
        return
    if config_format not in {f.value for f in Format}:
        raise typer.BadParameter("--format: table, json, csv or tsv")

    def view() -> None:
        from rich.table import Table

        table = Table(title=f"Effective config of {config}", title_justify="left")
        for col in ("key", "value", "from"):
            table.add_column(col, overflow="fold")
        for key, value, origin in rows:
            style = "" if origin.startswith("default") else "bold"
            table.add_row(key, str(value), origin, style=style)
        out.print(table)

    emit(config_format, [{"key": key, "value": value, "from": origin}
                        for key, value, origin in rows], view)
