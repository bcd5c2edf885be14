# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup system-deps lint bench clean

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

# A new demo archive each time, in demo/ (ignored by git), then Datasette on it.
demo: setup
	rm -rf demo && mkdir demo
	cd demo && $(abspath $(BIN))/scrape demo

lint: setup
	$(BIN)/ruff check scraper tests bench scripts
	$(BIN)/ruff format --check scraper tests bench scripts
	$(BIN)/mypy

test: setup system-deps lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	for script in $(filter-out bench/_%,$(wildcard bench/*.py)); do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
