"""Settings from the environment (prefix ``STORYLINE_``), with defaults that work locally."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storyline.allocator import ARENA_MAX, MMAP_THRESHOLD, TRIM_EVERY
from storyline.collector import COLLECT_GROWTH, FREEZE_EVERY
from storyline.llm.settings import LLMSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORYLINE_", frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    topic_prefix: str = Field(default="", description="Prepended to every topic name.")
    source_prefix: str | None = Field(
        default=None,
        description="Prepended to the articles topic's name instead of the topic prefix: a "
                    "deployment of a new pipeline version reads the articles of the one it "
                    "replaces and writes topics, groups and state of its own.")
    # the optional LLM summariser's settings (STORYLINE_LLM_*), read with these, so every
    # part is handed one settings object
    llm: LLMSettings = Field(default_factory=LLMSettings)
    articles_topic: str = "storyline.articles"
    story_updates_topic: str = "storyline.story-updates"
    dead_letters_topic: str = "storyline.dead-letters"
    summaries_topic: str = "storyline.summaries"
    story_pages_topic: str = "storyline.story-pages"
    facts_topic: str = "storyline.facts"
    assignments_topic: str = "storyline.assignments"
    data_dir: Path = Field(
        default=Path("var"), description="Project-local state: broker data, worker tables."
    )
    replication_factor: int = Field(default=1, description="For topics the worker creates.")
    max_article_bytes: int = Field(default=1_000_000, description="Larger items go to DLQ.")
    snapshot_every: int = Field(
        default=5000,
        description="Records between snapshots of the worker's core state (0: none); a "
        "restart then folds the log from the newest usable snapshot instead of offset 0.",
    )
    snapshot_interval: float = Field(
        default=15.0,
        description="Seconds after which a snapshot is due even short of snapshot_every "
        "records (0: records only). A restart refolds what came after its snapshot, so "
        "this bounds the refold to about this long a stretch of folding.",
    )
    warm_idle_revisions: int = Field(
        default=2000, ge=1,
        description="Revisions of the log after which an idle story leaves memory for the "
        "worker's cold store (RocksDB); lower saves memory, higher saves thawing work. "
        "A story whose thaw is cheap for the articles it holds (a long story, a dropped "
        "summary memo) leaves after as few as a quarter of them. Never changes a revision.",
    )
    warm_story_articles: int | None = Field(
        default=None, ge=1,
        description="Articles the stories in play of one fold process (the worker, the fold "
        "stage, each page process) may hold before stories (those whose revision before "
        "their last is oldest first) leave memory for the cold store whatever their "
        "idleness: the memory budget of the stories in play (their citation data, list "
        "entries and timelines, ~5 kB an article). Unset: 65,536. Below the articles of "
        "the stories moving at once, every revision thaws one again (~0.2 ms an article). "
        "Never changes a revision.",
    )
    warm_analyses: int | None = Field(
        default=None, ge=1,
        description="Summary analyses (~35 kB each) the stories in play of one fold process "
        "may keep; beyond it stories drop theirs (in the same order), refilled from the cold "
        "store when they move again (~0.6 ms each). Unset: 8,192. Never changes a "
        "revision.",
    )
    snapshot_keep: int = Field(default=3, description="Snapshots kept per partition.")
    malloc_trim_every: int = Field(
        default=TRIM_EVERY, ge=0,
        description="Records folded between two malloc_trim(0) calls of the worker and the "
        "fold stage, which give glibc's free heap pages back to the system (0: never). "
        "Never changes a revision.",
    )
    gc_freeze_every: int = Field(
        default=FREEZE_EVERY, ge=0,
        description="Records folded between two gc.freeze() calls of the worker and the "
        "fold and page stages: the state folded so far leaves the garbage collector's full "
        "collections, which otherwise walk all of it (0: never). Never changes a revision.",
    )
    gc_collect_growth: float = Field(
        default=COLLECT_GROWTH, ge=0,
        description="The whole heap, frozen part included, is collected once it holds this "
        "many times as many allocated blocks as after the last full collection: what became "
        "cyclic garbage after it was frozen is found then (0: never); doubled after each "
        "full collection that finds almost nothing. Never changes a revision.",
    )
    malloc_arena_max: int = Field(
        default=ARENA_MAX, ge=0,
        description="At most this many glibc malloc arenas in the worker and the fold stage "
        "(set with mallopt at start; 0: glibc's default of 8 per core). Never changes a "
        "revision.",
    )
    malloc_mmap_threshold: int = Field(
        default=MMAP_THRESHOLD, ge=0,
        description="Blocks of at least this many bytes get a mapping of their own in the "
        "worker and the fold and page stages, returned to the system when freed (set with "
        "mallopt at start; 0: glibc's default, a threshold that rises with the blocks "
        "freed, which leaves the buffers of frozen stories' pickles as holes in the heap). "
        "Never changes a revision.",
    )
    compiled_kernels: bool = Field(
        default=False,
        description="Run the clusterer's hot loops as numba kernels (the `compiled` extra): "
        "a quarter to a third less assignment CPU, for ~130 MB more RSS a process and "
        "+1.2-1.5 s of start-up (12-14 CPU s of compilation on a cold cache). Never "
        "changes a revision.",
    )
    snapshot_fork: bool = Field(
        default=True, description="Write snapshots from a forked child (POSIX) so consuming "
        "goes on meanwhile; false writes them in process.",
    )
    worker_instance_id: str = Field(
        default="", description="Static consumer-group member id of this worker (KIP-345): "
        "a restarted worker gets its partitions back at once. Empty: derived from the host "
        "name and the data directory.",
    )
    worker_session_timeout: float = Field(
        default=10.0, description="Seconds without a heartbeat before the group gives a "
        "worker's partitions to another.",
    )
    commit_interval: float = Field(
        default=1.0, description="Seconds between the worker's offset commits.",
    )
    page_checkpoint_revisions: int = Field(
        default=1000, description="At most this many revisions of a story between two whole "
        "pages on the story-pages topic (one is also written whenever the changes since the "
        "last outweigh the page).",
    )
    worker_metrics_port: int = Field(
        default=9465, ge=0, le=65535, description="Port of the worker's /metrics, /livez and "
        "/readyz (0: off).",
    )
    stage_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port of /metrics, /livez and /readyz of a "
        "process that runs one stage (`worker --stage fold`, `--stage extract --stripe I`), "
        "whichever it is: a container per stage (Kubernetes, compose) probes one fixed port. "
        "0: the worker's port plus the stage's index (the fold 9465, extract stripe i "
        "9466 + i), as the stages of one `storyline worker` on one host need.",
    )
    extract_processes: int | None = Field(
        default=None, ge=1, description="Extract-stage processes of the staged worker "
        "(`storyline worker`): the stripes of the articles log (the facts topic's "
        "partitions) are spread over them. Default: one per stripe, at most the cores less "
        "one (the fold takes one). Never changes a revision.",
    )
    page_processes: int = Field(
        default=0, ge=0, description="Page-stage processes of the staged worker (`storyline "
        "worker`): 0 folds the pages in the fold process (assign + page in one); N runs an "
        "assign process and N page processes, one per partition of the assignments topic "
        "(N must be its partition count). Never changes a revision.",
    )
    stage_stop_seconds: float = Field(
        default=60.0, gt=0, description="How long `storyline worker` waits for its stage "
        "processes to stop after passing SIGTERM on before it kills them (SIGKILL): a stage "
        "hung in shutdown must not keep the supervisor, and the state lock, for ever.",
    )
    stage_hang_seconds: float = Field(
        default=120.0, ge=0, description="`storyline worker` kills (SIGKILL) and starts "
        "again a stage process whose event loop has not beaten for this long (a process "
        "paused, deadlocked or stuck in a call: it would hold its state and the log's "
        "progress for ever, since only a process that exits is restarted); 0: never.",
    )
    stage_restart_pauses: str = Field(
        default="0,1,2,5,10,30", description="Seconds `storyline worker` waits before it "
        "starts again a stage process that died, for its first, second... death in a row "
        "(comma-separated, the last repeated; a stage that ran 60 s counts from the first "
        "again). Six deaths in a row, each within 60 s of its start, stop the stages "
        "whatever the pauses.",
    )
    projector_metrics_port: int = Field(
        # below the worker's: its extract stripes take the ports after its own (9466 + i)
        default=9464, ge=0, le=65535, description="Port of `storyline projector`'s /metrics, "
        "/livez and /readyz (0: off); `storyline serve` has them on its own port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Interface the worker's and projector's operations "
        "endpoints listen on (0.0.0.0 to let a Prometheus on another host scrape them).",
    )
    ready_max_lag: int = Field(
        default=1000, ge=0, description="/readyz answers 503 while a consumer (worker, "
        "projector) is more than this many records behind the end of its log.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every Kafka client connects (docs/operations.md).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (default: "
        "the system's).",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Its private key (PEM).")
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    outage_reminder_seconds: float = Field(
        default=60.0, gt=0, description="During a broker outage, one reminder line at most "
        "this often (the outage's start and end are one line each).",
    )
    outage_settle_seconds: float = Field(
        default=30.0, ge=0, description="After a broker outage, the Kafka clients' warnings "
        "about the reconnection (coordinator loading, heartbeats, a session expired, a "
        "rebalance) are held back this long and summed up in one INFO line (kafka.settled).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
                     "kafka_sasl_username", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # VAR= in an env file means "not set"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # INFO is info

    @field_validator("stage_restart_pauses")
    @classmethod
    def _pauses(cls, value: str) -> str:
        try:
            pauses = [float(word) for word in value.split(",")]
        except ValueError:
            pauses = []
        if not pauses or any(not 0 <= pause < float("inf") for pause in pauses):
            raise ValueError(f"{value!r}: seconds, comma-separated (e.g. 0,1,2,5,10,30)")
        return value

    @property
    def restart_pauses(self) -> tuple[float, ...]:
        """``stage_restart_pauses`` as numbers."""
        return tuple(float(word) for word in self.stage_restart_pauses.split(","))

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            problem = bootstrap_problem(server.strip())
            if problem is not None:
                raise ValueError(f"{server.strip()!r} {problem} (HOST:PORT[,HOST:PORT...], "
                                 "an IPv6 address as [ADDRESS]:PORT)")
        return value

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(f"STORYLINE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} "
                             "needs STORYLINE_KAFKA_SASL_USERNAME and "
                             "STORYLINE_KAFKA_SASL_PASSWORD")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def missing_topic_hint(self, topic: str) -> str:
        """What to check when ``topic`` does not exist: the setting that named it, and who
        makes it (an articles topic read beside another deployment is that one's, which
        ``storyline topics apply`` here never makes)."""
        if topic == self.articles and self.source_topic_prefix != self.topic_prefix:
            return ("is STORYLINE_SOURCE_PREFIX right? It names the articles topic of the "
                    "deployment this one runs beside, which that deployment makes")
        return "is STORYLINE_TOPIC_PREFIX right? `storyline topics apply` creates it"

    @property
    def source_topic_prefix(self) -> str:
        """The prefix of the articles topic: ``source_prefix``, else ``topic_prefix``."""
        return self.topic_prefix if self.source_prefix is None else self.source_prefix

    @property
    def articles(self) -> str:
        return f"{self.source_topic_prefix}{self.articles_topic}"

    @property
    def story_updates(self) -> str:
        return self.topic(self.story_updates_topic)

    @property
    def story_pages(self) -> str:
        return self.topic(self.story_pages_topic)

    @property
    def laid_out_topics(self) -> tuple[str, str, str, str]:
        """The topics whose partition count the stages' records, commits and state are laid
        out by (a story's partition in each), fixed for a deployment's life: the stages
        refuse commits made with other counts (``stream.offsets.PartitionsChanged``)."""
        return (self.facts, self.assignments, self.story_updates, self.story_pages)

    @property
    def summaries(self) -> str:
        return self.topic(self.summaries_topic)

    @property
    def dead_letters(self) -> str:
        return self.topic(self.dead_letters_topic)

    @property
    def facts(self) -> str:
        return self.topic(self.facts_topic)

    @property
    def assignments(self) -> str:
        return self.topic(self.assignments_topic)


def bootstrap_problem(server: str) -> str | None:
    """What is wrong with one bootstrap server as the Kafka clients read it (host, host:port,
    [IPv6]:port or a bare IPv6 address); None: nothing."""
    if not server:
        return "is empty"
    if server.startswith("["):
        match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", server)
        port = None if match is None else match[2]
        if match is None:
            return "is not [IPv6 ADDRESS]:PORT"
    elif ":" not in server:
        return None
    else:
        with contextlib.suppress(ValueError):
            ipaddress.IPv6Address(server)
            return None
        host, port = server.rsplit(":", 1)
        if not host:
            return "has no host"
    if port is not None and not (port.isdigit() and int(port) <= 65535):
        return "has no port number (0-65535) after its last colon"
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def switch_kernels(settings: Settings) -> None:
    """Switch this process to the clusterer's compiled kernels or keep the portable code, as
    ``compiled_kernels`` says (the domain reads no settings: the entry points call this)."""
    import structlog

    from storyline.domain.assign import kernels

    kernels.use_compiled(settings.compiled_kernels)
    # which path runs is an operator's question when comparing throughput or memory
    structlog.get_logger("storyline.kernels").info(
        "clustering_kernels", compiled=settings.compiled_kernels)
