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
KERNEL := minimax-gan-optimizers
MATHJAX := book/_static/mathjax/tex-svg.js
MATHJAX_VERSION := 3
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk fonts-freefont-otf tex-gyre
JB_FLAGS ?= -W --keep-going

.PHONY: help setup book html pdf test lab clean submission bench

help:
	@echo "make book         build the report: HTML (book/_build/html) and PDF (book/_build/latex)"
	@echo "make test         unit tests and every notebook under nbval (quick profile)"
	@echo "make lab          JupyterLab on book/"
	@echo "make bench        speed benchmarks: prints the table, writes benchmarks/results.json"
	@echo "make submission   the homework's ZIP (PDF + code) in dist/"
	@echo "make html | make pdf | make clean"

setup: $(STAMP) $(MATHJAX)

$(STAMP): pyproject.toml
	@if [ -z "$(ACTIVE_ENV)" ] && [ ! -x "$(ENV_DIR)/bin/python" ]; then \
	  echo "No active environment: creating .venv"; python3 -m venv "$(ENV_DIR)"; fi
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ".[book,test]"
	$(PYTHON) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	@touch "$@"

# MathJax served from the book itself, so that the HTML typesets its math with no network.
$(MATHJAX):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch MathJax for the offline HTML book (Debian: apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && (cd "$$tmp" && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null) \
	  && tar -xzf "$$tmp"/mathjax-*.tgz -C "$$tmp" && mkdir -p $(@D) \
	  && cp "$$tmp"/package/es5/tex-svg.js "$$tmp"/package/LICENSE $(@D)/ && rm -rf "$$tmp"
	@echo "MathJax $(MATHJAX_VERSION) copied to $(@D)"

book: html pdf

html: setup
	$(BIN)jupyter-book build book/ $(JB_FLAGS)
	@$(PYTHON) -m tools.buildcheck html

pdf: setup
	@if ! command -v xelatex >/dev/null || ! command -v latexmk >/dev/null; then \
	  echo "PDF not built: xelatex and latexmk are missing. On Debian/Ubuntu install them with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; \
	  exit 1; fi
	$(BIN)jupyter-book build book/ --builder pdflatex $(JB_FLAGS)
	@$(PYTHON) -m tools.buildcheck pdf

test: setup
	$(BIN)pytest

lab: setup
	$(BIN)jupyter lab --notebook-dir=book

bench: setup
	$(PYTHON) -m benchmarks

submission: setup
	@ls book/_build/latex/*.pdf >/dev/null 2>&1 || $(MAKE) pdf
	$(PYTHON) -m tools.submission

clean:
	rm -rf book/_build dist .pytest_cache
