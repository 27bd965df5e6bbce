"""The system test: pi-indi on a kernel GPIO chip, real lgpio and real systemd.

Boots the Debian guest that ``scripts/system-test/build-guest.sh`` built (a
gpio-sim chip that gpiozero takes for a Raspberry Pi 4's header), installs
pi-indi as a user does, first the .deb, then ``deploy/install.sh``, and drives
the real unit from this host through INDI on a forwarded loopback port, with
indilib's ``indi_getprop``/``indi_setprop`` and indipyclient. What the lines
do is read from the kernel: gpio-sim's sysfs for levels and pulls, the gpio
tracepoints for every change a process made (with timestamps).

    python -m tests.system.run --guest DIR --artifacts DIR --work DIR

``scripts/test-system.sh`` builds the guest and the artifacts and runs this.
Every check prints ``ok`` or ``FAIL`` and its name; the exit status is the
number of failures (at most 100).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pi_indi_drivers.api import dew_point
from tests.system import bme280_stub
from tests.system.vm import GPIO_SYSFS, TRACING, Guest

#: Seconds a value may take to show up, end to end, in an emulated guest.
SETTLE = 10.0

CONFIG = """\
[gpio]
pin_factory = "lgpio"

[state]
restore = true

[[device]]
driver = "relay"
name = "Relay low"
pins = [17]
active_high = false
safe_state = "on"

[[device]]
driver = "relay"
name = "Relay high"
pins = [27]
safe_state = "off"

[[device]]
driver = "led"
name = "LED"
pins = [22]

[[device]]
driver = "buzzer"
name = "Buzzer"
pins = [23]

[[device]]
driver = "pwm_led"
name = "PWM"
pin = 12

[[device]]
driver = "button"
name = "Button"
pins = [5]
hold_time = 1.0

[[device]]
driver = "digital_input"
name = "Rain"
pins = [4]

[[device]]
driver = "motion_sensor"
name = "PIR"
pin = 6

[[device]]
driver = "line_sensor"
name = "Line"
pin = 13
"""

#: A BME280 through the kernel (absent until the check loads i2c-stub), and a
#: weather device over it, added to CONFIG by a reload.
SENSORS = """
[[device]]
driver = "iio_sensor"
name = "Outside"
chip = "bme280"
address = 0x76
interval = 1

[[device]]
driver = "weather"
name = "Weather"
sources = ["Outside.TEMPERATURE.TEMPERATURE", "Outside.HUMIDITY.HUMIDITY"]
parameters = ["WEATHER_TEMPERATURE", "WEATHER_HUMIDITY"]
ok_min = [-10.0, 0.0]
ok_max = [35.0, 85.0]
update_period = 600  # so a change within a second is the "at once" path, not the period
stale_seconds = 15
"""

#: The output lines of CONFIG, by device.
OUTPUT_LINES = {"Relay low": 17, "Relay high": 27, "LED": 22, "Buzzer": 23, "PWM": 12}


class CheckFailed(AssertionError):
    """A check's condition did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class Report:
    """Named checks, each ok or FAIL, counted."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    @contextlib.contextmanager
    def check(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a fault in the check itself is a FAIL too
            self.failed.append(name)
            print(f"  FAIL  {name}", flush=True)
            for line in str(exc).splitlines() or [type(exc).__name__]:
                print(f"          {line}", flush=True)
        else:
            self.passed += 1
            print(f"  ok    {name} ({time.monotonic() - started:.1f} s)", flush=True)

    @contextlib.contextmanager
    def steps(self, name: str) -> Iterator[None]:
        """The steps of a section between its checks: counted only when they fail."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a fault in the check itself is a FAIL too
            self.failed.append(f"{name}: a step between its checks")
            print(f"  FAIL  {name}: a step between its checks", flush=True)
            for line in str(exc).splitlines() or [type(exc).__name__]:
                print(f"          {line}", flush=True)

    def section(self, title: str) -> None:
        print(f"== {title}", flush=True)


@dataclass(frozen=True)
class Change:
    """One gpio tracepoint record."""

    time: float
    pid: int  # the process (thread group) that made the change; 0 if unknown
    line: int
    kind: str  # "set" or "direction"
    value: str  # "0"/"1" for set, "in"/"out" for direction


class System:
    """The guest as the checks see it: lines, the trace, the service, INDI."""

    def __init__(self, guest: Guest) -> None:
        self.guest = guest
        self.base = 0

    # -- the kernel's lines --

    def find_chip(self) -> None:
        """The global number of line 0 of the simulated chip (the trace uses those)."""
        out = self.guest.run(
            "for c in /sys/class/gpio/gpiochip*; do"
            ' [ "$(cat $c/label)" = pinctrl-bcm2711 ] && cat $c/base; done'
        ).stdout.split()
        expect(len(out) == 1, f"one simulated chip expected, found bases {out}")
        self.base = int(out[0])

    def level(self, line: int) -> int:
        return int(self.guest.run(f"cat {GPIO_SYSFS}/sim_gpio{line}/value").stdout)

    def pull(self, line: int, up: bool) -> None:
        """Drive an input line as a switch would (gpio-sim's pull)."""
        direction = "pull-up" if up else "pull-down"
        self.guest.run(f"echo {direction} > {GPIO_SYSFS}/sim_gpio{line}/pull")

    def wait_level(self, line: int, level: int, timeout: float = SETTLE) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.level(line)) != level:
            expect(time.monotonic() < deadline, f"GPIO{line} is {now}, not {level}")
            time.sleep(0.2)

    def trace_start(self) -> None:
        # Once in a run, just after a reboot under TCG, this command hung for
        # 120 s; it is idempotent, so it is tried again. 16 MiB per CPU holds
        # far more than a check records (a few thousand edges).
        for attempt in (1, 2, 3):
            try:
                self.guest.run(
                    f"echo 1 > {TRACING}/events/gpio/gpio_value/enable;"
                    f" echo 1 > {TRACING}/events/gpio/gpio_direction/enable;"
                    f" echo 1 > {TRACING}/options/record-tgid;"
                    f" echo 16384 > {TRACING}/buffer_size_kb; echo > {TRACING}/trace",
                    timeout=60,
                )
            except subprocess.TimeoutExpired:
                if attempt == 3:
                    raise
            else:
                return

    def trace(self) -> list[Change]:
        text = self.guest.run(f"cat {TRACING}/trace", timeout=60).stdout
        changes = []
        pattern = re.compile(
            # "comm-TID (TGID) [cpu] flags stamp: event: ..."; the TGID is the process.
            r"-\d+\s+\(\s*(\d+|-+)\)\s+\[\d+\][^:]*\s(\d+\.\d+):"
            r" gpio_(value|direction): (\d+)\s+(set|in|out)\s*(\S*)"
        )
        for match in pattern.finditer(text):
            pid, stamp, event, number, what, value = match.groups()
            line = int(number) - self.base
            pid = pid if pid.isdigit() else "0"
            if event == "value":
                changes.append(Change(float(stamp), int(pid), line, "set", value))
            else:
                changes.append(Change(float(stamp), int(pid), line, "direction", what))
        return changes

    # -- the service --

    def show(self, prop: str) -> str:
        return self.guest.run(f"systemctl show -p {prop} --value pi-indi").stdout.strip()

    def systemctl(self, *args: str, check: bool = False, timeout: float = 120) -> Any:
        return self.guest.run("systemctl " + " ".join(args), check=check, timeout=timeout)

    def journal_since(self, cursor: str) -> str:
        return self.guest.run(
            f"journalctl -u pi-indi --no-pager -o cat --after-cursor='{cursor}'"
        ).stdout

    def cursor(self) -> str:
        out = self.guest.run("journalctl -n 0 --show-cursor --no-pager -q").stdout
        return out.strip().rpartition("cursor: ")[2]

    def write_config(self, text: str) -> None:
        self.guest.write("/etc/pi-indi.toml", text)

    # -- INDI, from the host --

    def getprop(self, spec: str, timeout: float = 3) -> dict[str, str]:
        done = subprocess.run(
            ["indi_getprop", "-h", "127.0.0.1", "-p", str(self.guest.indi_port),
             "-t", str(int(timeout)), spec],
            capture_output=True, text=True, timeout=timeout + 20, check=False,
        )  # fmt: skip
        values = {}
        for line in done.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value
        return values

    def setprop(self, spec: str) -> None:
        done = subprocess.run(
            ["indi_setprop", "-h", "127.0.0.1", "-p", str(self.guest.indi_port), spec],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        expect(done.returncode == 0, f"indi_setprop {spec}: {done.stderr.strip()}")

    def wait_prop(self, spec: str, value: str, timeout: float = SETTLE) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.getprop(spec).get(spec)) != value:
            expect(time.monotonic() < deadline, f"{spec} is {now!r}, not {value!r}")
            time.sleep(0.3)


def wait_until(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        expect(time.monotonic() < deadline, f"not in {timeout:.0f} s: {what}")
        time.sleep(0.5)


def duty(changes: list[Change], line: int) -> float:
    """The fraction of time *line* was high, from its first to its last change."""
    sets = [c for c in changes if c.line == line and c.kind == "set"]
    expect(len(sets) >= 20, f"GPIO{line}: only {len(sets)} changes traced")
    high = sum(b.time - a.time for a, b in itertools.pairwise(sets) if a.value == "1")
    return high / (sets[-1].time - sets[0].time)


def no_output_became_input(changes: list[Change], lines: Iterator[int] | list[int]) -> None:
    inputs = [c for c in changes if c.kind == "direction" and c.value == "in" and c.line in lines]
    expect(not inputs, "outputs switched to input: " + ", ".join(f"GPIO{c.line}" for c in inputs))


def last_set(changes: list[Change], line: int) -> str:
    sets = [c.value for c in changes if c.line == line and c.kind == "set"]
    expect(bool(sets), f"GPIO{line} was not set")
    return sets[-1]


# -- the checks ---------------------------------------------------------------


def deb_install(r: Report, s: System, artifacts: Path) -> None:
    r.section("route 1: the .deb, with apt")
    g = s.guest
    with r.check("the guest's gpiochip0 starts as root's only (no udev rule yet)"):
        mode = g.run("stat -c '%G %a' /dev/gpiochip0").stdout.split()
        expect(mode == ["root", "600"], f"/dev/gpiochip0 is {mode}")
    with r.check("apt-get install pi-indi (with python3-gpiozero 2 and python3-lgpio)"):
        debs = sorted(artifacts.glob("debs/*.deb"))
        g.run("mkdir -p /root/debs")
        g.put(*debs, to="/root/debs/")
        names = " ".join(f"/root/debs/{d.name}" for d in debs)
        g.run(f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {names}", timeout=300)
    with r.check("/dev/gpiochip0 belongs to group gpio at once, without a reboot"):
        mode = g.run("stat -c '%G %a' /dev/gpiochip0").stdout.split()
        expect(mode == ["gpio", "660"], f"/dev/gpiochip0 is {mode}")
    with r.check("pi-indi.service is active after install, never restarted"):
        wait_until("active", lambda: s.show("ActiveState") == "active", 60)
        expect(s.show("NRestarts") == "0", f"NRestarts={s.show('NRestarts')}")
    with r.check("the installed config (no devices) is served over INDI"):
        wait_until("DRIVER_INFO-free getProperties answered", lambda: _port_answers(s), 30)


def _port_answers(s: System) -> bool:
    done = subprocess.run(
        ["indi_getprop", "-h", "127.0.0.1", "-p", str(s.guest.indi_port), "-t", "2", "*.*.*"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    # No devices: indi_getprop prints nothing, and says so only on a failed connect.
    return "connect" not in done.stderr.lower()


def factory_faults(r: Report, s: System) -> None:
    r.section("a pin factory that cannot start")
    g = s.guest
    dropin = "/run/systemd/system/pi-indi.service.d"
    g.run(f"mkdir -p {dropin}")
    # The service cannot see the chip: as on a machine with no GPIO at all.
    g.write(f"{dropin}/test-nochip.conf", "[Service]\nInaccessiblePaths=/dev/gpiochip0")
    g.run("systemctl daemon-reload")
    with r.check("no device needs pins: served without a pin factory, no restarts"):
        s.systemctl("restart pi-indi", check=True)
        time.sleep(5)
        expect(s.show("ActiveState") == "active", f"ActiveState={s.show('ActiveState')}")
        expect(s.show("NRestarts") == "0", f"NRestarts={s.show('NRestarts')}")
        expect(_port_answers(s), "nothing answers on the INDI port")
    with r.check("a device and no usable chip: exit 69 with the reason, no restart loop"):
        # (The chip is hidden from the service: InaccessiblePaths=.)
        s.write_config('[gpio]\npin_factory = "lgpio"\n\n[[device]]\ndriver = "relay"\n'
                       'name = "R"\npins = [17]\n')  # fmt: skip
        cursor = s.cursor()
        s.systemctl("restart pi-indi")
        wait_until("failed", lambda: s.show("ActiveState") == "failed", 60)
        time.sleep(6)  # RestartSec=2s: a restart loop would have shown by now
        status, restarts = s.show("ExecMainStatus"), s.show("NRestarts")
        expect(status == "69", f"ExecMainStatus={status}")
        expect(restarts == "0", f"NRestarts={restarts}")
        log = s.journal_since(cursor)
        expect("gpiochip" in log, f"the reason names no gpiochip:\n{log}")
    g.run(f"rm -f {dropin}/test-nochip.conf && systemctl daemon-reload && "
          "systemctl reset-failed pi-indi")  # fmt: skip
    with r.check("a gpiochip the service may not open: the message says permission and group"):
        g.run("chmod 0600 /dev/gpiochip0 && chgrp root /dev/gpiochip0")
        cursor = s.cursor()
        s.systemctl("restart pi-indi")
        wait_until("failed", lambda: s.show("ActiveState") == "failed", 60)
        log = s.journal_since(cursor)
        expect("ermission" in log, f"no 'permission' in:\n{log}")
        expect("gpio" in log.replace("gpiochip", ""), f"the group is not named in:\n{log}")
        expect("not a Raspberry Pi" not in log, f"misleading advice in:\n{log}")
    g.run("udevadm trigger --action=add --subsystem-match=gpio && udevadm settle && "
          "systemctl reset-failed pi-indi")  # fmt: skip


def service_start(r: Report, s: System) -> None:
    r.section("the test config on real lgpio")
    s.write_config(CONFIG)
    with r.check("systemctl restart returns only once pi-indi listens (READY after the bind)"):
        out = s.guest.run(
            "systemctl restart pi-indi && ss -Hltn 'sport = :7624' | grep -c LISTEN", check=False
        ).stdout.strip()
        expect(out not in ("", "0"), "not listening when systemctl restart returned")
    with r.check("every device is served"):
        names = {k.split(".")[0] for k in s.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=5)}
        expect(names >= {*OUTPUT_LINES, "Button", "Rain", "PIR", "Line"}, f"served: {names}")
    with r.check("pi-indi uses lgpio"):
        log = s.guest.run("journalctl -u pi-indi -b -o cat --no-pager | grep 'pin factory'").stdout
        expect("LGPIOFactory" in log, log)


def outputs(r: Report, s: System) -> None:
    r.section("outputs, read from the kernel's lines")
    s.trace_start()
    with r.check("relay, active low: ON drives GPIO17 low, OFF high"):
        s.setprop("Relay low.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(17, 0)
        s.setprop("Relay low.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(17, 1)
    with r.check("relay, active high: ON drives GPIO27 high, OFF low"):
        s.setprop("Relay high.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(27, 1)
        s.setprop("Relay high.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(27, 0)
    with r.check("LED: ON drives GPIO22 high, OFF low"):
        s.setprop("LED.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(22, 1)
        s.setprop("LED.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(22, 0)
    with r.check("buzzer: ON and OFF on GPIO23"):
        s.setprop("Buzzer.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(23, 1)
        s.setprop("Buzzer.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(23, 0)
    with r.check("pulse: PULSE_0 of 500 ms, then ON, is one high of about 500 ms on GPIO23"):
        # libindi's pulse mode: PULSE_<i> (from 0) holds the duration; ON pulses.
        s.setprop("Buzzer.PULSE_0.DURATION=500")
        s.wait_prop("Buzzer.PULSE_0.DURATION", "500")
        s.guest.run(f"echo > {TRACING}/trace")
        s.setprop("Buzzer.DIGITAL_OUTPUT_1.ON=On")
        s.wait_prop("Buzzer.DIGITAL_OUTPUT_1.OFF", "On")
        time.sleep(1)
        s.setprop("Buzzer.PULSE_0.DURATION=0")  # ON is a plain on again
        sets = [c for c in s.trace() if c.line == 23 and c.kind == "set"]
        expect([c.value for c in sets] == ["1", "0"], f"GPIO23 changes: {sets}")
        width = sets[1].time - sets[0].time
        expect(0.45 <= width <= 1.0, f"the pulse lasted {width:.3f} s")
    with r.check("blink: BLINK_1 (0.2 s on, 0.2 s off) toggles GPIO22 at that pace"):
        s.guest.run(f"echo > {TRACING}/trace")
        s.setprop("LED.BLINK_1.ON_TIME=0.2;OFF_TIME=0.2")
        time.sleep(2.5)
        s.setprop("LED.DIGITAL_OUTPUT_1.OFF=On")
        sets = [c for c in s.trace() if c.line == 22 and c.kind == "set"]
        highs = [b.time - a.time for a, b in itertools.pairwise(sets) if a.value == "1"]
        expect(len(highs) >= 4, f"only {len(highs)} blinks: {sets}")
        expect(all(0.15 <= h <= 0.4 for h in highs[:-1]), f"on times {highs}")
        s.wait_level(22, 0)
    for percent, low, high in ((25, 0.15, 0.35), (75, 0.65, 0.85)):
        with r.check(f"PWM: duty {percent} % on GPIO12, measured from the kernel's trace"):
            s.setprop(f"PWM.PWM_OUTPUT_1.DUTY_CYCLE={percent}")
            time.sleep(0.5)
            s.guest.run(f"echo > {TRACING}/trace")
            time.sleep(1.5)
            measured = duty(s.trace(), 12)
            expect(low <= measured <= high, f"duty {measured:.2f}")
    s.setprop("PWM.PWM_OUTPUT_1.DUTY_CYCLE=0")
    with r.check("DISCONNECT: the relay goes to its safe state, stays an output, its vectors go"):
        s.setprop("Relay high.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(27, 1)
        s.guest.run(f"echo > {TRACING}/trace")
        s.setprop("Relay high.CONNECTION.DISCONNECT=On")
        s.wait_level(27, 0)
        spec = "Relay high.DIGITAL_OUTPUT_1.ON"
        wait_until(f"{spec} deleted", lambda: spec not in s.getprop(spec), SETTLE)
        no_output_became_input(s.trace(), [27])
    with r.check("CONNECT: the relay's line is claimed again and its last value restored"):
        s.setprop("Relay high.CONNECTION.CONNECT=On")
        s.wait_level(27, 1)
        s.wait_prop("Relay high.DIGITAL_OUTPUT_1.ON", "On")
        s.setprop("Relay high.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(27, 0)


def inputs(r: Report, s: System) -> None:
    r.section("inputs, driven through the kernel's lines")
    count = "Button.INPUT_COUNT.INPUT_1"
    with r.check("button: a press (GPIO5 pulled low) is ON and counted"):
        before = float(s.getprop(count).get(count, "nan"))
        s.pull(5, up=False)
        s.wait_prop("Button.DIGITAL_INPUT_1.ON", "On")
        s.wait_prop(count, f"{before + 1:.0f}")
    with r.check("button: held after hold_time (1 s), and no longer once released"):
        s.wait_prop("Button.INPUT_HELD.INPUT_1", "Ok", timeout=5)
        s.pull(5, up=True)
        s.wait_prop("Button.DIGITAL_INPUT_1.OFF", "On")
        s.wait_prop("Button.INPUT_HELD.INPUT_1", "Idle")
    with r.check("button: indipyclient receives each edge as it happens"):
        edges = asyncio.run(_watch_button(s))
        expect(edges == ["On", "Off"], f"edges seen: {edges}")
    with r.check("digital input: GPIO4 pulled high is ON, low OFF"):
        s.pull(4, up=True)
        s.wait_prop("Rain.DIGITAL_INPUT_1.ON", "On")
        s.pull(4, up=False)
        s.wait_prop("Rain.DIGITAL_INPUT_1.OFF", "On")
    with r.check("motion sensor: GPIO6 high is motion, low none"):
        s.pull(6, up=True)
        s.wait_prop("PIR.DIGITAL_INPUT_1.ON", "On")
        s.pull(6, up=False)
        s.wait_prop("PIR.DIGITAL_INPUT_1.OFF", "On")
    with r.check("line sensor: GPIO13 follows the line both ways"):
        s.pull(13, up=True)
        time.sleep(1)
        high = s.getprop("Line.DIGITAL_INPUT_1.ON").get("Line.DIGITAL_INPUT_1.ON", "")
        expect(high in ("On", "Off"), f"DIGITAL_INPUT_1.ON is {high!r}")
        low = "Off" if high == "On" else "On"
        s.pull(13, up=False)
        s.wait_prop("Line.DIGITAL_INPUT_1.ON", low)
        s.pull(13, up=True)
        s.wait_prop("Line.DIGITAL_INPUT_1.ON", high)


async def _watch_button(s: System) -> list[str]:
    import indipyclient  # type: ignore[import-not-found,unused-ignore]

    edges: list[str] = []

    class Watcher(indipyclient.IPyClient):  # type: ignore[misc]
        async def rxevent(self, event: Any) -> None:
            if (event.devicename, event.vectorname) == ("Button", "DIGITAL_INPUT_1") and (
                event.eventtype == "Set" and "ON" in event
            ):
                edges.append(event["ON"])

    client = Watcher(indihost="127.0.0.1", indiport=s.guest.indi_port)
    task = asyncio.create_task(client.asyncrun())
    try:
        async with asyncio.timeout(30):
            while "Button" not in client or "DIGITAL_INPUT_1" not in client["Button"]:
                await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, s.pull, 5, False)
            while len(edges) < 1:
                await asyncio.sleep(0.1)
            await loop.run_in_executor(None, s.pull, 5, True)
            while len(edges) < 2:
                await asyncio.sleep(0.1)
    finally:
        client.shutdown()
        await task
    return edges


def safe_state_and_restore(r: Report, s: System) -> None:
    r.section("safe state at stop, restore at start")
    s.setprop("Relay high.DIGITAL_OUTPUT_1.ON=On")
    s.setprop("LED.DIGITAL_OUTPUT_1.ON=On")
    s.setprop("Relay low.DIGITAL_OUTPUT_1.OFF=On")
    s.wait_level(27, 1)
    s.wait_level(22, 1)
    s.wait_level(17, 1)
    s.guest.run(f"echo > {TRACING}/trace")
    with r.check("systemctl stop: clean, nothing listens"):
        s.systemctl("stop pi-indi", check=True)
        expect(s.show("ActiveState") == "inactive", s.show("ActiveState"))
        expect(s.show("Result") == "success", f"Result={s.show('Result')}")
        listening = s.guest.run("ss -Hltn 'sport = :7624'").stdout.strip()
        expect(not listening, listening)
    changes = s.trace()
    with r.check("stop: each output is set to its safe state (active-low relay ON: GPIO17 low)"):
        expect(last_set(changes, 17) == "0", f"GPIO17 last set to {last_set(changes, 17)}")
        expect(last_set(changes, 27) == "0", f"GPIO27 last set to {last_set(changes, 27)}")
    with r.check("stop: pi-indi switches no output to an input (kernel trace)"):
        expect(bool(changes), "nothing traced at the stop")
        no_output_became_input(changes, list(OUTPUT_LINES.values()))
    with r.check("start: the saved states come back (GPIO27 and GPIO22 high, GPIO17 high)"):
        s.systemctl("start pi-indi", check=True)
        s.wait_level(27, 1)
        s.wait_level(22, 1)
        s.wait_level(17, 1)
        s.wait_prop("Relay high.DIGITAL_OUTPUT_1.ON", "On")
    s.setprop("Relay low.DIGITAL_OUTPUT_1.ON=On")
    s.wait_level(17, 0)
    s.setprop("Relay low.DIGITAL_OUTPUT_1.OFF=On")
    s.wait_level(17, 1)
    s.guest.run(f"echo > {TRACING}/trace")
    old_pid = int(s.show("MainPID"))
    s.systemctl("restart pi-indi", check=True)
    s.wait_level(27, 1)
    changes = s.trace()
    stopping = [c for c in changes if c.pid == old_pid]
    starting = [c for c in changes if c.pid != old_pid]
    with r.check("systemctl restart: the old process switches no output to an input"):
        expect(bool(stopping), "no change traced from the old process")
        no_output_became_input(stopping, list(OUTPUT_LINES.values()))
    with r.check("systemctl restart: the new process claims each output at its level, no glitch"):
        # Relay low was OFF (line high); its safe state is ON (low), so the
        # stop drove it low. The new process must restore OFF without any
        # other level first, and claim no output line as an input.
        no_output_became_input(starting, list(OUTPUT_LINES.values()))
        relay = [c.value for c in starting if c.line == 17 and c.kind == "set"]
        expect(relay[:1] == ["1"], f"GPIO17 at start: {relay}")
        led = [c.value for c in starting if c.line == 22 and c.kind == "set"]
        expect(led[:1] == ["1"], f"GPIO22 (restored on) at start: {led}")
        s.wait_level(22, 1)


def watchdog(r: Report, s: System) -> None:
    r.section("the watchdog")
    with r.check("a stopped main process is killed by the watchdog and restarted"):
        pid = s.show("MainPID")
        restarts = int(s.show("NRestarts"))
        cursor = s.cursor()
        s.guest.run(f"kill -STOP {pid}")
        wait_until(
            "a new main process",
            lambda: s.show("NRestarts") == str(restarts + 1) and s.show("ActiveState") == "active",
            90,
        )
        expect(s.show("MainPID") != pid, "same MainPID")
        log = s.guest.run(f"journalctl -u pi-indi --no-pager --after-cursor='{cursor}'").stdout
        expect("Failed with result 'watchdog'" in log, f"no watchdog failure in:\n{log}")
        s.wait_level(27, 1)


def reloads(r: Report, s: System) -> None:
    r.section("systemctl reload")
    g = s.guest
    with r.check("reload with a good file: returns once applied (the new device is there)"):
        s.write_config(CONFIG + '\n[[device]]\ndriver = "led"\nname = "LED 2"\npins = [24]\n')
        done = s.systemctl("reload pi-indi", timeout=90)
        expect(done.returncode == 0, f"systemctl reload exited {done.returncode}: {done.stderr}")
        names = {k.split(".")[0] for k in s.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=5)}
        expect("LED 2" in names, f"served right after the reload: {sorted(names)}")
    with r.check("reload with a bad file fails visibly, the problem is in the journal"):
        cursor = s.cursor()
        s.write_config(CONFIG + '\n[[device]]\ndriver = "relay"\nname = "Bad"\npins = [99]\n')
        done = s.systemctl("reload pi-indi", timeout=90)
        expect(done.returncode != 0, "systemctl reload succeeded on a bad file")
        log = s.journal_since(cursor)
        expect("pins" in log and "99" in log, f"the problem is not in the journal:\n{log}")
    with r.check("after the failed reload the old config is still served"):
        expect(s.show("ActiveState") == "active", s.show("ActiveState"))
        names = {k.split(".")[0] for k in s.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=5)}
        expect("LED 2" in names and "Bad" not in names, f"served: {sorted(names)}")
    with r.check("a bad file sent by a bare SIGHUP: refused, and STATUS keeps saying so"):
        g.run("kill -HUP $(systemctl show -p MainPID --value pi-indi)")
        time.sleep(8)  # past a heartbeat or two
        status = s.show("StatusText")
        expect("refused" in status, f"StatusText={status!r}")
        expect(s.show("ActiveState") == "active", s.show("ActiveState"))
    with r.check("a bad config at start: exit 78, no restart loop"):
        s.systemctl("restart pi-indi")
        wait_until("failed", lambda: s.show("ActiveState") == "failed", 60)
        time.sleep(6)
        expect(s.show("ExecMainStatus") == "78", f"ExecMainStatus={s.show('ExecMainStatus')}")
        expect(s.show("NRestarts") == "0", f"NRestarts={s.show('NRestarts')}")
    s.write_config(CONFIG)
    g.run("systemctl reset-failed pi-indi; systemctl start pi-indi")


def kernel_sensor(r: Report, s: System) -> None:
    r.section("a real kernel sensor: the kernel's bmp280 driver on i2c-stub, read through IIO")
    g = s.guest
    s.write_config(CONFIG + SENSORS)
    overlay = "dtoverlay=i2c-sensor,bme280,addr=0x76"
    with r.check("no BME280 yet: check-config says how to enable it, and the config is valid"):
        done = g.run("pi-indi check-config 2>&1", check=False)
        expect(done.returncode == 0, f"check-config exited {done.returncode}:\n{done.stdout}")
        expect(overlay in done.stdout, f"no {overlay!r} in:\n{done.stdout}")
    with r.check("no BME280 yet: reload serves it in Alert; the weather is unsafe"):
        done = s.systemctl("reload pi-indi", timeout=90)
        expect(done.returncode == 0, f"systemctl reload exited {done.returncode}: {done.stderr}")
        s.wait_prop("Outside.TEMPERATURE._STATE", "Alert")
        s.wait_prop("Weather.WEATHER_STATUS._STATE", "Alert")
        names = {k.split(".")[0] for k in s.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=5)}
        expect(names >= {*OUTPUT_LINES, "Outside", "Weather"}, f"served: {sorted(names)}")
    pid = s.show("MainPID")
    bus = ""  # the stub's I2C bus, once it is there
    with r.check("i2c-stub holding a BME280's registers: the kernel's bmp280 driver probes it"):
        g.put(Path(bme280_stub.__file__))
        bus = g.run("python3 /root/bme280_stub.py").stdout.strip()
        name = g.run(f"cat /sys/bus/i2c/devices/{bus}-0076/iio:device*/name").stdout.strip()
        expect(name == "bme280", f"the IIO device at {bus}-0076 is {name!r}")
    celsius, hpa, percent = bme280_stub.expected()
    with r.check(
        f"pi-indi reads it: {celsius:.2f} °C, {hpa:.2f} hPa, {percent:.1f} %RH"
        " (the datasheet's formulas), and the dew point"
    ):
        s.wait_prop("Outside.TEMPERATURE._STATE", "Ok")
        values = s.getprop("Outside.*.*")
        served = {
            name: float(values.get(f"Outside.{name}.{name}", "nan"))
            for name in ("TEMPERATURE", "PRESSURE", "HUMIDITY", "DEW_POINT")
        }
        wanted = {
            "TEMPERATURE": (celsius, 0.006),
            "PRESSURE": (hpa, 0.006),
            "HUMIDITY": (percent, 0.06),
            "DEW_POINT": (dew_point(celsius, percent), 0.02),
        }
        for name, (value, within) in wanted.items():
            expect(abs(served[name] - value) <= within, f"{name} {served[name]}, not {value:.3f}")
    with r.check("the weather device follows it: WEATHER_STATUS Ok"):
        s.wait_prop("Weather.WEATHER_STATUS._STATE", "Ok")
        spec = "Weather.WEATHER_PARAMETERS.WEATHER_TEMPERATURE"
        got = float(s.getprop(spec).get(spec, "nan"))
        expect(abs(got - celsius) <= 0.006, f"WEATHER_TEMPERATURE {got}")
    with r.check("check-config: no note once the kernel has the sensor"):
        done = g.run("pi-indi check-config 2>&1", check=False)
        expect(done.returncode == 0 and overlay not in done.stdout, done.stdout)
    with r.check("the sensor gone (delete_device): Alert, and the weather is unsafe at once"):
        expect(bool(bus), "no i2c-stub bus (see above)")
        g.run(f"echo 0x76 > /sys/bus/i2c/devices/i2c-{bus}/delete_device")
        s.wait_prop("Outside.TEMPERATURE._STATE", "Alert")
        s.wait_prop("Weather.WEATHER_STATUS._STATE", "Alert")
    with r.check("the sensor back (new_device): read again, the weather Ok, the same process"):
        expect(bool(bus), "no i2c-stub bus (see above)")
        g.run(f"echo bme280 0x76 > /sys/bus/i2c/devices/i2c-{bus}/new_device")
        s.wait_prop("Outside.TEMPERATURE._STATE", "Ok")
        s.wait_prop("Weather.WEATHER_STATUS._STATE", "Ok")
        expect(s.show("MainPID") == pid, f"MainPID {pid} became {s.show('MainPID')}")
    if bus:
        g.run(f"echo 0x76 > /sys/bus/i2c/devices/i2c-{bus}/delete_device", check=False)
    s.write_config(CONFIG)
    s.systemctl("reload pi-indi", check=True, timeout=90)


def security(r: Report, s: System) -> None:
    with r.check("systemd-analyze security pi-indi.service: exposure at most 2.0"):
        out = s.guest.run("systemd-analyze security pi-indi.service --no-pager").stdout
        match = re.search(r"Overall exposure level for pi-indi.service: ([\d.]+)", out)
        expect(match is not None, out[-500:])
        assert match is not None
        expect(float(match.group(1)) <= 2.0, match.group(0))
        print(f"          {match.group(0)}")


def reboot(r: Report, s: System) -> None:
    r.section("a reboot of the guest")
    s.setprop("Relay high.DIGITAL_OUTPUT_1.ON=On")
    s.setprop("LED.DIGITAL_OUTPUT_1.OFF=On")
    s.wait_level(27, 1)
    s.wait_level(22, 0)
    with r.check("after a reboot the service is back with the saved states"):
        took = s.guest.reboot()
        print(f"          (rebooted in {took:.0f} s)")
        wait_until("active", lambda: s.show("ActiveState") == "active", 60)
        s.wait_level(27, 1)
        s.wait_level(22, 0)
        s.wait_prop("Relay high.DIGITAL_OUTPUT_1.ON", "On")
        mode = s.guest.run("stat -c '%G %a' /dev/gpiochip0").stdout.split()
        expect(mode == ["gpio", "660"], f"/dev/gpiochip0 is {mode}")


def pip_route(r: Report, s: System, artifacts: Path) -> None:
    r.section("route 2: deploy/install.sh")
    g = s.guest
    # Tracing settings do not survive the reboot before this.
    s.find_chip()
    s.trace_start()
    g.run("systemctl stop pi-indi")
    with r.check("apt-get purge pi-indi python3-lgpio python3-gpiozero"):
        g.run("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pi-indi python3-lgpio "
              "python3-gpiozero", timeout=300)  # fmt: skip
        expect(g.run("python3 -c 'import lgpio'", check=False).returncode != 0, "lgpio still there")
    # The device as the kernel makes it, before any rule gave it away.
    g.run("chgrp root /dev/gpiochip0 && chmod 0600 /dev/gpiochip0")
    with r.check("install.sh from a checkout, with pi-indi's wheel (no index: the wheels given)"):
        g.put(artifacts / "source.tar", artifacts / "wheels.tar", to="/root/")
        g.run("rm -rf /root/src /root/wheels && mkdir /root/src /root/wheels && "
              "tar -C /root/src -xf /root/source.tar && tar -C /root/wheels -xf /root/wheels.tar")  # fmt: skip
        wheel = g.run("ls /root/wheels/pi_indi-*.whl").stdout.strip()
        out = g.run(f"cd /root && PIP_NO_INDEX=1 PIP_FIND_LINKS=/root/wheels "
                    f"bash /root/src/deploy/install.sh {wheel} 2>&1", timeout=600).stdout  # fmt: skip
        print("\n".join(f"          {line}" for line in out.splitlines()[-6:]))
    with r.check("install.sh installed lgpio into the venv (apt has none here)"):
        origin = g.run(
            "/opt/pi-indi/venv/bin/python -c 'import importlib.util;"
            ' print(importlib.util.find_spec("lgpio").origin)\''
        ).stdout
        expect(origin.startswith("/opt/pi-indi/venv/"), origin)
    with r.check("install.sh: gpiochip0 belongs to group gpio at once"):
        mode = g.run("stat -c '%G %a' /dev/gpiochip0").stdout.split()
        expect(mode == ["gpio", "660"], f"/dev/gpiochip0 is {mode}")
    with r.check("install.sh: the unit runs the venv's pi-indi, is active, never restarted"):
        unit = g.run("systemctl cat pi-indi").stdout
        expect("ExecStart=/opt/pi-indi/venv/bin/pi-indi serve" in unit, unit)
        expect("/usr/bin/pi-indi" not in unit, "the unit still names /usr/bin/pi-indi")
        wait_until("active", lambda: s.show("ActiveState") == "active", 60)
        expect(s.show("NRestarts") == "0", f"NRestarts={s.show('NRestarts')}")
    with r.check(
        "install.sh: systemctl reload (the venv's pi-indi reload) applies the test config"
    ):
        s.write_config(CONFIG)
        done = s.systemctl("reload pi-indi", timeout=90)
        expect(done.returncode == 0, f"systemctl reload exited {done.returncode}: {done.stderr}")
        names = {k.split(".")[0] for k in s.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=5)}
        expect("Relay low" in names, f"served: {sorted(names)}")
    with r.check("install.sh: a relay switches its line on lgpio"):
        s.setprop("Relay low.DIGITAL_OUTPUT_1.ON=On")
        s.wait_level(17, 0)
        s.setprop("Relay low.DIGITAL_OUTPUT_1.OFF=On")
        s.wait_level(17, 1)
    with r.check("install.sh: a button press is seen"):
        s.pull(5, up=False)
        s.wait_prop("Button.DIGITAL_INPUT_1.ON", "On")
        s.pull(5, up=True)
        s.wait_prop("Button.DIGITAL_INPUT_1.OFF", "On")
    with r.check("install.sh: systemctl reload with a bad file fails"):
        s.write_config(CONFIG + '\n[[device]]\ndriver = "nonesuch"\nname = "Bad"\n')
        done = s.systemctl("reload pi-indi", timeout=90)
        expect(done.returncode != 0, "systemctl reload succeeded on a bad file")
        s.write_config(CONFIG)
    s.setprop("Relay high.DIGITAL_OUTPUT_1.ON=On")
    s.wait_level(27, 1)
    s.guest.run(f"echo > {TRACING}/trace")
    with r.check("install.sh: systemctl stop sets the safe states, switches no output to input"):
        s.systemctl("stop pi-indi", check=True)
        changes = s.trace()
        expect(last_set(changes, 27) == "0", f"GPIO27 last set to {last_set(changes, 27)}")
        expect(last_set(changes, 17) == "0", f"GPIO17 last set to {last_set(changes, 17)}")
        no_output_became_input(changes, list(OUTPUT_LINES.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guest", type=Path, required=True)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    # A timeout's SIGTERM still powers the guest off (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    report = Report()
    guest = Guest(args.guest, args.work)
    started = time.monotonic()
    try:
        report.section("the guest")
        with report.check("a fresh disk image of the guest"):
            guest.make_image()
        with report.check("boot: systemd up, ssh answers"):
            took = guest.boot()
            print(f"          (booted in {took:.0f} s)")
        if report.failed:
            return 1
        system = System(guest)
        with report.check("a simulated Raspberry Pi 4 header: gpiochip with 28 lines, GPIO0..27"):
            system.find_chip()
            lines = guest.run("gpioinfo gpiochip0 | head -1").stdout
            expect("28 lines" in lines, lines)
        a = args.artifacts
        sections: list[Callable[[], None]] = [
            partial(deb_install, report, system, a),
            partial(factory_faults, report, system),
            partial(service_start, report, system),
            partial(outputs, report, system),
            partial(inputs, report, system),
            partial(safe_state_and_restore, report, system),
            partial(watchdog, report, system),
            partial(reloads, report, system),
            partial(kernel_sensor, report, system),
            partial(security, report, system),
            partial(reboot, report, system),
            partial(pip_route, report, system, a),
        ]
        for section in sections:
            # A step between checks that fails is a failure too, and the
            # sections after it still run.
            with report.steps(section.func.__name__):  # type: ignore[attr-defined]
                section()
    finally:
        if report.failed and guest.proc is not None:
            with contextlib.suppress(Exception):
                print("== the service's journal (last 60 lines)")
                print(guest.run("journalctl -u pi-indi -n 60 --no-pager", timeout=30).stdout)
        guest.stop()
    total = report.passed + len(report.failed)
    took = time.monotonic() - started
    if report.failed:
        print(f"system test: {len(report.failed)} of {total} checks FAILED in {took:.0f} s")
        for name in report.failed:
            print(f"  FAIL  {name}")
        return min(len(report.failed), 100)
    print(f"system test: all {total} checks OK in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
