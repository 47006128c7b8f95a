"""MLflow tracking: one run per training with a child run per scorer kind, models registered.

The tracking URI is set here, called from the CLI entry, never at import: ``MLFLOW_TRACKING_URI``
from the environment wins (a team server), otherwise the config's embedded default
``sqlite:///artifacts/mlflow.db`` with artifacts under ``artifacts/mlruns``. The registry uses
aliases (``challenger``, ``champion``), not the deprecated stages; the aliases and the promotion
gate are in :mod:`pipeline.mlops.registry`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.config import Config
from pipeline.mlops.registry import CHALLENGER
from pipeline.scorers import kinds

GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own tag: the UI links the commit
DIGEST_LENGTH = 36  # what MLflow's tracking store holds of a dataset digest
TRACKED_PACKAGES = ("lightgbm", "scikit-learn", "pandas", "numpy", "mlflow", "shap", "optuna")


def configure(config: Config) -> str:
    """Point MLflow at the configured store and experiment; return the tracking URI."""
    import logging

    import mlflow

    # MLflow's INFO lines and download bars would drown the CLI's own output.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    env_uri = os.environ.get("MLFLOW_TRACKING_URI")
    uri = env_uri or config.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        if not db.is_absolute():
            # MLflow caches one store per URI string: a relative one would keep writing to the
            # folder it was first opened from
            uri = f"sqlite:///{db.resolve()}"
    mlflow.set_tracking_uri(uri)
    # mlflow.set_tracking_uri also exports the URI as MLFLOW_TRACKING_URI (for subprocesses): left
    # there, the config's URI would pass for the user's own and win over the next config, and a
    # URI the user sets later could not be told from one exported here. The environment keeps
    # only what the user set; this process reads the URI from mlflow's own state.
    if env_uri is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = env_uri
    if mlflow.get_experiment_by_name(config.experiment_name) is None:
        location = None
        if not env_uri:
            root = Path(config.mlflow.artifact_root).resolve()
            root.mkdir(parents=True, exist_ok=True)
            location = root.as_uri()
        mlflow.create_experiment(config.experiment_name, artifact_location=location)
    mlflow.set_experiment(config.experiment_name)
    return uri


def file_fingerprint(paths: list[Path]) -> str:
    """sha256 over the bytes of the input files (streamed; order given)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def data_fingerprint(config: Config, n_leads: int, n_activities: int) -> dict[str, str]:
    """Row counts and content hash of the training inputs."""
    files = [Path(config.dataset.leads)]
    if config.dataset.activities is not None and config.dataset.mode == "events":
        files.append(Path(config.dataset.activities))
    return {
        "data.leads_rows": str(n_leads),
        "data.activities_rows": str(n_activities),
        "data.sha256": file_fingerprint(files),
    }


def git_commit() -> str:
    """Current commit of the project (``unknown`` outside git)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model."""
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[f"version.{name}"] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def numeric_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested metrics to MLflow-safe ``name: float`` pairs (lists become name_i)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}".replace("::", "_").replace(" ", "_")
        if isinstance(value, dict):
            out.update(numeric_metrics(value, f"{name}."))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value, start=1):
                if isinstance(item, int | float):
                    out[f"{name}_{i}"] = float(item)
        elif isinstance(value, bool) or isinstance(value, int | float) and value == value:
            out[name] = float(value)
    return out


def _input_example(package, leads: pd.DataFrame, activities: pd.DataFrame | None,
                   pii: list[str], email_column: str | None
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Three leads as the REST input looks, without personal data, and the params (as_of).

    PII columns are dropped, except the email, which features read only for its domain: its
    local part is replaced, so no real address is ever logged.
    """
    from pipeline.mlops.serving import activities_to_json

    keep_email = email_column if email_column in leads.columns else None
    drop = [c for c in pii if c in leads.columns and c != keep_email]
    example = leads.head(3).drop(columns=drop).copy()
    if keep_email:
        domain = example[keep_email].astype("string").str.extract(r"@(.+)$", expand=False)
        example[keep_email] = ("redacted@" + domain.fillna("example.com")).astype(object)
    example = example.drop(columns=[c for c in ("outcome", "outcome_at") if c in example])
    params: dict[str, str] = {}
    if package.mode == "events":
        as_of = example["created_at"].max() + pd.Timedelta(days=14)
        events = activities[activities["lead_id"].isin(example["lead_id"])
                            & (activities["occurred_at"] <= as_of)] if activities \
            is not None else pd.DataFrame(columns=["lead_id", "occurred_at", "activity_type",
                                                   "detail", "channel"])
        example["activities"] = activities_to_json(events, example["lead_id"])
        params["as_of"] = as_of.strftime("%Y-%m-%dT%H:%M:%S")
    for column in example.columns:
        if pd.api.types.is_datetime64_any_dtype(example[column]):
            example[column] = example[column].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return example.reset_index(drop=True), params


PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


def log_package(package, name: str, registered_name: str | None, example: pd.DataFrame,
                params: dict[str, str] | None = None) -> Any:
    """Log a scoring package as a portable pyfunc model (and register it); returns its info.

    The model holds the package, LeadScore's wheel and the pinned requirements that load it in
    a fresh environment (:mod:`pipeline.mlops.packaging`); the pyfunc class is logged as code.
    """
    import mlflow

    from pipeline.mlops import packaging
    from pipeline.mlops.serving import package_version, predict_frame

    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / "package.pkl"
        package.save(pkl)
        wheel = packaging.build_wheel(Path(tmp) / "wheel")
        at = (params or {}).get("as_of", "")
        columns = packaging.input_columns(example)
        output = predict_frame(package, example, now=pd.Timestamp(at) if at else None,
                               columns=columns)
        output.insert(1, "model_version", package_version(pkl))
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(PYFUNC_CODE),
            artifacts={"package": str(pkl), "wheel": str(wheel)},
            model_config={"columns": columns},
            signature=packaging.signature(example, output, package.top_reasons),
            input_example=(example, params) if params else example,
            registered_model_name=registered_name,
            pip_requirements=packaging.requirements(wheel),
        )
        info.package_version = package_version(pkl)
    return info


def log_training_data(config: Config, leads: pd.DataFrame, fingerprint: dict[str, str]) -> None:
    """The training leads as the run's input dataset: schema, row count and the files' digest.

    PII columns are dropped first, so not even their names reach MLflow; the digest is that of
    the files (``data.sha256``), not MLflow's hash of the first rows.
    """
    import mlflow

    public = leads.drop(columns=[c for c in config.dataset.pii if c in leads.columns])
    dataset = mlflow.data.from_pandas(
        public, source=str(Path(config.dataset.leads).resolve()), name=config.dataset.name,
        targets="outcome" if "outcome" in public else None,
        digest=fingerprint["data.sha256"][:DIGEST_LENGTH])
    mlflow.log_input(dataset, context="training")


@dataclass
class LoggedRun:
    """Identifiers of a logged training run: its id and the version registered per kind."""

    run_id: str
    versions: dict[str, str]


def log_training(config: Config, result, paths, leads: pd.DataFrame,
                 activities: pd.DataFrame | None, register: bool = True) -> LoggedRun:
    """One parent run per training; a child run per scorer kind with its model and metrics."""
    import mlflow
    from mlflow import MlflowClient

    fingerprint = data_fingerprint(config, len(leads), 0 if activities is None else len(activities))
    tags = {"dataset": config.dataset.name, **fingerprint, **package_versions()}
    commit = git_commit()
    if commit != "unknown":  # outside git MLflow's tag is left out rather than linking nothing
        tags[GIT_COMMIT_TAG] = commit
    if result.notes:  # caveats (a random split, a stand-in for the rules) shown on the run page
        tags["notes"] = " | ".join(result.notes)[:5000]
    client = MlflowClient()
    versions: dict[str, str] = {}
    with mlflow.start_run(run_name=f"train-{config.dataset.name}", tags=tags) as parent:
        # What LightGBM's OpenMP threads did while waiting (pipeline/cli sets PASSIVE unless the
        # user set it): it decides how fast training is next to other jobs.
        params = {**config.flat_params(), "env.OMP_WAIT_POLICY": os.environ.get(
            "OMP_WAIT_POLICY", "")}
        mlflow.log_params({k[:250]: v[:6000] for k, v in params.items()})
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        log_training_data(config, leads, fingerprint)
        mlflow.log_metrics(numeric_metrics(result.metrics.get("split", {}), "split."))
        for artifact in (paths.metrics, paths.audit, paths.report, paths.split):
            if Path(artifact).is_file():
                mlflow.log_artifact(str(artifact))
        if paths.plots.is_dir():
            mlflow.log_artifacts(str(paths.plots), "plots")
        for kind in kinds.KINDS:
            package = result.packages[kind.name]
            registered = kind.registered_name(config)
            with mlflow.start_run(run_name=kind.name, nested=True,
                                  tags={**tags, "scorer": kind.name}):
                mlflow.log_params(package.scorer.tracking_params())
                for name, table in package.scorer.tracking_tables().items():
                    mlflow.log_dict(table, name)
                mlflow.log_metrics(numeric_metrics(result.metrics[kind.name]))
                if registered is None:
                    continue
                example, example_params = _input_example(
                    package, leads, activities, config.dataset.pii, config.features.email_column)
                info = log_package(package, kind.name, registered if register else None,
                                   example, example_params)
                if register and info.registered_model_version is not None:
                    version = str(info.registered_model_version)
                    client.set_registered_model_alias(registered, CHALLENGER, version)
                    client.set_model_version_tag(registered, version, "run_id",
                                                 parent.info.run_id)
                    # what the pyfunc writes as model_version, found from the registry version
                    client.set_model_version_tag(registered, version, "package_version",
                                                 info.package_version)
                    versions[kind.name] = version
    return LoggedRun(parent.info.run_id, versions)


def log_evaluation(run_id: str, metrics: dict[str, Any], paths) -> None:
    """Add an evaluation's metrics and plots to the training run (and its scorer child runs)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    with mlflow.start_run(run_id=run_id):
        if Path(paths.metrics).is_file():
            notes = json.loads(Path(paths.metrics).read_text()).get("notes") or []
            if notes:
                mlflow.set_tag("notes", " | ".join(map(str, notes))[:5000])
        mlflow.log_metrics(numeric_metrics({k: v for k, v in metrics.items()
                                            if k in (*kinds.names(), "oracle")}))
        # per age bucket too: one overall ECE hides a score that is wrong for old leads
        mlflow.log_metrics(numeric_metrics(metrics.get("by_age", {}), "by_age."))
        # dataset.account: counts and account-score figures only, never an account key
        mlflow.log_metrics(numeric_metrics(metrics.get("accounts", {}), "accounts."))
        for artifact in (paths.metrics, paths.test_scores_public, paths.audit):
            if Path(artifact).is_file():
                mlflow.log_artifact(str(artifact))
        if paths.plots.is_dir():
            mlflow.log_artifacts(str(paths.plots), "plots")
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    for child in children:
        kind = child.data.tags.get("scorer")
        if kind in metrics:
            with mlflow.start_run(run_id=child.info.run_id, nested=True):
                mlflow.log_metrics(numeric_metrics(metrics[kind]))
