"""Streamlit-free presentation shared by the app, the CLI and the meeting pack: theme, number
formats, chart functions (charts/), image and table exports, escapes for Markdown and
spreadsheets, and checked output files.
"""

__all__ = ["theme", "formatting", "charts", "export", "markup", "cells", "files"]
