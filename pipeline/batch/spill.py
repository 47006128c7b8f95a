"""Reading inputs of any size and bucketing them by lead, for the local and Spark engines.

Leads and activities are streamed once (pyarrow record batches; CSV cells as text, so the input
contract decides types) into bucket Parquet files by a stable hash of ``lead_id``: one bucket
holds a batch-sized set of leads with all of their events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.data.config import Config
from pipeline.data.errors import DataError
from pipeline.data.io import check_delimiter


def iter_batches(path: Path, config: Config, batch_size: int) -> Iterator[pd.DataFrame]:
    """Stream a CSV (all cells as text) or Parquet file as pandas batches (see
    :func:`iter_arrow_batches`)."""
    for batch in iter_arrow_batches(path, config, batch_size):
        yield batch.to_pandas()


def iter_arrow_batches(path: Path, config: Config, batch_size: int
                       ) -> Iterator[pa.RecordBatch]:
    """Stream a CSV (all cells as text) or Parquet file as Arrow record batches.

    Raises
    ------
    DataError
        Missing or empty file, undecodable text (with the encoding to set), or a CSV that looks
        split on the wrong delimiter.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            # pre_buffer (pyarrow's default) caches what it reads ahead for the whole pass and
            # frees it only with the file: memory grew with the file (+500 MiB over 60M events)
            source = pq.ParquetFile(path, pre_buffer=False)
        except pa.ArrowException as exc:
            raise DataError(f"{path}: not a Parquet file ({_first_line(exc)})") from None
        yield from source.iter_batches(batch_size=batch_size)
        return
    read = config.dataset.read
    _check_delimiter(path, read.delimiter)
    try:
        header = pacsv.open_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=read.delimiter),
            read_options=pacsv.ReadOptions(block_size=1 << 20, encoding=read.encoding),
        ).schema.names
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20, encoding=read.encoding),
            parse_options=pacsv.ParseOptions(delimiter=read.delimiter),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        text = _first_line(exc)
        if "UTF8" in text or "utf-8" in text.lower() or "decode" in text.lower():
            raise DataError(f"{path}: not valid {read.encoding} text ({text}); set "
                            "dataset.read.encoding (e.g. --set dataset.read.encoding=latin-1)"
                            ) from None
        raise DataError(f"{path}: cannot be read as a '{read.delimiter}'-delimited table "
                        f"({text}); check dataset.read.delimiter") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_delimiter(path: Path, delimiter: str) -> None:
    with open(path, "rb") as fh:
        header = fh.readline(1 << 16).decode("latin-1")
    check_delimiter(path, header, delimiter)


def bucket_of(ids: pd.Series, n_buckets: int) -> np.ndarray:
    # pandas' hash is stable across runs and platforms, unlike Python's salted hash().
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(n_buckets)).astype(np.int64)


def count_rows(path: Path, config: Config) -> int:
    """Data rows of a file (Parquet: from its footer; CSV: one streaming pass)."""
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file() and path.stat().st_size:
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except pa.ArrowException as exc:
            raise DataError(f"{path}: not a Parquet file ({_first_line(exc)})") from None
    return sum(len(b) for b in iter_batches(path, config, 200_000))


def spill(path: Path, id_column: str | None, config: Config, n_buckets: int, out_dir: Path,
          batch_size: int, stem: str, ids_required: bool = False) -> int:
    """Split a file into bucket Parquet files by the hash of its lead id column.

    With ``ids_required`` (the leads file) empty ids are an error for the whole file, found
    here: all empty ids share one bucket, and their events others, so a per-bucket check would
    first report those events as belonging to no lead.
    """
    from pipeline.data.contracts import MAX_EXAMPLES, Violation

    writers: dict[int, pq.ParquetWriter] = {}
    rows = 0
    blank: list[int] = []
    n_blank = 0
    try:
        for batch in iter_arrow_batches(path, config, batch_size):
            if id_column is not None and id_column not in batch.schema.names:
                from pipeline.data.contracts import suggest_column

                raise DataError(f"{path}: column '{id_column}': missing (lead id)"
                                f"{suggest_column(id_column, batch.schema.names)}")
            # Remember each row's position in the source file, for error messages.
            position = np.arange(rows, rows + batch.num_rows, dtype=np.int64)
            batch = batch.append_column("__row", pa.array(position))
            if id_column is None:  # lead_id: null: the row number is the id
                batch = batch.append_column("__row_id", pa.array(position + 1))
                key = pd.Series(position + 1)
            else:
                # only the id column goes through pandas (as the whole batch's to_pandas reads it)
                ids = batch.select([id_column]).to_pandas()[id_column]
                key = ids.fillna("")
                if ids_required:
                    stripped = ids.astype("string").str.strip()
                    empty = (stripped.isna() | (stripped == "")).to_numpy(dtype=bool)
                    n_blank += int(empty.sum())
                    blank.extend((np.flatnonzero(empty)[:MAX_EXAMPLES] + rows + 1).tolist())
            buckets = bucket_of(key, n_buckets)
            # one stable sort by bucket: each bucket's rows are then a slice, in source order
            order = np.argsort(buckets, kind="stable")
            grouped = batch.take(pa.array(order))
            cuts = np.searchsorted(buckets[order], np.arange(n_buckets + 1))
            for bucket in np.flatnonzero(np.diff(cuts)):
                part = pa.Table.from_batches(
                    [grouped.slice(cuts[bucket], cuts[bucket + 1] - cuts[bucket])])
                writer = writers.get(int(bucket))
                if writer is None:
                    writer = pq.ParquetWriter(out_dir / f"{stem}-{bucket:05d}.parquet",
                                              part.schema)
                    writers[int(bucket)] = writer
                writer.write_table(part.cast(writer.schema, safe=False)
                                   if part.schema != writer.schema else part)
            rows += batch.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    if n_blank:
        raise DataError(str(Violation(str(path), id_column, "empty lead id",
                                      tuple(blank[:MAX_EXAMPLES]), n_blank)))
    return rows


def newest_date(path: Path, column: str, config: Config) -> pd.Timestamp | None:
    """The latest date in one column of a file (one streaming pass over that column only).

    For the Spark engine's staleness warning, which has no local buckets to collect it from;
    unparseable and missing cells are left to the contract and ignored here.
    """
    from pipeline.data.contracts import parse_dates

    if path.suffix.lower() in (".parquet", ".pq"):
        if column not in pq.read_schema(path).names:
            return None
        batches = (b.to_pandas() for b in pq.ParquetFile(path, pre_buffer=False).iter_batches(
            batch_size=500_000, columns=[column]))
    else:
        read = config.dataset.read
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=8 << 20, encoding=read.encoding),
            parse_options=pacsv.ParseOptions(delimiter=read.delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=[column], include_missing_columns=True,
                column_types={column: pa.string()}))
        batches = (b.to_pandas() for b in reader)
    newest = None
    for batch in batches:
        latest = parse_dates(batch[column]).max()
        if pd.notna(latest) and (newest is None or latest > newest):
            newest = pd.Timestamp(latest)
    return newest


def read_bucket(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def release_memory() -> None:
    """Hand the heap's free pages back to the system between buckets (glibc ``malloc_trim``).

    A bucket's frames are freed when it is done, but glibc keeps the freed pages mapped, so
    each bucket's peak would stack on the fragments of the last; elsewhere this does nothing.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass
