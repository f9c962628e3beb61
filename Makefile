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

# tools/iac is its own uv project: checkov (group "check", with aws-sam-translator) and the
# SAM CLI (group "deploy") pin libraries the app's lock cannot share. Each gets its own venv.
# (Defined up here: make expands a rule's prerequisites when it reads the rule.)
IAC := tools/iac
IAC_STAMP := $(IAC)/.venv/.synced
SAM_VENV := $(CURDIR)/.tools/sam
SAM_STAMP := $(SAM_VENV)/.synced
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
SAM_ENV ?= default
SAM_PARAMS ?=
# A CPython of the Lambda runtime's version for the artifacts' bytecode (default: found);
# REQUIRE_BYTECODE=1: fail when there is none, instead of shipping sources with a warning (CI).
BYTECODE_PYTHON ?=
REQUIRE_BYTECODE ?=

# The Lambda artifact builder, the deploy preflight, the mutation runner and the flaky-test
# finder (typed scripts run with .venv).
BUILD_TOOLS := tools/package.py tools/preflight.py tools/mutation.py tools/flaky.py

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help setup run test test-unit test-local test-cli test-property test-contract \
        test-integration test-e2e test-fuzz contract-check coverage mutation flaky lint format \
        bench risk-demo risk-logs clean iac-setup iac-check package package-check deploy destroy logs

# The variables a help text below names, shown with their values (e.g. PORT=9000 make help).
HELP_VARIABLES := HOST PORT SAM_ENV

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}' \
		| sed $(foreach v,$(HELP_VARIABLES),-e 's|$$($(v))|$($(v))|g')

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras
	@touch $(STAMP)

setup: $(STAMP) ## create .venv from uv.lock (all make targets do this for you)

# Every request needs a token (docs/api.md#authentication); serve's banner says how to get one,
# and this line where the `taskapi` it names is.
run: $(STAMP) ## start the API on http://$(HOST):$(PORT) with the embedded SQLite store
	@echo 'Tokens: in the terminal you send requests from, `source .venv/bin/activate` puts taskapi on PATH'
	$(RUN) taskapi serve --host $(HOST) --port $(PORT)

# Two suites run outside `make test`, to keep it under 3 minutes; CI runs both after it: the
# wheel checks of the Lambda artifacts (they install the locked runtime wheels for every
# function), `make package-check`, and the benches' smoke runs, `make bench-check`.
WHEEL_CHECKS := tests/package/test_dependency_wheels.py
BENCH_CHECKS := tests/benches
OUTSIDE_TEST := --ignore=$(WHEEL_CHECKS) --ignore=$(BENCH_CHECKS)

test: $(STAMP) $(IAC_STAMP) ## the whole suite but the wheel checks (make package-check) and bench runs (make bench-check)
	$(RUN) lint-imports
	$(PYTEST) -n auto $(OUTSIDE_TEST)

# make flaky SEEDS=20 [FIRST_SEED=N]: what make test runs, once per random-order seed.
SEEDS ?= 20
flaky: $(STAMP) $(IAC_STAMP) ## make test's suite SEEDS times (20), each in a new random order; lists every test that failed
	$(RUN) python tools/flaky.py --seeds $(SEEDS) $(if $(FIRST_SEED),--first-seed $(FIRST_SEED)) \
	    -- -n auto $(OUTSIDE_TEST)

test-unit: $(STAMP) ## unit tests only (seconds; no socket at all, see tests/network.py)
	$(PYTEST) tests/unit

test-local: $(STAMP) ## the local gateway and server over real sockets on 127.0.0.1
	$(PYTEST) tests/local

test-cli: $(STAMP) ## the taskapi command run as a process (events, dispatch, redrive, serve)
	$(PYTEST) tests/cli

test-property: $(STAMP) ## property-based tests with Hypothesis statistics
	$(PYTEST) tests/property --hypothesis-show-statistics -p no:xdist

test-contract: $(STAMP) ## repository, event and OpenAPI contract tests
	$(PYTEST) tests/contract

test-integration: $(STAMP) ## adapters against moto server (or AWS with TASKAPI_AWS_TESTS=1)
	$(PYTEST) tests/integration

test-e2e: $(STAMP) ## end-to-end over HTTP (TASKAPI_API_URL for a deployed stack)
	$(PYTEST) tests/e2e

contract-check: $(STAMP) ## the committed event schemas and OpenAPI document are the code's (no unversioned break)
	$(RUN) taskapi events export --check
	$(RUN) taskapi openapi export --check

test-fuzz: $(STAMP) ## schemathesis against the generated OpenAPI of a live local server
	$(PYTEST) tests/contract/test_openapi_fuzz.py

# Branch coverage of src/ over the suite of `make test`, the subprocesses it starts included
# ([tool.coverage] in pyproject.toml holds the floor).
coverage: $(STAMP) $(IAC_STAMP) ## make test's suite with branch coverage: htmlcov/index.html, coverage.xml
	$(PYTEST) -n auto $(OUTSIDE_TEST) --cov --cov-report=term --cov-report=html \
		--cov-report=xml

# Not part of `make test`: a full run takes minutes (docs/testing.md#mutation-testing); CI runs
# it as its own job. PROFILE=core|adapters runs one profile, reusing its earlier results unless
# FRESH=1 (both profiles: always fresh).
mutation: $(STAMP) ## mutation testing (mutmut): score per module, survivors, fail under the floors
	$(RUN) python tools/mutation.py $(if $(PROFILE),run $(PROFILE) $(if $(FRESH),--fresh) \
	    && $(RUN) python tools/mutation.py report $(PROFILE),all)

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict on src and the build tools
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) mypy --strict $(BUILD_TOOLS)

format: $(STAMP) ## apply ruff fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# NAME only from the command line: some systems (WSL) export NAME as the machine's name.
bench: $(STAMP) ## run the benchmarks; NAME=cycles: only those whose name has it (docs/performance.md)
	$(RUN) python -m benches $(if $(filter command line,$(origin NAME)),$(NAME))

bench-check: $(STAMP) ## every bench once on its smallest inputs: it runs and prints its table (no timing asserted)
	$(PYTEST) $(BENCH_CHECKS) -n 2

risk-demo: $(STAMP) ## render the risk heat map of the sample bug reports
	$(RUN) taskapi risk examples/bugs.json

# The service under injected faults, over real HTTP: the logs it writes, in every shape the
# risk map reads (docs/operations.md, "The logs source"). Then review the golden report:
# TASKAPI_UPDATE_GOLDEN=1 .venv/bin/pytest tests/riskmap -k golden
risk-logs: $(STAMP) ## regenerate examples/logs/ from a fault-injection run of the local server
	$(RUN) python -m tests.local.fault_run examples/logs

# -- infrastructure: checks, deploy, operations (docs/deployment.md) ------------------------

# IAC_PYTHON=3.11: the tools' own interpreter, whatever UV_PYTHON picks for the app (CI's matrix).
$(IAC_STAMP): $(IAC)/uv.lock $(IAC)/pyproject.toml | $(UV)
	$(UV) sync --frozen --project $(IAC) $(if $(IAC_PYTHON),--python $(IAC_PYTHON))
	@touch $(IAC_STAMP)

$(SAM_STAMP): $(IAC)/uv.lock $(IAC)/pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(SAM_VENV) $(UV) sync --frozen --project $(IAC) --no-default-groups --group deploy
	@touch $(SAM_STAMP)

iac-setup: $(IAC_STAMP) ## create tools/iac/.venv (checkov, SAM translator) from its lock

# `sam validate --lint` needs no AWS account or credentials; the region only picks the
# resource specification cfn-lint checks against.
iac-check: $(STAMP) $(IAC_STAMP) $(SAM_STAMP) ## sam validate --lint, cfn-lint, checkov, SAM transform, cross-checks
	$(SAM) validate --lint --region us-east-1 --template-file template.yaml
	$(PYTEST) tests/infra

# Every function's artifact (its CodeUri under build/lambda/): the modules its handler imports
# and the locked runtime wheels for the template's Runtime and Architectures, compiled to
# bytecode by a CPython of the runtime's version when this machine has one (BYTECODE_PYTHON=path
# names it). No Docker, no `sam build` (docs/deployment.md, "How the functions are packaged").
package: $(STAMP) ## build each function's artifact in build/lambda/: its modules + wheels for its runtime
	$(RUN) python tools/package.py --uv $(UV) $(if $(BYTECODE_PYTHON),--python $(BYTECODE_PYTHON)) $(if $(REQUIRE_BYTECODE),--require-bytecode)

package-check: $(STAMP) ## build the artifacts, wheels included, in a temporary directory and check them
	$(PYTEST) tests/package

# The preflight stops with one line when SAM would find no credentials or no region; then the
# artifacts are rebuilt and `sam deploy` zips and uploads them. --template-file: SAM would
# otherwise prefer a stale .aws-sam/build/template.yaml left by an earlier `sam build`.
deploy: $(STAMP) $(SAM_STAMP) ## package, then sam deploy for SAM_ENV=$(SAM_ENV) (e2e: test stack; GUIDED=1 first)
	@$(RUN) python tools/preflight.py --config-env $(SAM_ENV) $(if $(GUIDED),--guided)
	$(RUN) python tools/package.py --uv $(UV) $(if $(BYTECODE_PYTHON),--python $(BYTECODE_PYTHON)) $(if $(REQUIRE_BYTECODE),--require-bytecode)
	$(SAM) deploy --template-file template.yaml --config-env $(SAM_ENV) $(if $(GUIDED),--guided) $(if $(SAM_PARAMS),--parameter-overrides "$(SAM_PARAMS)")

# NO_PROMPTS=1: delete without asking (CI's throw-away e2e stack).
destroy: $(SAM_STAMP) ## delete the deployed stack (SAM_ENV=e2e for the test stack); asks first unless NO_PROMPTS=1
	$(SAM) delete --config-env $(SAM_ENV) $(if $(NO_PROMPTS),--no-prompts)

logs: $(SAM_STAMP) ## tail the logs (and traces) of every function of the deployed stack
	$(SAM) logs --config-env $(SAM_ENV) --tail

clean: ## remove local environments and data
	rm -rf $(VENV) .tools .taskapi .pytest_cache .mypy_cache .ruff_cache .hypothesis $(IAC)/.venv build \
		htmlcov .coverage .coverage.* coverage.xml mutants .mutants
