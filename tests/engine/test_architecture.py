"""The house (issue 13): the layers hold. Read from the source with ``ast`` (nothing is imported):

* the engine (``src/metrics``) imports neither Streamlit nor the app package ``servicewatch``;
* the import graph of ``metrics`` and ``servicewatch`` has no cycle, counting the imports inside
  functions too (a function-level import only hides a cycle);
* no module imports another module's ``_private`` names;
* pages and ``app.py`` import the app package and the engine's public modules, never its
  internals (the compiler, the dialect hooks, the backends, the derived-table builders);
* the metric registry validates (every column and dimension exists);
* no module is over 400 lines without a reason: a longer module of ``src/``, ``pages/``, ``app.py`` or
  ``bench/`` says why in its docstring, in a line beginning "Long because".
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGES = ("metrics", "servicewatch")
# what pages must not reach into: how a question becomes SQL, and how data gets in
ENGINE_INTERNALS = ("metrics.query.compiler", "metrics.query.dialect", "metrics.backends", "metrics.ingest.load",
                    "metrics.ingest.rollups", "metrics.ingest.open_tickets", "metrics.churn.tenure_rollup")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (SRC / pkg).rglob("*.py")}


MODULES = _modules()


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path, module: str) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import statement in the file (annotation-only
    imports under ``if TYPE_CHECKING:`` left out)."""
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            yield base, [a.name for a in node.names], node.lineno


def _targets(base: str, names: list[str]) -> set[str]:
    """The project modules an import statement loads: ``from a.b import c`` is module ``a.b.c`` when
    that is a module, else the names come from ``a.b``."""
    out = {f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES}
    if len(out) < len(names) or not names:
        if base in MODULES:
            out.add(base)
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for base, names, _ in _imports(path, module):
            if base.split(".")[0] in PACKAGES:
                graph[module] |= _targets(base, names) - {module}
    return graph


def test_the_engine_imports_neither_streamlit_nor_the_app() -> None:
    bad = [f"{m}:{line} imports {base}" for m, p in MODULES.items() if m.startswith("metrics")
           for base, _, line in _imports(p, m) if base.split(".")[0] in ("streamlit", "servicewatch")]
    assert bad == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_no_module_imports_private_names_of_another() -> None:
    bad = [f"{m}:{line} imports {n} from {base}" for m, p in MODULES.items() for base, names, line in _imports(p, m)
           if base.split(".")[0] in PACKAGES and base != m for n in names if n.startswith("_")]
    assert bad == []


@pytest.mark.parametrize("page", sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py")]), ids=lambda p: p.name)
def test_pages_import_the_app_package_and_public_engine_modules(page: Path) -> None:
    bad = []
    for base, names, line in _imports(page, page.stem):
        top = base.split(".")[0]
        if top == "metrics":
            reached = _targets(base, names) or {base}
            bad += [f"line {line}: {t}" for t in reached if t.startswith(ENGINE_INTERNALS)]
            bad += [f"line {line}: {n}" for n in names if n.startswith("_")]
        elif top not in ("servicewatch", "streamlit", "pandas", "plotly", "__future__", "datetime", "math"):
            bad.append(f"line {line}: {base}")
    assert bad == []


def test_the_registry_validates() -> None:
    from metrics.model.registry import validate

    assert validate() == []


def test_dimensions_are_declared_once() -> None:
    """The dimension list of metrics.model.dimensions is what filters, links, the CLI, the registry,
    the rollups and the warehouse use (no second list of the same names)."""
    from metrics.cli.options import add_filter_arguments
    from metrics.ingest import rollups
    from metrics.model import dimensions, registry
    from metrics.model.filters import LIST_FIELDS
    from metrics.query.warehouse import DIM_VALUES

    assert registry.DIMENSIONS == dimensions.NAMES and rollups.CUSTOMER_DIMS == dimensions.CUSTOMER_DIMS
    assert LIST_FIELDS == {d.field: d.name for d in dimensions.FILTERS}
    assert set(DIM_VALUES) == {d.name for d in dimensions.VALUE_FILTERS}
    import argparse

    p = argparse.ArgumentParser()
    add_filter_arguments(p)
    flags = {a.option_strings[0] for a in p._actions if a.option_strings}
    assert {d.cli_flag for d in dimensions.VALUE_FILTERS} <= flags



def test_test_modules_have_unique_names() -> None:
    """Tests live in folders by level without packages, so pytest imports each module by its file name:
    two files of one name in two folders stop the whole run at collection."""
    tests = Path(__file__).resolve().parents[1]
    names = [p.name for p in tests.rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


LONG_MODULE_LINES = 400


def test_long_modules_say_why() -> None:
    """A module of more than 400 lines holds one idea that does not divide, and its docstring says so in a
    line beginning "Long because" (issue 13: "no module is over ~400 lines without a reason stated")."""
    files = [*SRC.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py", *(ROOT / "bench").rglob("*.py")]
    unexplained = []
    for path in sorted(files):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        doc = ast.get_docstring(ast.parse(text)) or ""
        if lines > LONG_MODULE_LINES and not any(ln.strip().startswith("Long because") for ln in doc.splitlines()):
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert unexplained == []
