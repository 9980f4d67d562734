# Every target that needs the environment depends on $(STAMP), so `make run` and `make test`
# each work alone on a fresh clone: the first one creates .venv and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint format schemas check bench bench-quick clean speech-fixtures

install: $(STAMP)

# espeak-ng, the embedded text-to-speech, is the one system package: it comes from Debian, not
# PyPI, and runs as a subprocess (it is GPL, never linked in). Installed when missing and we are
# root (CI is); otherwise the exact command is printed and the rest of the install goes on, since
# the server also runs with the other engines. Order-only below, so it is checked on every
# `make run`/`make test` (one `command -v`) without forcing a reinstall of .venv.
ESPEAK_INSTALL := apt-get install -y espeak-ng
system-deps:
	@if command -v espeak-ng >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing espeak-ng (the embedded text-to-speech): $(ESPEAK_INSTALL)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$(ESPEAK_INSTALL) >/dev/null 2>&1 || { apt-get update -qq && $(ESPEAK_INSTALL) -qq >/dev/null; } \
		|| { echo "could not install espeak-ng; run: $(ESPEAK_INSTALL)" >&2; exit 1; }; \
	else \
		echo "espeak-ng is missing (the embedded text-to-speech needs it); run: sudo $(ESPEAK_INSTALL)" >&2; \
	fi

$(STAMP): setup.cfg pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# `make run PORT=8733 HOST=0.0.0.0` passes --port/--host; left unset, the server's own settings
# apply (UNMUTE_PORT, UNMUTE_HOST, ... or their defaults, 127.0.0.1:8000 and
# character_packs/default), so a variable set in the environment is never silently overridden.
HOST ?=
PORT ?=
run: $(STAMP)
	$(BIN)/unmute-server serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

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

# The committed speech fixtures (tests/fixtures/speech/), made again with espeak-ng: the same
# espeak-ng and libopus give the same bytes.
speech-fixtures: $(STAMP)
	$(BIN)/python tests/fixtures/speech/regenerate.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
