"""Answers built on the warehouse: statistics, league tables, movers, SLA, drill-down lists and
targets, distributions, a customer"s history, data quality and the subtitles of figures.
"""

__all__ = ["stats", "league", "sla", "drill", "distributions", "customer_history", "data_quality", "subtitles",
           "movers"]
