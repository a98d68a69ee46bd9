# One-command set-up on a fresh machine: `make run` (the main job) and `make test` (the test suite).
# Both create .venv and install gpupipe into it. Knobs:
#   TORCH_SPEC  the torch requirement (default "torch"; CI uses the CPU wheel "torch==2.13.0")
#   EXTRAS      pip extras to install (default "dev"; add "gpu" on a CUDA 13 machine: EXTRAS=dev,gpu)
#   PYTHON      interpreter that creates the venv (>= 3.11)
# `make gpu-api-check` type-checks the GPU-only modules against the real RAPIDS packages, no GPU needed.
# It builds its own .venv-gpuapi from scripts/gpu_api_requirements.txt (+ TORCH_SPEC), once.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch
EXTRAS ?= dev
PYTEST_ARGS ?=
OUT ?= results/flights-delay
comma := ,
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS))
GPU_API_VENV ?= .venv-gpuapi
GPU_API_REQUIREMENTS := scripts/gpu_api_requirements.txt
GPU_API_STAMP := $(GPU_API_VENV)/.installed

.PHONY: setup run test lint bench clean gpu-api-env gpu-api-check

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

# The RAPIDS Python layers without their native libraries (about 90 MB of wheels), the packages their
# types are made of, torch and pyright. --no-deps throughout: the pins file lists everything, so
# nothing pulls libcudf or a CUDA toolkit. A half-built env is removed, never stamped.
gpu-api-env: $(GPU_API_STAMP)

$(GPU_API_STAMP): $(GPU_API_REQUIREMENTS)
	rm -rf $(GPU_API_VENV)
	$(PYTHON) -m venv $(GPU_API_VENV)
	$(GPU_API_VENV)/bin/python -m pip install --quiet --no-deps --no-compile -r $(GPU_API_REQUIREMENTS) \
	    || { rm -rf $(GPU_API_VENV); exit 1; }
	$(GPU_API_VENV)/bin/python -m pip install --quiet --no-deps --no-compile "$(TORCH_SPEC)" \
	    || { rm -rf $(GPU_API_VENV); exit 1; }
	touch $@

gpu-api-check: $(GPU_API_STAMP)
	GPU_API_VENV=$(GPU_API_VENV) bash scripts/gpu_api_check.sh

clean:
	rm -rf $(VENV) $(GPU_API_VENV) .pytest_cache results bench-results

# Write notebooks/*.ipynb from notebooks/make_notebooks.py and execute them in place (outputs and charts are
# committed); about two minutes on a 2-core CPU machine.
.PHONY: notebooks
notebooks: setup
	$(BIN)/python notebooks/make_notebooks.py --execute
