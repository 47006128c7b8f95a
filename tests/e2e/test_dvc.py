"""`dvc repro` of the demo pipeline in a throwaway git + DVC repository.

The project's files (`git ls-files`, plus untracked files git does not ignore, so a new module
counts before it is added) are copied into a temporary folder that becomes a fresh git + DVC
repository with a small demo world (5,000 leads, one global model, a 2-trial search, at most
300 boosting rounds). The module then runs, once, and the tests read what happened:

1. `make demo` (`python -m pipeline.cli.demo`: `dvc repro` of the demo stages, then the promotion
   and an explanation) from a clean state: every stage runs, and `dvc status` is clean after it.
   A `sitecustomize` on the commands' PYTHONPATH records, for each `leadscore` process, the
   project modules it loaded and the config keys it read: each stage's deps and params must be
   exactly those.
2. `dvc repro` again: no stage runs.
3. One weight of `configs/rules/demo.yaml` changed, `dvc repro`: only the stages that read the
   rules (`validate@demo` checks their fields, `train@demo` fits them) and the stages fed by
   train's outputs run; validate's unchanged report re-runs nothing after it.

The X Education stages read `../shared/data` beside the project, absent beside the copy, so only
the demo stages are targeted (their names come from `pipeline.cli.demo.stage_commands`, the
reading of dvc.yaml that `make demo` runs). MLflow runs land in the copy's `artifacts/`
(`MLFLOW_TRACKING_URI` is removed from the environment).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cli.demo import AFTER, stage_commands
from pipeline.scorers import kinds
from tests.conftest import ROOT

VENV_BIN = Path(sys.executable).parent
DVC = VENV_BIN / "dvc"
RULES = Path("configs/rules/demo.yaml")
# Stages upstream of the rules: a rules edit must never re-run them.
UPSTREAM = {"synth", "audit@demo", "features@demo", "tune@demo"}
READ_RULES = ["train@demo", "validate@demo"]
# Config keys that only say where MLflow logs a run; they change no output, so no stage tracks them.
NOT_PARAMS = ("mlflow", "source")
# Files the pipeline writes under artifacts/ that are not stage outputs (MLflow's store).
NOT_OUTS = ("artifacts/mlflow.db", "artifacts/mlruns", "artifacts/.gitkeep")
HEADLINE = "artifacts/metrics/demo.json"  # what `dvc metrics show` prints
RAN = re.compile(r"Running stage '([^']+)'")
RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run")
SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")

pytestmark = pytest.mark.skipif(
    not DVC.is_file(), reason=f"dvc not installed at {DVC} (pip install -e '.[dev]')"
)

# Loaded by every Python process started with the tracer on PYTHONPATH; active only in `leadscore`
# processes. Records the config fields read (dotted paths from the root Config; pydantic sub-models
# are followed, other values are leaves) and the project modules loaded, one JSON line per process.
TRACER = """
import atexit, json, os, sys

if os.path.basename(sys.argv[0]) == "leadscore" and os.environ.get("LEADSCORE_TRACE"):
    from pydantic import BaseModel

    _where = {}  # id(model) -> (model, dotted path); the model is kept so ids are not reused
    _read = set()
    _get = BaseModel.__getattribute__
    _copy = BaseModel.model_copy

    def _path(model):
        kind = type(model)
        if kind.__name__ == "Config" and kind.__module__ == "pipeline.data.schema":
            return ""
        entry = _where.get(id(model))
        return None if entry is None else entry[1]

    # The schema's own validators read many keys to refuse contradictions (a time split a flat
    # export cannot honour); what a stage reads is what it uses once the config is loaded.
    _validating = [0]
    _validate = BaseModel.model_validate.__func__

    def _model_validate(cls, *args, **kwargs):
        _validating[0] += 1
        try:
            return _validate(cls, *args, **kwargs)
        finally:
            _validating[0] -= 1

    BaseModel.model_validate = classmethod(_model_validate)

    def _getattribute(self, name):
        value = _get(self, name)
        if _validating[0]:
            return value
        if name[:1] != "_" and name in type(self).model_fields:
            base = _path(self)
            if base is not None:
                key = f"{base}.{name}" if base else name
                if isinstance(value, BaseModel):
                    _where[id(value)] = (value, key)
                else:
                    _read.add(key)
        return value

    def _model_copy(self, *args, **kwargs):
        new = _copy(self, *args, **kwargs)
        base = _path(self)
        if base:
            _where[id(new)] = (new, base)
        return new

    BaseModel.__getattribute__ = _getattribute
    BaseModel.model_copy = _model_copy

    @atexit.register
    def _dump():
        modules = sorted(name for name, module in list(sys.modules.items())
                         if name.split(".")[0] in ("pipeline", "features")
                         and getattr(module, "__file__", None))
        with open(os.environ["LEADSCORE_TRACE"], "a") as fh:
            fh.write(json.dumps({"argv": sys.argv[1:], "read": sorted(_read),
                                 "modules": modules}) + "\\n")
"""


# --------------------------------------------------------------------------- helpers


def _env(project: Path, trace: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "DVC_", "GIT_", "LEADSCORE_")) and k != "PYTHONPATH"
    }
    # the copy's modules, not the editable install's (which point at the real project)
    python_path = [str(project)]
    if trace is not None:
        python_path.insert(0, str(trace.parent))
        env["LEADSCORE_TRACE"] = str(trace)
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",  # DVC's "Running stage" lines stay in order with the commands'
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
        }
    )
    return env


def _run(
    project: Path, *argv: str, trace: Path | None = None, merge: bool = True, timeout: float = 900
) -> str:
    """Run a command in the copy; its output (stdout only when not ``merge``: for JSON)."""
    proc = subprocess.run(
        list(argv),
        cwd=project,
        env=_env(project, trace),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-6000:]}{proc.stderr or ''}"
    )
    return proc.stdout


def _dvc(project: Path, *args: str, **kwargs) -> str:
    return _run(project, str(DVC), *args, **kwargs)


def _repro(project: Path, targets: list[str], trace: Path | None = None) -> dict:
    """`dvc repro` of ``targets``: which stages ran, came from the run cache, were skipped."""
    output = _dvc(project, "repro", *targets, trace=trace)
    return {
        "output": output,
        "ran": RAN.findall(output),
        "restored": RESTORED.findall(output),
        "skipped": SKIPPED.findall(output),
    }


def _demo(project: Path, trace: Path) -> dict:
    """`make demo` in the copy: which stages DVC ran (its output is the demo's)."""
    output = _run(project, sys.executable, "-m", "pipeline.cli.demo", trace=trace)
    assert "=== dvc repro:" in output, output[-3000:]  # DVC ran the stages, not the fallback
    return {"output": output, "ran": RAN.findall(output), "restored": RESTORED.findall(output),
            "skipped": SKIPPED.findall(output)}


def _status(project: Path, targets: list[str]) -> dict:
    return json.loads(_dvc(project, "status", "--json", *targets, merge=False))


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _shrink_world(project: Path) -> None:
    """A demo world that trains in seconds but keeps enough conversions in every split."""
    demo = project / "configs" / "demo.yaml"
    text, n = re.subn(r"(?m)^(  leads:) \d+", r"\1 5000", demo.read_text())
    assert n == 1, "configs/demo.yaml: synth.leads not found"
    # one global model: per-segment models add fits, not pipeline structure
    demo.write_text(re.sub(r"(?m)^  segment: .*\n", "", text))
    # the team's override layer over the packaged defaults (pipeline/data/defaults.yaml)
    base_path = project / "configs" / "base.yaml"
    base = {"tuning": {"trials": 2, "timeout_seconds": 120}, "calibration": {"cv_folds": 3},
            "model": {"n_estimators": 300, "early_stopping_rounds": 30}}
    base_path.write_text(yaml.safe_dump(base, sort_keys=False))


def _copy_project(dst: Path) -> None:
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file() and not name.startswith("artifacts/"):
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    (dst / "dvc.lock").unlink(missing_ok=True)  # from a clean state


def _covered(path: str, declared: set[str]) -> bool:
    """``path`` is one of ``declared`` or inside a declared directory."""
    return path in declared or any(path.startswith(d.rstrip("/") + "/") for d in declared)


def _module_file(project: Path, module: str) -> str:
    parts = module.split(".")
    if project.joinpath(*parts).is_dir():
        return "/".join(parts) + "/__init__.py"
    return "/".join(parts) + ".py"


def _resolved_stages(project: Path) -> dict[str, dict]:
    """Each stage as DVC resolves dvc.yaml: cmd, file deps, params {file: {keys}}, outs."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    out: dict[str, dict] = {}
    with Repo(str(project)) as repo:
        for stage in repo.index.stages:
            params: dict[str, set[str]] = {}
            deps: set[str] = set()
            for dep in stage.deps:
                if isinstance(dep, ParamsDependency):
                    params.setdefault(str(dep.def_path), set()).update(dep.params)
                else:
                    deps.add(str(dep.def_path))
            out[stage.name] = {
                "cmd": stage.cmd,
                "deps": deps,
                "params": params,
                "outs": {str(o.def_path) for o in stage.outs},
            }
    return out


def _traces_by_stage(trace: Path, stages: dict[str, dict]) -> dict[str, dict]:
    """The tracer's records keyed by the stage whose command they are."""
    by_cmd = {tuple(shlex.split(s["cmd"])[1:]): name for name, s in stages.items()}
    after_demo = {tuple(shlex.split(cmd)[1:]) for cmd in AFTER}  # make demo's last steps
    out = {}
    for line in trace.read_text().splitlines():
        record = json.loads(line)
        if tuple(record["argv"]) in after_demo:
            continue
        name = by_cmd.get(tuple(record["argv"]))
        assert name is not None, f"a leadscore process that is no stage: {record['argv']}"
        out[name] = record
    return out


def _tracked(key: str, tracked: set[str]) -> bool:
    """A read config key is covered by a tracked one (the same key or a section holding it)."""
    return any(key == t or key.startswith(t + ".") for t in tracked)


def _read(key: str, reads: set[str]) -> bool:
    """A tracked key is read: itself, something inside it, or a part of a value read whole."""
    return any(r == key or r.startswith(key + ".") or key.startswith(r + ".") for r in reads)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The copied project as a git + DVC repository (nothing run yet)."""
    project = tmp_path_factory.mktemp("dvc") / "leadscore"
    project.mkdir()
    _copy_project(project)
    _shrink_world(project)
    _run(project, "git", "init", "-q")
    if not (project / ".dvc").is_dir():
        _dvc(project, "init", "-q")
    _dvc(project, "config", "core.analytics", "false")
    _run(project, "git", "add", "-A")
    _run(project, "git", "commit", "-q", "-m", "copy of the project")
    return project


@pytest.fixture(scope="module")
def stages(project) -> dict[str, dict]:
    return _resolved_stages(project)


@pytest.fixture(scope="module")
def demo_stages() -> list[str]:
    return [name for name, _ in stage_commands(ROOT / "dvc.yaml", "demo")]


@pytest.fixture(scope="module")
def history(project, demo_stages, tmp_path_factory) -> dict:
    """The three `dvc repro` runs, with what the tests need from each moment."""
    tracer = tmp_path_factory.mktemp("tracer")
    (tracer / "sitecustomize.py").write_text(TRACER)
    trace = tracer / "trace.jsonl"
    out: dict = {"first": _demo(project, trace), "trace": trace}
    out["status_after_first"] = _status(project, demo_stages)
    out["files_after_first"] = sorted(
        str(p.relative_to(project)) for p in (project / "artifacts").rglob("*") if p.is_file()
    )
    out["metrics_show"] = _dvc(project, "metrics", "show")
    out["metrics_json"] = json.loads(_dvc(project, "metrics", "show", "--json", merge=False))
    out["metrics_file"] = json.loads((project / HEADLINE).read_text())
    out["evaluation"] = json.loads((project / "artifacts/demo/evaluation.json").read_text())
    out["plots"] = json.loads(
        _dvc(
            project,
            "plots",
            "show",
            "--json",
            "ROC demo",
            "Gains demo",
            "Calibration demo",
            merge=False,
        )
    )
    out["run_json"] = json.loads((project / "artifacts/demo/run.json").read_text())

    out["second"] = _repro(project, demo_stages)
    _run(project, "git", "add", "dvc.lock", "artifacts/metrics")  # as DVC has metrics
    _run(project, "git", "commit", "-q", "-m", "pipeline run")

    rules = project / RULES
    text, n = re.subn(
        r"(web_visit: \{points: )(\d+)",
        lambda m: f"{m.group(1)}{int(m.group(2)) + 3}",
        rules.read_text(),
    )
    assert n == 1, f"{RULES}: web_visit weight not found"
    rules.write_text(text)
    out["status_after_edit"] = _status(project, demo_stages)
    model = project / "artifacts/demo/packages/model.pkl"
    before = _md5(model)
    out["third"] = _repro(project, demo_stages)
    out["model_changed"] = _md5(model) != before
    out["status_after_third"] = _status(project, demo_stages)
    out["metrics_after_third"] = json.loads((project / HEADLINE).read_text())
    out["metrics_diff"] = json.loads(_dvc(project, "metrics", "diff", "--json", merge=False))
    out["plots_diff"] = json.loads(
        _dvc(project, "plots", "diff", "--json", "--targets", "ROC demo", merge=False)
    )
    out["lock_before_forced"] = yaml.safe_load((project / "dvc.lock").read_text())
    out["forced"] = _dvc(project, "repro", "--force", "--single-item", "train@demo")
    out["lock_after_forced"] = yaml.safe_load((project / "dvc.lock").read_text())
    out["status_after_forced"] = _status(project, demo_stages)
    return out


# --------------------------------------------------------------------------- dvc.yaml itself


def test_dataset_config_overrides_are_tracked(project, stages):
    """A section a stage tracks in base.yaml is also tracked where its dataset config overrides it.

    DVC params must exist in the file they name, so dvc.yaml names a dataset config's sections one
    by one; a section added to configs/<dataset>.yaml (say `model:`) that shadows a tracked
    base.yaml section would otherwise change results without re-running the stage.
    """
    assert {"train@demo", "train@x_education", "tune@x_education", "score"} <= set(stages)
    problems = []
    for name, stage in stages.items():
        config = next(arg for arg in shlex.split(stage["cmd"]) if arg.startswith("configs/"))
        sections = set(yaml.safe_load((project / config).read_text()))
        params = stage["params"]
        assert config in params, f"{name}: no params from {config}, the config it reads"
        from_base = {key.split(".")[0]
                     for key in params.get("pipeline/data/defaults.yaml", set())}
        from_config = {key.split(".")[0] for key in params[config]}
        problems += [
            f"{name}: {config} overrides '{s}', which is tracked in base.yaml only"
            for s in sorted(from_base & sections - from_config)
        ]
    assert not problems, "\n".join(problems)


def test_tracked_params_are_plain_values(project, stages):
    """DVC hashes params as JSON for its run cache: a YAML timestamp there breaks `dvc repro`.

    ("Object of type datetime is not JSON serializable", treeverse/dvc#5868: quote the value.)
    """
    import datetime as dt

    def stamps(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from stamps(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from stamps(value, f"{where}[{i}]")
        elif isinstance(node, dt.date):
            yield where

    problems = set()
    for stage in stages.values():
        for file, keys in stage["params"].items():
            tree = yaml.safe_load((project / file).read_text())
            for key in keys:
                node = tree
                for part in key.split("."):
                    node = node[part]
                problems |= {
                    f"{file}: {k} is a YAML timestamp: quote it" for k in stamps(node, key)
                }
    assert not problems, "\n".join(sorted(problems))


# --------------------------------------------------------------------------- the runs


@pytest.mark.slow
def test_make_demo_runs_every_demo_stage_and_leaves_dvc_status_clean(history, demo_stages):
    first = history["first"]
    assert sorted(first["ran"]) == sorted(demo_stages), first["output"][-3000:]
    assert history["status_after_first"] == {}, "dvc status is not clean after make demo"


@pytest.mark.slow
def test_stage_deps_are_the_modules_each_command_loads(history, project, stages, demo_stages):
    """Every project module a stage's command loads is a dep, and every module dep is loaded.

    A stage that unpickles another stage's output (model.pkl) may also list the modules that
    output's classes live in: the producer loads them, and a pickle made with other settings (a
    per-segment model, say) needs them.
    """
    traces = _traces_by_stage(history["trace"], stages)
    assert set(traces) == set(demo_stages)
    loaded = {
        name: {_module_file(project, m) for m in record["modules"]}
        for name, record in traces.items()
    }
    outs = {out: name for name, stage in stages.items() for out in stage["outs"]}

    def producer(dep: str) -> str | None:
        """The stage whose output is ``dep`` or the folder holding it (packages/model.pkl)."""
        return next((name for out, name in outs.items() if _covered(dep, {out})), None)

    problems = []
    for name, record in traces.items():
        assert "pipeline.cli.app" in record["modules"], f"{name}: trace incomplete"
        deps = stages[name]["deps"]
        problems += [
            f"{name}: loads {f}, not a dep" for f in sorted(loaded[name]) if not _covered(f, deps)
        ]
        may_load = set(loaded[name])
        for dep in deps:
            if dep.endswith(".pkl") and producer(dep) in loaded:
                may_load |= loaded[producer(dep)]
        for dep in sorted(deps):
            if dep.endswith(".py") and dep not in may_load:
                problems.append(f"{name}: dep {dep} is not loaded")
            elif (
                (project / dep).is_dir()
                and dep.split("/")[0] in ("pipeline", "features")
                and not any(f.startswith(dep + "/") for f in may_load)
            ):
                problems.append(f"{name}: dep {dep}/ has no module loaded")
    assert not problems, "dvc.yaml deps are not the code the stages run:\n" + "\n".join(problems)


@pytest.mark.slow
def test_stage_params_are_the_config_keys_each_command_reads(history, project, stages):
    """Every config key a stage's command reads is a tracked param, and every param is read.

    Keys whose section no config file holds (pydantic defaults) cannot be DVC params; mlflow.*
    only says where a run is logged.
    """
    traces = _traces_by_stage(history["trace"], stages)
    problems = []
    for name, record in traces.items():
        params = stages[name]["params"]
        tracked = set().union(*params.values())
        in_files = set().union(*(set(yaml.safe_load((project / f).read_text())) for f in params))
        reads = {k for k in record["read"] if k.split(".")[0] not in NOT_PARAMS}
        problems += [
            f"{name}: reads {k}, not a param"
            for k in sorted(reads)
            if k.split(".")[0] in in_files and not _tracked(k, tracked)
        ]
        problems += [
            f"{name}: param {k} is never read" for k in sorted(tracked) if not _read(k, reads)
        ]
    assert not problems, "dvc.yaml params are not what the stages read:\n" + "\n".join(problems)


@pytest.mark.slow
def test_every_file_written_under_artifacts_is_a_stage_output(history, stages):
    declared = set().union(*(s["outs"] for s in stages.values()))
    strays = [
        f
        for f in history["files_after_first"]
        if not _covered(f, declared) and not _covered(f, set(NOT_OUTS))
    ]
    assert not strays, f"written but not declared as outs: {strays}"


@pytest.mark.slow
def test_second_repro_runs_nothing(history, demo_stages):
    second = history["second"]
    assert second["ran"] == [] and second["restored"] == [], second["output"][-3000:]
    assert sorted(second["skipped"]) == sorted(demo_stages)


@pytest.mark.slow
def test_rule_weight_reruns_only_the_stages_that_read_the_rules(history):
    status = history["status_after_edit"]
    assert sorted(status) == READ_RULES, status
    for stage in READ_RULES:
        assert {"configs/rules/demo.yaml": "modified"} in [
            entry.get("changed deps") for entry in status[stage]]

    third = history["third"]
    reproduced = set(third["ran"]) | set(third["restored"])
    expected = {*READ_RULES, "evaluate@demo", "report@demo"}
    if history["model_changed"]:  # score reads model.pkl, not the rules
        expected.add("score")
    assert reproduced == expected, third["output"][-3000:]
    assert not reproduced & UPSTREAM
    assert history["status_after_third"] == {}


@pytest.mark.slow
def test_an_identical_retraining_changes_no_package_byte(history):
    """Canonical package bytes: a forced retrain leaves the packages' hash and evaluate as is."""
    def outs(lock):
        return {o["path"]: o["md5"] for o in lock["stages"]["train@demo"]["outs"]
                if o["path"] != "artifacts/demo/run.json"}

    assert "Running stage 'train@demo'" in history["forced"]
    assert outs(history["lock_after_forced"]) == outs(history["lock_before_forced"])
    assert "evaluate@demo" not in history["status_after_forced"]


@pytest.mark.slow
def test_metrics_show_prints_the_headline_numbers(history):
    """`dvc metrics show`: one row of at most 15 numbers, the evaluation's own figures, and no
    "failed to load" for X Education, whose data is absent beside the copy."""
    text = history["metrics_show"]
    assert "failed to load" not in text, text
    # columns are set apart by two or more spaces
    table = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    header = next(row for row in table if row[0] == "Path")
    row = next(row for row in table if row[0] == HEADLINE)
    assert len(row) == len(header) and [r[0] for r in table] == ["Path", HEADLINE], text
    shown = dict(zip(header[1:], map(float, row[1:]), strict=True))
    assert 0 < len(shown) <= 15
    full = history["evaluation"]
    for name in kinds.names():
        for metric in ("roc_auc", "pr_auc", "brier", "ece"):
            assert shown[f"{name}.{metric}"] == pytest.approx(full[name][metric], abs=1e-5)
    diff = f"{kinds.CHALLENGER}_minus_{kinds.REFERENCE}"
    for short, key in (("auc", "auc_diff"), ("ci_low", "auc_diff_ci_low"),
                       ("ci_high", "auc_diff_ci_high")):
        assert shown[f"{diff}.{short}"] == pytest.approx(full[kinds.CHALLENGER][key], abs=1e-5)
    assert full["model"]["roc_auc"] != full["rules"]["roc_auc"]
    as_json = history["metrics_json"][""]["data"][HEADLINE]["data"]
    assert as_json == history["metrics_file"]


@pytest.mark.slow
def test_plots_show_renders_every_scorer_in_its_colour(history):
    plots = history["plots"]
    assert not plots.get("errors"), plots.get("errors")
    assert set(plots["data"]) == {"ROC demo", "Gains demo", "Calibration demo"}
    for name, renders in plots["data"].items():
        content = renders[0]["content"]
        values = content["data"]["values"]
        lines = {v["filename"] for v in values}  # DVC shortens paths to what tells them apart
        kind = name.split()[0].lower()
        wanted = {f"{kind}_{k}.csv" for k in kinds.names()}
        if kind == "calibration":
            wanted.add("calibration_perfect.csv")
        assert lines == wanted, (name, lines)
        assert all(0.0 <= float(v["x"]) <= 1.0 and 0.0 <= float(v["y"]) <= 1.0 for v in values)
        scale = content["encoding"]["color"]["scale"]
        assert content["encoding"]["color"]["field"] == "scorer"
        colours = dict(zip(scale["domain"], scale["range"], strict=True))
        assert {k: colours[k] for k in kinds.names()} == {k.name: k.color for k in kinds.KINDS}
    perfect = [v for v in plots["data"]["Calibration demo"][0]["content"]["data"]["values"]
               if v["filename"] == "calibration_perfect.csv"]
    assert [(float(v["x"]), float(v["y"])) for v in perfect] == [(0.0, 0.0), (1.0, 1.0)]


@pytest.mark.slow
def test_mlflow_runs_stay_in_the_copy(history, project):
    from mlflow import MlflowClient

    db = project / "artifacts" / "mlflow.db"
    assert db.is_file() and (project / "artifacts" / "mlruns").is_dir()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    run = client.get_run(history["run_json"]["run_id"])
    assert run.info.status == "FINISHED"


@pytest.mark.slow
def test_metrics_and_plots_diff_against_the_committed_run(history):
    """After the rules edit, `dvc metrics diff` against HEAD (the committed run) shows it."""
    diff = history["metrics_diff"][HEADLINE]
    before, after = history["metrics_file"], history["metrics_after_third"]
    assert before["rules"]["roc_auc"] != after["rules"]["roc_auc"]
    change = diff["rules.roc_auc"]
    assert change["old"] == pytest.approx(before["rules"]["roc_auc"])
    assert change["new"] == pytest.approx(after["rules"]["roc_auc"])
    renders = history["plots_diff"]["data"]["ROC demo"]
    assert {v["rev"] for v in renders[0]["content"]["data"]["values"]} == {"HEAD", "workspace"}
