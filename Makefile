# Prism — the few targets people use. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install runtime demo services services-down browser ocr lint test test-fast test-cluster bench constraints clean

## everything: what `prism` needs, the local LLM (llama.cpp, built from source on a fresh machine) and the test tools
install: $(VENV)/.installed

## what `prism` needs to ingest, search and serve (no local LLM, no test tools)
runtime: $(VENV)/.runtime

$(VENV)/.runtime: setup.cfg constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

## embedded default, no servers: ingest a sample corpus and run a hybrid search with a classification filter
demo: runtime
	$(BIN)/prism demo

## real Elasticsearch, Redis and PostgreSQL on loopback (idempotent)
services: install
	$(BIN)/prism services up

services-down:
	$(BIN)/prism services down

browser:
	bash tests/ui/install_browser.sh

## Debian's tesseract OCR (scanned PDFs, figure labels on drawing sheets); ingest works without it, reading less
ocr:
	bash docker/install_ocr.sh

## ruff (pyproject.toml [tool.ruff]) and mypy (pyproject.toml [tool.mypy]); .ci/run runs it before the tests
lint: install
	$(BIN)/ruff check backend workers tests bench
	$(BIN)/mypy

## the whole test suite against the real services and a headless Chromium
test: install services browser ocr
	$(BIN)/pytest

## node failures on a real 3-node Elasticsearch cluster on loopback (too heavy for CI's 2 cores next to the rest)
test-cluster: install services
	$(BIN)/prism services up es --es-nodes 3
	PRISM_TEST_CLUSTER=1 $(BIN)/pytest -m cluster -s

test-fast: install
	PRISM_TEST_SKIP_SERVICES=1 $(BIN)/pytest -m "not services and not browser"

bench: install services
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/drawing_retrieval.py
	$(BIN)/python bench/examiner_bench.py
	$(BIN)/python bench/text_ranking.py

## constraints.txt again from a fresh resolve of setup.cfg's ranges (a throw-away venv), then a freeze
constraints:
	rm -rf var/constraints-venv && $(PYTHON) -m venv var/constraints-venv
	var/constraints-venv/bin/pip install -q --upgrade pip
	var/constraints-venv/bin/pip install -q -e '.[test,s3]'
	{ head -n 2 constraints.txt; var/constraints-venv/bin/pip freeze --exclude-editable | grep -v ' @ ' \
	  | LC_ALL=C sort -f; } > var/constraints.txt && mv var/constraints.txt constraints.txt && rm -rf var/constraints-venv

clean:
	rm -rf var artifacts .pytest_cache
