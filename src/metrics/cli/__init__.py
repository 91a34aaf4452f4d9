"""The ``servicewatch`` command line (main) and its command groups.
"""

__all__ = ["main", "churn", "report", "spark"]
