"""Benchmarks (not tests): ``make bench`` runs :mod:`bench.run`."""
