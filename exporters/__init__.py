"""Platform exporters: ``python -m runtime export PLATFORM`` (one module per platform).

``exporters/common.py`` reads the manifest once and writes files reproducibly; each platform is a
module ``exporters/<platform>.py`` found by name. See common.py for the shape of a module.
"""
