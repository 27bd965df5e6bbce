from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pi_indi.protocol import (
    blob_size,
    decode_base64,
    encode_base64,
    format_number,
    format_timestamp,
    number_to_wire,
    parse_number,
    parse_timestamp,
)

# -- format_number ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        pytest.param(3.14159, "%f", "3.141590", id="f-default"),
        pytest.param(3.14159, "%8.3f", "   3.142", id="f-width-precision"),
        pytest.param(-3.14159, "%-8.2f", "-3.14   ", id="f-left-aligned"),
        pytest.param(2.5, "%+.1f", "+2.5", id="f-plus-flag"),
        pytest.param(7.0, "%06.2f", "007.00", id="f-zero-pad"),
        pytest.param(12345.678, "%e", "1.234568e+04", id="e-default"),
        pytest.param(12345.678, "%.2e", "1.23e+04", id="e-precision"),
        pytest.param(0.000123, "%10.3E", " 1.230E-04", id="E-width"),
        pytest.param(0.0001, "%g", "0.0001", id="g-small"),
        pytest.param(123456789.0, "%g", "1.23457e+08", id="g-large"),
        pytest.param(1.5, "%.3g", "1.5", id="g-precision"),
        pytest.param(42.0, "%5d", "   42", id="d-width"),
        pytest.param(5.0, "%6.3d", "   005", id="d-width-precision"),
        pytest.param(1.9, "%d", "1", id="d-truncates"),
        pytest.param(-1.9, "%d", "-1", id="d-truncates-toward-zero"),
        pytest.param(255.0, "%x", "ff", id="x-hex"),
        pytest.param(1.5, "x=%5.1f V", "x=  1.5 V", id="text-around-conversion"),
        pytest.param(math.inf, "%f", "inf", id="f-inf"),
        pytest.param(math.nan, "%g", "nan", id="g-nan"),
    ],
)
def test_format_number_printf(value, fmt, expected):
    assert format_number(value, fmt) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        # f = 3: dd:mm
        pytest.param(12.5, "%7.3m", "  12:30", id="f3"),
        pytest.param(-123.75, "%7.3m", "-123:45", id="f3-white-paper"),
        pytest.param(-0.5, "%7.3m", "  -0:30", id="f3-negative-zero-degrees"),
        pytest.param(0.0, "%7.3m", "   0:00", id="f3-zero"),
        pytest.param(12.999, "%7.3m", "  13:00", id="f3-carry"),
        pytest.param(1234.5, "%6.3m", "1234:30", id="f3-wider-than-width"),
        # f = 5: dd:mm.m
        pytest.param(12.5, "%8.5m", " 12:30.0", id="f5"),
        pytest.param(-10.505, "%8.5m", "-10:30.3", id="f5-negative"),
        pytest.param(23.99999, "%8.5m", " 24:00.0", id="f5-carry"),
        # f = 6: dd:mm:ss
        pytest.param(62 / 3600, "%9.6m", "  0:01:02", id="f6-white-paper"),
        pytest.param(-10.505, "%9.6m", "-10:30:18", id="f6-negative"),
        pytest.param(359.99999, "%9.6m", "360:00:00", id="f6-carry"),
        pytest.param(-1 / 3600, "%9.6m", " -0:00:01", id="f6-negative-zero-degrees"),
        # f = 8: dd:mm:ss.s
        pytest.param(23.999999, "%10.8m", "24:00:00.0", id="f8-carry"),
        pytest.param(12.5 + 1.25 / 3600, "%10.8m", "12:30:01.3", id="f8"),
        pytest.param(-0.5, "%10.8m", "-0:30:00.0", id="f8-negative-zero-degrees"),
        # f = 9: dd:mm:ss.ss
        pytest.param(-12.5083, "%11.9m", "-12:30:29.88", id="f9-negative"),
        pytest.param(1 + 2 / 60 + 3.45 / 3600, "%11.9m", " 1:02:03.45", id="f9"),
        pytest.param(9.9999999, "%11.9m", "10:00:00.00", id="f9-carry"),
        # Any other fraction width falls back to dd:mm, as in libindi.
        pytest.param(12.5, "%6.2m", "  12:30", id="f2-falls-back-to-minutes"),
        pytest.param(12.5, "RA %9.6m h", "RA  12:30:00 h", id="text-around-m"),
    ],
)
def test_format_number_sexagesimal(value, fmt, expected):
    assert format_number(value, fmt) == expected


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="no-conversion"),
        pytest.param("%", id="bare-percent"),
        pytest.param("%q", id="unknown-conversion"),
        pytest.param("%s", id="string-conversion"),
        pytest.param("%5.2", id="missing-conversion"),
        pytest.param("%5.2f %d", id="two-conversions"),
        pytest.param("%*d", id="star-width"),
    ],
)
def test_format_number_rejects_bad_formats(fmt):
    with pytest.raises(ValueError, match="not an INDI number format"):
        format_number(1.0, fmt)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(math.inf, "inf", id="inf"),
        pytest.param(-math.inf, "-inf", id="minus-inf"),
        pytest.param(math.nan, "nan", id="nan"),
    ],
)
def test_format_number_sexagesimal_renders_non_finite_like_printf(value, expected):
    assert format_number(value, "%9.6m") == expected


# -- parse_number -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.5", 1.5, id="decimal"),
        pytest.param("-42", -42.0, id="negative-integer"),
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("5.", 5.0, id="trailing-dot"),
        pytest.param("-2.5e3", -2500.0, id="exponent"),
        pytest.param("1E-3", 0.001, id="upper-exponent"),
        pytest.param("+5", 5.0, id="plus-sign"),
        pytest.param(" 7 ", 7.0, id="surrounding-blanks"),
        pytest.param("12:30:00", 12.5, id="sexagesimal-colons"),
        pytest.param("12:30", 12.5, id="sexagesimal-two-fields"),
        pytest.param("-0:30", -0.5, id="negative-zero-degrees"),
        pytest.param("12 30", 12.5, id="space-separator"),
        pytest.param("12;30", 12.5, id="semicolon-separator"),
        pytest.param("12 : 30", 12.5, id="blanks-around-colon"),
        pytest.param("-10:30:18", -10.505, id="negative-sexagesimal"),
        pytest.param("-10 30.3", -10.505, id="decimal-minutes"),
        pytest.param("+1:30", 1.5, id="plus-sexagesimal"),
    ],
)
def test_parse_number_accepts(text, expected):
    assert parse_number(text) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("1:2:3:4", id="four-fields"),
        pytest.param("inf", id="inf"),
        pytest.param("-Infinity", id="minus-infinity"),
        pytest.param("nan", id="nan"),
        pytest.param("1e400", id="overflow"),
        pytest.param("1_0", id="underscore"),
        pytest.param("1:2_0", id="underscore-in-field"),
        pytest.param("-12:-30", id="sign-in-later-field"),
        pytest.param("12:+30", id="plus-in-later-field"),
        pytest.param("12:x", id="letter-field"),
        pytest.param("0x10", id="hex"),
        pytest.param("--1", id="double-sign"),
    ],
)
def test_parse_number_rejects(text):
    with pytest.raises(ValueError, match=r"^not (an INDI|a finite) number"):
        parse_number(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\u0661\u0662", id="arabic-indic-digits"),
        pytest.param("\uff15", id="fullwidth-digit"),
    ],
)
def test_parse_number_rejects_non_ascii_digits(text):
    with pytest.raises(ValueError, match="not an INDI number"):
        parse_number(text)


# -- number_to_wire ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5.0, "5", id="integral-float"),
        pytest.param(5, "5", id="int"),
        pytest.param(-3.0, "-3", id="negative-integral"),
        pytest.param(0.1, "0.1", id="shortest-repr"),
        pytest.param(1e-6, "1e-06", id="small"),
        pytest.param(1e16, "1e+16", id="large-integral"),
        pytest.param("12:30", "12.5", id="sexagesimal-text"),
        pytest.param(" 2.50 ", "2.5", id="number-text"),
    ],
)
def test_number_to_wire(value, expected):
    assert number_to_wire(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param(-math.inf, id="minus-inf"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="none"),
        pytest.param("abc", id="text"),
        pytest.param("inf", id="inf-text"),
    ],
)
def test_number_to_wire_rejects(value):
    with pytest.raises(ValueError, match=r"^not (a|an INDI|a finite) number"):
        number_to_wire(value)


# -- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        pytest.param(datetime(2026, 11, 22, 1, 2, 3), "2026-11-22T01:02:03", id="naive"),
        pytest.param(
            datetime(2026, 11, 22, 1, 2, 3, 500), "2026-11-22T01:02:03.000500", id="micro"
        ),
        pytest.param(datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC), "2026-11-22T01:02:03", id="utc"),
        pytest.param(
            datetime(2026, 11, 22, 1, 2, 3, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-21T23:02:03",
            id="aware-converted-to-utc",
        ),
    ],
)
def test_format_timestamp(ts, expected):
    assert format_timestamp(ts) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-11-22T01:02:03", datetime(2026, 11, 22, 1, 2, 3), id="naive"),
        pytest.param(
            "2026-11-22T01:02:03.5", datetime(2026, 11, 22, 1, 2, 3, 500000), id="fraction-1"
        ),
        pytest.param(
            "2026-11-22T01:02:03.25", datetime(2026, 11, 22, 1, 2, 3, 250000), id="fraction-2"
        ),
        pytest.param(
            "2026-11-22T01:02:03.123456", datetime(2026, 11, 22, 1, 2, 3, 123456), id="fraction-6"
        ),
        pytest.param(
            "2026-11-22T01:02:03.123456789",
            datetime(2026, 11, 22, 1, 2, 3, 123456),
            id="fraction-9",
        ),
        pytest.param("2026-11-22T01:02:03Z", datetime(2026, 11, 22, 1, 2, 3), id="zulu"),
        pytest.param(
            "2026-11-22T01:02:03+02:00", datetime(2026, 11, 21, 23, 2, 3), id="offset-to-utc"
        ),
        pytest.param("2026-11-22 01:02:03", datetime(2026, 11, 22, 1, 2, 3), id="space"),
        pytest.param(" 2026-11-22T01:02:03\n", datetime(2026, 11, 22, 1, 2, 3), id="blanks"),
        pytest.param("garbage", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("2026-13-01T00:00:00", None, id="bad-month"),
        pytest.param("2026-11-22T25:00:00", None, id="bad-hour"),
    ],
)
def test_parse_timestamp(text, expected):
    result = parse_timestamp(text)
    assert result == expected
    if result is not None:
        assert result.tzinfo is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1"),
        pytest.param("9999-12-31T23:59:59-01:00", id="after-year-9999"),
    ],
)
def test_parse_timestamp_out_of_range_in_utc_is_none(text):
    assert parse_timestamp(text) is None


def test_timestamp_round_trip_keeps_microseconds():
    ts = datetime(2026, 1, 2, 3, 4, 5, 678901)
    assert parse_timestamp(format_timestamp(ts)) == ts


# -- base64 and BLOB sizes --------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"a", id="one"),
        pytest.param(b"ab", id="two"),
        pytest.param(b"abc", id="three"),
        pytest.param(bytes(range(256)) * 4, id="all-bytes"),
    ],
)
def test_base64_round_trip(data):
    text = encode_base64(data)
    assert b"\n" not in text
    assert decode_base64(text) == data
    assert decode_base64(text.decode("ascii")) == data


def test_encode_base64_is_padded_standard_alphabet():
    assert encode_base64(b"abc") == b"YWJj"
    assert encode_base64(b"ab") == b"YWI="
    assert encode_base64(b"\xfb\xff") == b"+/8="


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"YWJj\nZGVm\n", id="lf"),
        pytest.param(b"YWJj\r\nZGVm\r\n", id="crlf"),
        pytest.param(b"\n  YWJjZGVm  \n", id="surrounding-blanks"),
        pytest.param(b"YW\nJj\nZG\nVm", id="short-lines"),
    ],
)
def test_decode_base64_ignores_line_breaks(text):
    assert decode_base64(text) == b"abcdef"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"Y", id="bad-padding"),
        pytest.param("YWJj\u00e9", id="non-ascii-text"),
    ],
)
def test_decode_base64_rejects(text):
    with pytest.raises(ValueError, match="base64"):
        decode_base64(text)


@pytest.mark.parametrize(
    ("data", "fmt", "expected"),
    [
        pytest.param(b"abc", ".fits", 3, id="plain"),
        pytest.param(b"", ".fits", 0, id="empty"),
        pytest.param(zlib.compress(b"x" * 5000), ".fits.z", 5000, id="zlib-inflated"),
        pytest.param(zlib.compress(b""), ".z", 0, id="zlib-empty"),
        pytest.param(b"not zlib", ".fits.zip", 8, id="z-not-at-end"),
    ],
)
def test_blob_size(data, fmt, expected):
    assert blob_size(data, fmt) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"definitely not zlib", id="garbage"),
        pytest.param(zlib.compress(b"x" * 5000)[:-6], id="truncated"),
    ],
)
def test_blob_size_rejects_bad_zlib(data):
    with pytest.raises(ValueError, match="zlib"):
        blob_size(data, ".fits.z")
