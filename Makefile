# One-command set-up on a fresh machine: `make run` (the main job) and `make test` (the test suite).
# Both create .venv and install gpupipe into it. Knobs:
#   TORCH_SPEC  the torch requirement (default "torch"; CI uses the CPU wheel "torch==2.13.0")
#   EXTRAS      pip extras to install (default "dev"; add "gpu" on a CUDA 13 machine: EXTRAS=dev,gpu)
#   PYTHON      interpreter that creates the venv (>= 3.11)
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch
EXTRAS ?= dev
PYTEST_ARGS ?=
OUT ?= results/flights-delay
comma := ,
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS))

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

run: setup
	$(BIN)/gpupipe info
	$(BIN)/gpupipe run flights-delay --out $(OUT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check gpupipe pipelines tests

bench: setup
	$(BIN)/gpupipe bench --out bench-results

clean:
	rm -rf $(VENV) .pytest_cache results bench-results
