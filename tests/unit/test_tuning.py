"""Every tuning constant of a stage lives in its frozen settings object, whose digest is part
of the pipeline version (issue #10): extract.tuning.EXTRACT, assign's ClusteringConfig,
page.tuning.PAGE. A number written straight into a stage module fails here unless it is a
limit that changes no byte of output (listed below with the reason) or a unit."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import unicodedata
from collections.abc import Collection
from pathlib import Path

import pytest

from storyline.domain import pipeline as pipeline_module
from storyline.domain.assign.clustering import ClusteringConfig
from storyline.domain.canonical import tuning_digest
from storyline.domain.extract import extractor
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.page.tuning import PAGE

DOMAIN = Path(__file__).resolve().parents[2] / "services" / "storyline" / "domain"
STAGES = ("extract", "assign", "page")

# Numbers in stage modules that are not tuning: each bounds cost or memory only (tests show
# the output does not depend on it), is a unit, or is part of an encoding whose change is a
# code change (a new CORE_VERSION / EXTRACTOR_CODE).
NOT_TUNING = {
    "extract/analysis.py": {"TERM_HASHES_SIZE", "UNPACKED_KEPT",  # caches
                            "_BAND_BITS", "MINHASH_SEEDS"},  # the LSH encoding
    "extract/names.py": {"NAMES_MEMO_SIZE"},  # cache
    "extract/timeline_input.py": {"SPANS_SIZE"},  # interning table
    "page/summary.py": {"COUNTS_MIN_IDS", "COUNTS_SPARSE", "ROWS_SLACK",  # memo bounds
                        "KEY_TAIL",  # when the memo's key index is made again: CPU only
                        "DAY_SHIFT",  # the template counts' packing of a day and a count
                        "PHRASES_CACHE", "STATEMENTS_CACHE"},  # caches
    "page/timeline.py": {"COLD_AFTER", "COLD_CHECK_EVERY",  # cold months: memory only
                         # which of two exact ways a guided merge finds the events near a
                         # date: CPU only (test_timeline_merge.py checks both give the same)
                         "GUIDED_SCAN"},
    "page/title.py": {"_MICROSECOND"},  # unit
    "assign/clustering.py": {"_SECONDS_PER_DAY",  # unit
                             "VOCABULARY_KEEP"},  # the vocabularies' dicts: memory only
    "assign/term_ids.py": {"_EMPTY"},  # the fingerprint table's free-slot marker
    # which of two exact ways finds a vector's first k terms (the order is total:
    # test_clustering_fast_paths.py checks both give the same terms)
    "assign/clustering_text.py": {"_SORT_ALL"},
    "assign/kernels.py": {"_SPACE", "_HYPHEN"},  # byte codes of the tokeniser
    "assign/dedup.py": {"_SHINGLE", "_MAX_WORDS"},  # the shingle encoding of the extract stage
    "assign/clustering_explain.py": {"TOP_TERMS", "TOP_NAMES", "TOP_CANDIDATES"},  # explain
}


def _is_number(node: ast.expr) -> bool:
    """A literal number, arithmetic on literals, or a timedelta of literals."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    if isinstance(node, ast.Tuple):
        return bool(node.elts) and all(_is_number(e) for e in node.elts)
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, "id", "")
        return name == "timedelta" and all(_is_number(k.value) for k in node.keywords) and all(
            _is_number(a) for a in node.args)
    return False


def numbers_written_in(source: str) -> list[str]:
    """Module-level UPPER_CASE names bound to literal numbers."""
    found = []
    for node in ast.parse(source).body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None or not _is_number(value):
            continue
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            found += [n.id for n in names
                      if isinstance(n, ast.Name) and n.id.lstrip("_").isupper()]
    return found


def stage_modules() -> list[tuple[str, Path]]:
    """("stage/module.py", its path) of every stage module but the tuning objects'."""
    return [(f"{stage}/{path.name}", path) for stage in STAGES
            for path in sorted((DOMAIN / stage).glob("*.py")) if path.name != "tuning.py"]


def test_no_stage_module_writes_a_tuning_number_of_its_own() -> None:
    offending = [f"{key}: {name}" for key, path in stage_modules()
                 for name in numbers_written_in(path.read_text())
                 if name not in NOT_TUNING.get(key, set())]
    assert offending == [], "move these into the stage's tuning object (or say why not)"


# Module-level tables whose numbers are what words mean ("dozens" is at least 24), not tuning.
LEXICONS = {"extract/figures.py": {"_VAGUE", "_SCALES"}}
# Fractional numbers that are units or identities, never weights.
UNIT_FLOATS = {0.0, 1.0, 86_400.0}


def weights_written_in(source: str, allowed: Collection[str] = ()) -> list[str]:
    """Fractional literals (weights, shares, thresholds) written inline in a module's code:
    outside its settings classes (``...Config``, ``...Tuning``, ``...Settings``) and the
    module-level names in ``allowed``; "line: value" each."""
    tree = ast.parse(source)
    skipped: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.endswith(("Config", "Tuning",
                                                                   "Settings")):
            skipped.append(node)
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id in allowed for t in targets):
            skipped.append(node)
    inside = {id(n) for top in skipped for n in ast.walk(top)}
    return [f"{node.lineno}: {node.value}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, float)
            and node.value not in UNIT_FLOATS and id(node) not in inside]


def test_no_stage_module_writes_a_weight_inline() -> None:
    """A weight in an expression (``score * 1.05``) is tuning too: it belongs in the stage's
    settings object, where its value is hashed into the pipeline version."""
    offending = [f"{key}:{found}" for key, path in stage_modules()
                 for found in weights_written_in(
                     path.read_text(), NOT_TUNING.get(key, set()) | LEXICONS.get(key, set()))]
    assert offending == [], "move these into the stage's tuning object (or say why not)"


def test_the_weight_rule_sees_inline_weights_only() -> None:
    source = ("class FooConfig:\n    a: float = 0.3\n"
              "_TABLE = {'dozens': 24.0}\n"
              "def f(x):\n    return x * 1.05 + 1.0 * x + 0.0\n")
    assert weights_written_in(source, {"_TABLE"}) == ["5: 1.05"]
    assert weights_written_in(source) == ["3: 24.0", "5: 1.05"]


def test_the_rule_sees_numbers_and_lets_bound_values_pass() -> None:
    source = ("A = 0.3\n_B: int = 4 * 60\nC, D = 8, 45\nE = dt.timedelta(hours=24)\n"
              "F = PAGE.summary.pool\nG = dt.timedelta(hours=PAGE.title.lead_span_hours)\n"
              "lower = 3\n")
    assert numbers_written_in(source) == ["A", "_B", "C", "D", "E"]


def test_the_allowances_name_numbers_that_exist() -> None:
    """An allowance left behind by a removed constant would hide a new one of that name."""
    for key, names in NOT_TUNING.items():
        assert names <= set(numbers_written_in((DOMAIN / key).read_text())), key


def _fields(settings: object, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            out += _fields(value, f"{prefix}{f.name}.")
        else:
            out.append(f.name)
    return out


@pytest.mark.parametrize(("settings", "stage"), [(EXTRACT, "extract"), (PAGE, "page")])
def test_every_tuning_value_is_read_by_its_stage(settings: object, stage: str) -> None:
    """No dead knob: each field name is read as an attribute in the stage's modules."""
    read: set[str] = set()
    for path in (DOMAIN / stage).glob("*.py"):
        if path.name == "tuning.py":
            continue
        read |= {node.attr for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Attribute)}
    unread = [name for name in _fields(settings) if name not in read]
    assert unread == []


def test_the_versions_carry_the_tuning_digests() -> None:
    version = pipeline_module.PIPELINE_VERSION
    assert f"+{tuning_digest(ClusteringConfig())}.{tuning_digest(PAGE)}/" in version
    extract_version = (f"{extractor.EXTRACTOR_CODE}+{tuning_digest(EXTRACT)}"
                       f"+unicode-{unicodedata.unidata_version}")
    assert extract_version == extractor.EXTRACTOR_VERSION
    assert version.endswith("/" + extractor.EXTRACTOR_VERSION)


def test_another_unicode_database_is_another_extractor() -> None:
    """What a capital, a letter or a word character is comes from the interpreter's Unicode
    database (Python 3.12 has another than 3.11): facts made under one are not taken for
    facts of the other, nor a group's commits, nor a replay's revisions."""
    assert extractor.EXTRACTOR_VERSION.endswith(f"+unicode-{unicodedata.unidata_version}")
    assert unicodedata.unidata_version in pipeline_module.PIPELINE_VERSION


def test_another_value_anywhere_is_another_version(monkeypatch: pytest.MonkeyPatch) -> None:
    base = pipeline_module.pipeline_version(ClusteringConfig())
    assert pipeline_module.pipeline_version(
        dataclasses.replace(ClusteringConfig(), threshold=0.071)) != base
    deep = dataclasses.replace(PAGE, timeline=dataclasses.replace(
        PAGE.timeline, select=dataclasses.replace(PAGE.timeline.select, retro_weight=1.61)))
    monkeypatch.setattr(pipeline_module, "PAGE", deep)
    assert pipeline_module.pipeline_version(ClusteringConfig()) != base
    assert tuning_digest(dataclasses.replace(EXTRACT, lead=9)) != tuning_digest(EXTRACT)
    # a Pipeline made with other clustering settings says so in every revision
    assert pipeline_module.Pipeline(dataclasses.replace(
        ClusteringConfig(), threshold=0.071)).pipeline_version != pipeline_module.PIPELINE_VERSION


def test_the_digest_is_the_same_in_another_process() -> None:
    """No hash seed, no id(): a worker and its replay agree on the version."""
    code = ("from storyline.domain.pipeline import PIPELINE_VERSION as v; print(v)")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "12345",
                                            "PYTHONPATH": str(DOMAIN.parents[1])})
    assert other.stdout.strip() == pipeline_module.PIPELINE_VERSION
