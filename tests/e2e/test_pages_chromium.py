"""The story page in a real browser: Debian's headless chromium loads it from a loopback
API, we keep a screenshot (out/e2e/, ignored by git) and check the rendered DOM: title,
timeline, article list, and hostile article text shown as text with no script run."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storyline.domain.canonical import canonical_bytes
from storyline.read.config import ReadSettings
from storyline.read.local_server import serving_in_thread
from storyline.read.projector import decode_record
from storyline.read.samples import story_history, story_revision, updates
from storyline.read.store import open_store
from storyline.settings import Settings
from storyline.web.app import create_app

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "out" / "e2e"
TOPIC = "storyline.story-updates"
# Each would leave a trace in the DOM if it ran: a changed title, an attribute on <body>.
SCRIPT = "<script>document.title='PWNED'</script>"
IMAGE = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed: run scripts/install-chromium.sh")
    return found


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = open_store(tmp_path_factory.mktemp("read") / "read.sqlite3")
    hostile = story_revision(
        revision=6, headline_override={3: f"Memorial {SCRIPT} inspected"},
        source_override={4: f"Wire {IMAGE}"},
        extra_sentence=f"Officials said {SCRIPT} nothing more.")
    events = updates([*story_history(revisions=5), hostile])
    applied = store.apply(TOPIC, [decode_record(0, i, b"k", canonical_bytes(e))
                                  for i, e in enumerate(events)])
    assert (applied.applied, applied.rejected) == (6, [])
    app = create_app(store, settings=Settings(), read_settings=ReadSettings())
    with serving_in_thread(app) as url:
        yield url


def run_chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False,
                          env={**os.environ, "HOME": str(tmp_path)})


def test_story_page_renders_in_chromium(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/stories/story-kursk"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTEFACTS / "story-page.png"
    screenshot.unlink(missing_ok=True)
    shot = run_chromium(f"--screenshot={screenshot}", "--window-size=1200,1600", url,
                        tmp_path=tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank canvas

    dom = run_chromium("--dump-dom", url, tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<title>North Korean forces continue operations in Russia's Kursk – Storyline" \
        in html
    assert "PWNED" not in html.split("</title>")[0]
    assert "data-pwned" not in html.split("<body")[1].split(">")[0]
    assert '<section class="timeline" id="timeline">' in html
    assert "Early Aug 2025" in html and "Dec 12, 2025" in html
    assert "Updated (6 articles, 5 independent reports)" in html
    # the hostile text is there, as text
    assert "Memorial &lt;script&gt;document.title='PWNED'&lt;/script&gt; inspected" in html
    assert "Officials said &lt;script&gt;" in html
    assert "Wire &lt;img src=x onerror=" in html
    assert html.count("<script") == 0
    assert "<img" not in html


def test_history_page_renders_in_chromium(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/stories/story-kursk/history"
    screenshot = ARTEFACTS / "history-page.png"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = run_chromium(f"--screenshot={screenshot}", "--window-size=1200,1600", url,
                        tmp_path=tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    dom = run_chromium("--dump-dom", url, tmp_path=tmp_path).stdout
    assert "Revision 6" in dom and "Revision 1" in dom
    assert "First revision." in dom
    assert "~ article [3] now Yonhap: Memorial &lt;script&gt;" in dom
    assert "<script" not in dom
