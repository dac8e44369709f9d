# Everything a fresh machine needs: `make demo` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format validate package package-check platforms icons bench clean

# requirements.txt constrains the runtime dependencies to the exact versions the bundle ships.
$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PY=$(PY) scripts/demo.sh

test: $(STAMP)
	$(PY) -m runtime validate
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

validate: $(STAMP)
	$(PY) -m runtime validate

# dist/sentinelone-<version>.zip with wheels for CPython 3.9-3.12 (needs the package index;
# without it: `$(PY) -m runtime package --no-wheels`). Keeps the wheels in dist/wheels.
package: $(STAMP)
	$(PY) -m runtime package

# Build the bundle with wheels, then its tests, including the offline install in a fresh venv
# that runs Get Threat Events from the unpacked bundle against the simulator.
package-check: $(STAMP)
	bundle=$$($(PY) -m runtime package) && \
	RUNTIME_BUNDLE="$$bundle" $(PY) -m pytest -q tests/test_package.py

# Platform conformance: each `python -m runtime export PLATFORM` run by that vendor's own runtime
# from the package index, in a cached venv per platform (.venv-platforms/<platform>), against the
# simulator (tests/platforms/; not part of `make test`).
platforms: $(STAMP)
	PLATFORMS_TESTS=1 $(PY) -m pytest -q tests/platforms

# The plugin against a raw `requests` baseline on loopback (a few minutes at most; not part of
# `make test`): prints the results table. See bench/README.md.
bench: $(STAMP)
	$(PY) -m bench

# Re-render the PNG icons from icons/sentinelone.svg (needs rsvg-convert: librsvg2-bin).
icons:
	scripts/render_icons.sh

clean:
	rm -rf $(VENV) .venv-* dist build *.egg-info .pytest_cache .ruff_cache .hypothesis
