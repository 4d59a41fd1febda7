# Two commands matter: `make demo` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint format typecheck demo bench clean

help:
	@echo "make demo   run the emulator, Meltano and DuckDB end to end, twice"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  benchmarks (ratios measured in one run)"

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . --group dev
	touch $@

venv: $(INSTALLED)

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
test: $(INSTALLED)
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .meltano .tools output dist build .pytest_cache .mypy_cache .ruff_cache
