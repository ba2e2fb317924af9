# FleetPrep: the two commands README.md shows, plus helpers.
#   make demo   build, then ingest the bundled SampleClips into ./shards and verify them
#   make test   build and run every test (installs FFmpeg dev packages and a Python venv if missing)
SWIFT        ?= swift
CONFIG       ?= release
VENV         ?= .venv
PYTHON_DEPS  ?= numpy webdataset pytest torch==2.13.0+cpu
BIN           = .build/$(CONFIG)/fleetprep

.PHONY: demo test pytest build bootstrap venv bench bench-python clips clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product fleetprep

demo: build
	$(BIN) ingest --size 320x240 --out shards
	$(BIN) verify shards

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
# `swift test` has just built beside its test bundle; `make pytest` builds it and runs them alone.
PYTEST        = FLEETPREP_BIN=$(abspath $(BIN)) $(VENV)/bin/python -m pytest -q -rs python/tests

test: venv
	FLEETPREP_PYTHON=$(abspath $(VENV))/bin/python $(SWIFT) test -c $(CONFIG)
	$(PYTEST)

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
	rm -rf .build shards $(VENV)
