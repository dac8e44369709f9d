"""Platform exporters (``python -m runtime export PLATFORM``): see exporters/common.py."""
