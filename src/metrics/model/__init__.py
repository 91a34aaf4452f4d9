"""What the data and the metrics are: the tables (schema), the metric registry, the one
filter model, the link parser, plausibility limits and the text catalogue (i18n).
"""

__all__ = ["schema", "registry", "filters", "links", "plausible", "i18n"]
