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
    # a changed article says what it is now and what it was (hostile text escaped)
    assert "~ article [3] Yonhap: Memorial &lt;script&gt;" in dom
    assert "(was Yonhap: Kim Jong-un inspects memorial for soldiers killed" in dom
    assert "<script" not in dom


def layout_of(url: str, width: int, tmp_path: Path,
              screenshot: Path | None = None) -> dict[str, float]:
    """Widths as laid out by chromium on a screen ``width`` CSS pixels wide (a phone's when
    narrow: headless windows are at least 500 px, so the device is emulated), measured over
    the DevTools protocol (the page's CSP forbids scripts; the protocol is not the page)."""
    import asyncio
    import json
    import time

    import websockets

    profile = tmp_path / f"cdp-profile-{width}"  # its own: the port file is per profile
    process = subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", f"--window-size={width},1600", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)})
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        import urllib.request

        targets = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        socket_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        measure = """JSON.stringify((() => {
            const entry = document.querySelector('.timeline li.entry');
            const time = entry.querySelector('time'), text = entry.querySelector('.text');
            const r = e => e.getBoundingClientRect();
            return {viewport: window.innerWidth, scroll: document.documentElement.scrollWidth,
                    entry: r(entry).width, date: r(time).width, text: r(text).width,
                    text_left: r(text).left, date_left: r(time).left,
                    text_top: r(text).top, date_bottom: r(time).bottom};
        })())"""

        async def run() -> dict[str, float]:
            async with websockets.connect(socket_url, max_size=None) as ws:
                calls = 0

                async def call(method: str, **params: object) -> dict[str, object]:
                    nonlocal calls
                    calls += 1
                    await ws.send(json.dumps({"id": calls, "method": method, "params": params}))
                    while True:
                        reply = json.loads(await ws.recv())
                        if reply.get("id") == calls:
                            return dict(reply.get("result", {}))

                await call("Page.enable")
                await call("Emulation.setDeviceMetricsOverride", width=width, height=1600,
                           deviceScaleFactor=1, mobile=width < 600)
                await call("Page.navigate", url=url)
                for _ in range(100):
                    ready = await call("Runtime.evaluate", expression="document.readyState")
                    if dict(ready["result"]).get("value") == "complete":  # type: ignore[call-overload]
                        break
                    await asyncio.sleep(0.1)
                result = await call("Runtime.evaluate", expression=measure)
                value = dict(result["result"])["value"]  # type: ignore[call-overload]
                if screenshot is not None:
                    import base64

                    shot = await call("Page.captureScreenshot", format="png",
                                      captureBeyondViewport=True)
                    screenshot.write_bytes(base64.b64decode(str(shot["data"])))
                return dict(json.loads(str(value)))

        return asyncio.run(run())
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_story_page_reads_on_a_390_px_phone(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/stories/story-kursk"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTEFACTS / "story-page-390px.png"
    screenshot.unlink(missing_ok=True)
    phone = layout_of(url, 390, tmp_path, screenshot)
    assert screenshot.stat().st_size > 20_000
    assert phone["viewport"] == 390, phone
    # nothing wider than the screen, and the timeline's text gets the whole row: the date
    # sits above it (it took 40% of the width beside it before)
    assert phone["scroll"] <= phone["viewport"], phone
    assert phone["text"] >= 0.9 * phone["entry"], phone
    assert phone["text_top"] >= phone["date_bottom"] - 1, phone
    desktop = layout_of(url, 1200, tmp_path)
    assert desktop["text_left"] > desktop["date_left"] + desktop["date"], desktop  # beside
