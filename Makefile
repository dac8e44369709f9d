# Everything a fresh machine needs: `make demo` and `make test` create .venv and install into it.
# `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# PYTHON given on the command line or in the environment: .venv must be made with it.
PYTHON_EXPLICIT := $(if $(filter command line environment,$(origin PYTHON)),1,)

.PHONY: help venv demo simulator test lint format validate package package-check platforms icons bench clean

help: ## list the targets
	@echo "make TARGET [PYTHON=python3.x]   (PYTHON >= 3.9; default python3)"
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
		sed -E 's/^([a-z-]+):.*## (.*)/\1|\2/' | awk -F'|' '{printf "  %-16s %s\n", $$1, $$2}'

venv: ## create .venv (or repair it: wrong or too old Python) and install the dependencies
	@PYTHON_EXPLICIT=$(PYTHON_EXPLICIT) scripts/venv.sh "$(PYTHON)" "$(VENV)"

demo: venv ## run Get Threat Events once against a throwaway simulator
	PY=$(PY) scripts/demo.sh

simulator: venv ## keep a simulator running on 127.0.0.1:8765 and print commands to try
	PY=$(PY) scripts/simulator.sh

test: venv ## validate the plugin, then the whole test suite (under 2 minutes on 2 cores)
	$(PY) -m runtime validate
	$(PY) -m pytest -q

lint: venv ## ruff check and ruff format --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv ## ruff format and ruff check --fix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

validate: venv ## check plugin.yaml and everything it references
	$(PY) -m runtime validate

# dist/sentinelone-<version>.zip with wheels for CPython 3.9-3.12 (needs the package index;
# without it: `$(PY) -m runtime package --no-wheels`). Keeps the wheels in dist/wheels.
package: venv ## build dist/sentinelone-<version>.zip with wheels (needs the package index)
	$(PY) -m runtime package

# Build the bundle with wheels, then its tests, including the offline install in a fresh venv
# that runs Get Threat Events from the unpacked bundle against the simulator.
package-check: venv ## build the bundle, then install it offline and run it
	bundle=$$($(PY) -m runtime package) && \
	RUNTIME_BUNDLE="$$bundle" $(PY) -m pytest -q tests/test_package.py

# Platform conformance: each `python -m runtime export PLATFORM` run by that vendor's own runtime
# from the package index, in a cached venv per platform (.venv-platforms/<platform>), against the
# simulator (tests/platforms/; not part of `make test`).
platforms: venv ## run each platform's export under that vendor's own runtime (tests/platforms)
	PLATFORMS_TESTS=1 $(PY) -m pytest -q -rs tests/platforms

# The plugin against a raw `requests` baseline on loopback (2.5 to 5 minutes; not part of
# `make test`): prints the results table, exits 0 only when every target is met.
# `make bench BENCH_ARGS=--update-docs` also records it in docs/performance.md.
bench: venv ## what users feel against raw requests; exit 1 if a target is missed (bench/README.md)
	$(PY) -m bench $(BENCH_ARGS)

# Re-render the PNG icons from icons/sentinelone.svg (needs rsvg-convert: librsvg2-bin).
icons: ## re-render the PNG icons from icons/sentinelone.svg
	scripts/render_icons.sh

clean: ## remove .venv, dist/, build output and tool caches
	rm -rf $(VENV) .venv-* dist build *.egg-info .pytest_cache .ruff_cache .hypothesis
