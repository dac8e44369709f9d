"""Benchmarks of the plugin against a raw ``requests`` baseline (``make bench``; see README.md)."""
