"""``make demo``: run the demo pipeline exactly as ``dvc.yaml`` defines it.

With DVC installed (the dev extra) in a git checkout, this is ``dvc repro`` of the demo stages:
DVC runs them and records in ``dvc.lock`` what it ran, so ``dvc status`` is clean afterwards and a
second ``make demo`` re-runs nothing (a lock written by hand from hashes of our own would drift
from DVC's the first time its hashing changes). Without DVC, the stages' commands are read from
``dvc.yaml`` (one definition of the pipeline) and run in file order. Either way the demo finishes
with the steps that are not DVC stages (registry promotion, the explanation of the best open lead).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATASET = "demo"
AFTER = [
    "leadscore promote --config configs/demo.yaml",
    "leadscore explain --config configs/demo.yaml --best-open",
]


def _dvc_vars(dvc: dict) -> dict:
    """The values defined inline under dvc.yaml's ``vars`` (files listed there are not read)."""
    values: dict = {}
    for entry in dvc.get("vars", []):
        if isinstance(entry, dict):
            values.update(entry)
    return values


def _foreach_items(foreach, values: dict):
    """A stage's ``foreach``: inline, or ``${name}`` naming a ``vars`` entry."""
    if isinstance(foreach, str):
        match = re.fullmatch(r"\$\{\s*([\w.]+)\s*\}", foreach)
        if match is None or match.group(1) not in values:
            raise ValueError(f"dvc.yaml: foreach {foreach!r}: not a vars entry")
        return values[match.group(1)]
    return foreach


def stage_commands(dvc_file: Path, dataset: str = DATASET) -> list[tuple[str, str]]:
    """(stage name, command) for ``dataset`` in dvc.yaml order, expanding ``foreach``."""
    dvc = yaml.safe_load(dvc_file.read_text())
    values = _dvc_vars(dvc)
    out = []
    for name, stage in dvc["stages"].items():
        if "foreach" in stage:
            items = _foreach_items(stage["foreach"], values)
            if dataset not in items:
                continue
            cmd = stage["do"]["cmd"].replace("${key}", dataset)
            if isinstance(items, dict):
                for key, value in (items[dataset] or {}).items():
                    cmd = cmd.replace("${item." + key + "}", str(value))
            else:
                cmd = cmd.replace("${item}", dataset)
            if "${" in cmd:
                raise ValueError(f"dvc.yaml: {name}: cannot expand {cmd!r}")
            out.append((f"{name}@{dataset}", cmd))
        elif f"configs/{dataset}.yaml" in stage["cmd"]:  # a single stage of this dataset
            if "${" in stage["cmd"]:
                raise ValueError(f"dvc.yaml: {name}: cannot expand {stage['cmd']!r}")
            out.append((name, stage["cmd"]))
    return out


def _dvc(bin_dir: Path) -> str | None:
    """The ``dvc`` to run the stages with: installed, and a git + DVC checkout to run in."""
    if not ((ROOT / ".dvc").is_dir() and (ROOT / ".git").exists()):
        return None
    return shutil.which("dvc", path=str(bin_dir)) or shutil.which("dvc")


def main() -> int:
    """Run every demo stage, stop at the first failure with its exit code."""
    bin_dir = Path(sys.executable).parent
    stages = stage_commands(ROOT / "dvc.yaml")
    dvc = _dvc(bin_dir)
    if dvc is not None:
        commands = [("dvc repro", shlex.join([dvc, "repro", *(name for name, _ in stages)]))]
    else:
        print("dvc not installed: running the stages without it (`dvc status` will list them)")
        commands = stages
    commands += [(c.split()[1], c) for c in AFTER]
    # dvc runs `leadscore` from PATH: this interpreter's, not whichever is first
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    for name, cmd in commands:
        argv = shlex.split(cmd)
        if argv[0] == "leadscore":
            argv[0] = str(bin_dir / "leadscore")
        print(f"\n=== {name}: {cmd}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(argv, cwd=ROOT, env=env)
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
        if code != 0:
            print(f"demo stopped: stage {name} exited {code}", file=sys.stderr)
            return code
    print(
        f"\ndemo finished in {time.perf_counter() - started:.0f} s; outputs in artifacts/demo/, "
        "MLflow UI: mlflow ui --backend-store-uri sqlite:///artifacts/mlflow.db"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
