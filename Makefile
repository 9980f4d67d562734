# Every target that needs the environment depends on $(STAMP), so `make run` and `make test`
# each work alone on a fresh clone: the first one creates .venv and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format schemas check bench bench-quick clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/unmute-server serve --host 127.0.0.1 --port 8000 --packs-root character_packs --default-pack default

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check unmute_server tests
	$(BIN)/ruff format --check unmute_server tests
	$(BIN)/mypy
	$(BIN)/unmute-server lint character_packs/*/

format: $(STAMP)
	$(BIN)/ruff check --fix unmute_server tests
	$(BIN)/ruff format unmute_server tests

schemas: $(STAMP)
	$(BIN)/unmute-server schema

check: lint test
	$(BIN)/unmute-server schema --check
	$(MAKE) bench-quick

bench: $(STAMP)
	$(BIN)/python -m tests.perf

bench-quick: $(STAMP)
	$(BIN)/python -m tests.perf --quick

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
