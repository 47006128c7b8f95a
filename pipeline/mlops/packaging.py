"""What makes a logged pyfunc model load outside this checkout: LeadScore as a wheel, the pinned
requirements, the signature and the model config.

Why a wheel rather than ``code_paths``: the pickled package names classes of ``pipeline`` and
``features``, so the serving environment needs LeadScore importable under those names. With
``code_paths`` MLflow puts ``code/`` first on ``sys.path`` and evicts already imported modules of
those names from ``sys.modules``, so loading a model inside a process that runs LeadScore (a
notebook, the CLI, a Spark worker) would swap the running code for the logged copy under it. A
wheel is an ordinary distribution: ``pip install -r requirements.txt`` in the model folder (what
``mlflow models serve`` / ``build-docker`` and ``--env-manager virtualenv|uv`` do, from that
folder) installs it like any library, with its package data, and where LeadScore is already
installed the one on the path is used. The wheel is written here, from the package folders the
running code was imported from, so it needs no build backend, no network and no checkout (an
installed LeadScore can log models too); fixed timestamps and sorted entries give the same bytes
for the same code.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

DISTRIBUTION = "leadscore"
PACKAGES = ("pipeline", "features")
# What loading and calling the pyfunc imports (the pickled scorers, calibrators, feature builder
# and config models; numba/scipy for the tree explanations; pandera for the scoring-time checks;
# pyarrow for Parquet requests), each pinned to the version that trained the model: a pickle is
# only promised to load in the versions that wrote it. The CLI's own libraries (typer, rich,
# optuna, shap, matplotlib) are left out: serving never imports them.
RUNTIME_REQUIREMENTS = ("mlflow", "pandas", "numpy", "scipy", "scikit-learn", "lightgbm",
                        "numba", "llvmlite", "pyarrow", "pydantic", "pyyaml", "pandera")
WHEEL_FOLDER = "artifacts"  # where log_model puts the wheel artifact inside the model folder
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry: reproducible bytes


def _source_files() -> list[tuple[str, Path]]:
    """(archive name, file) of every file of the packages, as imported, caches left out."""
    import importlib

    files = []
    for name in PACKAGES:
        root = Path(importlib.import_module(name).__file__).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append((f"{name}/{path.relative_to(root).as_posix()}", path))
    return files


def project_version() -> str:
    """LeadScore's release (``pipeline.__version__``)."""
    import pipeline

    return pipeline.__version__


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def build_wheel(folder: Path) -> Path:
    """Write LeadScore's wheel into ``folder``; the version carries a hash of the code.

    The local label (``0.1.0+<12 hex>``) makes two builds of different code two versions, so a
    pip cache or an environment holding another build is never taken for this one.
    """
    files = [(name, path.read_bytes()) for name, path in _source_files()]
    code = hashlib.sha256()
    for name, data in files:
        code.update(name.encode() + b"\0" + data)
    version = f"{project_version()}+{code.hexdigest()[:12]}"
    info = f"{DISTRIBUTION}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {name}\n" for name in RUNTIME_REQUIREMENTS)
    files += [
        (f"{info}/METADATA", (f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version}\n"
                              f"Summary: LeadScore, packaged with a logged model\n"
                              f"Requires-Python: >=3.11\n{requires}").encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: leadscore\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
        (f"{info}/top_level.txt", "".join(f"{p}\n" for p in PACKAGES).encode()),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{DISTRIBUTION}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return wheel


def requirements(wheel: Path) -> list[str]:
    """The model's pip requirements: the runtime libraries pinned, then LeadScore's wheel.

    The wheel is named relative to the model folder, as MLflow's own ``wheels/`` are: MLflow
    installs a model's requirements from inside its folder.
    """
    out = []
    for name in RUNTIME_REQUIREMENTS:
        try:
            out.append(f"{name}=={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            continue
    out.append(f"{WHEEL_FOLDER}/{wheel.name}")
    return out


# ------------------------------------------------------------------------ signature


def _is_text(series: pd.Series) -> bool:
    return not (series.name in ("created_at", "as_of", "outcome_at")
                or pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def column_specs(example: pd.DataFrame) -> list:
    """Input columns: ``lead_id`` and ``created_at`` required, every other one optional.

    Text columns are ``string``. Dates and numbers are ``AnyType``: MLflow's ``datetime``
    refuses ISO text under pandas 3 (its string dtype is not ``object``) and ``string`` refuses
    the datetime64 column ``pd.read_parquet`` gives; its ``double`` refuses int64 (a JSON number
    without decimals) and ``long`` refuses a column with a null. The model parses them itself
    (:func:`~pipeline.mlops.serving.split_request`).
    """
    from mlflow.types import ColSpec, DataType
    from mlflow.types.schema import AnyType

    specs = [ColSpec(DataType.string if _is_text(example[name]) else AnyType(), name,
                     required=name in ("lead_id", "created_at"))
             for name in example.columns]
    if "as_of" not in example.columns:  # one as_of per lead: MLflow drops undeclared columns
        specs.append(ColSpec(AnyType(), "as_of", required=False))
    return specs


def input_columns(example: pd.DataFrame) -> dict[str, str]:
    """The declared optional lead columns, ``number`` or ``text`` (the model's config): an
    absent one is added empty, a number column is parsed as numbers."""
    return {name: "text" if _is_text(example[name]) else "number" for name in example.columns
            if name not in ("lead_id", "created_at", "as_of", "activities")}


def param_schema(top_reasons: int):
    """``as_of`` (ISO time, default now), ``explain``, ``top_reasons`` (0-3) and
    ``next_action`` (default false)."""
    from mlflow.types import DataType, ParamSchema, ParamSpec

    return ParamSchema([
        ParamSpec("as_of", DataType.string, ""),
        ParamSpec("explain", DataType.boolean, True),
        ParamSpec("top_reasons", DataType.long, int(top_reasons)),
        ParamSpec("next_action", DataType.boolean, False),
    ])


def signature(example: pd.DataFrame, output: pd.DataFrame, top_reasons: int):
    """The model signature: optional columns, datetimes or text, params, scored output."""
    from mlflow.models import ModelSignature
    from mlflow.models.signature import infer_signature
    from mlflow.types import Schema

    outputs = infer_signature(example.head(1), output).outputs
    return ModelSignature(Schema(column_specs(example)), outputs, param_schema(top_reasons))
