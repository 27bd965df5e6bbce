"""INDI number formats, number parsing, timestamps and BLOB helpers.

Pure functions: nothing here reads a clock or touches I/O.
"""

from __future__ import annotations

import binascii
import math
import re
import zlib
from datetime import UTC, datetime

__all__ = [
    "blob_size",
    "decode_base64",
    "encode_base64",
    "format_number",
    "format_timestamp",
    "number_to_wire",
    "parse_number",
    "parse_timestamp",
]

# A printf conversion for a C double, as INDI's numberFormat allows (white paper
# 1.7, "numberFormat"), or INDI's own sexagesimal %<w>.<f>m.
_PRINTF = re.compile(r"%([-+ 0#]*)(\d*)(?:\.(\d*))?([diouxXeEfFgGm])")

# Fraction width -> units per whole, as libindi's numberFormat() (indicom.c)
# maps them. Any other width falls back to whole minutes there, and here too.
_SEXA_FRACBASE = {9: 360000, 8: 36000, 6: 3600, 5: 600, 3: 60}


def _format_sexagesimal(value: float, width: int, frac: int) -> str:
    # A port of libindi's fs_sexa(): round once, to the nearest unit of the
    # smallest field, and only then split into fields. Rounding each field on
    # its own is how 23.999999 becomes "23:59:60.0"; rounding first gives the
    # carry for free ("24:00:00.0").
    fracbase = _SEXA_FRACBASE.get(frac, 60)
    whole_width = max(width - frac, 0)
    negative = value < 0
    n = int(abs(value) * fracbase + 0.5)
    degrees, f = divmod(n, fracbase)
    if negative and degrees == 0:
        out = " " * max(whole_width - 2, 0) + "-0"
    else:
        out = f"{-degrees if negative else degrees:{whole_width}d}"
    if fracbase == 60:
        return f"{out}:{f:02d}"
    if fracbase == 600:
        return f"{out}:{f // 10:02d}.{f % 10:1d}"
    minutes, seconds = divmod(f, fracbase // 60)
    if fracbase == 3600:
        return f"{out}:{minutes:02d}:{seconds:02d}"
    if fracbase == 36000:
        return f"{out}:{minutes:02d}:{seconds // 10:02d}.{seconds % 10:1d}"
    return f"{out}:{minutes:02d}:{seconds // 100:02d}.{seconds % 100:02d}"


def format_number(value: float, fmt: str) -> str:
    """Format *value* for display with an INDI ``numberFormat``.

    Supports the printf conversions for a double (``%f %e %g``, with flags,
    width and precision), integer conversions (``%d``; the value is truncated
    to an int as C clients do), and INDI sexagesimal ``%<w>.<f>m`` with
    fraction widths 3 (``:mm``), 5 (``:mm.m``), 6 (``:mm:ss``), 8
    (``:mm:ss.s``) and 9 (``:mm:ss.ss``), with correct carry::

        >>> format_number(23.999999, "%10.8m")
        '24:00:00.0'
        >>> format_number(-0.5, "%7.3m")
        '  -0:30'

    Raises:
        ValueError: *fmt* holds no usable conversion.
    """
    m = _PRINTF.search(fmt)
    if m is None:
        raise ValueError(f"not an INDI number format: {fmt!r}")
    conv = m.group(4)
    if not math.isfinite(value):
        return repr(value)
    if conv == "m":
        width = int(m.group(2) or 0)
        frac = int(m.group(3) or 0)
        return fmt[: m.start()] + _format_sexagesimal(value, width, frac) + fmt[m.end() :]
    try:
        if conv in "diouxX":
            return fmt % int(value)
        return fmt % value
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an INDI number format: {fmt!r}") from exc


# Separators the white paper allows between sexagesimal fields: colon,
# semicolon or space ("-10:30:18", "-10 30.3" and "-10.505" are one value).
_SEXA_SPLIT = re.compile(r"\s*[:;]\s*|\s+")
_FIELD_CHARS = frozenset("0123456789.eE+-")


def parse_number(text: str | float) -> float:
    """Parse an INDI ``numberValue``: decimal, exponent or sexagesimal.

    Sexagesimal fields may be separated by ``:``, ``;`` or spaces, each field
    may be a decimal, missing fields count as zero and only a leading ``-``
    makes the value negative::

        >>> parse_number("12:30:00"), parse_number("-0:30"), parse_number("12 30")
        (12.5, -0.5, 12.5)

    Raises:
        ValueError: *text* is not a finite INDI number.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        if not text.isascii():  # float() reads Arabic-Indic digits; C clients do not
            raise ValueError(f"not an INDI number: {text!r}")
        try:
            value = float(text)
        except ValueError:
            value = _parse_sexagesimal(text)
        else:
            if "_" in text:  # Python's float() takes "1_0"; INDI does not
                raise ValueError(f"not an INDI number: {text!r}")
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _parse_sexagesimal(text: str) -> float:
    s = text.strip()
    negative = s.startswith("-")
    if negative or s.startswith("+"):
        s = s[1:]
    parts = _SEXA_SPLIT.split(s)
    if not s or len(parts) > 3:
        raise ValueError(f"not an INDI number: {text!r}")
    total = 0.0
    scale = 1.0
    for part in parts:
        if part:
            if part[0] in "+-" or not _FIELD_CHARS.issuperset(part):
                raise ValueError(f"not an INDI number: {text!r}")
            try:
                total += float(part) / scale
            except ValueError:
                raise ValueError(f"not an INDI number: {text!r}") from None
        scale *= 60.0
    return -total if negative else total


def number_to_wire(value: float | str) -> str:
    """Render a number for the wire: C-locale decimal that round-trips exactly.

    Integral values are written without a fraction (``5``), others with
    Python's shortest round-trip repr (``0.1``, ``1e-06``). Number text,
    sexagesimal included, is parsed and written the same way.

    Raises:
        ValueError: the value is not a finite INDI number.
    """
    if isinstance(value, str):
        # Sexagesimal text is converted: clients such as indi_eval read values
        # with atof(), which would stop at the first colon.
        value = parse_number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def format_timestamp(ts: datetime) -> str:
    """Render a timestamp as INDI sends them: naive UTC ISO 8601.

    Aware datetimes are converted to UTC first; naive ones are taken to be UTC.
    Microseconds are written only when present::

        >>> format_timestamp(datetime(2026, 11, 22, 1, 2, 3))
        '2026-11-22T01:02:03'
    """
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(sep="T")


def parse_timestamp(text: str) -> datetime | None:
    """Parse an INDI ``timeValue`` leniently; None when it cannot be read.

    Accepts whole or fractional seconds (any number of digits), a ``T`` or a
    space between date and time, and a ``Z`` or offset suffix (converted to
    UTC). The result is naive UTC.
    """
    try:
        ts = datetime.fromisoformat(text.strip())
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # unreadable, or out of range once in UTC
        return None
    return ts


def encode_base64(data: bytes) -> bytes:
    """Base64 for a ``oneBLOB``: RFC 4648 alphabet, padded, no line breaks."""
    return binascii.b2a_base64(data, newline=False)


def decode_base64(text: bytes | str) -> bytes:
    """Decode a ``oneBLOB`` body, ignoring the line breaks libindi inserts.

    Raises:
        ValueError: the text is not base64.
    """
    try:
        return binascii.a2b_base64(text)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise ValueError(f"bad base64 BLOB data: {exc}") from exc


def blob_size(data: bytes, fmt: str) -> int:
    """The ``size`` INDI wants for a BLOB: its length after inflating ``.z``.

    Raises:
        ValueError: the format ends in ``.z`` but the data is not a zlib stream.
    """
    if not fmt.endswith(".z"):
        return len(data)
    inflater = zlib.decompressobj()
    size = 0
    try:
        # Inflate in bounded pieces so a small bomb cannot take all memory just
        # to be measured.
        chunk = inflater.decompress(data, 1 << 20)
        while chunk:
            size += len(chunk)
            chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
    except zlib.error as exc:
        raise ValueError(f"BLOB format {fmt!r} says zlib, but the data is not: {exc}") from exc
    if not inflater.eof:
        raise ValueError(f"BLOB format {fmt!r} says zlib, but the stream is truncated")
    return size
