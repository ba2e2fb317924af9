# FleetPrep: the two commands README.md shows, plus helpers.
#   make demo   build, then ingest the bundled SampleClips into ./shards (small: 160x120 u8, every
#               2nd frame, about 30 MB) and verify them
#   make test   build and run every test (installs FFmpeg dev packages and a Python venv if missing)
# The tests build in their own scratch path (.build-test): `swift test` compiles every module with
# testable imports, which would otherwise invalidate the demo's build in .build each time.
SHELL        := /bin/bash
SWIFT        ?= swift
CONFIG       ?= release
VENV         ?= .venv
PYTHON_DEPS  ?= numpy webdataset pytest torch==2.13.0+cpu torchdata fsspec aiohttp requests s3fs 'moto[server]' crc32c
BIN           = .build/$(CONFIG)/fleetprep
TEST_SCRATCH ?= .build-test
# What `make demo` ingests with; README's command list starts with the same line.
DEMO_FLAGS    = --size 160x120 --dtype u8 --normalize none --stride 2 --mixed-shapes --out shards

.PHONY: demo test pytest build bootstrap venv bench bench-python clips clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product fleetprep

demo: build
	$(BIN) ingest $(DEMO_FLAGS)
	$(BIN) verify shards
	@echo "demo dataset: $(abspath shards) (index.json, shards, errors.jsonl if any); try: $(BIN) inspect shards"

# Python with numpy + webdataset for the interop tests (the readers Python training code uses),
# pytest and a CPU build of torch (~190 MB) for the python/ package's tests, and the package
# itself (editable, so the tests run the working tree's code).
$(VENV)/.ready-py:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PYTHON_DEPS)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e python
	touch $@

venv: bootstrap $(VENV)/.ready-py

# The Python package's tests (python/tests) run on datasets written by the fleetprep binary that
# `swift test` has just built beside its test bundle (in $(TEST_SCRATCH)); `make pytest` builds it and runs them alone.
PYTEST_RUN    = $(VENV)/bin/python -m pytest -q -rs python/tests
PYTEST        = FLEETPREP_BIN=$(abspath $(BIN)) $(PYTEST_RUN)

# swift-testing only (there are no XCTest tests: no "Executed 0 tests" lines); the last line
# counts the tests that were skipped (a missing tool, a CPU feature) — their reasons are in the log.
test: venv
	@mkdir -p $(TEST_SCRATCH)
	@set -o pipefail; FLEETPREP_PYTHON=$(abspath $(VENV))/bin/python $(SWIFT) test -c $(CONFIG) --scratch-path $(TEST_SCRATCH) \
	    --disable-xctest 2>&1 | tee $(TEST_SCRATCH)/test.log; status=$$?; \
	  skipped=$$(grep -E '^[^ ]+ Test .*(skipped|cancelled)' $(TEST_SCRATCH)/test.log | wc -l); \
	  echo "skipped: $$skipped test(s)$$([ $$skipped -gt 0 ] && echo ", reasons: grep -E 'skipped|cancelled' $(TEST_SCRATCH)/test.log")"; \
	  exit $$status
	FLEETPREP_BIN=$(abspath $(TEST_SCRATCH))/$(CONFIG)/fleetprep $(PYTEST_RUN)

pytest: venv
	$(SWIFT) build -c $(CONFIG) --product fleetprep
	$(PYTEST)

bench-python: build venv
	$(VENV)/bin/python Benchmarks/python_reader.py --fleetprep $(BIN)

bench: build
	$(BIN) bench

clips:
	SampleClips/make-clips.sh

clean:
	rm -rf .build $(TEST_SCRATCH) shards $(VENV)
