# taskapi: every target bootstraps its own environment from uv.lock, so a fresh clone needs
# nothing but Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
# Use uv from PATH when present; otherwise install the pinned version into .tools/ from PyPI.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
VENV := .venv
STAMP := $(VENV)/.synced
RUN := $(UV) run --frozen --no-sync
PYTEST := $(RUN) pytest

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help setup run test test-unit test-property test-contract test-integration test-e2e \
        test-fuzz lint format bench risk-demo clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras
	@touch $(STAMP)

setup: $(STAMP) ## create .venv from uv.lock (all make targets do this for you)

run: $(STAMP) ## start the API on http://$(HOST):$(PORT) with the embedded SQLite store
	$(RUN) taskapi serve --host $(HOST) --port $(PORT)

test: $(STAMP) ## the whole suite: architecture contracts, then every test suite
	$(RUN) lint-imports
	$(PYTEST) -n auto

test-unit: $(STAMP) ## unit tests only (seconds)
	$(PYTEST) tests/unit

test-property: $(STAMP) ## property-based tests with Hypothesis statistics
	$(PYTEST) tests/property --hypothesis-show-statistics -p no:xdist

test-contract: $(STAMP) ## repository, event and OpenAPI contract tests
	$(PYTEST) tests/contract

test-integration: $(STAMP) ## adapters against moto server (or AWS with TASKAPI_AWS_TESTS=1)
	$(PYTEST) tests/integration

test-e2e: $(STAMP) ## end-to-end over HTTP (TASKAPI_API_URL for a deployed stack)
	$(PYTEST) tests/e2e

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict on src
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: $(STAMP) ## run benchmarks and print figures (see docs/performance.md)
	$(RUN) python -m benches

risk-demo: $(STAMP) ## render the risk heat map of the sample bug reports
	$(RUN) taskapi risk examples/bugs.json

clean: ## remove local environments and data
	rm -rf $(VENV) .tools .taskapi .pytest_cache .mypy_cache .ruff_cache .hypothesis
