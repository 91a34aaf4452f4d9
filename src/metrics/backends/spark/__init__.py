"""Spark SQL as a database: the SQLAlchemy dialect over Thrift, the Parquet loader and the
local test cluster.
"""

__all__ = ["dialect", "load", "cluster"]
