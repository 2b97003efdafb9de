# One-command entry points. Each target installs what it needs first: into the active
# virtual/conda environment if there is one, else into ./.venv (created on demand).

SHELL := /bin/bash
ACTIVE_ENV := $(or $(VIRTUAL_ENV),$(CONDA_PREFIX))
ifeq ($(ACTIVE_ENV),)
  ENV_DIR := $(CURDIR)/.venv
  BIN := $(ENV_DIR)/bin/
else
  ENV_DIR := $(ACTIVE_ENV)
  BIN :=
endif
PYTHON := $(BIN)python
STAMP := $(ENV_DIR)/.minimax-gan-optimizers-installed
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk fonts-freefont-otf tex-gyre
JB_FLAGS ?= -W --keep-going

.PHONY: help setup book html pdf test lab clean

help:
	@echo "make book   build the report: HTML (book/_build/html) and PDF (book/_build/latex)"
	@echo "make test   unit tests and every notebook under nbval (quick profile)"
	@echo "make lab    JupyterLab on book/"
	@echo "make html | make pdf | make clean"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(ACTIVE_ENV)" ] && [ ! -x "$(ENV_DIR)/bin/python" ]; then \
	  echo "No active environment: creating .venv"; python3 -m venv "$(ENV_DIR)"; fi
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ".[book,test]"
	@touch "$@"

book: html pdf

html: setup
	$(BIN)jupyter-book build book/ $(JB_FLAGS)
	@$(PYTHON) -m lib.buildcheck html

pdf: setup
	@if ! command -v xelatex >/dev/null || ! command -v latexmk >/dev/null; then \
	  echo "PDF not built: xelatex and latexmk are missing. On Debian/Ubuntu install them with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; \
	  exit 1; fi
	$(BIN)jupyter-book build book/ --builder pdflatex $(JB_FLAGS)
	@$(PYTHON) -m lib.buildcheck pdf

test: setup
	$(BIN)pytest

lab: setup
	$(BIN)jupyter lab book/

clean:
	rm -rf book/_build dist .pytest_cache
