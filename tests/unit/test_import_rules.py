"""The layers keep their imports: the pure core (storyline.domain) imports nothing but the
standard library, pydantic, numpy, numba (the opt-in compiled kernels, imported by
``kernels.Compiled`` alone, inside a function), orjson and itself, so it runs without a
broker, a web server or a disk; every import is checked, including those inside functions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "services" / "storyline"
DOMAIN_MAY_IMPORT = frozenset({"pydantic", "pydantic_core", "numpy", "numba", "orjson"})


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module))
    return found


def test_the_domain_imports_only_the_standard_library_its_libraries_and_itself() -> None:
    allowed_stdlib = sys.stdlib_module_names
    offending = []
    for path in sorted((ROOT / "domain").rglob("*.py")):
        for line, module in imports_of(path):
            top = module.split(".")[0]
            if module == "storyline" or module.startswith("storyline.domain"):
                continue
            if top in allowed_stdlib or top in DOMAIN_MAY_IMPORT or top == "__future__":
                continue
            offending.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offending == []


def test_numba_is_imported_by_the_kernels_alone_and_only_when_switched_on() -> None:
    """numba is optional (the ``compiled`` extra): one import, inside ``Compiled``."""
    found = [(path.name, line) for path in sorted((ROOT / "domain").rglob("*.py"))
             for line, module in imports_of(path) if module.split(".")[0] in ("numba", "llvmlite")]
    assert [name for name, _ in found] == ["kernels.py"]
    tree = ast.parse((ROOT / "domain" / "assign" / "kernels.py").read_text(encoding="utf-8"))
    top_level = {node.lineno for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    assert found[0][1] not in top_level


def test_the_rule_sees_imports_inside_functions() -> None:
    source = "def f() -> None:\n    import faust\n    from ..stream import x\n"
    assert imports_in(source, "storyline.domain") == [(2, "faust"), (3, "storyline.stream")]


def test_the_read_side_imports_neither_ingest_nor_the_worker() -> None:
    offending = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                 for path in sorted((ROOT / "read").rglob("*.py"))
                 for line, module in imports_of(path)
                 if module.startswith(("storyline.ingest", "storyline.stream"))]
    assert offending == []


def test_the_read_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: {module.rsplit(".", 1)[-1] for _, module in imports_of(path)
                         if module.startswith("storyline.read.")}
             for path in (ROOT / "read").glob("*.py")}
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in trail, " -> ".join((*trail, node))
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, (*trail, node))
        done.add(node)

    for node in sorted(graph):
        visit(node, ())
