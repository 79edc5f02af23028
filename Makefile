# Quick start: `make demo` (set up, then train on scikit-learn's digits) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_WHEELS ?= /opt/wheels
# Where a CPU build of torch lies on disk (this machine kind) use it: no multi-GB CUDA download.
TORCH_SPEC := $(if $(wildcard $(TORCH_WHEELS)/torch-2.13.0+cpu-*.whl),"torch==2.13.0+cpu" --find-links $(TORCH_WHEELS),"torch>=2.4")
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# uv installs and byte-compiles in parallel: the set-up took 27 s against pip's 65 s on a
# 2-core machine. Byte-compiled at install, as pip does: where PYTHONDONTWRITEBYTECODE is set,
# nothing compiles later and every import reads source (the tests ran 60 % slower).
UV := VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv pip install --quiet --compile-bytecode

DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: setup demo test lint format bench docs gpu-bundle clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c requirements/constraints.txt uv
	$(UV) -c requirements/constraints.txt $(TORCH_SPEC) -e ".[test]"
	touch $(STAMP)

demo: setup
	$(BIN)/python -m sklearn_capsnet

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(DOCS_STAMP): $(STAMP)
	$(UV) -c requirements/constraints.txt $(TORCH_SPEC) -e ".[test,docs]"
	touch $(DOCS_STAMP)

# Sphinx + numpydoc + sphinx-gallery (runs every example); warnings are errors.
docs: $(DOCS_STAMP)
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: setup
	$(BIN)/python benchmarks/bench_digits.py

# What benchmarks/gpu_check.sh needs on the GPU machine, which has no skorch and no network.
gpu-bundle: setup
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: -d .whl "skorch==$$($(BIN)/python -c 'import skorch; print(skorch.__version__)')"
	mkdir -p .data/fashion-mnist && cp -n /usr/share/datasets/fashion-mnist/*.gz .data/fashion-mnist/

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache docs/_build docs/generated docs/auto_examples
