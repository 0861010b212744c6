# Prism — the few targets people use. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo services services-down browser ocr test test-fast test-cluster bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

## embedded default, no servers: ingest a sample corpus and run a hybrid search with a classification filter
demo: install
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
	$(BIN)/python bench/text_ranking.py

clean:
	rm -rf var artifacts .pytest_cache
