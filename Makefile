# Every entry point of the course. `make book` and `make test` set up what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= book
STAMP := $(VENV)/.installed

.PHONY: help install book execute test unit integration notebooks nbval book-ci browser lab student data benchmarks clean

help:
	@echo "make book    build the HTML book (executes every chapter at PROFILE=$(PROFILE))"
	@echo "make test    run every test lane: unit, integration, chapters at ci, nbval, book"
	@echo "make unit    only the fast lane (no JVM, no servers, no Keras training)"
	@echo "make lab     open the chapters (notebooks/) and exercises (student/) in JupyterLab"
	@echo "make student generate the student notebooks (solutions removed)"

# The virtual environment, rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/course data generate --profile $(PROFILE)

execute: $(STAMP)
	$(BIN)/course run --profile $(PROFILE)

book: $(STAMP)
	$(BIN)/course run --profile $(PROFILE)
	$(BIN)/course book build --profile $(PROFILE)

# The one test command (CI runs it), lane by lane, each lane's time printed:
# unit (fast: no JVM, no servers, no Keras training), integration (Spark,
# JupyterLab, nbgrader, Keras training), the chapters at the ci profile, per-cell
# output validation with nbval, the book in a browser. Lanes: tests/conftest.py.
LANE_TIME = start=$$(date +%s); $(1); status=$$?; \
	echo "lane $(2): $$(( $$(date +%s) - start )) s"; exit $$status
test: $(STAMP)
	@$(call LANE_TIME,$(MAKE) unit,unit)
	@$(call LANE_TIME,$(MAKE) integration,integration)
	@$(call LANE_TIME,$(MAKE) notebooks,notebooks)
	@$(call LANE_TIME,$(MAKE) nbval,nbval)
	@$(call LANE_TIME,$(MAKE) browser,book)

unit: $(STAMP)
	$(BIN)/pytest tests -m unit

integration: $(STAMP)
	$(BIN)/pytest tests -m integration

notebooks: $(STAMP)
	COURSE_PROFILE=ci $(BIN)/course run --profile ci
	COURSE_PROFILE=ci $(BIN)/pytest tests -m notebooks

# nbval re-executes the chapters whose cells are tagged `nbval-check-output` and
# compares those cells' outputs with the papermill run: seeded data, tables and
# metrics must come out identical twice.
nbval: $(STAMP)
	COURSE_PROFILE=ci $(BIN)/pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg \
	    $$(grep -l '"nbval-check-output"' build/executed/ci/*.ipynb)

browser: $(STAMP)
	$(BIN)/course book build --profile ci
	$(BIN)/pytest tests -m book

# The course's JupyterLab, via the venv's settings overrides: double-clicking a chapter
# (.md) opens it as a notebook (jupytext), and no news pop-up asks to go online. The
# jupyterlab-myst extension (a pinned dependency) renders the chapters' MyST: citations,
# exercises and solutions, admonitions, numbered equations, cross-references.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_OVERRIDES): $(STAMP) Makefile
	@mkdir -p $(dir $@)
	@$(BIN)/jupyter labextension enable --level=sys_prefix jupyterlab-myst > /dev/null
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}, "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

# Opens on the repository: the chapters in notebooks/, the exercises without their
# solutions in student/. (As root, e.g. in a container, JupyterLab refuses to start
# without --allow-root.)
lab: $(STAMP) $(LAB_OVERRIDES)
	$(BIN)/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

student: $(STAMP)
	$(BIN)/course student

benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build
