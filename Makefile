# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup system-deps tools lint bench clean

# A fresh virtualenv with the project and its dev tools, rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Debian packages the tests need (headless Chromium for the browser tests).
system-deps:
	scripts/install-system-deps

# Tools the tests run beside the project, each kept apart from it:
# - py-wacz for `wacz validate` on exports, in a venv of its own: its frictionless needs chardet 6, which the
#   bench extra's readability-lxml refuses. 0.6.0 validates WACZ 1.1.1, the version `scrape export wacz` writes.
# - ReplayWeb.page (npm `replaywebpage`, pinned in package.json / package-lock.json) for the replay browser test;
#   `npm ci` installs exactly the lock file and runs no install scripts.
WACZ_VENV ?= .venv-wacz
$(WACZ_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(WACZ_VENV)
	$(WACZ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(WACZ_VENV)/bin/python -m pip install --quiet "wacz==0.6.0"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

tools: $(WACZ_VENV)/.installed node_modules/.installed

demo: setup
	$(BIN)/scrape demo

lint: setup
	$(BIN)/ruff check scraper tests bench
	$(BIN)/ruff format --check scraper tests bench
	$(BIN)/mypy

test: setup system-deps tools lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(WACZ_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
