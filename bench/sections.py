"""Generated sections of docs/performance.md, each between its own HTML-comment markers."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the block between ``<!-- bench:NAME:begin -->`` and ``…:end -->``."""
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    block = f"{begin}\n\n{body.strip()}\n\n{end}"
    text = doc.read_text(encoding="utf-8")
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
