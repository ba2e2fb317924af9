# FleetPrep: the two commands README.md shows, plus helpers.
#   make demo   build, then ingest the bundled SampleClips into ./shards and verify them
#   make test   build and run every test (installs FFmpeg dev packages and a Python venv if missing)
SWIFT        ?= swift
CONFIG       ?= release
VENV         ?= .venv
PYTHON_DEPS  ?= numpy webdataset
BIN           = .build/$(CONFIG)/fleetprep

.PHONY: demo test build bootstrap venv bench clips clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product fleetprep

demo: build
	$(BIN) ingest --size 320x240 --out shards
	$(BIN) verify shards

# Python with numpy + webdataset for the interop tests (the readers Python training code uses).
$(VENV)/.ready:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PYTHON_DEPS)
	touch $@

venv: bootstrap $(VENV)/.ready

test: venv
	FLEETPREP_PYTHON=$(abspath $(VENV))/bin/python $(SWIFT) test -c $(CONFIG)

bench: build
	$(BIN) bench

clips:
	SampleClips/make-clips.sh

clean:
	rm -rf .build shards $(VENV)
