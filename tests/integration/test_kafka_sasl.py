"""Every Storyline process talks to a broker that demands SASL (PLAIN), or TLS, once
STORYLINE_KAFKA_SECURITY_PROTOCOL / _SASL_* / _SSL_* are set: topics, the ingest producer,
the worker (faust), status, replay and the projector. The broker is private: a plaintext
listener for its own readiness probe, and a SASL_PLAINTEXT (or SSL) listener that is the
only one Storyline is given. A client without the credentials, with a wrong password, or
that does not trust the broker's CA, is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from test_worker_replay import make_articles, start_worker, stop

from storyline.ingest.producer import ArticleProducer
from storyline.kafka.broker import BrokerConfig, LocalBroker, free_port
from storyline.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORYLINE = [sys.executable, "-m", "storyline.cli"]
USER, PASSWORD = "storyline", "storyline-pw-7f3a"


def sasl_broker(make_broker_config: Callable[[Path], BrokerConfig], where: Path
                ) -> tuple[LocalBroker, str]:
    base = make_broker_config(where)
    sasl_port = free_port()
    host = base.host
    extra = (
        f"listeners=PLAINTEXT://{host}:{base.port},CONTROLLER://{host}:{base.controller_port},"
        f"SASL_PLAINTEXT://{host}:{sasl_port}",
        f"advertised.listeners=PLAINTEXT://{host}:{base.port},"
        f"CONTROLLER://{host}:{base.controller_port},SASL_PLAINTEXT://{host}:{sasl_port}",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
        "SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms=PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config="
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="admin-pw" user_admin="admin-pw" user_{USER}="{PASSWORD}";',
    )
    config = BrokerConfig(**{**base.__dict__, "extra_properties": extra})
    return LocalBroker(config), f"{host}:{sasl_port}"


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STORYLINE, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_every_client_authenticates(make_broker_config: Callable[[Path], BrokerConfig],
                                    tmp_path: Path, topic_prefix: str) -> None:
    broker, sasl_bootstrap = sasl_broker(make_broker_config, tmp_path / "broker")
    broker.start()
    env = dict(os.environ)
    env.update({
        "STORYLINE_BOOTSTRAP_SERVERS": sasl_bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
        "STORYLINE_WORKER_METRICS_PORT": "0",
        "STORYLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "STORYLINE_KAFKA_SASL_MECHANISM": "PLAIN",
        "STORYLINE_KAFKA_SASL_USERNAME": USER,
        "STORYLINE_KAFKA_SASL_PASSWORD": PASSWORD,
    })
    worker = None
    try:
        # a client without credentials is refused on this port: the test means something
        async def plaintext_client() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=sasl_bootstrap,
                                        request_timeout_ms=5000)
            try:
                await asyncio.wait_for(producer.start(), 20)
            finally:
                await producer.stop()

        with pytest.raises(Exception):  # noqa: B017 - refused, whichever way aiokafka says it
            asyncio.run(plaintext_client())
        wrong = run({**env, "STORYLINE_KAFKA_SASL_PASSWORD": "wrong"}, "topics", "apply",
                    timeout=120)
        assert wrong.returncode != 0

        applied = run(env, "topics", "apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        settings = Settings(bootstrap_servers=sasl_bootstrap, topic_prefix=topic_prefix,
                            kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username=USER,
                            kafka_sasl_password=PASSWORD)

        async def ingest() -> None:
            async with ArticleProducer(settings) as producer:
                for article in make_articles(4):
                    await producer.send(article)

        asyncio.run(ingest())
        worker = start_worker(env, tmp_path / "worker.log")
        status = run(env, "status", "--wait", "--timeout", "150", timeout=200)
        assert status.returncode == 0, status.stdout + status.stderr + (
            tmp_path / "worker.log").read_text()[-3000:]
        stop(worker)
        worker = None
        replay = run(env, "replay", "--verify", timeout=300)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "0 mismatched" in replay.stdout and "4 identical" in replay.stdout
        projected = run(env, "projector", "--until-caught-up", "--database",
                        str(tmp_path / "read.sqlite3"))
        assert projected.returncode == 0, projected.stdout + projected.stderr
        listed = run(env, "story", "list")
        assert listed.returncode == 0 and listed.stdout.strip(), listed.stderr
        assert PASSWORD not in (applied.stdout + applied.stderr + status.stdout
                                + status.stderr + (tmp_path / "worker.log").read_text())
    finally:
        if worker is not None:
            stop(worker)
        broker.stop(wipe=True)


def tls_files(where: Path) -> tuple[Path, Path]:
    """A CA, and a broker key + certificate for 127.0.0.1 signed by it (PEM)."""
    where.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=storyline-test-ca", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
            "server.key", "-out", "server.csr")
    (where / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-out", "server.pem")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8")
    keystore = where / "broker-keystore.pem"
    keystore.write_text((where / "server.pk8").read_text() + (where / "server.pem").read_text())
    return where / "ca.pem", keystore


def test_clients_over_tls(make_broker_config: Callable[[Path], BrokerConfig],
                          tmp_path: Path, topic_prefix: str) -> None:
    ca, keystore = tls_files(tmp_path / "tls")
    base = make_broker_config(tmp_path / "broker")
    tls_port = free_port()
    host = base.host
    extra = (
        f"listeners=PLAINTEXT://{host}:{base.port},CONTROLLER://{host}:{base.controller_port},"
        f"SSL://{host}:{tls_port}",
        f"advertised.listeners=PLAINTEXT://{host}:{base.port},"
        f"CONTROLLER://{host}:{base.controller_port},SSL://{host}:{tls_port}",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={keystore}",
    )
    broker = LocalBroker(BrokerConfig(**{**base.__dict__, "extra_properties": extra}))
    broker.start()
    tls_bootstrap = f"{host}:{tls_port}"
    env = dict(os.environ)
    env.update({
        "STORYLINE_BOOTSTRAP_SERVERS": tls_bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
        "STORYLINE_WORKER_METRICS_PORT": "0",
        "STORYLINE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "STORYLINE_KAFKA_SSL_CAFILE": str(ca),
    })
    worker = None
    try:
        # without the CA the broker's certificate is not trusted
        system_cas = {k: v for k, v in env.items() if k != "STORYLINE_KAFKA_SSL_CAFILE"}
        untrusted = run(system_cas, "topics", "apply", timeout=120)
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout + untrusted.stderr, (
            untrusted.stdout + untrusted.stderr)
        applied = run(env, "topics", "apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        settings = Settings(bootstrap_servers=tls_bootstrap, topic_prefix=topic_prefix,
                            kafka_security_protocol="SSL", kafka_ssl_cafile=ca)

        async def ingest() -> None:
            async with ArticleProducer(settings) as producer:
                for article in make_articles(3):
                    await producer.send(article)

        asyncio.run(ingest())
        worker = start_worker(env, tmp_path / "worker.log")
        status = run(env, "status", "--wait", "--timeout", "150", timeout=200)
        assert status.returncode == 0, status.stdout + status.stderr + (
            tmp_path / "worker.log").read_text()[-3000:]
        listed = run(env, "story", "list")
        assert listed.returncode == 0 and listed.stdout.strip(), listed.stderr
    finally:
        if worker is not None:
            stop(worker)
        broker.stop(wipe=True)
