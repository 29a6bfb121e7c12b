"""Topics as code: parse ``deploy/topics.toml`` and compare it with the live cluster.

Pure: no I/O beyond reading the file in ``load_topics``. The admin calls live in
``storyline.kafka.admin``; this module only decides what to create and what differs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# deploy/topics.toml of this checkout; a pip-installed copy (Docker) finds it from the cwd.
_PACKAGED_TOPICS_FILE = Path(__file__).resolve().parents[3] / "deploy" / "topics.toml"
_LEGAL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_TOPIC_KEYS = frozenset({"name", "partitions", "replication_factor", "purpose", "config"})
# Configs whose value is a comma-separated set, where order carries no meaning.
_LIST_CONFIGS = frozenset({"cleanup.policy"})


class TopicsFileError(ValueError):
    """deploy/topics.toml is malformed."""


@dataclass(frozen=True)
class TopicSpec:
    name: str  # with the prefix
    partitions: int
    replication_factor: int | None  # None: the settings' default
    configs: Mapping[str, str] = field(default_factory=dict)
    purpose: str = ""


@dataclass(frozen=True)
class ActualTopic:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    topic: str
    item: str  # "partitions", "replication_factor" or "config <key>"
    declared: str
    actual: str

    def describe(self) -> str:
        return f"{self.topic}: {self.item} declared {self.declared}, actual {self.actual}"


@dataclass(frozen=True)
class Plan:
    create: tuple[TopicSpec, ...]
    unchanged: tuple[str, ...]
    differences: tuple[Difference, ...]


def default_topics_file() -> Path:
    if _PACKAGED_TOPICS_FILE.is_file():
        return _PACKAGED_TOPICS_FILE
    return Path.cwd() / "deploy" / "topics.toml"


def load_topics(path: Path, prefix: str = "") -> list[TopicSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TopicsFileError(f"cannot read {path}: {error}") from error
    return parse_topics(text, prefix, source=str(path))


def parse_topics(text: str, prefix: str = "", source: str = "topics.toml") -> list[TopicSpec]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TopicsFileError(f"{source}: {error}") from error
    unknown = set(document) - {"topic"}
    if unknown:
        raise TopicsFileError(f"{source}: unknown top-level keys {sorted(unknown)}")
    entries = document.get("topic", [])
    if not isinstance(entries, list) or not entries:
        raise TopicsFileError(f"{source}: declare at least one [[topic]]")
    specs: list[TopicSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        spec = _parse_entry(entry, prefix, f"{source}: topic #{index + 1}")
        if spec.name in seen:
            raise TopicsFileError(f"{source}: topic {spec.name!r} declared twice")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def _parse_entry(entry: object, prefix: str, where: str) -> TopicSpec:
    if not isinstance(entry, dict):
        raise TopicsFileError(f"{where}: must be a table")
    unknown = set(entry) - _TOPIC_KEYS
    if unknown:
        raise TopicsFileError(f"{where}: unknown keys {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise TopicsFileError(f"{where}: 'name' must be a non-empty string")
    full_name = f"{prefix}{name}"
    if not _LEGAL_NAME.match(full_name) or full_name in {".", ".."}:
        raise TopicsFileError(
            f"{where}: {full_name!r} is not a legal Kafka topic name "
            "(1-249 of letters, digits, '.', '_', '-')"
        )
    partitions = _positive_int(entry.get("partitions"), f"{where} ({name}): 'partitions'")
    replication = entry.get("replication_factor")
    replication_factor = (
        None if replication is None
        else _positive_int(replication, f"{where} ({name}): 'replication_factor'")
    )
    raw_configs = entry.get("config", {})
    if not isinstance(raw_configs, dict):
        raise TopicsFileError(f"{where} ({name}): 'config' must be a table")
    configs = {key: _config_value(value, f"{where} ({name}): config {key!r}")
               for key, value in sorted(raw_configs.items())}
    purpose = entry.get("purpose", "")
    if not isinstance(purpose, str):
        raise TopicsFileError(f"{where} ({name}): 'purpose' must be a string")
    return TopicSpec(full_name, partitions, replication_factor, configs, " ".join(purpose.split()))


def _positive_int(value: object, what: str) -> int:
    # bool is an int subclass; `partitions = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TopicsFileError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _config_value(value: object, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise TopicsFileError(f"{what} must be a string, integer or boolean, got {value!r}")


def normalise_config(key: str, value: str) -> str:
    value = value.strip()
    if key in _LIST_CONFIGS:
        return ",".join(sorted(part.strip() for part in value.split(",") if part.strip()))
    return value


def diff_topic(spec: TopicSpec, actual: ActualTopic, default_replication: int) -> list[Difference]:
    """What differs between a declared topic and the live one (declared configs only)."""
    differences: list[Difference] = []
    if spec.partitions != actual.partitions:
        differences.append(Difference(spec.name, "partitions", str(spec.partitions),
                                      str(actual.partitions)))
    replication = spec.replication_factor or default_replication
    if replication != actual.replication_factor:
        differences.append(Difference(spec.name, "replication_factor", str(replication),
                                      str(actual.replication_factor)))
    for key, declared in sorted(spec.configs.items()):
        live = actual.configs.get(key)
        if live is None:
            differences.append(Difference(spec.name, f"config {key}", declared, "(unset)"))
        elif normalise_config(key, declared) != normalise_config(key, live):
            differences.append(Difference(spec.name, f"config {key}", declared, live))
    return differences


def plan(
    specs: Iterable[TopicSpec], actual: Mapping[str, ActualTopic], default_replication: int
) -> Plan:
    create: list[TopicSpec] = []
    unchanged: list[str] = []
    differences: list[Difference] = []
    for spec in specs:
        live = actual.get(spec.name)
        if live is None:
            create.append(spec)
            continue
        found = diff_topic(spec, live, default_replication)
        if found:
            differences.extend(found)
        else:
            unchanged.append(spec.name)
    return Plan(tuple(create), tuple(unchanged), tuple(differences))
