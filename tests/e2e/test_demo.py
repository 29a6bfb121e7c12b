"""The README's main command, as a user runs it: `make demo` (scripts/demo.sh), then
`make stop`. It runs on its own broker port, data directory and API port so it cannot
disturb a broker the developer already has."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture()
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    kafka_port, controller_port, api_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "STORYLINE_DATA_DIR": str(tmp_path / "var"),
        "STORYLINE_KAFKA_PORT": str(kafka_port),
        "STORYLINE_KAFKA_CONTROLLER_PORT": str(controller_port),
        "STORYLINE_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "STORYLINE_DEMO_PORT": str(api_port),
    })
    yield env
    subprocess.run(["bash", "scripts/stop.sh"], cwd=ROOT, env=env, timeout=120,
                   capture_output=True)


def test_make_demo_prints_story_pages_and_serves_them(demo_env: dict[str, str]) -> None:
    result = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=demo_env,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout
    assert result.returncode == 0, output[-4000:] + result.stderr[-4000:]
    # several stories, each printed as a page like the reference
    assert output.count("## Timeline") >= 2 or output.count("Timeline") >= 2, output[-4000:]
    assert "Updated (" in output
    assert "All related articles" in output
    # the sample's syndicated copy is listed once, as "also carried by"
    assert "also carried by" in output.lower()
    url = f"http://127.0.0.1:{demo_env['STORYLINE_DEMO_PORT']}/"
    assert url in output
    with urllib.request.urlopen(url, timeout=10) as response:
        page = response.read().decode()
    assert response.status == 200
    assert "<html" in page.lower()

    # the second run is idempotent: no new revisions from the re-sent sample articles
    again = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=demo_env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already running" in again.stdout

    # another program on the API port: the demo says the API failed, it does not point the
    # user at someone else's server
    run_dir = Path(demo_env["STORYLINE_DATA_DIR"]) / "run"
    serve_pid = int((run_dir / "serve.pid").read_text())
    os.kill(serve_pid, 15)
    for _ in range(100):
        try:
            os.kill(serve_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    (run_dir / "foreign").mkdir(exist_ok=True)
    (run_dir / "foreign" / "healthz").write_text("ok\n")
    foreign = subprocess.Popen(
        ["python3", "-m", "http.server", demo_env["STORYLINE_DEMO_PORT"], "--bind",
         "127.0.0.1", "--directory", str(run_dir / "foreign")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"{url}healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        taken = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=demo_env,
                               capture_output=True, text=True, timeout=600)
    finally:
        foreign.terminate()
        foreign.wait(timeout=10)
    assert taken.returncode == 1, taken.stdout[-3000:] + taken.stderr[-3000:]
    assert "make demo FAILED: the read API exited" in taken.stderr
    assert "Story pages:" not in taken.stdout
    # the API that lost the port shut down cleanly: its projector's Kafka consumer, cut off
    # while it was starting, was closed (not left to "Unclosed AIOKafkaConsumer" at ERROR)
    serve_log = (run_dir / "serve.log").read_text()
    assert "address already in use" in serve_log, serve_log
    assert "Unclosed" not in serve_log, serve_log
