"""The system test's guest: a Debian VM under qemu, reached over ssh on loopback.

The guest is built by ``scripts/system-test/build-guest.sh``; every run boots a
fresh disk image made from it, so nothing of one run is left for the next.
qemu runs under software emulation (TCG): nested KVM does not boot here.
"""

from __future__ import annotations

import contextlib
import ctypes
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GPIO_SYSFS", "TRACING", "Guest", "GuestError", "free_port"]

#: Where the guest's boot script links the simulated chip's lines (sim_gpioN/).
GPIO_SYSFS = "/run/pi-board-sim/lines"
#: The kernel's trace directory in the guest.
TRACING = "/sys/kernel/tracing"


def _die_with_parent() -> None:
    # In qemu's child before exec: SIGKILL it when this process dies, however
    # it dies, so no guest outlives the test.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


class GuestError(RuntimeError):
    """A command in the guest failed, or the guest did not answer in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for qemu's forwards)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    """What a command in the guest did."""

    returncode: int
    stdout: str
    stderr: str


class Guest:
    """One boot of the guest disk image, with ssh and INDI forwarded to loopback.

    Args:
        guest_dir: what build-guest.sh made (rootfs/, vmlinuz, initrd.img, id_ed25519).
        work: a directory for this run's disk image and logs.
    """

    def __init__(self, guest_dir: Path, work: Path) -> None:
        self.guest_dir = guest_dir
        self.work = work
        self.image = work / "disk.img"
        self.console = work / "console.log"
        self.ssh_port = free_port()
        self.indi_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    # -- life cycle --

    def make_image(self) -> None:
        """A fresh ext4 disk image of the guest's root filesystem."""
        self.image.unlink(missing_ok=True)
        with self.image.open("wb") as f:
            f.truncate(4 << 30)
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-d", str(self.guest_dir / "rootfs"), str(self.image)],
            check=True,
            timeout=300,
        )

    def boot(self, timeout: float = 240) -> float:
        """Start qemu and wait for ssh; returns the seconds it took."""
        started = time.monotonic()
        forwards = (
            f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22,"
            f"hostfwd=tcp:127.0.0.1:{self.indi_port}-:7624"
        )
        command = [
            "qemu-system-x86_64",
            *("-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "2048"),
            *("-kernel", str(self.guest_dir / "vmlinuz")),
            *("-initrd", str(self.guest_dir / "initrd.img")),
            *("-append", "root=/dev/vda rw console=ttyS0 quiet"),
            *("-drive", f"file={self.image},format=raw,if=virtio"),
            *("-netdev", f"user,id=net0,{forwards}", "-device", "virtio-net-pci,netdev=net0"),
            *("-display", "none", "-serial", f"file:{self.console}", "-monitor", "none"),
            # For scripts/test-system.sh, which kills it if this process is killed.
            *("-pidfile", str(self.work / "qemu.pid")),
        ]
        log = (self.work / "qemu.log").open("ab")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent
        )
        self.wait_for_ssh(timeout)
        return time.monotonic() - started

    def wait_for_ssh(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise GuestError(f"qemu exited with {self.proc.returncode}: see {self.work}")
            with contextlib.suppress(GuestError, subprocess.TimeoutExpired):
                if self.run("systemctl is-system-running --wait", timeout=30, check=False).stdout:
                    return
            time.sleep(1)
        raise GuestError(f"no ssh from the guest in {timeout:.0f} s: see {self.console}")

    def reboot(self, timeout: float = 240) -> float:
        """Reboot the guest (systemd's shutdown, then a new boot in the same qemu)."""
        started = time.monotonic()
        boot_id = self.run("cat /proc/sys/kernel/random/boot_id").stdout.strip()
        with contextlib.suppress(GuestError, subprocess.TimeoutExpired):
            self.run("systemctl reboot", check=False, timeout=15)  # sshd may go first
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(GuestError, subprocess.TimeoutExpired):
                now = self.run("cat /proc/sys/kernel/random/boot_id", timeout=10).stdout.strip()
                if now and now != boot_id:
                    self.wait_for_ssh(deadline - time.monotonic())
                    return time.monotonic() - started
            time.sleep(2)
        raise GuestError(f"the guest did not come back in {timeout:.0f} s")

    def stop(self) -> None:
        """Power the guest off (or kill qemu when it does not go in time)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.run("systemctl poweroff", check=False, timeout=10)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    # -- commands --

    def _ssh(self) -> list[str]:
        return [
            "ssh",
            *("-i", str(self.guest_dir / "id_ed25519")),
            *("-p", str(self.ssh_port)),
            *("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"),
            *("-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes"),
            "root@127.0.0.1",
        ]

    def run(self, command: str, *, timeout: float = 120, check: bool = True) -> Result:
        """Run a shell command as root in the guest."""
        done = subprocess.run(
            [*self._ssh(), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode == 255:
            raise GuestError(f"ssh failed: {done.stderr.strip()}")
        result = Result(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise GuestError(
                f"{command!r} exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
            )
        return result

    def put(self, *files: Path, to: str = "/root/") -> None:
        """Copy files into the guest."""
        subprocess.run(
            [
                "scp",
                *("-i", str(self.guest_dir / "id_ed25519"), "-P", str(self.ssh_port)),
                *("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"),
                *("-o", "LogLevel=ERROR", "-o", "BatchMode=yes"),
                *(str(f) for f in files),
                f"root@127.0.0.1:{to}",
            ],
            check=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def write(self, path: str, text: str) -> None:
        """Write a text file in the guest."""
        self.run(f"cat > {shlex.quote(path)} <<'PI_INDI_EOF'\n{text}\nPI_INDI_EOF")
