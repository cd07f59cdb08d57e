# Every target installs what it needs into .venv, so each works on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check simperium_orm tests examples bench
	$(BIN)/ruff format --check simperium_orm tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy simperium_orm tests/typing

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Every benchmark against a freshly started local server; writes bench/results.json,
# docs/assets/bench.png and the results table in docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache
