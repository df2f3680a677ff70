"""Open an HTML leaderboard in a real headless browser (Debian's chromium), click a column header, check the
rows re-sorted by that column, and screenshot the page.

    python -m bench.devtools.browsercheck leaderboards/index.html --click fd_world --screenshot reports/leaderboard.png

Talks the Chrome DevTools Protocol over `--remote-debugging-pipe` (NUL-separated JSON on file descriptors
3 and 4), so no websocket client or browser download is needed; the browser runs with networking features
off and a throwaway profile. The click is a real mouse press/release at the header's on-screen centre.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


class Browser:
    """A headless chromium driven over the DevTools pipe (one page)."""

    def __init__(self, binary: str | None = None, width: int = 1500, height: int = 700):
        exe = binary or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not exe:
            raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="augen-chromium-")
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def fds():  # the browser reads commands on fd 3 and writes replies on fd 4
            hi_r, hi_w = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)  # dup2 copies are inheritable; the originals stay close-on-exec
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-sync", "--disable-extensions", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "about:blank"], preexec_fn=fds, close_fds=False,  # fds 3/4 are made in preexec_fn
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf, self._id, self.session = b"", 0, None
        self.size = (width, height)

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buf:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium did not answer {method}")
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.size[0], "height": self.size[1],
                                                         "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})
        for _ in range(200):
            if self.js("document.readyState") == "complete":
                return
            time.sleep(0.05)
        raise TimeoutError(f"{url} did not finish loading")

    def js(self, expr: str):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                   "clickCount": 0 if kind == "mouseMoved" else 1})

    def screenshot(self, out: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


ROWS_JS = "Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.dataset.name)"


def check_sorting(page: str | Path, metric: str, screenshot: Path | None = None) -> dict:
    """Load the page, read the row order, click `metric`'s header, read it again; returns what was seen and
    whether the new order is the column sorted ascending (n/a last)."""
    with Browser() as b:
        b.open(Path(page).resolve().as_uri())
        before = b.js(ROWS_JS)
        col = b.js(f"(() => {{ const th = Array.from(document.querySelectorAll('#board th'))"
                   f".find(h => (h.title || '').split(' ')[0] === {json.dumps(metric)}); "
                   f"if (!th) return null; th.scrollIntoView({{block: 'center'}}); "  # below the task tables
                   f"const r = th.getBoundingClientRect(); "
                   f"return [+th.dataset.col, r.left + r.width / 2, r.top + r.height / 2]; }})()")
        if col is None:
            raise ValueError(f"{page}: no column for {metric!r}")
        b.click(col[1], col[2])
        after = b.js(ROWS_JS)
        values = b.js(f"Array.from(document.querySelectorAll('#board tbody tr')).map(r => "
                      f"r.cells[{col[0]}].dataset.value === undefined ? null : +r.cells[{col[0]}].dataset.value)")
        shot = b.screenshot(screenshot) if screenshot else None
    nums = [v for v in values if v is not None]
    ok = nums == sorted(nums) and values[:len(nums)] == nums
    return {"before": before, "after": after, "values": values, "sorted_ascending": ok,
            "screenshot": str(shot) if shot else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("--click", default="fd_world", help="metric whose column header to click")
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--optional", action="store_true", help="exit 0 with a note when no chromium is installed")
    a = ap.parse_args(argv)
    if a.optional and not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        print("browsercheck: no chromium installed; skipped (Debian: apt-get install chromium)")
        return 0
    r = check_sorting(a.page, a.click, a.screenshot)
    print(json.dumps(r, indent=1))
    return 0 if r["sorted_ascending"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
