"""Which tracking store a command uses: the user's MLFLOW_TRACKING_URI, else the config's.

Commands run one after another in one process (a notebook, the test suite): what one config
pointed MLflow at must not pass for the user's environment in the next.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import demo_config


def _config(folder, name):
    return demo_config(folder / "data", mlflow={
        "tracking_uri": f"sqlite:///{folder / name}", "artifact_root": str(folder / "mlruns")})


@pytest.fixture
def mlflow_state(monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield mlflow
    mlflow.set_tracking_uri(None)  # the next test starts from MLflow's own default again


def test_a_config_store_is_not_left_in_the_environment(tmp_path, mlflow_state):
    from pipeline.mlops.tracking import configure

    uri = configure(_config(tmp_path, "a.db"))
    assert uri == f"sqlite:///{tmp_path / 'a.db'}" and mlflow_state.get_tracking_uri() == uri
    assert "MLFLOW_TRACKING_URI" not in os.environ
    # the next config's store is used, not the one the first exported
    assert configure(_config(tmp_path, "b.db")) == f"sqlite:///{tmp_path / 'b.db'}"


def test_the_users_uri_wins_even_when_a_config_used_it_before(tmp_path, mlflow_state,
                                                               monkeypatch):
    from pipeline.mlops.tracking import configure

    first = configure(_config(tmp_path, "a.db"))
    configure(_config(tmp_path, "b.db"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", first)
    assert configure(_config(tmp_path, "b.db")) == first
    assert mlflow_state.get_tracking_uri() == first
    assert os.environ["MLFLOW_TRACKING_URI"] == first
