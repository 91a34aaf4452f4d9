"""Chart functions: a tidy DataFrame in, a titled ``plotly.graph_objects.Figure`` out (core holds
the shared layout and the bar, trend, funnel and distribution charts).
"""

__all__ = ["core", "churn", "league", "comparisons"]
