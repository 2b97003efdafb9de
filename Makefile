# One-command entry points. Each target installs what it needs first: into the active
# virtual/conda environment if there is one, else into ./.venv (created on demand). Python is
# all it takes; TeX only for the PDF.

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
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk fonts-freefont-otf fonts-dejavu-core tex-gyre
JB_FLAGS ?= -W --keep-going
# The hand-in's own build folder (its PDF: $(HANDIN_DIR)/_build/latex/).
HANDIN_DIR := book/_build/handin
define NEED_TEX
	@if ! command -v xelatex >/dev/null || ! command -v latexmk >/dev/null; then \
	  echo "PDF not built: xelatex and latexmk are missing. On Debian/Ubuntu install them with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; \
	  exit 1; fi
endef
AUTHOR ?=

.PHONY: help setup book html pdf handin test lint lab clean submission bench

help:
	@echo "make book         build the report: HTML (book/_build/html) and PDF (book/_build/latex)"
	@echo "make test         unit tests and every notebook under nbval (quick profile)"
	@echo "make lint         ruff (lint and format check) and nbstripout, as pre-commit runs them"
	@echo "make lab          JupyterLab on book/"
	@echo "make bench        speed benchmarks: prints the table, writes benchmarks/results.json"
	@echo "make submission   the hand-in PDF (graded chapters only) and the homework's ZIP (PDF + code)"
	@echo "                  in dist/: make submission AUTHOR=\"Name Surname\""
	@echo "make html | make pdf | make handin | make clean"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(ACTIVE_ENV)" ] && [ ! -x "$(ENV_DIR)/bin/python" ]; then \
	  echo "No active environment: creating .venv"; python3 -m venv "$(ENV_DIR)"; fi
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[book,test,dev]"
	@touch "$@"

book: html pdf

# A failing notebook fails the build with its traceback (execute: raise_on_error / show_tb in
# book/_config.yml); the build check places the PDF beside the pages when it exists.
# Each build's whole output is kept in book/_build/<target>-build.log; the terminal shows the
# progress lines, warnings and errors (tools/logged.py), and the log's end when a build fails.
# Every page runs again when lib/, benchmarks/ or BOOK_PROFILE changed (book/_ext/freshness.py).
html: setup
	$(PYTHON) -m tools.logged book/_build/html-build.log -- \
	  $(BIN)jupyter-book build book/ $(JB_FLAGS)
	@$(PYTHON) -m tools.buildcheck html

pdf: setup
	$(NEED_TEX)
	$(PYTHON) -m tools.logged book/_build/pdf-build.log -- \
	  $(BIN)jupyter-book build book/ --builder pdflatex $(JB_FLAGS)
	@$(PYTHON) -m tools.buildcheck pdf

# The hand-in: the graded chapters alone (book/_toc_handin.yml), same sources and _config.yml,
# built into its own folder. Experiments reload the runs the book stored under results/, so
# its numbers are the book's; the build check compares them with the full PDF's when present.
handin: setup
	$(NEED_TEX)
	$(PYTHON) -m tools.logged book/_build/handin-build.log -- \
	  $(BIN)jupyter-book build book/ --builder pdflatex --toc $(CURDIR)/book/_toc_handin.yml \
	  --path-output $(HANDIN_DIR) $(JB_FLAGS)
	@$(PYTHON) -m tools.buildcheck handin

test: setup
	$(BIN)pytest

# The same checks as .pre-commit-config.yaml, without changing any file.
lint: setup
	$(BIN)ruff check .
	$(BIN)ruff format --check .
	$(BIN)nbstripout --keep-id --extra-keys cell.metadata.user_expressions --verify book/*.ipynb

lab: setup
	$(BIN)jupyter lab --notebook-dir=book

bench: setup
	$(PYTHON) -m benchmarks

# AUTHOR (from the command line, exported to every command) names the archive and reaches the
# hand-in's title page and PDF metadata (book/_ext/handin.py); the placeholder author of
# book/_config.yml is refused before anything is built.
submission: setup
	@$(PYTHON) -m tools.submission --check-author
	@$(MAKE) --no-print-directory handin
	$(PYTHON) -m tools.submission

clean:
	rm -rf book/_build dist .pytest_cache
