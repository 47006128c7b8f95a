"""The ``leadscore`` Typer app and what every command shares: options, loading, exit codes.

Commands live in one module per command group (:mod:`pipeline.cli.data`, ``train``, ``explain``,
``registry``, ``score``); each registers itself on :data:`app`. The CLI is the only layer that
parses options and prints. User mistakes (bad data, bad config, wrong model) end with one line on
stderr and exit code 2, never a traceback; drift alarms exit 3. Set ``LEADSCORE_DEBUG=1`` to see
tracebacks. Heavy libraries are imported inside the commands, so ``leadscore --help`` stays fast.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipeline.cli.console import err, fit_to_stdout, results_as, table_format
from pipeline.data.errors import LeadScoreError

# pandera probes pyspark.pandas, which warns about pandas 3 on every command.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
# The commands print the training set's notes themselves (this caveat among them), once.
warnings.filterwarnings("ignore", message="flat export split at random")

app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring that stays as legible as a points table.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion: bash, zsh, fish and PowerShell
    add_completion=True,
)

F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="Dataset config, e.g. configs/demo.yaml.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key, e.g. --set model.n_estimators=50."),
]


def version() -> str:
    """The installed distribution's version (``pyproject.toml`` when installed editable)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("leadscore")
    except PackageNotFoundError:  # a bare checkout on PYTHONPATH, never pip-installed
        return "unknown (not installed: pip install -e .)"


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"leadscore {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the installed version and exit.")] = False,
) -> None:
    """Predictive lead scoring that stays as legible as a points table."""
    fit_to_stdout()


def user_errors(func: F) -> F:
    """Turn LeadScoreError (and the environment's faults) into one stderr line and an exit code.

    User mistakes exit 2; the environment (permissions, a full disk, an unreachable tracking
    store) exits 1; an interrupt exits 130. Anything else is a bug and keeps its traceback.
    A command's ``table_format`` (``--format table|json|csv``) is checked here, and json or csv
    send every console line to stderr while the command runs, so stdout holds the data alone.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if "table_format" in kwargs:
                kwargs["table_format"] = table_format(kwargs["table_format"])
            with results_as(kwargs.get("table_format")):
                return func(*args, **kwargs)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/] (a `score` job keeps its finished batches: "
                      "--resume continues it)")
            raise typer.Exit(130) from None
        except Exception as raised:  # noqa: BLE001 - translated or re-raised just below
            exc = raised if isinstance(raised, LeadScoreError) else environment_fault(raised)
            if exc is None or os.environ.get("LEADSCORE_DEBUG"):
                raise
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            extra = len(getattr(exc, "details", [])) - 1
            if extra > 0:
                err.print(f"  (+{extra} more problems: run `leadscore validate` to list them)")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def environment_fault(exc: BaseException) -> LeadScoreError | None:
    """The one-line error of an environment fault, or None for anything else (a bug)."""
    import sys

    from pipeline.data.errors import EnvironmentFault, describe_os_error

    if isinstance(exc, OSError):
        return EnvironmentFault(describe_os_error(exc))
    module = type(exc).__module__
    if module.startswith(("mlflow", "sqlalchemy")):
        uri = sys.modules["mlflow"].get_tracking_uri() if "mlflow" in sys.modules else "?"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return EnvironmentFault(f"MLflow tracking store {uri}: unreachable or refused the "
                                f"request ({first[:200]}); check mlflow.tracking_uri or "
                                "MLFLOW_TRACKING_URI")
    return None


def load(config: Path, overrides: list[str] | None = None):
    """The typed config, with ``--set`` overrides applied."""
    from pipeline.data.config import load_config, parse_assignment

    return load_config(config, parse_assignment(overrides or []))


def paths_of(cfg):
    """The artifacts layout of the config's dataset."""
    from pipeline.data.artifacts import Paths

    return Paths(cfg.out_dir)


def load_clean(cfg, scoring: bool = False):
    """Leads and activities that passed the input contract (else one line, exit 2)."""
    from pipeline.data.io import load_dataset

    leads, activities, report = load_dataset(cfg, scoring=scoring)
    report.raise_if_failed()
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    return leads, activities


def load_rules(cfg):
    """The team's points sheet the config names, or None (a learned table stands in)."""
    from pipeline.scorers.rules import load_rules as read_rules

    return read_rules(cfg.rules) if cfg.rules else None


def load_truth(cfg):
    """True conversion probabilities by lead_id (synthetic worlds only), or None."""

    if cfg.dataset.truth is None or not cfg.dataset.truth.is_file():
        return None
    from pipeline.data.io import read_truth

    return read_truth(cfg.dataset.truth)


def with_threads(cfg):
    """The config as given, after stderr states this run's LightGBM threads (``auto`` decided
    once per process, as the models will use it) and the OpenMP wait policy. ``auto`` stays in
    the config, so the saved models do not depend on how busy this machine was."""
    from pipeline.scorers.lightgbm import auto_threads, resolve_n_jobs

    threads, how = auto_threads() if cfg.model.n_jobs == "auto" else \
        resolve_n_jobs(cfg.model.n_jobs)
    policy = os.environ.get("OMP_WAIT_POLICY")
    policy = f"OMP_WAIT_POLICY={policy} (set in the environment)" if policy else \
        "OpenMP's default wait policy"
    err.print(f"threads: {threads} ({how}); {policy}", highlight=False)
    return cfg


def tracking(cfg):
    """Point MLflow at the configured store (the env's MLFLOW_TRACKING_URI wins)."""
    from pipeline.mlops.tracking import configure

    return configure(cfg)


def tracking_on() -> bool:
    """Whether commands log to MLflow (``LEADSCORE_NO_TRACKING`` turns it off)."""
    return os.environ.get("LEADSCORE_NO_TRACKING") is None


def run_id(paths) -> str | None:
    """The MLflow run of the dataset's last training, if tracked."""
    import json

    path = paths.root / "run.json"
    return json.loads(path.read_text()).get("run_id") if path.is_file() else None


def resolve_model(cfg, model: str | None):
    """(package, model_name, model_version) from a file path or a models:/ URI."""
    import hashlib

    from pipeline.explain.package import load_package
    from pipeline.scorers import kinds

    uri = model or f"models:/{kinds.get(kinds.CHALLENGER).registered_name(cfg)}@champion"
    if uri.startswith(("models:/", "runs:/")):
        from pipeline.mlops.registry import alias_version, load_registered_package

        tracking(cfg)
        package = load_registered_package(uri)
        name, _, ref = uri.removeprefix("models:/").partition("@")
        version = ref
        if ref and not ref.isdigit():
            version = alias_version(name, ref) or ref
        return package, name, str(version)
    path = Path(uri)
    package = load_package(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return package, path.stem, f"file:{digest}"


def as_of_option(as_of: str | None):
    """``--as-of`` as a timestamp; without it, now (UTC, to the second)."""
    from pipeline.data.errors import ConfigError
    from pipeline.data.scoring_time import parse_as_of, wall_clock

    return parse_as_of(as_of, "--as-of", ConfigError) if as_of else wall_clock()
