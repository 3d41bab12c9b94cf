"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe, for browser tests.

It loads a page in headless Chromium and reports every network request *the page* made (not the
browser's own background traffic), a screenshot and the rendered DOM. Standard library only.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-pipe"]


class Browser:
    def __init__(self, executable: str, profile: Path, width: int = 1280, height: int = 1600):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}",
                                         f"--window-size={width},{height}", "about:blank"],
                                        # fds 3 and 4 are made by wire() and must survive close_fds
                                        pass_fds=tuple(sorted({3, 4, to_child_r, from_child_w})), preexec_fn=wire,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            batch = self._read(deadline - time.time())
            for i, reply in enumerate(batch):
                if reply.get("id") == self._id:
                    # the messages that came after the reply in the same read are events too: keep every one
                    self.events.extend(batch[i + 1:])
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)
        raise TimeoutError(method)

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            self.events.extend(self._read(deadline - time.time()))
        raise TimeoutError(method)

    def _read(self, timeout: float) -> list[dict]:
        ready, _, _ = select.select([self._from_child], [], [], max(0.0, timeout))
        if not ready:
            return []
        chunk = os.read(self._from_child, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the pipe")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page :meth:`load` opened last."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self.session)
        return reply["result"].get("value")

    def load(self, url: str) -> tuple[list[str], bytes, str]:
        """Open ``url`` in a new tab: (URLs the page requested over the network, PNG screenshot, DOM)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.session = session
        self.send("Network.enable", session=session)
        self.send("Page.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        time.sleep(0.5)
        self.events.extend(self._read(0.2))
        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"])
        dom = self.evaluate("document.documentElement.outerHTML")
        requested = [e["params"]["request"]["url"] for e in self.events
                     if e.get("sessionId") == session and e.get("method") == "Network.requestWillBeSent"]
        network = [u for u in requested if not u.startswith(("data:", "file:", "about:"))]
        return network, png, dom

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_child)
        os.close(self._from_child)
