# One venv for everything; every target installs what it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_PREFIX := $(VENV)/node
CDK := $(NODE_PREFIX)/node_modules/.bin/cdk

export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: install test lint typecheck pytest bench demo synth clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@# duplicity's par2+ backend and gpg are system tools: the tests and the demo run real duplicity with both.
	@command -v par2 >/dev/null && command -v gpg >/dev/null || { \
	  echo "installing par2/gnupg (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq par2 gnupg >/dev/null; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# The CDK CLI (npm) is only needed for `make synth`; tests synthesize in-process.
$(CDK):
	npm install --silent --no-audit --no-fund --prefix $(NODE_PREFIX) aws-cdk@2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy lambda_src infra app.py tests bench

pytest: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install -q -r requirements-bench.txt
	touch $@

bench: install $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

demo: install
	$(BIN)/glacierable demo $(DEMO_ARGS)

synth: install $(CDK)
	$(CDK) synth --no-notices -c bucket=$${BUCKET:-example-backups} -q

clean:
	rm -rf $(VENV) cdk.out .mypy_cache .pytest_cache .ruff_cache
