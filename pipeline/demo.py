"""``make demo``: run the demo pipeline exactly as ``dvc.yaml`` defines it, without needing DVC.

The stages and their commands are read from ``dvc.yaml`` (one definition of the pipeline), run in
file order for the demo dataset, then the demo finishes with the steps that are not DVC stages
(registry promotion, the explanation of the best open lead).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATASET = "demo"
AFTER = [
    "leadscore promote --config configs/demo.yaml",
    "leadscore explain --config configs/demo.yaml --best-open",
]


def stage_commands(dvc_file: Path, dataset: str = DATASET) -> list[tuple[str, str]]:
    """(stage name, command) for ``dataset`` in dvc.yaml order, expanding ``foreach``."""
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    out = []
    for name, stage in stages.items():
        if "foreach" in stage:
            items = stage["foreach"]
            if dataset not in items:
                continue
            cmd = stage["do"]["cmd"]
            if isinstance(items, dict):
                cmd = cmd.replace("${key}", dataset)
                for key, value in (items[dataset] or {}).items():
                    cmd = cmd.replace("${item." + key + "}", str(value))
            else:
                cmd = cmd.replace("${item}", dataset)
            out.append((f"{name}@{dataset}", cmd))
        else:
            out.append((name, stage["cmd"]))
    return out


def main() -> int:
    """Run every demo stage, stop at the first failure with its exit code."""
    commands = stage_commands(ROOT / "dvc.yaml") + [(c.split()[1], c) for c in AFTER]
    bin_dir = Path(sys.executable).parent
    started = time.perf_counter()
    for name, cmd in commands:
        argv = shlex.split(cmd)
        if argv[0] == "leadscore":
            argv[0] = str(bin_dir / "leadscore")
        print(f"\n=== {name}: {cmd}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(argv, cwd=ROOT)
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
        if code != 0:
            print(f"demo stopped: stage {name} exited {code}", file=sys.stderr)
            return code
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; outputs in artifacts/demo/, "
          "MLflow UI: mlflow ui --backend-store-uri sqlite:///artifacts/mlflow.db")
    return 0


if __name__ == "__main__":
    sys.exit(main())
