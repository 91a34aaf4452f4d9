"""How a question becomes one SQLAlchemy Core ``Select``: the compiler, the dialect hooks and
the :class:`~metrics.query.warehouse.Warehouse` that runs it and finishes the tidy frame.
"""

__all__ = ["compiler", "dialect", "warehouse"]
