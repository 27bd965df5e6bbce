"""indipyweb in headless Chromium, as the web client of `pi-indi serve --mock` (the example).

indipyweb (PyPI, by indipydriver's author) is a litestar web app and an indipyclient client:
the page a phone at the telescope opens. It lives in a venv of its own, outside the project's,
which scripts/test.sh creates and names in ``$PI_INDI_INDIPYWEB_VENV``; with that variable set
a missing tool fails the test instead of skipping it. Run outside scripts/test.sh, the test
looks for the venv at the default path below and skips, saying how to make it, when it is
absent.

``PI_INDI_SCREENSHOTS=DIR`` also saves the screenshot of the relay switched On there
(docs/images/indipyweb-relay.png is one); otherwise it stays in the test's tmp_path. When the
test fails, the page's HTML and a screenshot are left in its tmp_path too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.interop import browser, peers
from tests.interop.browser import Browser, poll
from tests.interop.peers import ROOT, Peer, wait_until

INDIPYWEB = "0.2.1"  # the pinned version: keep in step with scripts/test.sh
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_VENV = CACHE / "pi-indi" / f"indipyweb-{INDIPYWEB}"  # where scripts/test.sh makes it
VENV = Path(os.environ.get("PI_INDI_INDIPYWEB_VENV", DEFAULT_VENV))
REQUIRED = "PI_INDI_INDIPYWEB_VENV" in os.environ  # set by scripts/test.sh

EXAMPLE = ROOT / "pi_indi" / "example.toml"
RELAY = ("Relays", "DIGITAL_OUTPUT_1")
BUTTON = ("Roof switch", "DIGITAL_INPUT_1")
BUTTON_PIN = "Mock GPIO.PIN_GPIO26"  # pulled up: driving it low presses the button
ADMIN = ("admin", "password!")  # what a new indipyweb database holds

pytestmark = pytest.mark.interop


def _missing() -> list[str]:
    missing = [*browser.missing_tools()]
    missing += [tool for tool in ("indi_getprop", "indi_setprop") if not shutil.which(tool)]
    if not (VENV / "bin" / "indipyweb").exists():
        missing.append(f"indipyweb in {VENV}")
    return missing


# The switches of the vector labelled arguments[0], as {member label: "On" | "Off"}, read
# from the round status button indipyweb draws for each (templates/vector/switchmember.html).
SWITCHES = """
for (const box of document.querySelectorAll('[id^="vector_"]')) {
  const title = box.querySelector('h3');
  if (!title || title.textContent.trim() !== arguments[0]) continue;
  const members = {};
  for (const row of box.querySelectorAll('.w3-row')) {
    const label = row.querySelector('p');
    const shown = row.querySelector('button.w3-circle');
    if (label && shown) members[label.textContent.trim()] = shown.textContent.trim();
  }
  return members;
}
return null;
"""

# In the vector labelled arguments[0]: the element arguments[1] (a CSS selector) of the member
# labelled arguments[2], or of the vector itself when arguments[2] is null.
CONTROL = """
for (const box of document.querySelectorAll('[id^="vector_"]')) {
  const title = box.querySelector('h3');
  if (!title || title.textContent.trim() !== arguments[0]) continue;
  if (arguments[2] === null) return box.querySelector(arguments[1]);
  for (const row of box.querySelectorAll('.w3-row')) {
    const label = row.querySelector('p');
    if (label && label.textContent.trim() === arguments[2]) return row.querySelector(arguments[1]);
  }
}
return null;
"""


@pytest.fixture
def indipyweb_venv() -> Path:
    if missing := _missing():
        how = "apt-get install chromium chromium-driver indi-bin"
        if not (VENV / "bin" / "indipyweb").exists():
            how = f"python3 -m venv {VENV} && {VENV}/bin/pip install indipyweb=={INDIPYWEB}"
        message = f"not installed: {', '.join(missing)} ({how}; scripts/test.sh does it)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return VENV


@contextlib.contextmanager
def indipyweb(venv: Path, tmp_path: Path, indi_port: int) -> Iterator[Peer]:
    """indipyweb on 127.0.0.1, its database pointing at *indi_port*.

    indipyweb takes the INDI host and port from its database only (its setup page writes
    them there and they apply at the next start), so a new database is made first with
    indipyweb's own functions, the ones that setup page calls.
    """
    db = tmp_path / "indipyweb"
    db.mkdir()
    seed = (
        "import pathlib, sys\n"
        "from indipyweb.web import userdata\n"
        "userdata.setupdbase(None, None, pathlib.Path(sys.argv[1]))\n"
        "userdata.set_stored_item('indiport', int(sys.argv[2]))\n"
    )
    subprocess.run(
        [venv / "bin" / "python", "-c", seed, db, str(indi_port)], check=True, timeout=30
    )
    port = free_port()
    cmd = [venv / "bin" / "indipyweb", "--host", "127.0.0.1", "--port", str(port)]
    with peers.running([*map(str, cmd), "--dbfolder", str(db)], port, tmp_path / "web.log") as web:
        yield web


class Vector:
    """A vector as indipyweb labels it: the page shows labels, not INDI names.

    The labels come from indipyweb's JSON API (``/api/<device>/<vector>``, open to all).
    """

    def __init__(self, base: str, device: str, name: str) -> None:
        url = f"{base}/api/{urllib.parse.quote(device)}/{name}"

        def fetch() -> dict[str, Any]:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                return dict(json.load(response))

        found = poll(fetch, bool, 10, f"{device}.{name} in indipyweb's API")
        self.label = str(found["label"])
        self.members = {key: str(value["label"]) for key, value in found["members"].items()}

    def shown(self, page: Browser, expected: dict[str, str], what: str) -> None:
        """Wait until the page shows the switches as *expected* ({INDI name: On | Off})."""
        want = {self.members[key]: value for key, value in expected.items()}
        poll(lambda: page.script(SWITCHES, self.label), lambda seen: seen == want, 10, what)


def control(page: Browser, vector: str, css: str, member: str | None = None) -> str:
    found = page.script(CONTROL, vector, css, member)
    if found is None:
        raise browser.WebDriverError(f"no {css} for {member!r} in {vector!r}")
    return browser.element(found)


def press(page: Browser, vector: str, css: str, member: str | None = None) -> None:
    """Click *css* of *member* (or of the vector), finding it again if a redraw replaced it."""

    def click() -> bool:
        page.click(control(page, vector, css, member))
        return True

    poll(click, bool, 10, f"a click on {css} of {vector!r}")


def click_text(page: Browser, css: str, text: str, what: str) -> None:
    """Click the element *css* that reads *text*, once there is one (htmx may redraw it)."""

    def click() -> bool:
        found = [e for e in page.find_all(css) if page.text(e) == text]
        if found:
            page.click(found[0])
        return bool(found)

    poll(click, bool, 15, what)


def open_device(page: Browser, base: str, device: str) -> None:
    """From the device list, the device's page, showing its "Main Control" group."""
    page.get(f"{base}/indipyweb")
    click_text(page, "a.w3-button", device, f"{device!r} in indipyweb's device list")
    click_text(page, "#grouptabs a", "Main Control", f"{device!r}'s group tabs")
    poll(
        lambda: page.text(page.find("#grouptabs a.w3-green")),
        lambda selected: selected == "Main Control",
        10,
        "the Main Control tab selected",
    )


def test_indipyweb_switches_a_relay_and_shows_a_button_press(
    indipyweb_venv: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    indi_port = free_port()
    serve = [sys.executable, "-m", "pi_indi", "serve", "--mock", "--host", "127.0.0.1"]
    serve += ["--port", str(indi_port), "--config", str(EXAMPLE)]
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}
    with (
        peers.running(serve, indi_port, tmp_path / "pi-indi.log", env) as server,
        indipyweb(indipyweb_venv, tmp_path, indi_port) as web,
        browser.headless(tmp_path) as page,
        contextlib.ExitStack() as stack,
    ):
        stack.enter_context(page.evidence(tmp_path))
        base = f"http://127.0.0.1:{web.port}"
        print(f"pi-indi, indipyweb and Chromium up after {time.monotonic() - started:.1f} s")

        # Log in as the default admin: the landing page follows, with a Logout button.
        page.get(f"{base}/login")
        page.type(page.find("#username"), ADMIN[0])
        page.type(page.find("#password"), ADMIN[1])
        page.click(page.find("form button[type=submit]"))
        poll(page.url, lambda url: url.endswith("/indipyweb"), 10, "the page after logging in")
        page.find("a[href='logout']")

        # Switch a relay On from its device page, and see pi-indi switch it.
        relay_spec = ".".join(RELAY)
        open_device(page, base, RELAY[0])
        relay = Vector(base, *RELAY)
        on = relay.members["ON"]
        relay.shown(page, {"OFF": "On", "ON": "Off"}, "the relay shown Off")
        assert server.value(f"{relay_spec}.ON") == "Off"
        # Each vector is redrawn once as the page's event stream opens, so an element found
        # a moment ago may be gone: find it again until the click lands. The switch's
        # checkbox keeps its state across redraws (hx-preserve).
        press(page, relay.label, ".slider", on)
        poll(
            lambda: page.property(control(page, relay.label, "input", on), "checked"),
            lambda checked: checked is True,
            5,
            "the On switch ticked",
        )
        press(page, relay.label, "button[type=submit]")
        wait_until(lambda: server.value(f"{relay_spec}.ON") == "On", 10)
        assert server.value(f"{relay_spec}.OFF") == "Off"
        # pi-indi's answer comes back to the page (SSE, then an htmx fetch of the vector).
        relay.shown(page, {"OFF": "Off", "ON": "On"}, "the relay shown On")
        # The docs' picture: this relay's panel, from its title to its Submit button.
        title = page.rect(control(page, relay.label, "h3"))
        submit = page.rect(control(page, relay.label, "button[type=submit]"))
        shot = page.screenshot(
            tmp_path / "indipyweb-relay.png", title["y"] - 16, submit["y"] + submit["height"] + 16
        )

        # Press the simulated button: the open page shows it without being reloaded.
        open_device(page, base, BUTTON[0])
        button = Vector(base, *BUTTON)
        button.shown(page, {"OFF": "On", "ON": "Off"}, "the button shown released")
        page.script("window.piIndiMark = 'not reloaded'")
        server.setprop(f"{BUTTON_PIN}.LOW=On")
        button.shown(page, {"OFF": "Off", "ON": "On"}, "the button shown pressed")
        assert page.script("return window.piIndiMark") == "not reloaded"
        assert server.value(".".join(BUTTON) + ".ON") == "On"

        errors = [entry for entry in page.console() if entry["level"] == "SEVERE"]
        assert not errors, errors
        if target := os.environ.get("PI_INDI_SCREENSHOTS"):
            shutil.copy(shot, Path(target) / shot.name)
    print(f"indipyweb test: {time.monotonic() - started:.1f} s in all")
