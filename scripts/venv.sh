#!/usr/bin/env bash
# Create or repair .venv for the Makefile: usage scripts/venv.sh PYTHON VENV [--create-only]
#
# 1. PYTHON must be Python >= 3.9: checked first, before anything is created or changed.
# 2. A VENV whose interpreter is missing, broken or older than 3.9, or (when PYTHON was given
#    explicitly: PYTHON_EXPLICIT=1) is not PYTHON's interpreter, is removed and created anew.
# 3. The dependencies are installed when VENV/.installed is missing or older than
#    pyproject.toml or requirements.txt. --create-only stops after step 2 and makes a new venv
#    without pip (just the interpreter: what the setup tests check, in about a second).
set -euo pipefail
python=$1
venv=$2
mode=${3:-}

version_of() {  # "3.11.7", or nothing when $1 is not a working Python
    "$1" -c 'import platform; print(platform.python_version())' 2>/dev/null || true
}
new_enough() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null
}
base_of() {  # the real interpreter behind $1 (a venv's base, a pyenv shim's target)
    "$1" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))' 2>/dev/null || true
}

found=$(version_of "$python")
if [ -z "$found" ]; then
    echo "Python >= 3.9 is required (found no working interpreter at '$python'; pass PYTHON=/path/to/python3)" >&2
    exit 1
fi
if ! new_enough "$python"; then
    echo "Python >= 3.9 is required (found $found at '$python'; pass PYTHON=/path/to/python3.9-or-newer)" >&2
    exit 1
fi

if [ -e "$venv" ]; then
    reason=""
    have=$(version_of "$venv/bin/python")
    if [ -z "$have" ]; then
        reason="its interpreter is missing or broken"
    elif ! new_enough "$venv/bin/python"; then
        reason="it holds Python $have, older than 3.9"
    elif [ "${PYTHON_EXPLICIT:-}" = 1 ] && [ "$(base_of "$venv/bin/python")" != "$(base_of "$python")" ]; then
        reason="it was made with $(base_of "$venv/bin/python"), not PYTHON=$python"
    fi
    if [ -n "$reason" ]; then
        echo "venv: rebuilding $venv: $reason." >&2
        rm -rf "$venv"
    fi
fi
if [ ! -x "$venv/bin/python" ]; then
    if [ "$mode" = --create-only ]; then
        "$python" -m venv --without-pip "$venv"
    else
        "$python" -m venv "$venv"
    fi
fi
if [ "$mode" = --create-only ]; then
    exit 0
fi
stamp="$venv/.installed"
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    # requirements.txt constrains the runtime dependencies to the exact versions the bundle ships.
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -c requirements.txt -e '.[dev]'
    touch "$stamp"
fi
