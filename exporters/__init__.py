"""Platform exporters: ``python -m runtime export PLATFORM``, one folder per platform.

``exporters/<platform>/__init__.py`` builds the export, ``exporters/<platform>/entry.py`` is the
module it ships into the package; ``exporters/flat.py`` flattens inputs for the platforms whose
parameters are flat; ``exporters/common.py`` reads the manifest once and writes files
reproducibly (see its docstring).
"""
