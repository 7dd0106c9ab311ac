# twin — two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Example data: TWIN_DATA_DIR if set; else a reference copy beside the clone (../shared/data)
# when there is one; else twin.datasets downloads each file on first use (sha256-checked).
TWIN_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
export TWIN_DATA_DIR

.PHONY: demo test test-slow bench venv clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "twin needs $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch pinned explicitly: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/twin demo --out demo_output

# TWIN_FAST=1: notebooks run in their documented fast mode (short simulations)
test: $(STAMP)
	TWIN_FAST=1 $(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# app: the what-if explorer (notebooks/03_what_if.ipynb) as a web app with Voila on
# http://localhost:$(APP_PORT) (make app APP_PORT=9000 for another port; TWIN_FAST=1 for short runs)
APP_PORT ?= 8866
.PHONY: app
app: $(STAMP)
	$(VENV)/bin/voila notebooks/03_what_if.ipynb --port $(APP_PORT) --no-browser

bench: $(STAMP)
	$(VENV)/bin/twin bench io --quick

clean:
	rm -rf $(VENV) demo_output
