"""What a page's start costs in imports (issue 21 item 4): the modules every page imports at its top
(app.py and pages/*.py, read with ast) leave the heavy libraries that only some actions need — the
survival and regression models, the Chinese word splitter, the PDF/PPTX writers, the chart-image
exporter — unimported, and importing them hashes no password."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("lifelines", "statsmodels", "sklearn", "jieba", "reportlab", "pptx", "kaleido")


def _top_imports() -> list[str]:
    """Every module (or module.name) that app.py and the pages import at their top level."""
    out: set[str] = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                out.update(f"{node.module}.{a.name}" for a in node.names)
    return sorted(out)


def test_pages_start_without_heavy_libraries() -> None:
    code = f"""
import importlib, json, sys
import bcrypt
hashed = []
real = bcrypt.hashpw
bcrypt.hashpw = lambda *a, **k: hashed.append(1) or real(*a, **k)
for name in {_top_imports()!r}:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        importlib.import_module(name.rpartition('.')[0])
print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules], "hashed": len(hashed)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"heavy": [], "hashed": 0}
