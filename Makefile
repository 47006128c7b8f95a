# LeadScore: `make demo` runs the whole pipeline on the synthetic world, `make test` the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
EXTRAS ?= dev,spark

.PHONY: install demo lock test test-fast lint format bench clean

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

# `dvc repro` of the demo stages (their commands without DVC when it is not installed), then the
# promotion and an explanation: `dvc status` is clean after it.
demo: $(STAMP)
	$(BIN)/python -m pipeline.cli.demo

# The whole DVC pipeline, both datasets (X Education reads ../shared/data), then dvc.lock records
# what ran: commit dvc.lock after it (deps hash the source, so after the last code change).
lock: $(STAMP)
	@test -d .dvc || $(BIN)/dvc init
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# Two workers, whole modules each (module fixtures are built once); OpenMP threads that wait
# passively, so LightGBM in one worker does not spin on the core the other is using.
test: $(STAMP)
	OMP_WAIT_POLICY=passive $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check pipeline features tests bench
	$(BIN)/ruff format --check pipeline features tests bench

format: $(STAMP)
	$(BIN)/ruff format pipeline features tests bench
	$(BIN)/ruff check --fix pipeline features tests bench

# FLAML's AutoML imports xgboost; xgboost-cpu is the same module without the 350 MB CUDA NCCL
# wheel that flaml[automl] would pull in.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS),bench]' 'xgboost-cpu<3'
	$(BIN)/python -m bench

clean:
	rm -rf artifacts/demo artifacts/x_education artifacts/mlflow.db artifacts/mlruns
