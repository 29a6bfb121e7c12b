"""Kafka SASL / TLS settings reach every client: aiokafka options, faust credentials, and a
scan of the source for any client constructed without them."""

from __future__ import annotations

import ast
import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from storyline.kafka.security import faust_credentials, kafka_options
from storyline.settings import Settings
from storyline.stream.worker import create_app

SERVICES = Path(__file__).resolve().parents[2] / "services"
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
# the local broker's readiness probe talks to the plaintext broker `storyline kafka up`
# started on this machine, never to a configured cluster
EXEMPT = {("storyline/kafka/broker.py", "probe")}


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=test-ca", "-keyout", str(where / "ca.key"),
                    "-out", str(where / "ca.pem")], check=True, capture_output=True)
    return where / "ca.pem"


def test_plaintext_adds_nothing() -> None:
    settings = Settings()
    assert kafka_options(settings) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_with_scram(ca_file: Path) -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL",
                        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="storyline",
                        kafka_sasl_password="s3cret-pw", kafka_ssl_cafile=ca_file)
    options = kafka_options(settings)
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "storyline", "sasl_plain_password": "s3cret-pw"}
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("storyline", "s3cret-pw")
    # the worker's faust app gets them
    app = create_app(settings)
    assert app.conf.broker_credentials is credentials or (
        app.conf.broker_credentials.username == "storyline")
    # a password never shows in a settings dump
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings.model_dump())


def test_tls_only_and_plain_sasl(ca_file: Path) -> None:
    tls = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca_file,
                   kafka_ssl_check_hostname=False)
    options = kafka_options(tls)
    assert options["security_protocol"] == "SSL" and not options["ssl_context"].check_hostname
    assert "sasl_mechanism" not in options
    assert isinstance(faust_credentials(tls), faust.SSLCredentials)
    sasl = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u",
                    kafka_sasl_password="p")
    assert kafka_options(sasl) == {"security_protocol": "SASL_PLAINTEXT",
                                   "sasl_mechanism": "PLAIN", "sasl_plain_username": "u",
                                   "sasl_plain_password": "p"}


def test_an_empty_path_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYLINE_KAFKA_SSL_CAFILE", "")
    assert Settings().kafka_ssl_cafile is None


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="STORYLINE_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYLINE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("STORYLINE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("STORYLINE_KAFKA_SASL_USERNAME", "env-user")
    monkeypatch.setenv("STORYLINE_KAFKA_SASL_PASSWORD", "env-pw")
    options = kafka_options(Settings())
    assert (options["sasl_mechanism"], options["sasl_plain_username"],
            options["sasl_plain_password"]) == ("SCRAM-SHA-256", "env-user", "env-pw")


def _calls_without_options(seen: set[str]) -> list[str]:
    missing: list[str] = []
    for path in sorted(SERVICES.rglob("*.py")):
        relative = str(path.relative_to(SERVICES))
        tree = ast.parse(path.read_text(), filename=relative)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(
                    node.func, "attr", None)
                starred = " ".join(ast.unparse(k.value) for k in node.keywords if k.arg is None)
                if name in CLIENTS or ast.unparse(node.func) == "faust.App":
                    seen.add(f"{relative}:{node.lineno}")
                if (name in CLIENTS and "kafka_options(" not in starred
                        and (relative, function.name) not in EXEMPT):
                    missing.append(f"{relative}:{node.lineno} {name}")
                if name == "App" and ast.unparse(node.func) == "faust.App" and not any(
                        k.arg == "broker_credentials" for k in node.keywords):
                    missing.append(f"{relative}:{node.lineno} faust.App")
    return missing


def test_every_kafka_client_takes_the_security_options() -> None:
    seen: set[str] = set()
    assert _calls_without_options(seen) == []
    # producer, consumers and admin clients of ingest, worker, projector, status, replay,
    # topics, the log reader and the local broker's probe, and the worker's faust app
    assert len(seen) >= 10, seen
