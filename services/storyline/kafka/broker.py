"""A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM), run from
Maven Central jars: no Docker, no tarball.

``LocalBroker`` fetches the jars once (``deploy/kafka/pom.xml``), formats the storage with
a fixed cluster id, starts the JVM detached (pid file + log file in the data dir) and waits
until an aiokafka produce round-trip succeeds. Every method is idempotent, so the CLI and
the test fixtures can call ``start``/``stop`` without first asking for the state.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import string
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from storyline.errors import OperatorError
from storyline.processes import alive
from storyline.settings import get_settings

log = structlog.get_logger(__name__)

# A fixed id keeps a wiped-and-reformatted broker indistinguishable from the first one
# (testcontainers uses the same value). 22 chars of URL-safe base64, no leading '-'.
CLUSTER_ID = "4L6g3nShT-eMCtK--X86sw"
PROBE_TOPIC = "_storyline.probe"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# The checkout this module lives in (services/storyline/kafka/broker.py).
_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DEPLOY_DIR = _REPO_ROOT / "deploy" / "kafka"
_FETCH_STAMP = ".pom-sha256"
_MAIN_CLASS = "kafka.Kafka"


class BrokerError(OperatorError, RuntimeError):
    """A problem the operator must fix (missing Java, port taken, broker crashed...)."""


class BrokerSettings(BaseSettings):
    """``STORYLINE_KAFKA_*`` environment variables; CLI flags override them."""

    model_config = SettingsConfigDict(env_prefix="STORYLINE_KAFKA_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int | None = Field(default=None, description="Defaults to port + 1.")
    data_dir: Path | None = Field(default=None, description="Defaults to <data_dir>/kafka/broker.")
    libs_dir: Path | None = Field(
        default=None, description="Defaults to var/kafka/libs of the checkout."
    )
    deploy_dir: Path = DEFAULT_DEPLOY_DIR
    heap: str = "1g"
    start_timeout: float = 120.0
    stop_timeout: float = 30.0


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    data_dir: Path = Path("var/kafka/broker")
    libs_dir: Path = Path("var/kafka/libs")
    deploy_dir: Path = DEFAULT_DEPLOY_DIR
    heap: str = "1g"
    start_timeout: float = 120.0
    stop_timeout: float = 30.0
    #: Lines appended to the rendered server.properties (a later key wins): e.g. a SASL
    #: listener beside the plaintext one, for tests of authenticated clients.
    extra_properties: tuple[str, ...] = ()

    @classmethod
    def private(cls, data_dir: Path, heap: str = "512m") -> BrokerConfig:
        """A broker of its own on free loopback ports with its own data dir (tests,
        benchmarks, the chaos harness); the jars are those of ``storyline kafka up``, so
        they are fetched at most once."""
        port = free_port()
        controller = free_port()
        while controller == port:
            controller = free_port()
        return cls.from_env(host="127.0.0.1", port=port, controller_port=controller,
                            data_dir=data_dir, heap=heap)

    @classmethod
    def from_env(cls, **overrides: object) -> BrokerConfig:
        """Environment (``STORYLINE_KAFKA_*``) first, then non-None ``overrides`` (CLI flags)."""
        env = BrokerSettings()
        kafka_root = get_settings().data_dir / "kafka"
        values: dict[str, object] = {
            "host": env.host,
            "port": env.port,
            "controller_port": env.controller_port,
            "data_dir": env.data_dir or kafka_root / "broker",
            "libs_dir": env.libs_dir or _default_libs_dir(kafka_root),
            "deploy_dir": env.deploy_dir,
            "heap": env.heap,
            "start_timeout": env.start_timeout,
            "stop_timeout": env.stop_timeout,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["controller_port"] is None:
            values["controller_port"] = int(str(values["port"])) + 1
        for key in ("data_dir", "libs_dir", "deploy_dir"):
            values[key] = Path(str(values[key])).resolve()
        return cls(**values)  # type: ignore[arg-type]

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"


@dataclass
class BrokerStatus:
    running: bool
    pid: int | None
    answering: bool
    bootstrap: str
    data_dir: Path
    log_file: Path
    since: float | None = None  # epoch seconds the pid file was written

    def describe(self) -> str:
        if self.running and self.answering:
            age = f", up {time.time() - self.since:.0f} s" if self.since else ""
            return f"running: pid {self.pid} on {self.bootstrap}{age} (log {self.log_file})"
        if self.running:
            return (f"process {self.pid} alive but {self.bootstrap} not answering "
                    f"(log {self.log_file})")
        return f"stopped ({self.bootstrap}, data {self.data_dir})"


@dataclass
class StartResult:
    already_running: bool
    fetch_seconds: float = 0.0
    format_seconds: float = 0.0
    ready_seconds: float = 0.0
    total_seconds: float = 0.0
    pid: int | None = None


@dataclass
class LocalBroker:
    config: BrokerConfig = field(default_factory=BrokerConfig.from_env)
    # Set when this object started the JVM, so stop() can reap it (no zombie in tests).
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return self.config.bootstrap

    # ---- state ---------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid in our pid file if that process is alive and is our broker JVM."""
        try:
            pid = int(self.config.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_broker(pid, self.config.properties_file) else None

    def listening_on(self) -> tuple[str, int] | None:
        """(host, port) of the PLAINTEXT listener the broker of this data dir was started
        with (its server.properties; a later key wins); None: not known."""
        found = None
        with contextlib.suppress(OSError):
            for line in self.config.properties_file.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() != "listeners":
                    continue
                for listener in value.split(","):
                    name, _, address = listener.strip().partition("://")
                    host, _, port = address.rpartition(":")
                    if name == "PLAINTEXT" and port.isdigit():
                        found = (host, int(port))
        return found

    def _ensure_same_port(self, pid: int) -> None:
        """BrokerError at once when the broker running from this data dir listens on another
        address than the one asked for (it would be waited for in vain)."""
        running = self.listening_on()
        asked = (self.config.host, self.config.port)
        if running is not None and running != asked:
            raise BrokerError(
                f"the broker of {self.config.data_dir} (pid {pid}) is running on "
                f"{running[0]}:{running[1]}, not {asked[0]}:{asked[1]}; `storyline kafka "
                "down` first to move it")

    def status(self) -> BrokerStatus:
        pid = self.pid()
        if pid is not None:
            self._ensure_same_port(pid)
        since = None
        if pid is not None:
            with contextlib.suppress(OSError):
                since = self.config.pid_file.stat().st_mtime
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            answering=pid is not None and _port_open(self.config.host, self.config.port),
            bootstrap=self.bootstrap,
            data_dir=self.config.data_dir,
            log_file=self.config.log_file,
            since=since,
        )

    # ---- start ---------------------------------------------------------------------

    def start(self) -> StartResult:
        began = time.monotonic()
        pid = self.pid()
        if pid is not None:
            self._ensure_same_port(pid)
            if _port_open(self.config.host, self.config.port):
                return StartResult(already_running=True, pid=pid)
            # Our JVM is alive but still booting (e.g. a concurrent `up`): just wait for it.
            ready = self._wait_ready(pid, began)
            return StartResult(already_running=True, pid=pid, ready_seconds=ready,
                               total_seconds=time.monotonic() - began)
        self.config.pid_file.unlink(missing_ok=True)

        java = find_java()
        for port in (self.config.port, self.config.controller_port):
            if _port_open(self.config.host, port):
                raise BrokerError(
                    f"port {self.config.host}:{port} is already in use by another process "
                    f"(not the broker of {self.config.data_dir}); stop it or choose another "
                    "port with --port / STORYLINE_KAFKA_PORT"
                )
        t0 = time.monotonic()
        fetch_jars(self.config.deploy_dir, self.config.libs_dir)
        t1 = time.monotonic()
        self._write_properties()
        self._format(java)
        t2 = time.monotonic()
        process = self._launch(java)
        ready = self._wait_ready(process.pid, t2)
        return StartResult(
            already_running=False,
            fetch_seconds=t1 - t0,
            format_seconds=t2 - t1,
            ready_seconds=ready,
            total_seconds=time.monotonic() - began,
            pid=process.pid,
        )

    def _write_properties(self) -> None:
        template_file = self.config.deploy_dir / "server.properties.template"
        template = string.Template(template_file.read_text())
        rendered = template.substitute(
            host=self.config.host,
            port=self.config.port,
            controller_port=self.config.controller_port,
            log_dirs=str(self.config.log_dirs),
        )
        if self.config.extra_properties:
            rendered += "\n# extra_properties\n" + "\n".join(self.config.extra_properties) + "\n"
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.properties_file.write_text(rendered)

    def _java_base(self, java: str, heap: str) -> list[str]:
        log4j = self.config.deploy_dir / "log4j2.properties"
        return [
            java,
            f"-Xmx{heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            str(self.config.libs_dir / "*"),
        ]

    def _format(self, java: str) -> None:
        if (self.config.log_dirs / "meta.properties").exists():
            return
        command = [
            *self._java_base(java, "256m"),
            "kafka.tools.StorageTool", "format",
            "-t", CLUSTER_ID,
            "-c", str(self.config.properties_file),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise BrokerError(f"formatting {self.config.log_dirs} failed:\n{tail}")
        log.info("kafka.formatted", log_dirs=str(self.config.log_dirs), cluster_id=CLUSTER_ID)

    def _launch(self, java: str) -> subprocess.Popen[bytes]:
        command = [
            *self._java_base(java, self.config.heap),
            "-Xms256m",
            # kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            _MAIN_CLASS, str(self.config.properties_file),
        ]
        with self.config.log_file.open("ab") as out:
            out.write(f"\n==== storyline kafka up {time.strftime('%Y-%m-%dT%H:%M:%S')} ====\n"
                      .encode())
            out.flush()
            # New session: the broker outlives `storyline kafka up` and ignores its Ctrl-C.
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.config.data_dir,
            )
        self._process = process
        self.config.pid_file.write_text(f"{process.pid}\n")
        log.info("kafka.launched", pid=process.pid, bootstrap=self.bootstrap)
        return process

    def _wait_ready(self, pid: int, since: float) -> float:
        """Seconds from ``since`` until a produce round-trip succeeded."""
        deadline = since + self.config.start_timeout
        while True:
            if not alive(pid):
                self.config.pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the broker exited while starting; last log lines:\n"
                                  f"{self.log_tail()}")
            if _port_open(self.config.host, self.config.port):
                remaining = deadline - time.monotonic()
                if _probe_blocking(self.bootstrap, timeout=max(1.0, min(10.0, remaining))):
                    return time.monotonic() - since
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"broker pid {pid} did not accept a produce request within "
                    f"{self.config.start_timeout:.0f} s; it is left running for inspection "
                    f"(stop it with `storyline kafka down`). Last log lines:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.config.log_file.read_text(errors="replace")
        except OSError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- stop ----------------------------------------------------------------------

    def stop(self, wipe: bool = False) -> float | None:
        """Stop the broker; returns seconds taken, or None when it was not running."""
        pid = self.pid()
        took: float | None = None
        if pid is not None:
            began = time.monotonic()
            _signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, self.config.stop_timeout):
                log.warning("kafka.kill", pid=pid, after_s=self.config.stop_timeout)
                _signal(pid, signal.SIGKILL)
                self._wait_exit(pid, 10.0)
            took = time.monotonic() - began
        self.config.pid_file.unlink(missing_ok=True)
        if wipe:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)
        return took

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._process = None
            return True
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


# ---- helpers -----------------------------------------------------------------------


def _default_libs_dir(kafka_root: Path) -> Path:
    # The jars are a cache, not state: one copy per checkout, whatever STORYLINE_DATA_DIR
    # says, so a test run with a temp data dir does not fetch them again.
    if (DEFAULT_DEPLOY_DIR / "pom.xml").is_file():
        return _REPO_ROOT / "var" / "kafka" / "libs"
    return kafka_root / "libs"


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            "Java was not found (no JAVA_HOME, no `java` on PATH). The local broker needs a "
            "Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`; or point "
            "Storyline at an existing cluster with STORYLINE_BOOTSTRAP_SERVERS."
        )
    return java


def fetch_jars(deploy_dir: Path, libs_dir: Path) -> bool:
    """Copy the broker's runtime jars into ``libs_dir``; returns False when already there.

    A stamp with the pom's hash makes a version bump in the pom trigger a clean re-fetch.
    A lock file serialises concurrent fetches (e.g. a test run and `make demo` on a fresh
    checkout), and the jars land in a temp dir that is renamed into place when complete.
    """
    # absolute: Maven resolves a relative output directory against the pom's folder
    deploy_dir, libs_dir = deploy_dir.resolve(), libs_dir.resolve()
    pom = deploy_dir / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    stamp = libs_dir / _FETCH_STAMP
    if _stamp_matches(stamp, digest):
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"the Kafka jars are not in {libs_dir} and Maven (`mvn`) was not found to fetch "
            "them; install Maven 3.8+ (`apt-get install maven`) or copy the jars there."
        )
    libs_dir.parent.mkdir(parents=True, exist_ok=True)
    with (libs_dir.parent / f".{libs_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp_matches(stamp, digest):  # another process fetched while we waited
            return False
        staging = libs_dir.with_name(f"{libs_dir.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        command = [
            mvn, "-B", "-q", "-f", str(pom),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]
        log.info("kafka.fetching_jars", libs_dir=str(libs_dir))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise BrokerError(f"fetching the Kafka jars with Maven failed:\n{tail}")
        (staging / _FETCH_STAMP).write_text(digest + "\n")
        shutil.rmtree(libs_dir, ignore_errors=True)
        staging.rename(libs_dir)
    return True


def _stamp_matches(stamp: Path, digest: str) -> bool:
    try:
        return stamp.read_text().strip() == digest
    except OSError:
        return False


async def probe(bootstrap: str, timeout: float = 10.0) -> bool:
    """True when a produce request to the probe topic is acknowledged."""
    from aiokafka import AIOKafkaProducer  # heavy imports, only needed while waiting
    from aiokafka.errors import KafkaError

    # aiokafka logs "Topic ... not found in cluster metadata" as an error until
    # auto-creation catches up; expected here, so muted for the probe only.
    cluster_log = logging.getLogger("aiokafka.cluster")
    previous_level = cluster_log.level
    cluster_log.setLevel(logging.CRITICAL)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                                acks=1)
    try:
        await asyncio.wait_for(producer.start(), timeout)
        await asyncio.wait_for(producer.send_and_wait(PROBE_TOPIC, b"probe"), timeout)
        return True
    except (KafkaError, OSError, TimeoutError):  # any of these just means "not ready yet"
        return False
    finally:
        cluster_log.setLevel(previous_level)
        with contextlib.suppress(Exception):
            await producer.stop()


def _probe_blocking(bootstrap: str, timeout: float) -> bool:
    """``probe`` from sync code, also when called inside a running event loop (an async
    test fixture), where ``asyncio.run`` is not allowed on the calling thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe(bootstrap, timeout))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe(bootstrap, timeout)).result()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _is_our_broker(pid: int, properties_file: Path) -> bool:
    """Guards against a recycled pid: the process must be a Kafka JVM on our properties."""
    if not alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (not Linux): trust the pid file
    return _MAIN_CLASS.encode() in args and str(properties_file).encode() in args


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
