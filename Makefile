# Two commands on a fresh machine (Python 3.11 and gcc, nothing else):
#   make demo   environment, embedded PostgreSQL, schema, sample run
#   make test   the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .leadpipe/tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8

# Quiet, offline-friendly start-up (see ARCHITECTURE.md, "Running locally").
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export RAY_USAGE_STATS_ENABLED := 0
export RAY_AUTH_MODE := disabled
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1

.PHONY: env demo test lint bench stop clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

env: $(VENV)/.synced

demo: env
	$(VENV)/bin/leadpipe demo

test: env
	$(VENV)/bin/pytest

lint: env
	$(VENV)/bin/ruff check .

bench: env
	@set -e; for bench in benchmarks/*_bench.py; do $(VENV)/bin/python $$bench; done

stop:
	@if [ -x $(VENV)/bin/leadpipe ]; then $(VENV)/bin/leadpipe db stop; fi

clean: stop
	rm -rf $(VENV) .leadpipe
