"""The seeded demo data set: :func:`~metrics.demo.generator.generate` and its parts.
"""

__all__ = ["generator", "assets", "model", "surveys", "tickets", "util"]
