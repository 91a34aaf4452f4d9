"""Delivery tests: a package, so that its conftest.py is imported as deliver.conftest and never
replaces the top-level tests/conftest.py under the name conftest (others import from it)."""
