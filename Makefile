# Two entry points for a new user: `make demo` and `make test`.
# Each creates ./.venv (Python 3.11 by default) and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
EXTRAS ?= torch,events,sweep,dev,docs
# the shared real data sets, when they sit beside the repository (tests skip without them)
DATA_DIR ?= $(wildcard $(abspath ../shared/data))

.PHONY: demo test docs test-py312 print-python312 install bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/stdp-toolkit demo --out runs/demo

test: install
	STDP_DATA_DIR=$${STDP_DATA_DIR:-$(DATA_DIR)} $(BIN)/python -m pytest -q -ra tests

# the documentation site: guides, notebooks (not executed: the tests run them) and the API reference
# from the docstrings; any warning fails the build
docs: install
	$(BIN)/python -m sphinx -b html -c docs -W --keep-going -q . docs/_build/html
	@echo "docs: docs/_build/html/docs/index.html"

# Python 3.12 with brian2 2.10.1 and the GPU backend (brian2cuda needs both): the core tests, and
# the CUDA build test (code generation + nvcc, no GPU needed). Never the torch extra: its CPU
# wheel here is for 3.11 only, and an unpinned torch pulls gigabytes of CUDA libraries.
PYTHON312 ?= $(firstword $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
VENV312   ?= .venv312
BIN312     = $(VENV312)/bin
# cuRAND of CUDA 13.0 (like the nvcc here), installed only when nvcc cannot find curand.h
CURAND    ?= nvidia-curand==10.4.0.35
# e.g. PY312_PYTEST_ARGS='-m "not slow"' to leave out the real-data tests the 3.11 leg runs
PY312_PYTEST_ARGS ?=

$(BIN312)/.installed: setup.cfg pyproject.toml
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: set PYTHON312=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON312) -m venv $(VENV312)
	$(BIN312)/pip install -q --upgrade pip
	$(BIN312)/pip install -q -e ".[cuda,dev,sweep]"
	if command -v nvcc >/dev/null && ! echo '#include <curand.h>' | nvcc -E -x cu - -o /dev/null 2>/dev/null; then \
	    $(BIN312)/pip install -q "$(CURAND)"; fi
	$(BIN312)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

print-python312:
	@echo $(PYTHON312)

test-py312: $(BIN312)/.installed
	STDP_DATA_DIR=$${STDP_DATA_DIR:-$(DATA_DIR)} $(BIN312)/python -m pytest -q -ra tests \
	    --ignore=tests/torch_bridge --ignore=tests/lite $(PY312_PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(VENV312) runs .pytest_cache docs/_build
