"""Churn and retention: rates and reasons, life tables and Kaplan–Meier curves (with their
tenure rollup), the churn model"s features, the Cox model and its stored scores.
"""

__all__ = ["rates", "survival", "tenure_rollup", "features", "model", "store"]
