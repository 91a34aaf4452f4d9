"""Everything that differs per database when connecting or writing: URLs and engines
(connect), one writer and many readers of a DuckDB file (swap), and Spark (spark/).
"""

__all__ = ["connect", "swap", "spark"]
