"""Data in: full loads, the derived tables and rollups, the open-tickets cube and the validated
import of files (importer/).
"""

__all__ = ["load", "rollups", "open_tickets", "importer"]
