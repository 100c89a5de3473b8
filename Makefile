# Two entry points for a new user: `make demo` and `make test`.
# Each creates ./.venv (Python 3.11 by default) and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
EXTRAS ?= torch,events,sweep,dev
# the shared real data sets, when they sit beside the repository (tests skip without them)
DATA_DIR ?= $(wildcard $(abspath ../shared/data))

.PHONY: demo test install bench clean

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

clean:
	rm -rf $(VENV) runs .pytest_cache
