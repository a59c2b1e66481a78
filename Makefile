# The two commands of the README. Both set up everything they need on a fresh machine.
.PHONY: run test setup lint

export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export TF_CPP_MIN_LOG_LEVEL ?= 2

setup:
	bash scripts/setup.sh

# Main job: the default pipeline (pipeline.yaml) on the bundled Pythia 8 sample, every stage.
run: setup
	.venv/bin/trigger-pipeline run --config pipeline.yaml

# Tests (and lint).
test: setup
	.venv/bin/ruff check pipeline tests benchmarks
	.venv/bin/ruff format --check pipeline tests benchmarks
	.venv/bin/python -m pytest -q --timeout=1800 tests

lint: setup
	.venv/bin/ruff check --fix pipeline tests benchmarks
	.venv/bin/ruff format pipeline tests benchmarks
