"""What keeps a scoring job from losing or corrupting data, whatever the engine.

- **One writer per output.** An exclusive :mod:`filelock` lock on ``.<output>.lock`` beside the
  output; a second run on the same output stops at once and names the holder's PID. The holder's
  identity sits in ``.<output>.lock.owner`` while the lock is held.
- **Inputs are never touched.** An output that resolves to an input file (or to the job's own
  parts folder) is refused before anything is written.
- **Resume only on the same inputs.** The checkpoint records a content fingerprint of every
  input (byte size and a streaming BLAKE2b of the bytes: about 1 GB/s, so the hash of a file
  costs less than reading it once more) plus the model version, the config hash, as_of and
  scored_at. A resume on anything different is refused and the message says what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.data.errors import ConfigError, DataError, OutputBusy

CHECKPOINT = "checkpoint.json"
_CHUNK = 1 << 20


def parts_dir(output: Path) -> Path:
    """Where a job keeps its spill, parts and checkpoint (beside the output, one per output)."""
    return output.with_name(output.name + ".parts")


def lock_path(output: Path) -> Path:
    """The lock file of an output (hidden, beside it)."""
    return output.with_name(f".{output.name}.lock")


def refuse_overwriting_inputs(output: Path, inputs: dict[str, Path | None]) -> None:
    """Raise when the output would land on an input (``inputs``: option name -> path)."""
    target = output.resolve()
    for option, path in inputs.items():
        if path is None:
            continue
        source = Path(path).resolve()
        same = target == source or (target.exists() and source.exists()
                                    and os.path.samefile(target, source))
        if same:
            raise ConfigError(f"--output {output}: is the {option} file; an input is never "
                              "overwritten: choose another output path")
        if source.is_relative_to(parts_dir(target)):
            raise ConfigError(f"{option} {path}: lies inside {parts_dir(output)}, the work "
                              "folder of this output; move the input first")


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold the output's exclusive lock for the block; refuse at once if another run holds it."""
    from filelock import FileLock, Timeout

    output.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(output)
    owner = path.with_name(path.name + ".owner")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_owner(owner)
        raise OutputBusy(f"--output {output}: another run ({holder}) is writing it; wait for it "
                         "to finish or choose another output") from None
    try:
        owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        yield
    finally:
        owner.unlink(missing_ok=True)
        # Unlinked while still held: a run that opens the path later gets a fresh file, and a
        # lock file left by a killed run (which no release removes) goes too.
        with contextlib.suppress(OSError):
            path.unlink()
        lock.release()


def _read_owner(owner: Path) -> str:
    try:
        state = json.loads(owner.read_text())
        return f"PID {state['pid']} on {state['host']}"
    except (OSError, ValueError, KeyError):
        return "PID unknown"


def fingerprint(path: Path | None) -> dict[str, Any] | None:
    """Size and BLAKE2b digest of a file's bytes (streamed; any size)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return {"path": str(path), "bytes": path.stat().st_size, "blake2b": digest.hexdigest()}


def config_hash(config: Any) -> str:
    """Short hash of the effective config (what a resumed job must share with the first run)."""
    tree = config.model_dump(mode="json", exclude={"source"})
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()[:16]


# What a resume may not change, with the words a user reads when it did.
_MEANINGS = {
    "leads": "the --input file's content", "activities": "the --activities file's content",
    "model": "the model", "config": "the config", "as_of": "--as-of",
    "batch_size": "--batch-size", "explain": "--explain/--no-explain", "open_only": "--open-only",
}


def changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's signature and this run's, in the user's words."""
    out = []
    for key, meaning in _MEANINGS.items():
        before, now = recorded.get(key), current.get(key)
        if key == "as_of" and now is None:
            continue  # --resume without --as-of takes the recorded one
        if before != now:
            out.append(f"{meaning} ({_short(before)} -> {_short(now)})")
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict) and "blake2b" in value:
        return f"{value['bytes']:,} bytes, blake2b {value['blake2b'][:8]}"
    return "none" if value is None else str(value)


def read_checkpoint(parts: Path) -> dict[str, Any] | None:
    """The checkpoint of an interrupted job, or None (missing or unreadable)."""
    path = parts / CHECKPOINT
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "signature" in state else None


def write_checkpoint(parts: Path, signature: dict[str, Any], done: set[int]) -> None:
    """Record the finished buckets (atomic: a kill never leaves half a checkpoint)."""
    from pipeline.data.io import atomic_path

    with atomic_path(parts / CHECKPOINT) as tmp:
        tmp.write_text(json.dumps({"signature": signature, "done": sorted(done)}, default=str))


def record_done(parts: Path, signature: dict[str, Any], done: set[int], bucket: int) -> None:
    """Add a finished bucket to ``done`` and the checkpoint (the ``parts`` failpoint at two)."""
    done.add(bucket)
    write_checkpoint(parts, signature, done)
    if len(done) == 2:
        failpoint("parts")


def failpoint(name: str) -> None:
    """Kill this process here when ``LEADSCORE_FAILPOINT`` names this point (fault tests only).

    The points are ``spill`` (inputs bucketed, nothing scored), ``parts`` (two buckets scored)
    and ``assembly`` (half of the output written to its temporary file): the three moments a
    real crash can leave different state behind.
    """
    if os.environ.get("LEADSCORE_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
