"""No module of the engine or the app lists tier, channel, SLA-level or priority codes for logic
(issue 14, item 4): orders, ladders and colours come from the data (metrics.model.vocabulary, the
``vocabulary`` table) and from data files (catalogue.toml, colours.toml), so an operator's own codes
work everywhere. The demo generator (it invents the demo's data) and the catalogue are exempt."""

from __future__ import annotations

import ast
from pathlib import Path

from metrics.model import i18n, vocabulary

ROOT = Path(__file__).resolve().parents[2]
EXEMPT = ("src/metrics/demo/",)
DIMS = ("tier", "channel", "priority", "sla_level")
# also the name of a user role and of a column (the account manager's name): not a channel code there
NOT_ONLY_CODES = {"account_manager"}


def codes() -> set[str]:
    out = {c for d in DIMS for c in vocabulary.section_codes(i18n.catalogue(), d)}
    return out - NOT_ONLY_CODES


def sources() -> list[Path]:
    files = [*sorted((ROOT / "src").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]
    return [p for p in files if not str(p.relative_to(ROOT)).startswith(EXEMPT)]


def findings() -> list[str]:
    known, out = codes(), []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known \
                    and id(node) not in docstrings:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return out


def test_the_grep_knows_the_codes() -> None:
    assert {"gold", "diamond", "hotline", "P1", "bronze"} <= codes()


def test_the_grep_finds_a_code_in_logic(tmp_path: Path) -> None:
    tree = ast.parse('if tier == "gold" or channel in ("hotline", "web_app"):\n    pass\n')
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in codes()]
    assert found == ["gold", "hotline", "web_app"]


def test_no_module_lists_tier_channel_or_priority_codes() -> None:
    assert findings() == []
