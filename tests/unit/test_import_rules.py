"""The layers keep their imports: the pure core (storyline.domain) imports nothing but the
standard library, pydantic, numpy, numba (the opt-in compiled kernels, imported by
``kernels.Compiled`` alone, inside a function), orjson, xxhash (the vocabularies' term
fingerprints), zstandard (the state's packed bytes: storyline.domain.packing) and itself,
so it runs without a broker, a web server or a disk; every import is checked, including
those inside functions.

Inside the core, the folders are the stages (docs/architecture.md, "Where the code is"):
``extract/`` (per article), ``assign/`` (the globally ordered placement), ``page/`` (the
per-story fold), beside a short list of shared modules at the root: the contracts every
stage reads, the stage contracts, and the composition of the stages. The stage rules
below say which of them may import which."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "services" / "storyline"
DOMAIN_MAY_IMPORT = frozenset({"pydantic", "pydantic_core", "numpy", "numba", "orjson",
                               "xxhash", "zstandard"})


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
            found.append((node.lineno, resolved(node, package)))
    return found


def resolved(node: ast.ImportFrom, package: str) -> str:
    """The module ``node`` imports from, a relative one resolved inside ``package``."""
    module = node.module or ""
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join([*base, module] if module else base)
    return module


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


# ---------------------------------------------------------------------------------------------
# The stages inside the core.

STAGES = ("extract", "assign", "page")
# Root modules every stage may read: the events and the facts data types, and the helpers
# they need (canonical JSON, shared field sets, the cold store interface, unpickling, page
# deltas and hashes, upcasting, what a content word is, float arithmetic of the same bits
# everywhere, a version's content fingerprint, which the ingest edge computes too, the
# packing of the state's bytes). They import only each other.
SHARED = frozenset({"events", "facts", "fieldsets", "canonical", "coldstore", "unpickle", "pages",
                    "words", "floats", "fingerprint", "packing",
                    "upcasting"})
# The stage contracts (ArticleExtracted, ArticleAssigned): the shared modules, and the
# extract stage's per-article analyses they carry (to and from their models).
CONTRACTS = "contracts"
CONTRACTS_MAY_IMPORT = frozenset({"extract.analysis", "extract.timeline_input"})
# The stages composed (stages.extract, Assigner, Pipeline.fold/process, handle_record):
# they may import anything in the core, and only they (and the exceptions) import them.
COMPOSITION = frozenset({"stages", "pipeline", "records", "partitions"})
# The log explainer replays the articles log through the production Pipeline
# (``LogExplainer``, inside its methods) to record the clusterer's decisions.
COMPOSITION_USED_BY = {"assign.clustering_explain": frozenset({"pipeline", "records"})}
# What each stage may import beside itself (and the standard library etc., above).
STAGE_MAY_IMPORT = {
    "extract": SHARED,  # nothing of assign, page, the stage contracts or the composition
    "assign": SHARED | {CONTRACTS},  # nothing of extract or page
    "page": SHARED | {CONTRACTS, "extract"},  # the per-article analyses; nothing of assign
}


def domain_module(path: Path) -> str:
    """``path``'s module inside storyline.domain: "extract.names", "events"."""
    return ".".join(path.relative_to(ROOT / "domain").with_suffix("").parts)


def domain_imports(path: Path) -> list[tuple[int, str]]:
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    return domain_imports_in(path.read_text(encoding="utf-8"), package)


def domain_imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module inside storyline.domain) of every import of the core in ``source``,
    with ``from storyline.domain import x`` as "x"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = resolved(node, package)
            modules = ([f"{module}.{alias.name}" for alias in node.names]
                       if module == "storyline.domain" else [module])
        else:
            continue
        found += [(node.lineno, m.removeprefix("storyline.domain."))
                  for m in modules if m.startswith("storyline.domain.")]
    return found


def place(module: str) -> str:
    """The stage package of a module inside the core, or the root module itself."""
    return module.split(".")[0]


def may_import(importer: str, imported: str) -> bool:
    """The stage rules: may the core's module ``importer`` import ``imported``?"""
    here, there = place(importer), place(imported)
    if here == there or here in COMPOSITION:
        return True
    if there in COMPOSITION:
        return there in COMPOSITION_USED_BY.get(importer, ())
    if here in STAGES:
        return there in STAGE_MAY_IMPORT[here]
    if here == CONTRACTS:
        return there in SHARED or imported in CONTRACTS_MAY_IMPORT
    return here in SHARED and there in SHARED


def stage_violations(group: str) -> list[str]:
    """Every import by the modules of ``group`` (a stage, or "root") that breaks the rules."""
    domain = ROOT / "domain"
    paths = sorted(domain.glob("*.py") if group == "root" else (domain / group).rglob("*.py"))
    return [f"{path.relative_to(ROOT)}:{line} imports storyline.domain.{imported}"
            for path in paths for line, imported in domain_imports(path)
            if not may_import(domain_module(path), imported)]


def test_extract_imports_nothing_of_assign_page_the_contracts_or_the_composition() -> None:
    """Per article and stateless: only the shared modules beside itself."""
    assert stage_violations("extract") == []


def test_assign_imports_nothing_of_extract_page_or_the_composition() -> None:
    """The shared modules and the stage contracts (ClusteringFeatures); the log explainer
    alone replays the log through the Pipeline."""
    assert stage_violations("assign") == []


def test_page_imports_nothing_of_assign_or_the_composition() -> None:
    """The shared modules, the stage contracts and extract's per-article analyses."""
    assert stage_violations("page") == []


def test_the_root_modules_keep_to_their_layer() -> None:
    """The shared modules import only each other; the stage contracts only those and
    extract's analysis and timeline_input; the composition anything."""
    assert stage_violations("root") == []


@pytest.mark.parametrize(("importer", "imported"), [
    ("extract.names", "assign.clustering"),
    ("extract.analysis", "page.summary"),
    ("extract.extractor", "contracts"),
    ("extract.temporal", "stages"),
    ("assign.clustering", "extract.analysis"),
    ("assign.dedup", "page.story"),
    ("assign.clustering", "pipeline"),
    ("page.story", "assign.clustering"),
    ("page.timeline", "stages"),
    ("contracts", "page.summary"),
    ("contracts", "assign.clustering"),
    ("contracts", "extract.names"),
    ("contracts", "pipeline"),
    ("events", "contracts"),
    ("facts", "extract.text"),
    ("pages", "page.story"),
    ("upcasting", "records"),
])
def test_the_stage_rules_refuse(importer: str, imported: str) -> None:
    assert not may_import(importer, imported)


@pytest.mark.parametrize(("importer", "imported"), [
    ("extract.names", "extract.gazetteer"),
    ("extract.analysis", "facts"),
    ("assign.clustering", "contracts"),
    ("page.summary", "extract.analysis"),
    ("contracts", "extract.timeline_input"),
    ("assign.clustering_explain", "pipeline"),
    ("pipeline", "page.story"),
    ("upcasting", "pages"),
])
def test_the_stage_rules_allow(importer: str, imported: str) -> None:
    assert may_import(importer, imported)


def test_the_stage_rules_see_every_form_of_import() -> None:
    source = ("from storyline.domain import pipeline, events\n"
              "from storyline.domain.page import story\n"
              "import storyline.domain.assign.kernels\n"
              "def f() -> None:\n    from ..assign.dedup import shingles\n")
    assert domain_imports_in(source, "storyline.domain.extract") == [
        (1, "pipeline"), (1, "events"), (2, "page"), (3, "assign.kernels"), (5, "assign.dedup")]


def test_every_module_of_the_core_is_in_a_stage_package_or_a_shared_one() -> None:
    """A new flat file (or folder) under domain/ fails until it is placed: in a stage
    package, or added to the short lists above with its rule."""
    domain = ROOT / "domain"
    root_modules = SHARED | {CONTRACTS} | COMPOSITION | {"__init__"}
    misplaced = []
    for path in sorted(domain.rglob("*.py")):
        parts = path.relative_to(domain).parts
        if len(parts) == 1 and path.stem in root_modules:
            continue
        if len(parts) == 2 and parts[0] in STAGES:
            continue
        misplaced.append(str(path.relative_to(ROOT)))
    assert misplaced == []
    assert all((domain / stage / "__init__.py").is_file() for stage in STAGES)
    assert sorted(p.name for p in domain.iterdir()
                  if p.is_dir() and p.name != "__pycache__") == sorted(STAGES)
