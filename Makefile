# Set-up is part of every target: a fresh clone needs nothing but `make run` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1

.PHONY: install run test lint bench demo clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)

## Build the demo hospital (first time only), run the nightly plan once, then serve the API and the
## command view on 127.0.0.1 and print their addresses (Ctrl+C stops them).
run: install
	$(BIN)/hospital-twin demo --if-empty
	$(BIN)/hospital-twin nightly
	$(BIN)/hospital-twin up

## Lint, type-check, check the layering, then run every test (benchmarks excluded).
test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Timed comparisons (ours vs a reference, printed side by side); numbers go in docs/benchmarks.md.
bench: install
	$(BIN)/python -m pytest tests/benchmarks -s -p no:cacheprovider -o addopts="" --timeout=7200

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
