"""Scoring the buckets of a local job in parallel processes (``leadscore score --workers N``).

Buckets are independent (each holds its leads with all of their events), so N processes score
whole buckets with the very function of the one-process path
(:func:`pipeline.batch.local._score_one`), each writing its part and notes files atomically.
The parent keeps everything that must happen once and in one place: the output lock, the
checkpoint (written by the parent alone, a bucket at a time in completion order), the
failpoints, progress, and the notes and drift counts, which it reads from the notes files after
the last bucket exactly as a one-process run does. The output is assembled in bucket order, so
it is the same file whatever N and whatever order the buckets finished in, and a job may be
resumed with another N.

Processes, not threads: the per-bucket pandas work holds the GIL. Each worker loads the
scoring package once (the pool's initializer) and runs with single-threaded kernels (LightGBM
``num_threads=1``, one numba thread): N workers on N cores, not N x threads fighting for them.

Start method: ``spawn``. ``fork`` would start faster, but the parent has run pyarrow's thread
pools (the spill) and may have started OpenMP and numba threads, and a fork copies their locks
in whatever state another thread left them, which can hang a child forever. ``spawn`` starts a
fresh interpreter: it costs the imports and the package load, paid in parallel and once per
job (``bench/bench_workers.py`` measures it beside ``forkserver``, which saves little for one
pool per job), and it is the default on macOS and Windows anyway.

Failures: a worker's exception travels back to the parent and is raised there, so a user error
is still one line with the parts removed, and a full disk still keeps the finished parts for
``--resume``. On any failure or an interrupt the parent terminates the workers and reaps them,
and a worker whose parent was killed (``kill -9``, a failpoint) notices within a second and
exits, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.batch.guard import record_done
from pipeline.data.config import Config

START_METHOD = "spawn"
_ORPHAN_CHECK_S = 0.5
_WORKER: dict[str, Any] = {}  # the worker process's package and job (set by _init_worker)


def single_threaded(package: Any) -> Any:
    """Set every estimator inside ``package`` to one thread (in place); returns it.

    The scorers nest (model selection, segments, a global model), so the package is walked
    rather than asked: every LeadScore object reached through attributes, lists, tuples and
    dicts that has an ``n_jobs`` (LightGBM's threads, which TreeSHAP uses too) gets 1. Threads
    change no score: prediction and TreeSHAP are computed row by row.
    """
    seen: set[int] = set()
    stack = [package]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("pipeline."):
            if "n_jobs" in vars(obj):  # a number or "auto"
                obj.n_jobs = 1
            stack.extend(vars(obj).values())
    return package


def _init_worker(package_bytes: bytes, config: Config, job: Any, parts: Path,
                 as_of: pd.Timestamp, parent: int | None = None) -> None:
    """Load the package once per worker, single-threaded; the parent handles Ctrl-C.

    ``parent``: the job's process id, which the worker outlives by a second at most (None: the
    process that started this one, e.g. a fork server).
    """
    import numba

    # The terminal sends SIGINT to the whole process group: the parent alone reacts (it
    # terminates the workers), so no worker dies half-way with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    numba.set_num_threads(1)
    _WORKER.update(package=single_threaded(pickle.loads(package_bytes)), config=config, job=job,
                   parts=parts, as_of=as_of)
    # given, not read here: a parent killed while this worker was still importing has already
    # handed it to init, and os.getppid() would then wait for a change that never comes
    threading.Thread(target=_exit_when_orphaned, args=(parent or os.getppid(),),
                     daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    # A parent killed by SIGKILL never shuts the pool down, and the worker would wait on its
    # task queue forever: leave as soon as the parent is gone (Linux and macOS reparent orphans).
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_S)
    os._exit(1)


def _score_in_worker(bucket: int) -> int:
    """Score one bucket in a worker process; returns the bucket number."""
    from pipeline.batch.local import JobNotes, _score_one

    w = _WORKER
    # notes: the bucket's own notes go to its notes file, which the parent reads
    _score_one(w["package"], w["config"], w["job"], w["parts"], bucket, w["as_of"], JobNotes())
    return bucket


def score_in_processes(package: Any, config: Config, job: Any, parts: Path, signature: dict,
                       done: set[int], as_of: pd.Timestamp,
                       progress: Callable[[int, int, int], None] | None) -> None:
    """Score every bucket not in ``done`` with ``job.workers`` processes.

    ``done`` is updated in place as buckets finish, and the checkpoint written after each, so
    that the caller's error handling (parts kept for ``--resume`` on an environment fault) sees
    what finished. The first worker error is raised here, after the workers are stopped.
    Fewer than two buckets to score: nothing is done here (the caller scores them itself).
    """
    from pipeline.batch.local import _part_rows

    n_buckets = signature["n_buckets"]
    todo = [b for b in range(n_buckets) if b not in done]
    if len(todo) < 2:
        return  # a pool would only add its start-up: the caller's loop scores it in-process
    rows = sum(_part_rows(parts, b) for b in done)
    context = multiprocessing.get_context(START_METHOD)
    pool = ProcessPoolExecutor(
        max_workers=min(job.workers, len(todo)), mp_context=context, initializer=_init_worker,
        initargs=(pickle.dumps(package, protocol=pickle.HIGHEST_PROTOCOL), config, job, parts,
                  as_of, os.getpid()))
    try:
        pending: set[Future] = {pool.submit(_score_in_worker, b) for b in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: f.exception() is None):
                bucket = future.result()  # raises the worker's error: failures first
                record_done(parts, signature, done, bucket)
                rows += _part_rows(parts, bucket)
                if progress:
                    progress(len(done), n_buckets, rows)
    except BrokenProcessPool:
        _stop(pool)
        # a worker killed from outside (the kernel's OOM killer, a signal): the machine's fault,
        # so the finished batches stay for --resume
        raise OSError("a --workers process died while scoring (out of memory? fewer --workers "
                      "or a smaller --batch-size need less)") from None
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started, terminate the running workers and reap them (no zombies)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # taken first: shutdown() forgets them, and a running bucket would otherwise finish
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for process in processes:
        process.join()
