"""Where the Spark engine reads and writes: any Hadoop URI, through Spark's own readers/writers.

An input or output is a *location*: a local path (a file or a folder), or a URI that Hadoop
resolves (``file://``, ``s3a://``, ``hdfs://``, ``dbfs:/``, ...). Inputs are Parquet files or
folders (hive-style ``key=value`` partitions included), CSV files or folders, or Delta tables
(a ``_delta_log`` folder, a ``delta:`` prefix or ``--input-format delta``; Delta needs
``delta-spark``). The output is a folder written by Spark's committer, complete when its
``_SUCCESS`` marker exists.

The workers rebuild the frames the local engine would read, so they need the Arrow types of each
input: for a local Parquet input those of its files (pyarrow reads the footers); elsewhere
those that Spark's types map to.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.data.config import Config
from pipeline.data.errors import ConfigError, DataError, EnvironmentFault

FORMATS = ("auto", "parquet", "csv", "delta")
WRITE_MODES = ("errorifexists", "overwrite")
DELTA_PREFIX = "delta:"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # 'dbfs:/x' has no '//'
_DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"


@dataclass(frozen=True)
class Location:
    """An input or output: the URI Spark is given and, when on this machine, the path."""

    text: str  # as the user wrote it (for messages)
    uri: str
    local: Path | None

    @property
    def name(self) -> str:
        """The last part of the location (its file or folder name)."""
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


def locate(text: str | Path) -> Location:
    """The :class:`Location` of ``--input``/``--output`` text (a path, ``file://`` or any URI)."""
    raw = str(text)
    if raw.startswith(DELTA_PREFIX):
        raw = raw[len(DELTA_PREFIX):]
    if raw.startswith("file:"):
        from urllib.parse import unquote, urlparse

        local = Path(unquote(urlparse(raw).path))
        return Location(str(text), local.resolve().as_uri(), local)
    if _SCHEME.match(raw) and not re.match(r"^[A-Za-z]:[\\/]", raw):  # not a Windows drive
        return Location(str(text), raw, None)
    local = Path(raw)
    return Location(str(text), local.resolve().as_uri(), local)


def parse_spark_conf(items: list[str] | None) -> dict[str, str]:
    """``--spark-conf k=v`` items as a dict (later items win).

    Raises
    ------
    ConfigError
        An item without ``=``, with an empty key, or a key that is not a Spark/Hadoop setting.
    """
    conf: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--spark-conf {item!r}: expected KEY=VALUE, e.g. "
                              "spark.executor.memory=4g")
        if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+", key) or "." not in key:
            raise ConfigError(f"--spark-conf {item!r}: {key!r} is not a Spark setting name "
                              "(spark.*, spark.hadoop.*, ...)")
        conf[key] = value.strip()
    return conf


def delta_settings(conf: dict[str, str]) -> dict[str, str]:
    """The session settings Delta needs; raise when delta-spark is missing.

    A session configured by the caller (Databricks, or ``--spark-conf spark.sql.extensions=...``)
    is trusted as it is.
    """
    if _DELTA_EXTENSION in conf.get("spark.sql.extensions", ""):
        return {}
    if not delta_installed():
        raise EnvironmentFault("Delta tables need delta-spark: pip install 'delta-spark' "
                               "(matching your Spark version), or pass the Delta jars and "
                               "--spark-conf spark.sql.extensions=" + _DELTA_EXTENSION)
    return {"spark.sql.extensions": _DELTA_EXTENSION,
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog"}


def delta_installed() -> bool:
    """Whether the delta-spark package (its Python side, which brings the jars) is installed."""
    return importlib.util.find_spec("delta") is not None


def wants_delta(text: str, fmt: str) -> bool:
    """Whether a location is a Delta table by what the user wrote (before Spark starts)."""
    if fmt == "delta" or str(text).startswith(DELTA_PREFIX):
        return True
    where = locate(text)
    return fmt == "auto" and where.local is not None and (where.local / "_delta_log").is_dir()


def exists(spark, uri: str, child: str | None = None) -> bool:
    """Whether a location exists, asked of the Hadoop file system that serves its scheme.

    A ``file:`` URI is looked up here (no Spark needed: ``spark`` may be None).
    """
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        local = Path(unquote(urlparse(uri).path))
        return (local / child if child else local).exists()
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri if child is None else uri.rstrip("/") + "/" + child)
    return bool(path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path))


def input_format(spark, where: Location, fmt: str) -> str:
    """parquet, csv or delta: as given, else by the ``_delta_log`` folder or the file names."""
    if wants_delta(where.text, fmt):
        return "delta"
    if fmt != "auto":
        return fmt
    if exists(spark, where.uri, "_delta_log"):
        return "delta"
    if where.name.lower().endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if where.local is not None and where.local.is_dir():
        names = {p.suffix.lower() for p in where.local.rglob("*") if p.is_file()}
        if ".csv" in names and ".parquet" not in names:
            return "csv"
    return "parquet"


def read_input(spark, where: Location, config: Config, fmt: str, date_columns: set[str]):
    """Spark's DataFrame of one input and the Arrow schema the local engine would read.

    Raises
    ------
    DataError
        The location does not exist, or is an empty file, or holds no readable table.
    """
    if not exists(spark, where.uri):
        raise DataError(f"{where.text}: not found")
    if where.local is not None and where.local.is_file() and where.local.stat().st_size == 0:
        raise DataError(f"{where.text}: file is empty")
    fmt = input_format(spark, where, fmt)
    if fmt == "csv":
        return _read_csv(spark, where, config)
    from pyspark.sql import functions as F

    frame = spark.read.format(fmt).load(where.uri)
    schema = arrow_schema(frame.schema, _parquet_fields(where) if fmt == "parquet" else {},
                          date_columns)
    # Nanosecond timestamps arrive as int64 (nanosAsLong), and pandas would turn a nullable
    # int64 into float64, which cannot hold nanoseconds: they travel as decimal text instead.
    for field in schema:
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns" and \
                frame.schema[field.name].dataType.typeName() == "long":
            frame = frame.withColumn(field.name, F.col(f"`{field.name}`").cast("string"))
    return frame, schema, False


def _read_csv(spark, where: Location, config: Config):
    read = config.dataset.read
    frame = (spark.read.option("header", True).option("sep", read.delimiter)
             .option("encoding", read.encoding).option("quote", '"').option("escape", '"')
             .option("mode", "FAILFAST").option("inferSchema", False).csv(where.uri))
    names = frame.columns
    if where.local is not None and where.local.is_file():
        # The same header parse as the local engine's reader (which also parses the first block).
        try:
            names = pacsv.open_csv(
                where.local, parse_options=pacsv.ParseOptions(delimiter=read.delimiter),
                read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{where.text}: cannot be read as a table: {first}") from None
        frame = frame.toDF(*names)
    return frame, pa.schema([(name, pa.string()) for name in names]), True


def _parquet_fields(where: Location) -> dict[str, pa.DataType]:
    """The Arrow types of a local Parquet file or folder's columns (partition keys excluded)."""
    if where.local is None:
        return {}
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(where.local, format="parquet").schema
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{where.text}: not a Parquet file or folder ({first})") from None
    return {field.name: field.type for field in schema}


_SPARK_TO_ARROW = {
    "string": pa.string(), "long": pa.int64(), "integer": pa.int32(), "short": pa.int16(),
    "byte": pa.int8(), "double": pa.float64(), "float": pa.float32(), "boolean": pa.bool_(),
    "date": pa.date32(), "timestamp": pa.timestamp("us"), "timestamp_ntz": pa.timestamp("us"),
}


def arrow_schema(spark_schema, file_types: dict[str, pa.DataType], date_columns: set[str]
                 ) -> pa.Schema:
    """The Arrow schema of a Spark input: its files' types where known, else Spark's mapped.

    A Parquet ``long`` column named as a date column (created_at, occurred_at) is a nanosecond
    timestamp that Spark can only read as a number (``nanosAsLong``), as pandas writes them.
    """
    fields = []
    for field in spark_schema.fields:
        spark_type = field.dataType.typeName()
        if field.name in file_types:
            arrow = file_types[field.name]
        elif spark_type == "long" and field.name in date_columns:
            arrow = pa.timestamp("ns")
        else:  # partition keys (read as text) and anything unusual
            arrow = _SPARK_TO_ARROW.get(spark_type, pa.string())
        fields.append(pa.field(field.name, arrow))
    return pa.schema(fields)


def check_output(spark, output: Location, inputs: dict[str, Location | None], mode: str) -> None:
    """Refuse an output that is, holds or lies inside an input; or that exists (unless overwrite).

    Raises
    ------
    ConfigError
        The output would overwrite or change an input, or exists and mode is errorifexists.
    """
    if mode not in WRITE_MODES:
        raise ConfigError(f"--spark-write-mode {mode!r}: use one of {', '.join(WRITE_MODES)}")
    target = output.uri.rstrip("/") + "/"
    for option, source in inputs.items():
        if source is None:
            continue
        given = source.uri.rstrip("/") + "/"
        if given.startswith(target) or target.startswith(given):
            raise ConfigError(f"--output {output.text}: is, holds or lies inside the {option} "
                              f"{source.text}; an input is never overwritten: choose another "
                              "output")
    if mode == "errorifexists" and exists(spark, output.uri):
        raise ConfigError(f"--output {output.text}: already exists; remove it, choose another "
                          "output, or pass --spark-write-mode overwrite")


def write_output(frame, output: Location, fmt: str, mode: str) -> None:
    """Write the scores with Spark's committer (``_SUCCESS`` marks a complete output)."""
    writer = frame.write.mode(mode)
    if fmt == "csv":
        # Quotes doubled, as pandas (and RFC 4180) write them; Spark's default is a backslash.
        writer.option("header", True).option("escape", '"').csv(output.uri)
    else:
        writer.format(fmt).save(output.uri)
