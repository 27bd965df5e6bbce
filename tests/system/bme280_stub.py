"""A BME280 on the kernel's simulated SMBus adapter, for the real bmp280 driver.

Run in the guest (``python3 bme280_stub.py``), it loads ``i2c-stub`` with a
chip at 0x76, writes a BME280's registers into it through ``/dev/i2c-N`` (the
chip id, the factory calibration and one measurement) and tells the kernel
there is a ``bme280`` there. The kernel's own IIO driver probes it and serves
``/sys/bus/iio/devices/iio:deviceN``, as on a Pi with
``dtoverlay=i2c-sensor,bme280,addr=0x76``. It prints the bus number.

On the host, :func:`expected` gives what the registers mean, by the integer
compensation formulas of Bosch's BME280 datasheet (section 4.2.3, "Compensation
formulas"), so the values pi-indi serves are checked against the datasheet, not
against what the kernel happened to print. The temperature and pressure
calibration and readings are the datasheet's own worked example (25.08 °C,
100653.27 Pa); the humidity calibration is a real chip's.

The guest has Python 3.11 and no i2c-tools, so this uses only the standard
library.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import subprocess
from pathlib import Path

ADDRESS = 0x76

#: The calibration words, as the datasheet names them, and their registers.
T1, T2, T3 = 27504, 26435, -1000
P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)  # P1..P9
H1, H2, H3, H4, H5, H6 = 75, 362, 0, 313, 50, 30
#: One measurement, as the ADC left it (20 bits for T and P, 16 for H).
ADC_T, ADC_P, ADC_H = 519888, 415148, 27000


def _le16(value: int) -> list[int]:
    value &= 0xFFFF
    return [value & 0xFF, value >> 8]


def registers() -> dict[int, int]:
    """Register address to byte, as the chip holds them."""
    regs = {0xD0: 0x60}  # chip id: a BME280 (a BMP280 says 0x58)
    words = [T1, T2, T3, *P]
    for i, word in enumerate(words):
        lo, hi = _le16(word)
        regs[0x88 + 2 * i] = lo
        regs[0x89 + 2 * i] = hi
    regs[0xA1] = H1
    regs[0xE1], regs[0xE2] = _le16(H2)
    regs[0xE3] = H3
    # H4 and H5 are 12 bits each, sharing 0xE5's nibbles.
    regs[0xE4] = H4 >> 4
    regs[0xE5] = ((H5 & 0x0F) << 4) | (H4 & 0x0F)
    regs[0xE6] = H5 >> 4
    regs[0xE7] = H6 & 0xFF
    regs[0xF7], regs[0xF8], regs[0xF9] = ADC_P >> 12, (ADC_P >> 4) & 0xFF, (ADC_P & 0xF) << 4
    regs[0xFA], regs[0xFB], regs[0xFC] = ADC_T >> 12, (ADC_T >> 4) & 0xFF, (ADC_T & 0xF) << 4
    regs[0xFD], regs[0xFE] = ADC_H >> 8, ADC_H & 0xFF
    return regs


def _c_div(a: int, b: int) -> int:
    """C's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def expected() -> tuple[float, float, float]:
    """(°C, hPa, %RH) by the datasheet's integer formulas."""
    var1 = (((ADC_T >> 3) - (T1 << 1)) * T2) >> 11
    var2 = (((((ADC_T >> 4) - T1) * ((ADC_T >> 4) - T1)) >> 12) * T3) >> 14
    t_fine = var1 + var2
    centi_celsius = (t_fine * 5 + 128) >> 8

    p1, p2, p3, p4, p5, p6, p7, p8, p9 = P
    v1 = t_fine - 128000
    v2 = v1 * v1 * p6
    v2 += (v1 * p5) << 17
    v2 += p4 << 35
    v1 = ((v1 * v1 * p3) >> 8) + ((v1 * p2) << 12)
    v1 = (((1 << 47) + v1) * p1) >> 33
    p = 1048576 - ADC_P
    p = _c_div(((p << 31) - v2) * 3125, v1)
    v1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    v2 = (p8 * p) >> 19
    q24_8_pascal = ((p + v1 + v2) >> 8) + (p7 << 4)

    h = t_fine - 76800
    h = ((((ADC_H << 14) - (H4 << 20) - (H5 * h)) + 16384) >> 15) * (
        ((((((h * H6) >> 10) * (((h * H3) >> 11) + 32768)) >> 10) + 2097152) * H2 + 8192) >> 14
    )
    h -= ((((h >> 15) * (h >> 15)) >> 7) * H1) >> 4
    h = min(max(h, 0), 419430400)
    q22_10_percent = h >> 12

    return centi_celsius / 100, q24_8_pascal / 256 / 100, q22_10_percent / 1024


class _SmbusData(ctypes.Union):
    _fields_ = [("byte", ctypes.c_uint8), ("block", ctypes.c_uint8 * 34)]


class _SmbusIoctl(ctypes.Structure):
    _fields_ = [
        ("read_write", ctypes.c_uint8),
        ("command", ctypes.c_uint8),
        ("size", ctypes.c_uint32),
        ("data", ctypes.POINTER(_SmbusData)),
    ]


# From <linux/i2c-dev.h> and <linux/i2c.h>.
I2C_SLAVE = 0x0703
I2C_SMBUS = 0x0720
I2C_SMBUS_WRITE = 0
I2C_SMBUS_BYTE_DATA = 2


def stub_bus() -> int:
    """The bus number of i2c-stub's adapter."""
    for adapter in Path("/sys/bus/i2c/devices").glob("i2c-*"):
        if (adapter / "name").read_text().startswith("SMBus stub"):
            return int(adapter.name.removeprefix("i2c-"))
    raise SystemExit("no SMBus stub adapter: is i2c-stub loaded?")


def main() -> None:
    subprocess.run(["modprobe", "i2c-stub", f"chip_addr={ADDRESS:#x}"], check=True)
    subprocess.run(["modprobe", "i2c-dev"], check=True)
    bus = stub_bus()
    fd = os.open(f"/dev/i2c-{bus}", os.O_RDWR)
    try:
        fcntl.ioctl(fd, I2C_SLAVE, ADDRESS)
        for register, value in registers().items():
            data = _SmbusData(byte=value)
            request = _SmbusIoctl(
                I2C_SMBUS_WRITE, register, I2C_SMBUS_BYTE_DATA, ctypes.pointer(data)
            )
            fcntl.ioctl(fd, I2C_SMBUS, request)
    finally:
        os.close(fd)
    Path(f"/sys/bus/i2c/devices/i2c-{bus}/new_device").write_text(f"bme280 {ADDRESS:#x}\n")
    print(bus)


if __name__ == "__main__":
    main()
