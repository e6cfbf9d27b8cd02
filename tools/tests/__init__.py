"""Tests of the model tooling: ``python -m unittest discover -s tests -t .`` (cwd = tools)."""
