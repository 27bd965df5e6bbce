"""The compatibility suite: indipydriver-style scripts, run both ways, compared.

Each script in ``scripts/`` is run under indipydriver 3.1.2 + indipyserver
0.0.6 as written, and under pi_indi with its imports changed. A client takes
the same steps against each and what it sees is compared (runner.py). Every
scenario carries its verdict:

- ``identical``: a client cannot tell them apart;
- ``fixed``: identical now; failed or behaved differently under pi_indi
  before issue 11 (``why`` names the item);
- ``different``: a difference a client sees, on purpose, each one in
  docs/porting.md (``why`` names the section); ``patch`` turns what
  indipydriver sent into what pi_indi sends, so nothing else may differ.

The reference packages are installed once in a cache directory (runner.py);
without network the suite is skipped.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.compat import runner
from tests.helpers import free_port

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("indi_getprop") is None or shutil.which("indiserver") is None,
        reason="indi-bin is not installed",
    ),
]

NEW_SWITCH = (
    '<newSwitchVector device="{}" name="{}"><oneSwitch name="{}">{}</oneSwitch></newSwitchVector>'
)
NEW_NUMBER = (
    '<newNumberVector device="{}" name="{}"><oneNumber name="{}">{}</oneNumber></newNumberVector>'
)
NEW_TEXT = '<newTextVector device="{}" name="{}"><oneText name="{}">{}</oneText></newTextVector>'


@dataclass(frozen=True)
class Scenario:
    script: str
    kind: str = "server"  # server | stdio (under indiserver) | remote (script serves upstream)
    steps: tuple[str, ...] = ()
    upstream: str = ""  # for remote: the script serving INDI_REMOTE_PORT
    verdict: str = "identical"
    why: str = ""
    # For "different": (indipydriver's text, pi_indi's) in the JSON of the transcript.
    patch: tuple[tuple[str, str], ...] = ()
    check: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
    exits: bool = False  # the script ends by itself after the steps; compare its output


def _server_died(indipy: dict[str, Any], pi: dict[str, Any]) -> None:
    # indipyserver: UnboundLocalError escapes its TaskGroup, the server exits.
    assert indipy["connection closed"] is True
    assert indipy["indi_getprop"] == []
    assert pi["connection closed"] is False
    alert = pi["step 1"]["led.ledvector"][0]
    assert alert[0] == "setSwitchVector"
    assert alert[1]["state"] == "Alert"
    assert "it takes newSwitchVector, not newNumberVector" in alert[1]["message"]
    # The vector stays in Alert until the driver sets a state (libindi's way).
    assert pi["step 2"]["led.ledvector"][0][1]["state"] == "Alert"
    assert pi["indi_getprop"] == ["led.ledvector.ledmember=On"]


def _snooped_message(indipy: dict[str, Any], pi: dict[str, Any]) -> None:
    # indipydriver: events.message does not exist; the AttributeError ends the server.
    assert indipy["connection closed"] is True
    assert pi["connection closed"] is False
    heard = pi["step 1"]["Listener.heard"]
    assert [e[2][0][2] for e in heard] == ["set: hello", "message: hello"]


def _message_not_sticky(indipy: dict[str, Any], pi: dict[str, Any]) -> None:
    # indipydriver repeats a vector's last message on every later update.
    def messages(seen: dict[str, Any]) -> list[str | None]:
        return [
            e[1].get("message")
            for step in ("step 1", "step 2")
            for e in seen[step]["Steps.counter"]
        ]

    assert messages(indipy) == ["counting started", "counting started"]
    assert messages(pi) == ["counting started", None]
    for seen in (indipy, pi):
        for step in ("step 2", "step 4"):
            for e in seen[step]["Steps.counter"]:
                e[1].pop("message", None)
    assert indipy == pi


def _sticky_messages_only(indipy: dict[str, Any], pi: dict[str, Any]) -> None:
    # indipydriver repeats a vector's last message on its later def/set elements;
    # drop each repeat pi_indi does not send, then nothing else may differ.
    last: dict[str, str] = {}
    repeats = 0
    for step, seen in indipy.items():
        if not isinstance(seen, dict):
            continue
        for key, elements in seen.items():
            for n, element in enumerate(elements):
                message = element[1].get("message")
                theirs = pi.get(step, {}).get(key, [])
                if (
                    message is not None
                    and last.get(key) == message
                    and n < len(theirs)
                    and "message" not in theirs[n][1]
                ):
                    del element[1]["message"]
                    repeats += 1
                elif message is not None:
                    last[key] = message
    assert repeats, "no repeated message: the scenario no longer shows the difference"
    assert indipy == pi, json.dumps({"indipydriver": indipy, "pi_indi": pi}, indent=1)


def _unchanged_since_definition(indipy: dict[str, Any], pi: dict[str, Any]) -> None:
    # send_setVector(allvalues=False) after a definition: indipydriver also sends
    # the members never set since the vector was made ("Camera": "nothing").
    theirs, ours = indipy["step 5"]["Watch.heard"][0], pi["step 5"]["Watch.heard"][0]
    assert [m[1]["name"] for m in theirs[2]] == ["stdioled", "Camera"]
    assert [m[1]["name"] for m in ours[2]] == ["stdioled"]
    del theirs[2][1]
    assert indipy == pi, json.dumps({"indipydriver": indipy, "pi_indi": pi}, indent=1)


SCENARIOS = {
    "first-example-led": Scenario(
        "led.py", steps=(NEW_SWITCH.format("led", "ledvector", "ledmember", "On"),)
    ),
    "stdio-driver-under-indiserver": Scenario(
        "led_stdio.py",
        kind="stdio",
        steps=(NEW_SWITCH.format("stdioled", "ledvector", "ledmember", "On"),),
    ),
    "exdriver": Scenario(
        "exdriver.py", steps=(NEW_SWITCH.format("stdioled", "ledvector", "ledmember", "On"),)
    ),
    "remote-tree": Scenario(
        "remote.py",
        kind="remote",
        upstream="led.py",
        steps=(NEW_SWITCH.format("led", "ledvector", "ledmember", "On"),),
    ),
    "delegation-to-device": Scenario(
        "delegate.py", steps=(NEW_NUMBER.format("Thermostat", "targetvector", "target", "16.5"),)
    ),
    "auto-send-def-off-text-lights-messages": Scenario(
        "panel.py",
        steps=(
            NEW_TEXT.format("Panel", "greeting", "text", "good morning"),
            NEW_SWITCH.format("Panel", "reset", "now", "On"),
        ),
    ),
    "blobs-driver-to-client": Scenario(
        "camera.py",
        steps=(
            '<enableBLOB device="Camera">Also</enableBLOB>',
            NEW_SWITCH.format("Camera", "expose", "shoot", "On"),
            NEW_SWITCH.format("Camera", "expose", "shoot", "On"),
        ),
    ),
    "blobs-client-to-driver": Scenario(
        "upload.py",
        steps=(
            '<newBLOBVector device="Store" name="upload">'
            '<oneBLOB name="file" size="11" format=".txt">aGVsbG8gd29ybGQ=</oneBLOB>'
            "</newBLOBVector>",
        ),
    ),
    "snoop-blobs-over-remote": Scenario(
        "snoop_camera.py",
        kind="remote",
        upstream="camera.py",
        steps=(NEW_SWITCH.format("Camera", "expose", "shoot", "On"),),
        verdict="fixed",
        why="add_remote(debug_enable=...) was refused; snooped BLOBs never reached snoopevent",
    ),
    "event-as-userdict-and-getfloat-of-empty": Scenario(
        "entry.py",
        steps=(
            '<newTextVector device="Entry" name="form"><oneText name="number"></oneText>'
            '<oneText name="comment">blank</oneText></newTextVector>',
            NEW_TEXT.format("Entry", "form", "number", "12:30"),
        ),
        verdict="fixed",
        why="events were read-only mappings; getfloat('') raised",
    ),
    "server-keepalive-stop-stopped-shutdown-message": Scenario(
        "server_api.py",
        steps=(NEW_SWITCH.format("Control", "server", "stop", "On"),),
        verdict="fixed",
        why="keepalive, stop, stopped were missing; shutdown(message) raised",
        exits=True,
    ),
    "snooping-with-snoop-and-numbers": Scenario(
        "thermostat.py",
        steps=(
            "sleep 1.5",
            NEW_NUMBER.format("Thermostat", "targetvector", "target", "25"),
            NEW_NUMBER.format("Thermostat", "targetvector", "target", "12.5"),
        ),
        verdict="different",
        why="numbers-on-the-wire",
        patch=(
            ('"20.00"', '"20"'),
            ('"25.0"', '"25"'),
            ('"25.00"', '"25"'),
            ('"12.50"', '"12.5"'),
            ("temperature=12.50", "temperature=12.5"),
        ),
    ),
    "number-formats-and-sexagesimal": Scenario(
        "numbers.py",
        steps=(NEW_NUMBER.format("Mount", "target", "HA", "1:30"),),
        verdict="different",
        why="numbers-on-the-wire",
        patch=(
            ('"11:18:13"', '"11.303611111111111"'),
            ('"-10:30:00"', '"-10.5"'),
            ('"15.0"', '"15"'),
            ('"20.00"', '"20"'),
            ('"format": ""', '"format": "%g"'),
            ('"1:30"', '"1.5"'),
            ("RA=11:18:13", "RA=11.303611111111111"),
            ("DEC=-10:30:00", "DEC=-10.5"),
            ("level=15.0", "level=15"),
            ("text=20.00", "text=20"),
            ("HA=1:30", "HA=1.5"),
        ),
    ),
    "message-is-not-sticky": Scenario(
        "messages.py",
        steps=(
            NEW_SWITCH.format("Steps", "actions", "step", "On"),
            NEW_SWITCH.format("Steps", "actions", "step", "On"),
            NEW_SWITCH.format("Steps", "actions", "hide", "On"),
            NEW_SWITCH.format("Steps", "actions", "show", "On"),
        ),
        verdict="different",
        why="a-vectors-message-goes-out-once",
        check=_message_not_sticky,
    ),
    "bad-request-does-not-kill-the-server": Scenario(
        "led.py",
        steps=(
            NEW_NUMBER.format("led", "ledvector", "ledmember", "1"),
            NEW_SWITCH.format("led", "ledvector", "ledmember", "On"),
        ),
        verdict="different",
        why="bad-requests-are-answered",
        check=_server_died,
    ),
    "vector-attributes-send-variants-enable-and-redefine": Scenario(
        "gadget.py",
        steps=(
            *(
                NEW_SWITCH.format("Control", "actions", name, "On")
                for name in ("report", "retitle", "busy", "some", "quiet")
            ),
            NEW_NUMBER.format("Gadget", "position", "axis", "11"),
            '<getProperties version="1.7" device="Gadget"/>',
            NEW_SWITCH.format("Control", "actions", "loud", "On"),
            NEW_SWITCH.format("Control", "actions", "hide", "On"),
            NEW_NUMBER.format("Gadget", "position", "axis", "12"),
            NEW_SWITCH.format("Control", "actions", "show", "On"),
            NEW_SWITCH.format("Control", "actions", "say", "On"),
            '<getProperties version="1.7" device="Gadget" name="labels"/>',
        ),
        verdict="different",
        why="a-vectors-message-goes-out-once",
        check=_sticky_messages_only,
    ),
    "drivers-exdriver-and-remote-in-one-server": Scenario(
        "mixed.py",
        kind="remote",
        upstream="camera.py",
        steps=(
            "sleep 1",
            '<enableBLOB device="Notes">Also</enableBLOB>',
            NEW_TEXT.format("Notes", "note", "text", "remember the milk"),
            NEW_SWITCH.format("Notes", "attach", "file", "On"),
            NEW_SWITCH.format("stdioled", "ledvector", "ledmember", "On"),
            NEW_SWITCH.format("Camera", "expose", "shoot", "On"),
        ),
        verdict="different",
        why="only-changed-values",
        check=_unchanged_since_definition,
    ),
    "snooped-def-set-del-events-and-rxevent-attributes": Scenario(
        "listener.py",
        steps=(
            '<newNumberVector device="Source" name="level" timestamp="2026-01-02T03:04:05.5">'
            '<oneNumber name="value">7</oneNumber></newNumberVector>',
            NEW_SWITCH.format("Source", "go", "go", "On"),
        ),
    ),
    "blob-members-from-paths-and-files-and-vector-attributes-set": Scenario(
        "files.py",
        steps=(
            '<enableBLOB device="Files">Also</enableBLOB>',
            *(
                NEW_SWITCH.format("Files", "actions", name, "On")
                for name in ("path", "name", "stream", "rename")
            ),
        ),
        verdict="different",
        why="blobs",
        patch=(('"size": "90"}, "18 bytes', '"size": "18"}, "18 bytes'),),
    ),
    "vector-perm-rule-set-debug-enable-stop-flags-snoop-one-vector": Scenario(
        "settings.py",
        steps=(
            NEW_SWITCH.format("Settings", "change", "change", "On"),
            NEW_TEXT.format("Other", "word", "text", "hello"),
        ),
    ),
    "snooping-all-with-device-messages": Scenario(
        "snoop_all.py",
        steps=(NEW_TEXT.format("Sender", "say", "words", "hello"),),
        verdict="different",
        why="snooped-messages",
        check=_snooped_message,
    ),
}


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[runner.Side, runner.Side]:
    try:
        reference = runner.reference_python()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"indipydriver {runner.REFERENCE['indipydriver']} not installable: {exc}")
    return runner.prepare_sides(tmp_path_factory.mktemp("compat"), reference)


def run(side: runner.Side, scenario: Scenario, tmp: Path) -> dict[str, Any]:
    folder = tmp / side.name
    folder.mkdir()
    port = free_port()
    with runner.running_scenario(
        side, scenario.kind, scenario.script, scenario.upstream, port, folder
    ) as main:
        seen = runner.session(port, scenario.steps, folder)
        if scenario.exits:
            try:
                main.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{side.name}: {scenario.script} did not end:\n{main.output()}")
            seen["exit status"] = main.proc.returncode
            seen["printed"] = [
                line
                for line in main.output().splitlines()
                if line.startswith(("keepalive", "stopped"))
            ]
    return seen


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_script_runs_the_same_under_pi_indi(name: str, sides, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    indipy_side, pi_side = sides
    indipy = run(indipy_side, scenario, tmp_path)
    pi = run(pi_side, scenario, tmp_path)
    shown = json.dumps({"indipydriver": indipy, "pi_indi": pi}, indent=1)
    if scenario.verdict in ("identical", "fixed"):
        assert indipy == pi, shown
    elif scenario.check is not None:
        scenario.check(indipy, pi)
    else:
        assert indipy != pi, shown
        text = json.dumps(indipy)
        for old, new in scenario.patch:
            assert old in text, f"{old} is not in what indipydriver sent:\n{shown}"
            text = text.replace(old, new)
        assert json.loads(text) == pi, shown


def test_one_ctrl_c_ends_a_gathering_script_under_both(sides, tmp_path: Path) -> None:
    outcomes = []
    for side in sides:
        folder = tmp_path / side.name
        folder.mkdir()
        port = free_port()
        with runner.running_scenario(side, "server", "gather.py", "", port, folder) as main:
            main.proc.send_signal(signal.SIGINT)
            try:
                main.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{side.name}: one SIGINT did not end it:\n{main.output()}")
            printed = [line for line in main.output().splitlines() if line.startswith("Shut")]
            outcomes.append((main.proc.returncode, printed))
    assert outcomes[0] == outcomes[1] == (0, ["Shut down by KeyboardInterrupt"])


def test_every_script_is_used() -> None:
    used = {s.script for s in SCENARIOS.values()} | {s.upstream for s in SCENARIOS.values()}
    used |= {"gather.py", "led_stdio.py"}  # the Ctrl-C test; exdriver.py runs led_stdio.py
    assert {p.name for p in runner.SCRIPTS.glob("*.py")} <= used


def test_porting_changes_nothing_but_imports() -> None:
    for script in runner.SCRIPTS.glob("*.py"):
        text = script.read_text()
        ported = runner.port_pi_indi(text)
        assert "indipydriver as" not in ported
        assert "from indipyserver" not in ported
        assert len(ported.splitlines()) == len(text.splitlines())
