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
