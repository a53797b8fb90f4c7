# luna-events: every target sets up what it needs on a fresh machine.
#   make demo   - private InfluxDB, simulated traffic, summary
#   make test   - ruff, mypy, the lean install check and the whole test suite
#   make lean   - a fresh venv with `pip install luna-events` (no extras) emits events
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The [test] extra brings [ship] and [dev] (the shipper, generators and demo).
# Python 3.12 (vector-vrl needs it). The pyenv shim fails without PYENV_VERSION,
# so look for real interpreters first.
PYTHON312 ?= $(shell for p in "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.12*/bin/python3.12 \
	/usr/local/bin/python3.12 /usr/bin/python3.12 "$$(command -v python3.12)"; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null \
	&& { echo "$$p"; break; }; done)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv servers test lint lean pytest unit demo bench generate clean

help:
	@echo "make demo      run the demo against a private InfluxDB"
	@echo "make test      ruff, mypy, the lean install check and every test (installs what it needs)"
	@echo "make unit      the tests that need no server (pytest -m 'not server')"
	@echo "make lean      the package without extras, in a fresh venv, emits and imports no extra"
	@echo "make bench     run the benchmarks in benchmarks/ (figures: docs/performance.md)"
	@echo "make generate  regenerate the files derived from the catalog"

$(STAMP): pyproject.toml
	@[ -n "$(PYTHON312)" ] || { echo "Python 3.12 not found (install it with pyenv, or set PYTHON312=...)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

servers:
	@if ! command -v influxd >/dev/null || ! command -v victoria-metrics >/dev/null; then \
		echo "installing influxdb and victoria-metrics from Debian"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq influxdb victoria-metrics >/dev/null; \
	fi
	@influxd version && victoria-metrics --version | head -1

lint: venv
	$(BIN)/ruff check luna_events tests benchmarks
	$(BIN)/ruff format --check luna_events tests benchmarks
	$(BIN)/mypy

lean: venv
	$(BIN)/python tests/lean_install_check.py

pytest: venv servers
	$(BIN)/pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest -m "not server" $(PYTEST_ARGS)

test: lint lean pytest

demo: venv servers
	$(BIN)/luna-events demo

bench: venv servers
	$(BIN)/python benchmarks/encode.py
	$(BIN)/python benchmarks/emit.py
	$(BIN)/python benchmarks/ship.py

generate: venv
	$(BIN)/luna-events generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
