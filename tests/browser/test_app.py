"""The what-if app in a real browser: Voilà serves notebooks/03_what_if.ipynb, headless Chromium drives it.

Starts Voilà on a free localhost port with ``TWIN_FAST=1``, waits for the
explorer's first run, moves the plantarflexor-strength slider with the
keyboard, presses Run, and checks that the plotted scenario ankle curve
(the plotly div's ``data``) and the gait-measure table change. A
screenshot goes to ``$TWIN_ARTIFACTS`` (if set) or the test's tmp folder.
Skips with the reason when ``/usr/bin/chromium``, playwright or voila is
missing. Takes about 40 s on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "03_what_if.ipynb"
CHROMIUM = "/usr/bin/chromium"

# the scenario's mean ankle curve of the gait-curves figure, and the table's cell values
# plotly >= 6 ships numeric arrays as {dtype, bdata (base64)}; decode those
ANKLE_JS = """() => {
  const decode = v => {
    if (!v || !v.bdata) return Array.from(v || []);
    const s = atob(v.bdata), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    const T = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
               u2: Uint16Array, i1: Int8Array, u1: Uint8Array}[v.dtype];
    return Array.from(new T(u.buffer));
  };
  const gd = document.querySelector('.twin-out-curves .js-plotly-plot');
  if (!gd || !gd.data) return null;
  const tr = gd.data.find(t => t.meta && t.meta.coordinate === 'ankle_angle_r' && t.meta.label === 'scenario'
                               && t.meta.kind === 'mean');
  return tr ? decode(tr.y) : null;
}"""
TABLE_JS = """() => {
  const gd = document.querySelector('.twin-out-metrics .js-plotly-plot');
  if (!gd || !gd.data || !gd.data.length) return null;
  return JSON.stringify(gd.data[0].cells.values);
}"""


def _requirements() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (install Debian's chromium package)"
    for mod in ("playwright", "voila"):
        if importlib.util.find_spec(mod) is None:
            return f"python package {mod!r} is not installed (pip install {mod})"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:  # any HTTP answer: the server is up
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"voila did not answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def voila_url(tmp_path):
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path / "voila.log"
    env = {**os.environ, "TWIN_FAST": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(NOTEBOOK), "--port", str(port), "--no-browser",
             "--Voila.ip=127.0.0.1", "--ServerApp.port_retries=0"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc, log, 60)
        yield url
    finally:
        # voila and the kernel it started share the process group created above
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)


def test_what_if_app_in_chromium(voila_url, tmp_path):
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ.get("TWIN_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "what_if_app.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(voila_url, timeout=90_000)
            # the notebook's first run (baseline vs the unchanged scenario) is part of the page
            page.wait_for_selector(".twin-whatif", timeout=120_000)
            page.wait_for_function(ANKLE_JS, timeout=60_000)
            page.wait_for_function(TABLE_JS, timeout=60_000)
            assert "answered" in page.inner_text(".twin-status")
            before = page.evaluate(ANKLE_JS)
            table_before = page.evaluate(TABLE_JS)
            assert before and len(before) > 10

            # plantarflexor strength 1.0 -> 0.4 with the keyboard (step 0.05)
            handle = page.locator(".twin-strength-plantarflexors .noUi-handle")
            handle.focus()
            for _ in range(12):
                page.keyboard.press("ArrowLeft")
            page.wait_for_function(
                "() => document.querySelector('.twin-strength-plantarflexors .widget-readout').textContent.trim()"
                " === '0.40'", timeout=10_000)
            page.locator("button.twin-run").click()
            page.wait_for_function(
                "() => { const s = document.querySelector('.twin-status').textContent;"
                " return s.includes('answered') && s.includes('plantarflexors 40 % strength'); }", timeout=120_000)
            page.wait_for_function(f"() => JSON.stringify(({ANKLE_JS})()) !== {json.dumps(json.dumps(before))}",
                                   timeout=30_000)
            page.wait_for_function(f"() => ({TABLE_JS})() !== {json.dumps(table_before)}", timeout=30_000)
            after = page.evaluate(ANKLE_JS)
            table_after = page.evaluate(TABLE_JS)
            status = page.inner_text(".twin-status")
            page.locator(".twin-out-curves").scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert after != before
    assert table_after != table_before
    assert "physics engine" in status and "plantarflexors 40 % strength" in status
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
