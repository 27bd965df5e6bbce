"""pi_indi._log: client text made safe for one log line, and log lines rate-limited."""

from __future__ import annotations

import logging

import pytest

from pi_indi._log import LogLimiter, shown

logger = logging.getLogger("tests.test_log")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger.name]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain name", "plain name"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("line\u2028sep\u2029para", "line\\u2028sep\\u2029para"),
        ("nul\x00\x7f", "nul\\x00\\x7f"),
        ("tab\there", "tab\\there"),
        ("café ☃", "café ☃"),
        (42, "42"),
    ],
)
def test_shown_escapes_what_is_not_printable(text, expected):
    assert shown(text) == expected


def test_shown_is_one_line_for_any_control_character():
    text = "".join(map(chr, range(0x20))) + "\x85\u2028\u2029"
    result = shown(text, limit=1000)
    assert result.isprintable()
    assert len(result.splitlines()) == 1


def test_shown_truncates_with_an_ellipsis():
    assert shown("x" * 500, limit=10) == "x" * 9 + "…"
    assert shown("x" * 10, limit=10) == "x" * 10
    assert len(shown("\n" * 500, limit=10)) == 10
    assert shown("\n" * 500, limit=10).isprintable()


def test_once_per_period_per_key(caplog, clock):
    caplog.set_level(logging.INFO, logger=logger.name)
    limiter = LogLimiter(logger, period=10.0, clock=clock)
    assert limiter.warning("k", "refused %s", "a")
    for _ in range(1000):
        assert not limiter.warning("k", "refused %s", "a")
    assert limiter.warning("other", "refused %s", "b")  # another key is not held back
    clock.now += 9.9
    assert not limiter.warning("k", "refused %s", "a")
    assert messages(caplog) == ["refused a", "refused b"]


def test_the_next_line_says_how_many_were_not_logged(caplog, clock):
    caplog.set_level(logging.INFO, logger=logger.name)
    limiter = LogLimiter(logger, period=10.0, clock=clock)
    for _ in range(5):
        limiter.warning(("1.2.3.4", "bad"), "bad request from %s", "1.2.3.4")
    clock.now += 10.0
    assert limiter.warning(("1.2.3.4", "bad"), "bad request from %s", "1.2.3.4")
    clock.now += 10.0
    assert limiter.warning(("1.2.3.4", "bad"), "bad request from %s", "1.2.3.4")
    assert messages(caplog) == [
        "bad request from 1.2.3.4",
        "bad request from 1.2.3.4 (and 4 more like this in the last 10 s)",
        "bad request from 1.2.3.4",
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3
    assert {r.funcName for r in caplog.records} == {
        "test_the_next_line_says_how_many_were_not_logged"
    }


def test_level_and_exc_info(caplog, clock):
    caplog.set_level(logging.INFO, logger=logger.name)
    limiter = LogLimiter(logger, clock=clock)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        assert limiter.log(logging.ERROR, "e", "failed", exc_info=True)
    (record,) = caplog.records
    assert record.funcName == "test_level_and_exc_info"
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert not limiter.log(logging.DEBUG, "d", "not enabled")


def test_distinct_keys_cannot_grow_memory(caplog, clock):
    caplog.set_level(logging.INFO, logger=logger.name)
    limiter = LogLimiter(logger, period=10.0, max_keys=100, clock=clock)
    logged = sum(limiter.warning(("addr", n), "flood %d", n) for n in range(100_000))
    assert len(limiter._keys) <= 101  # the keys, plus the one shared overflow key
    assert logged == 101  # 100 keys, then one line for all the overflow
    # Once their period has passed, old keys make room for new ones.
    clock.now += 10.0
    assert limiter.warning(("addr", "new"), "new key")
    assert ("addr", "new") in limiter._keys
    assert len(limiter._keys) <= 101
