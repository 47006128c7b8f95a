"""File I/O at the edges: atomic writes and tabular readers."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """Create an empty file with a fresh name in ``folder``, mode 0666 less the umask.

    Not ``tempfile.mkstemp``: it creates files 0600 whatever the umask, so every finished
    output was private. Here the kernel applies the process's umask at creation, as for any
    file a program writes (0644 under the usual 022), with no global umask read or changed.
    """
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{folder}: no free temporary name for {prefix}*{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A reader never sees a half-written file, and a failed or killed writer leaves no file at
    ``path`` (the temporary file starts with ``.`` and ends in ``.tmp`` so it is easy to clean).
    The finished file has the usual mode (0666 less the umask).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file(target.parent, f".{target.name}.", suffix or ".tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_table(path: str | os.PathLike, delimiter: str = ",", encoding: str = "utf-8"):
    """Read a CSV (all cells as text, so the contract decides types) or a Parquet file.

    Raises
    ------
    DataError
        Missing, empty or unreadable file, or a CSV that looks split on the wrong delimiter.
    """
    import pandas as pd

    from pipeline.data.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            return pd.read_parquet(path)
        frame = pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=True, encoding=encoding,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} text (byte {exc.start}: {exc.reason}); "
                        "set dataset.read.encoding (e.g. latin-1)") from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as a table: {first}") from None
    if frame.shape[1] == 1:
        check_delimiter(path, str(frame.columns[0]), delimiter)
    return frame


def check_delimiter(path: Path, header: str, delimiter: str) -> None:
    """Refuse a header without the configured delimiter that holds another one (any reader)."""
    from pipeline.data.errors import DataError

    if delimiter in header:
        return
    for other in (";", "\t", "|", ","):
        if other != delimiter and other in header:
            shown = "\\t" if other == "\t" else other
            raise DataError(f"{path}: the header has no '{delimiter}' but has '{shown}': the file "
                            f"looks '{shown}'-delimited; set dataset.read.delimiter")


def read_truth(path: str | os.PathLike):
    """A synthetic world's true probabilities by lead_id (``p_convert``).

    ``attrs["as_of_days"]`` holds the lead age the probability is defined at, from the file's
    metadata (None when the file does not say): on an as_of grid only rows of that age can be
    judged against it.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.read_parquet(path)
    truth = pd.Series(frame["p_convert"].to_numpy(), index=frame["lead_id"].astype(str),
                      name="p_convert")
    at = (pq.read_schema(path).metadata or {}).get(b"as_of_days")
    truth.attrs["as_of_days"] = None if at is None else float(at)
    return truth


def load_dataset(config, leads_path=None, activities_path=None, scoring: bool = False):
    """Read and validate the leads (and activity log) named by ``config`` or the given paths.

    Returns
    -------
    leads, activities, report
        Canonical frames (activities is None in flat mode or when no log is given) and the
        :class:`~pipeline.data.contracts.ContractReport`. Callers that need clean data call
        ``report.raise_if_failed()``; ``leadscore validate`` prints every violation instead.
    """
    from pipeline.data.contracts import ContractReport, canonical_activities, canonical_leads

    ds = config.dataset
    report = ContractReport()
    leads_file = Path(leads_path or ds.leads)
    raw = read_table(leads_file, ds.read.delimiter, ds.read.encoding)
    leads = canonical_leads(raw, config, str(leads_file), report, scoring=scoring)
    activities = None
    act_file = activities_path or (ds.activities if not scoring or activities_path else None)
    if ds.mode == "events" and act_file is not None and report.ok:
        act_file = Path(act_file)
        raw_act = read_table(act_file, ds.read.delimiter, ds.read.encoding)
        activities = canonical_activities(raw_act, leads, config, str(act_file), report,
                                          scoring=scoring)
    return leads, activities, report


def shared_objects(values):
    """``values.astype(object)`` with one Python object per distinct value, not one per row: an
    event log repeats its ids and labels, so this takes a fraction of the memory."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    out, have = np.asarray(uniques.astype(object), dtype=object).take(codes), codes >= 0
    out[~have] = values[~have].astype(object).to_numpy()  # missing cells as astype gives them
    return pd.Series(out, index=values.index, dtype=object)
