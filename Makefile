# Every target that needs the environment depends on $(STAMP), so `make run` and `make test`
# each work alone on a fresh clone: the first one creates .venv and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint format schemas check bench bench-quick clean speech-fixtures

install: $(STAMP)

# Two system packages come from Debian, not PyPI: espeak-ng, the embedded text-to-speech, run
# as a subprocess (it is GPL, never linked in), and chromium, the browser the page's tests drive
# (Playwright's own browser download cannot work offline). Each is installed when missing and
# we are root (CI is); otherwise the exact command is printed and the rest of the install goes
# on, since the server also runs with the other engines and without a browser. Order-only
# below, so it is checked on every `make run`/`make test` (one `command -v` each) without
# forcing a reinstall of .venv.
ESPEAK_INSTALL := apt-get install -y espeak-ng
CHROMIUM_INSTALL := apt-get install -y chromium
system-deps:
	@$(call debian_package,espeak-ng,$(ESPEAK_INSTALL),the embedded text-to-speech needs it)
	@$(call debian_package,chromium,$(CHROMIUM_INSTALL),the browser tests of the page need it)

# $(call debian_package,COMMAND,INSTALL,WHY): install the package giving COMMAND when missing.
define debian_package
if command -v $(1) >/dev/null 2>&1; then :; \
elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	echo "installing $(1) ($(3)): $(2)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$(2) >/dev/null 2>&1 || { apt-get update -qq && $(2) -qq >/dev/null; } \
	|| { echo "could not install $(1); run: $(2)" >&2; exit 1; }; \
else \
	echo "$(1) is missing ($(3)); run: sudo $(2)" >&2; \
fi
endef

$(STAMP): setup.cfg pyproject.toml | system-deps
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

# The committed speech fixtures (tests/fixtures/speech/), made again with espeak-ng: the same
# espeak-ng and libopus give the same bytes.
speech-fixtures: $(STAMP)
	$(BIN)/python tests/fixtures/speech/regenerate.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
