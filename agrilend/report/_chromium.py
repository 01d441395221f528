"""Drive headless Chromium over the DevTools protocol (``--remote-debugging-pipe``), stdlib only.

Used to look at a report the way a person does: take a screenshot, read the DOM after scripts
ran, collect console errors and the page layout, and print to PDF. The protocol runs over two
pipes (Chromium reads commands on fd 3 and writes answers on fd 4, NUL-terminated JSON), so no
port is opened and nothing touches the network.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from agrilend.errors import ReportError

log = logging.getLogger(__name__)

#: Flags for a quiet, offline, throw-away headless browser.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")

_LAYOUT_JS = """
(async () => {
  await document.fonts.ready;
  const imgs = await Promise.all(Array.from(document.images).map(async (im) => {
    try { await im.decode(); } catch (e) {}
    const r = im.getBoundingClientRect();
    return {src: im.getAttribute('src').slice(0, 30), complete: im.complete,
            naturalWidth: im.naturalWidth, x: r.x, y: r.y + window.scrollY, width: r.width,
            height: r.height, map: im.dataset.map || null, curve: im.dataset.curve || null};
  }));
  const sections = Array.from(document.querySelectorAll('[data-section]')).map((el) => {
    const r = el.getBoundingClientRect();
    return {name: el.dataset.section, x: r.x, y: r.y + window.scrollY, width: r.width,
            height: r.height};
  });
  const boxes = Array.from(document.querySelectorAll('[data-figure]')).map((el) => {
    const r = el.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(el).lineHeight) || 20;
    return {name: el.dataset.figure, x: r.x, y: r.y + window.scrollY, width: r.width,
            height: r.height, lines: Math.round(r.height / line)};
  });
  return JSON.stringify({
    boxes: boxes,
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    viewport: window.innerWidth,
    sections: sections, images: imgs,
    fonts: Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family),
  });
})()
"""


def find_chromium() -> str | None:
    """Path of a Chromium executable (``AGRILEND_CHROMIUM`` overrides), or None."""
    env = os.environ.get("AGRILEND_CHROMIUM")
    for cand in ((env,) if env else ()) + _CANDIDATES:
        if os.path.isabs(cand):
            if os.access(cand, os.X_OK):
                return cand
        elif found := shutil.which(cand):
            return found
    return None


@dataclass
class PageCapture:
    """What headless Chromium saw of a page."""

    screenshot: bytes
    dom: str
    layout: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)


class Chromium:
    """A headless Chromium process spoken to over the DevTools pipe. Use as a context manager.

    Examples
    --------
    >>> exe = find_chromium()
    >>> if exe:  # doctest: +SKIP
    ...     with Chromium(exe) as browser:
    ...         cap = browser.capture("/tmp/report.html")
    """

    def __init__(self, executable: str | None = None, *, timeout: float = 60.0) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise ReportError(
                "Chromium was not found; install it (Debian: `apt-get install chromium`) or set "
                "AGRILEND_CHROMIUM to its path"
            )
        self.executable = exe
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    # -- process -----------------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="agrilend-chromium-")
        cmd_r, cmd_w = os.pipe()  # we write commands, Chromium reads fd 3
        out_r, out_w = os.pipe()  # Chromium writes fd 4, we read

        def _child_fds() -> None:
            # copy first: a pipe may already sit on fd 3 or 4, and dup2 onto itself would
            # leave it close-on-exec
            r, w = os.dup(cmd_r), os.dup(out_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        args = [
            self.executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile.name}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._proc = subprocess.Popen(  # noqa: S603  (fixed executable and flags, no shell)
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("AGRILEND_CHROMIUM_DEBUG") else subprocess.DEVNULL,
            # Chromium wants the pipe on fds 3 and 4 exactly: dup2 them in the child. Python's
            # own fds are close-on-exec, so close_fds=False leaks nothing else.
            preexec_fn=_child_fds,  # noqa: PLW1509  (no threads are started before exec)
            close_fds=False,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._write_fd = cmd_w
        self._read_fd = out_r
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._proc is not None and self._proc.poll() is None:
                with contextlib.suppress(ReportError, OSError):  # it is going away anyway
                    self._send("Browser.close", timeout=5)
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
        finally:
            for fd in (self._write_fd, self._read_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if self._profile is not None:
                self._profile.cleanup()

    # -- protocol ----------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReportError(f"Chromium did not answer within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise ReportError("Chromium closed its DevTools pipe (it crashed or exited)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def _send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._write_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == mid:
                if "error" in answer:
                    raise ReportError(f"Chromium {method} failed: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def _wait_event(self, method: str, *, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for k, ev in enumerate(self._events):
                if ev.get("method") == method and ev.get("sessionId") == session:
                    del self._events[k]
                    return ev
            ev = self._read_message(deadline)
            if "method" in ev:
                self._events.append(ev)

    def _open(self, path: str | Path, *, width: int, height: int, query: str = "") -> str:
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self._send(domain, session=session)
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        url = Path(path).resolve().as_uri() + (f"?{query}" if query else "")
        self._send("Page.navigate", {"url": url}, session=session)
        self._wait_event("Page.loadEventFired", session=session)
        return str(session)

    def _console_errors(self, session: str) -> list[str]:
        errors = []
        for ev in self._events:
            if ev.get("sessionId") != session:
                continue
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                details = p.get("exceptionDetails", {})
                errors.append(str(details.get("exception", {}).get("description") or details))
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in {
                "error",
                "assert",
            }:
                errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(str(p["entry"].get("text")))
        return errors

    # -- what callers use --------------------------------------------------------------------

    def evaluate(
        self, path: str | Path, expression: str, *, query: str = "", width: int = 1200
    ) -> tuple[Any, list[str]]:
        """Open a local HTML file (with the URL query ``query``), evaluate the JavaScript
        ``expression`` in it (a promise is awaited) and return its value (JSON-able) and the
        page's console errors."""
        session = self._open(path, width=width, height=900, query=query)
        res = self._send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        return res.get("result", {}).get("value"), self._console_errors(session)

    def capture(
        self, path: str | Path, *, width: int = 1200, height: int = 900, query: str = ""
    ) -> PageCapture:
        """Open a local HTML file and return its full-page screenshot, DOM, layout, errors."""
        session = self._open(path, width=width, height=height, query=query)
        res = self._send(
            "Runtime.evaluate",
            {"expression": _LAYOUT_JS, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        layout = json.loads(res["result"]["value"])
        shot = self._send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": layout["width"],
                    "height": layout["height"],
                    "scale": 1,
                },
            },
            session=session,
        )
        dom = self._send(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session=session,
        )["result"]["value"]
        return PageCapture(
            screenshot=base64.b64decode(shot["data"]),
            dom=str(dom),
            layout=layout,
            console_errors=self._console_errors(session),
        )

    def print_pdf(self, path: str | Path) -> bytes:
        """Print a local HTML file to PDF (A4, backgrounds, the page's own ``@page`` size)."""
        session = self._open(path, width=1200, height=900)
        self._send(
            "Runtime.evaluate",
            {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True},
            session=session,
        )
        res = self._send(
            "Page.printToPDF",
            {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False},
            session=session,
        )
        return base64.b64decode(res["data"])


__all__ = ["CHROMIUM_FLAGS", "Chromium", "PageCapture", "find_chromium"]
