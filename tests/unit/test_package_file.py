"""Loading a package file: one clear line for every way it can be the wrong file."""

from __future__ import annotations

import pickle

import pytest

from pipeline.data.errors import ModelError
from pipeline.explain.package import load_package


def test_a_package_from_an_earlier_layout_asks_for_a_retrain(tmp_path):
    # what a format-1 package's pickle starts with: its class at the old flat module path
    old = tmp_path / "model.pkl"
    old.write_bytes(b"cpipeline.package\nScoringPackage\n)\x81.")
    with pytest.raises(ModelError, match="written by an earlier LeadScore.*retrain"):
        load_package(old)


def test_a_moved_class_asks_for_a_retrain(tmp_path):
    old = tmp_path / "model.pkl"
    old.write_bytes(b"cpipeline.explain.grades\nGradeBands\n)\x81.")
    with pytest.raises(ModelError, match="written by an earlier LeadScore"):
        load_package(old)


@pytest.mark.parametrize("content", [b"not a pickle", pickle.dumps({"a": 1})])
def test_other_files_are_not_a_model(tmp_path, content):
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a LeadScore model"):
        load_package(path)


def test_a_missing_file_says_to_train(tmp_path):
    with pytest.raises(ModelError, match="run `leadscore train` first"):
        load_package(tmp_path / "absent.pkl")


_PICKLE_SETTINGS = """
import hashlib, pickle, sys
from features.settings import FeatureSettings
from pipeline.explain.package import canonical_bytes
settings = FeatureSettings(categorical=["industry", "country"], numeric=["employees"],
                           half_life_days=10, free_mail_domains=["a.com", "b.org", "c.net"])
payload = {"settings": settings, "tags": {"web_visit", "email_open", "demo_request", "webinar"}}
data = canonical_bytes(payload) if sys.argv[1] == "canonical" else pickle.dumps(payload)
print(hashlib.sha256(data).hexdigest())
"""


def _digest_in_a_process(mode: str, seed: int) -> str:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run([sys.executable, "-c", _PICKLE_SETTINGS, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.slow  # eight interpreter starts
def test_canonical_bytes_do_not_depend_on_the_process_hash_seed():
    # sets (pydantic's fields_set among them) pickle in hash order, which is salted per process
    plain = {_digest_in_a_process("plain", seed) for seed in (1, 2, 3, 4)}
    assert len(plain) > 1, "plain pickles agreed: the test no longer shows the problem"
    canonical = {_digest_in_a_process("canonical", seed) for seed in (1, 2, 3, 4)}
    assert len(canonical) == 1


def test_canonical_bytes_load_back_to_the_same_content():
    from features.settings import FeatureSettings
    from pipeline.explain.package import canonical_bytes

    payload = {"s": FeatureSettings(categorical=["x"]), "set": {"b", "a"}, "fs": frozenset({3, 1})}
    back = pickle.loads(canonical_bytes(payload))
    assert back == payload and back["s"].model_fields_set == payload["s"].model_fields_set
