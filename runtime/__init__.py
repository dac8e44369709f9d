"""Local stand-in for the SOAR platform: loads plugin.yaml, validates, runs actions (CLI)."""
