# Two commands matter: `make demo` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint format typecheck demo bench about dist clean plugin-definition

help:
	@echo "make demo   run the emulator, Meltano and DuckDB end to end, twice"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  benchmarks (ratios measured in one run)"
	@echo "make about  rewrite the README's settings table from --about"
	@echo "make dist   build the wheel and sdist into dist/ and check them with twine"
	@echo "make plugin-definition  rewrite tap-msgreports.yml from meltano.yml"
	@echo "   (PIP_URL=\$$PWD OUT=my-tap-msgreports.yml: a definition that installs this clone)"

# The tap and, beside it, the emulator and the demo (emulator/, a distribution of its own that
# the tap's wheel leaves out): the tests, the demo and the benchmarks use both.
$(INSTALLED): pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . -e ./emulator --group dev
	touch $@

venv: $(INSTALLED)

# Meltano lives in its own venv: its pins must not meet the project's. It builds each
# plugin's venv under .meltano/ itself (with uv); `meltano install` is idempotent.
MELTANO_VERSION := 4.4.1
MELTANO_VENV := .tools/meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_INSTALLED := $(MELTANO_VENV)/.installed-$(MELTANO_VERSION)
DEMO_PLUGINS := tap-msgreports target-duckdb

$(MELTANO_INSTALLED):
	rm -rf $(MELTANO_VENV)
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "meltano==$(MELTANO_VERSION)"
	touch $@

# Every figure is a ratio of two measurements taken in this run (bench/run_all.py); the
# table also goes to bench/RESULTS.md. About 7 minutes on 2 cores; loopback only.
bench: export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
bench: $(INSTALLED) $(MELTANO_INSTALLED)
	$(BIN)/python bench/run_all.py --write-results

# Lint first (seconds), then the suite, whose end-to-end tests drive Meltano. pytest exits 5
# when it collected nothing: that is a failure here, never a pass.
test: lint $(MELTANO_INSTALLED)
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The README's settings table is what `--about --format=markdown` prints (a test checks it).
about: $(INSTALLED)
	$(BIN)/tap-msgreports --about --format=markdown | $(BIN)/python -c 'import re, sys; \
	table = sys.stdin.read(); table = table[table.index("## Settings"):].strip(); \
	readme = open("README.md", encoding="utf-8").read(); \
	done = re.sub(r"(<!-- about:start -->\n).*?(\n<!-- about:end -->)", lambda m: m[1] + table + m[2], readme, flags=re.S); \
	open("README.md", "w", encoding="utf-8").write(done)'

# The version is written once, in pyproject.toml; --version and --about read it from the
# installed metadata, and a test keeps CHANGELOG.md's newest entry equal to it.
dist: $(INSTALLED)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The plugin definition for `meltano add --from-ref` is generated from meltano.yml's extractor
# (a test keeps the committed file current). PIP_URL is what Meltano installs: the committed
# file says tap-msgreports; `make plugin-definition PIP_URL=$$PWD OUT=mine.yml` makes one that
# installs this clone instead (OUT keeps the committed file as it is).
PIP_URL ?= tap-msgreports
OUT ?= tap-msgreports.yml
plugin-definition: $(INSTALLED)
	$(BIN)/python -m tests.plugin_definition --pip-url "$(PIP_URL)" --out "$(OUT)"

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
demo: $(INSTALLED) $(MELTANO_INSTALLED)
	$(MELTANO) install $(DEMO_PLUGINS)
	$(BIN)/python -m tap_msgreports_emulator.demo --meltano $(MELTANO)

clean:
	rm -rf $(VENV) .meltano .tools output dist build .pytest_cache .mypy_cache .ruff_cache
