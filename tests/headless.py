"""A page opened in headless Chromium over the DevTools protocol: console messages, images, a
screenshot. Only what the report's browser test needs (``tests/test_report_browser.py``).

Chromium is started with ``--remote-debugging-port=0``; the port it picked is read from
``DevToolsActivePort`` in its profile folder, and one page target is driven over a WebSocket
(the ``websocket-client`` package).
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

#: executables tried, in order (Debian's package installs ``chromium``)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, browser: str, width: int = 1280, height: int = 1600, timeout_s: float = 60.0) -> None:
        import websocket

        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="fleetsim-browser-")
        self._proc = self._ws = None
        try:
            self._proc = subprocess.Popen(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--remote-debugging-port=0", f"--user-data-dir={self._profile}",
                 f"--window-size={width},{height}", "about:blank"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            port = self._port()
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10).read())
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout_s,
                                                   suppress_origin=True)
        except BaseException:       # a browser that never came up: stopped, its profile folder removed
            self.close()
            raise
        self._ids = itertools.count(1)
        self.console: list[dict] = []      # Runtime.consoleAPICalled / exceptionThrown / Log.entryAdded
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(method)

    def _port(self) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            if self._proc.poll() is not None:
                raise RuntimeError(f"browser exited with status {self._proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError("browser did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result (events seen meanwhile are kept)."""
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        method = msg.get("method", "")
        if method in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
            self.console.append(msg)
        if method == "Page.loadEventFired":
            self._loaded = True

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event."""
        self._loaded = False
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout_s
        while not self._loaded:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no load event")
            self._event(json.loads(self._ws.recv()))

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (not just the window)."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions, as text."""
        out = []
        for msg in self.console:
            p = msg.get("params", {})
            if msg["method"] == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails", {}).get("text")))
            elif msg["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif msg["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def close(self) -> None:
        try:
            if self._ws is not None:
                self._ws.close()
        finally:
            if self._proc is not None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_url(path: Path) -> str:
    return Path(os.path.abspath(path)).as_uri()
