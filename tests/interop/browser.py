"""Headless Chromium driven through chromedriver's WebDriver HTTP API, with urllib only.

Debian's ``chromium`` and ``chromedriver`` (the same version, from one source package) are
all this needs: no selenium. ``headless()`` starts chromedriver on a free loopback port, opens
one browser session with its own profile directory, and ends both (the session, then the
process group) however the test ends. Every request and every wait is bounded in time.

The W3C WebDriver spec is the reference: https://www.w3.org/TR/webdriver2/
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.helpers import free_port
from tests.interop.peers import stop_session

T = TypeVar("T")

TOOLS = ("chromium", "chromedriver")
# The key of an element reference in WebDriver's JSON (spec: "web element identifier").
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
# A phone's viewport (CSS pixels): what the page looks like at the telescope.
PHONE = (412, 915)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def element(reference: Any) -> str:
    """The id of an element a script returned (WebDriver sends a reference object)."""
    return str(reference[ELEMENT])


class WebDriverError(RuntimeError):
    """chromedriver answered a command with an error."""


def poll(fetch: Callable[[], T], ok: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call ``fetch`` until ``ok`` accepts its value; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: object = "<no answer>"
    while True:
        try:
            value = fetch()
        except (WebDriverError, OSError) as exc:
            last = exc
        else:
            if ok(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s, last seen {last!r}")
        time.sleep(0.1)


class Browser:
    """One WebDriver session: navigate, find, click, type, run a script, take a screenshot."""

    def __init__(self, base: str, session: str) -> None:
        self.base = base
        self.session = session

    def command(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        url = f"{self.base}/session/{self.session}{path}"
        return call(method, url, body, timeout)

    def get(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def url(self) -> str:
        return str(self.command("GET", "/url"))

    def find(self, css: str, within: str | None = None) -> str:
        """The first element matching *css* (inside element *within*), or WebDriverError."""
        path = f"/element/{within}/element" if within else "/element"
        found = self.command("POST", path, {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def find_all(self, css: str, within: str | None = None) -> list[str]:
        path = f"/element/{within}/elements" if within else "/elements"
        found = self.command("POST", path, {"using": "css selector", "value": css})
        return [str(item[ELEMENT]) for item in found]

    def click(self, element: str) -> None:
        self.command("POST", f"/element/{element}/click", {})

    def type(self, element: str, text: str) -> None:
        self.command("POST", f"/element/{element}/value", {"text": text})

    def text(self, element: str) -> str:
        return str(self.command("GET", f"/element/{element}/text"))

    def property(self, element: str, name: str) -> Any:
        return self.command("GET", f"/element/{element}/property/{name}")

    def script(self, source: str, *args: Any) -> Any:
        """Run *source* as a function body in the page; ``arguments`` holds *args*."""
        return self.command("POST", "/execute/sync", {"script": source, "args": list(args)})

    def console(self) -> list[dict[str, Any]]:
        """What the page logged to its console since the last call (chromedriver's log)."""
        return list(self.command("POST", "/se/log", {"type": "browser"}))

    def rect(self, element: str) -> dict[str, float]:
        """Where *element* is on the page: x, y, width, height in CSS pixels."""
        return dict(self.command("GET", f"/element/{element}/rect"))

    def screenshot(self, path: Path, top: float = 0, bottom: float | None = None) -> Path:
        """Save a PNG of the page from *top* to *bottom* (its end by default), window or not.

        chromedriver's own screenshot stops at the window; Chromium's DevTools command
        ``Page.captureScreenshot``, which chromedriver relays, does not.
        """
        if bottom is None:
            bottom = float(self.script("return document.documentElement.scrollHeight"))
        clip = {"x": 0, "y": top, "width": PHONE[0], "height": bottom - top, "scale": 1}
        shot = self.command(
            "POST",
            "/goog/cdp/execute",
            {
                "cmd": "Page.captureScreenshot",
                "params": {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": clip,
                },
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    @contextlib.contextmanager
    def evidence(self, folder: Path) -> Iterator[None]:
        """On a failure inside, save the page's HTML and a screenshot in *folder*."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                (folder / "failed-page.html").write_text(
                    f"<!-- {self.url()} -->\n"
                    + self.script("return document.documentElement.outerHTML")
                )
                self.screenshot(folder / "failed-page.png")
            raise


def call(method: str, url: str, body: Any = None, timeout: float = 30) -> Any:
    """One WebDriver command: its ``value``, or WebDriverError with chromedriver's message."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.load(response)["value"]
    except urllib.error.HTTPError as exc:
        try:
            error = json.load(exc)["value"]
        except ValueError:
            raise WebDriverError(f"{method} {url}: HTTP {exc.code}") from exc
        raise WebDriverError(f"{error.get('error')}: {error.get('message', '')[:300]}") from exc


@contextlib.contextmanager
def headless(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium with a phone-sized window and its own profile, for one test."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "chromedriver.log"
    with log.open("wb") as logf:
        driver = subprocess.Popen(
            ["chromedriver", f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    session = None
    try:
        poll(
            lambda: call("GET", f"{base}/status", timeout=2),
            lambda status: bool(status.get("ready")),
            10,
            "chromedriver's /status",
        )
        options = {
            "binary": shutil.which("chromium"),
            "args": [
                "--headless=new",
                "--no-sandbox",  # root in CI, and containers without user namespaces
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--password-store=basic",
                f"--window-size={PHONE[0]},{PHONE[1]}",
                f"--user-data-dir={tmp_path / 'chromium-profile'}",
            ],
        }
        wanted = {"goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "ALL"}}
        caps = {"capabilities": {"alwaysMatch": wanted}}
        created = call("POST", f"{base}/session", caps, timeout=60)
        session = str(created["sessionId"])
        browser = Browser(base, session)
        browser.command("POST", "/timeouts", {"pageLoad": 20_000, "script": 10_000})
        yield browser
    finally:
        if session is not None:
            with contextlib.suppress(OSError, WebDriverError):
                call("DELETE", f"{base}/session/{session}", timeout=10)
        stop_session(driver)
