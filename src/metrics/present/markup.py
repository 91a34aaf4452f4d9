"""Data in markup: text from the database (names, categories, regions, comments) shown as text.

Streamlit renders Markdown in ``st.markdown``, captions, alerts, headers, expander and metric
labels and help tooltips; plotly renders a small HTML subset (``<a href>``, ``<b>``, ``<br>``) in
titles, tick labels, legends and hover text. Text that came from data goes through :func:`md` or
:func:`plot_text` before it meets either, so a customer called ``[x](http://evil)`` is shown as
those characters, never as a link, an image, a colour or a formula.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping

WORD_JOINER = "\u2060"  # invisible; splits patterns that Streamlit matches on the parsed text
_PUNCTUATION = frozenset(string.punctuation)  # CommonMark: every ASCII punctuation may be escaped
# Streamlit finds emoji and icon short codes (:smile:, :material/x:) and bare links (http://, www.,
# a@b.c) in the text *after* escapes are resolved: an invisible joiner after ':' and '@' and
# between "www" and "." breaks those patterns without changing what the reader sees.
_AFTER = frozenset(":@")
_WWW = re.compile(r"(?i)(www)(?=\\\.)")


def md(value: object) -> str:
    """``value`` as Streamlit Markdown that renders as exactly its characters (whitespace runs,
    line breaks included, become one space): no link, image, emphasis, heading, list, HTML,
    colour or badge directive, emoji or icon short code, bare link or LaTeX."""
    text = " ".join(str(value).split())
    out: list[str] = []
    for ch in text:
        out.append("\\" + ch if ch in _PUNCTUATION else ch)
        if ch in _AFTER:
            out.append(WORD_JOINER)
    return _WWW.sub(r"\1" + WORD_JOINER, "".join(out))


def md_values(values: Mapping[str, object]) -> dict[str, object]:
    """Format arguments for a catalogue text shown as Markdown: text escaped with :func:`md`,
    numbers left as they are (the catalogue's format specs apply to them)."""
    return {k: md(v) if isinstance(v, str) else v for k, v in values.items()}


def plot_text(value: object) -> str:
    """``value`` for a plotly title, tick label, legend or hover text: ``<``, ``>`` and ``&`` as
    entities (no tag takes effect), ``{`` too (no ``%{x}`` in a hover template) and a leading ``$``
    (no LaTeX)."""
    text = html.escape(str(value), quote=False).replace("{", "&#123;")
    return "&#36;" + text[1:] if text.startswith("$") else text
