"""The config checker: a table of bad files, each with the exact messages expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pi_indi.config import (
    config_to_dict,
    load_config,
    parse_config,
)
from pi_indi.errors import ConfigError, ConfigIssue
from pi_indi.registry import DriverStatus
from tests.helpers import KNOWN, find, parse


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return [str(issue) for issue in info.value.issues]


BAD_FILES = [
    pytest.param(
        "[server\nport = 1",
        ["not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)"],
        id="toml-syntax",
    ),
    pytest.param(
        "[server]\nport = 1\nport = 2",
        ["not valid TOML: Cannot overwrite a value (at end of document)"],
        id="duplicate-key",
    ),
    pytest.param(
        "[sever]\nport = 1", ["sever: unknown table; did you mean 'server'?"], id="unknown-table"
    ),
    pytest.param(
        "server = 5", ["server: must be a table ([server]), not an integer"], id="table-not-table"
    ),
    pytest.param(
        "[server]\nprot = 7624\nport = 70000\nmaxconnections = 0\nhost = 1",
        [
            "server.prot: unknown key; did you mean 'port'?",
            "server.host: must be a string, not an integer (1)",
            "server.port: must be between 1 and 65535, not 70000",
            "server.maxconnections: must be at least 1, not 0",
        ],
        id="server-table",
    ),
    pytest.param(
        "[server]\nport = 7624.0",
        ["server.port: must be an integer, not 7624.0"],
        id="float-for-int",
    ),
    pytest.param(
        "[server]\nport = true",
        ["server.port: must be an integer, not a boolean (True)"],
        id="bool-for-int",
    ),
    pytest.param(
        "[server]\nmax_client_queue_mb = nan",
        ["server.max_client_queue_mb: must be a finite number, not nan"],
        id="nan",
    ),
    pytest.param(
        '[server]\nallow = ["10.0.0.0/8", "10.0.0.300/8", "192.168.1.5/24", "lan", "fd00::/8"]',
        [
            "server.allow[1]: '10.0.0.300/8' is not a network in CIDR notation (such as '192.168.1.0/24', 'fd00::/8' or one address)",
            "server.allow[2]: '192.168.1.5/24' has host bits set; did you mean '192.168.1.0/24'?",
            "server.allow[3]: 'lan' is not a network in CIDR notation (such as '192.168.1.0/24', 'fd00::/8' or one address)",
        ],
        id="allow-bad-cidr",
    ),
    pytest.param(
        "[server]\nallow = []",
        ['server.allow: lets no client in; ["0.0.0.0/0", "::/0"] lets everyone in'],
        id="allow-empty",
    ),
    pytest.param(
        '[server]\nallow = ["10.0.0.0/8", 7]',
        ["server.allow[1]: must be a string, not an integer (7)"],
        id="allow-not-a-string",
    ),
    pytest.param(
        '[server]\nbind = ["127.0.0.1", "pi.local", "127.0.0.1"]',
        [
            "server.bind[1]: 'pi.local' is not an IP address (such as '127.0.0.1' or '192.168.1.20')",
            "server.bind[2]: '127.0.0.1' is already bind[0]",
        ],
        id="bind-bad-and-twice",
    ),
    pytest.param(
        '[server]\nbind = ["0.0.0.0", "192.168.1.20", "::1"]',
        [
            "server.bind[0]: '0.0.0.0' is every IPv4 address already; list it alone, or list the addresses without it"
        ],
        id="bind-any-and-one",
    ),
    pytest.param(
        "[server]\nmax_element_kb = 0\nmax_blob_mb = -1\nmax_connections_per_minute = -5",
        [
            "server.max_connections_per_minute: must be at least 0, not -5",
            "server.max_element_kb: must be between 1 and 65536 KiB, not 0",
            "server.max_blob_mb: must be between 0.01 and 4096 MiB, not -1",
        ],
        id="limits",
    ),
    pytest.param(
        "[server]\nmax_element_kb = 1.5",
        ["server.max_element_kb: must be an integer, not 1.5"],
        id="limit-not-integer",
    ),
    pytest.param(
        '[[device]]\ndriver = "plain"\nname = "A"\nreadonly = "yes"',
        ["device[0] ('A').readonly: must be true or false, not a string"],
        id="readonly-not-bool",
    ),
    pytest.param(
        '[gpio]\npin_factory = "lgpoi"',
        [
            "gpio.pin_factory: must be one of 'auto', 'lgpio', 'rpigpio', 'pigpio', 'native', 'mock', not 'lgpoi'; did you mean 'lgpio'?"
        ],
        id="factory-typo",
    ),
    pytest.param(
        '[gpio]\nmock_revision = "pi5"',
        ["gpio.mock_revision: must be a hex board revision, not 'pi5'"],
        id="revision",
    ),
    pytest.param(
        '[state]\nrestore = "yes"',
        ["state.restore: must be true or false, not a string ('yes')"],
        id="bool",
    ),
    pytest.param(
        '[[device]]\ndriver = "lmap"\nname = "A"',
        ["device[0] ('A').driver: unknown driver 'lmap'; did you mean 'lamp'?"],
        id="driver-typo",
    ),
    pytest.param(
        '[[device]]\ndriver = "zzz"\nname = "A"',
        [
            "device[0] ('A').driver: unknown driver 'zzz' (known drivers: lamp, sonar, plain; or 'module:Class')"
        ],
        id="driver-unknown",
    ),
    pytest.param(
        '[[device]]\ndriver = "lmap"\nname = "A"\npins = [17, 99]\n'
        '[[device]]\ndriver = "lamp"\nname = "B"\npins = [17]\n'
        '[[device]]\ndriver = "zzz"\nname = "C"\necho = "BOARD1"\ntrigger = 27\nlabels = [1]\n'
        '[[device]]\ndriver = "sonar"\nname = "D"\necho = 22\ntrigger = "GPIO27"',
        [
            "device[0] ('A').driver: unknown driver 'lmap'; did you mean 'lamp'?",
            "device[0] ('A').pins[1]: 99 is not a valid pin name on a simulated Raspberry Pi 5B",
            "device[1] ('B').pins[0]: GPIO17 is already used by device[0] ('A').pins[0]",
            "device[2] ('C').driver: unknown driver 'zzz' (known drivers: lamp, sonar, plain; or 'module:Class')",
            "device[2] ('C').echo: BOARD1 is not a GPIO pin on a simulated Raspberry Pi 5B",
            "device[3] ('D').trigger: GPIO27 is already used by device[2] ('C').trigger",
        ],
        id="driver-unknown-pins-still-checked",
    ),
    pytest.param(
        '[[device]]\nname = "A"\npin = "GPIO17x"\n[[device]]\ndriver = "lamp"\nname = "B"\npins = [17, "J8:11"]',
        [
            "device[0] ('A').driver: is required (one of: lamp, sonar, plain)",
            "device[0] ('A').pin: GPIO17x is not a valid pin name on a simulated Raspberry Pi 5B",
            "device[1] ('B').pins[1]: GPIO17 is already used by device[1] ('B').pins[0]",
        ],
        id="driver-missing-pins-still-checked",
    ),
    pytest.param(
        "[[device]]\npins = [17]",
        [
            "device[0].driver: is required (one of: lamp, sonar, plain)",
            "device[0].name: is required: the INDI device name clients see",
        ],
        id="device-missing-keys",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "Roof.Lamp"\npins = [17]',
        [
            "device[0] ('Roof.Lamp').name: 'Roof.Lamp' is not a usable device name (not empty, no surrounding blanks, no '.', which INDI tools use as a separator)"
        ],
        id="name-with-dot",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [17]\n[[device]]\ndriver = "lamp"\nname = "A"\npins = [27]',
        ["device[1] ('A').name: 'A' is already the name of device[0] ('A')"],
        id="name-twice",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"',
        ["device[0] ('A').pins: is required"],
        id="option-required",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [17, "BOARD11"]',
        ["device[0] ('A').pins[1]: GPIO17 is already used by device[0] ('A').pins[0]"],
        id="pin-twice-other-spelling",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = ["J8:11"]\n'
        '[[device]]\ndriver = "sonar"\nname = "B"\necho = 17\ntrigger = "GPIO18"',
        ["device[1] ('B').echo: GPIO17 is already used by device[0] ('A').pins[0]"],
        id="pin-twice-across-devices",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [99, "BOARD1", "GPIO17x", 2.5, []]',
        [
            "device[0] ('A').pins[0]: 99 is not a valid pin name on a simulated Raspberry Pi 5B",
            "device[0] ('A').pins[1]: BOARD1 is not a GPIO pin on a simulated Raspberry Pi 5B",
            "device[0] ('A').pins[2]: GPIO17x is not a valid pin name on a simulated Raspberry Pi 5B",
            "device[0] ('A').pins[3]: must be a pin number or name like 'GPIO17', not 2.5",
            "device[0] ('A').pins[4]: must be a pin number or name like 'GPIO17', not []",
        ],
        id="pins-not-on-board",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = []',
        ["device[0] ('A').pins: must name at least one pin"],
        id="pins-empty",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [17]\nactiv_high = false\n'
        'frequency = "100"\ncount = -1\nmode = "blnk"\nnote = 3\nenabled = "no"',
        [
            "device[0] ('A').enabled: must be true or false, not a string",
            "device[0] ('A').activ_high: unknown key; did you mean 'active_high'?",
            "device[0] ('A').frequency: must be a number, not a string ('100')",
            "device[0] ('A').count: must be at least 0, not -1",
            "device[0] ('A').mode: must be one of 'steady', 'blink', not 'blnk'; did you mean 'blink'?",
            "device[0] ('A').note: must be a string, not an integer (3)",
        ],
        id="options-all-at-once",
    ),
    pytest.param(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [17, 27]\nlabels = ["one"]',
        ["device[0] ('A').labels: has 1 labels for 2 pins"],
        id="cross-field",
    ),
    pytest.param(
        '[[device]]\ndriver = "plain"\nname = "A"\npin = 4',
        ["device[0] ('A').pin: unknown key: driver 'plain' takes no options"],
        id="no-options",
    ),
    pytest.param(
        'device = "x"', ["device: must be an array of tables ([[device]])"], id="device-not-array"
    ),
    pytest.param(
        "[device]\nname = 'x'",
        ["device: must be an array of tables ([[device]])"],
        id="device-single-table",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_file_reports_every_problem(text: str, expected: list[str]):
    assert issues_of(text) == expected


def test_every_problem_of_a_file_is_reported_at_once():
    text = (
        '[server]\nport = 0\n[gpio]\npin_factory = "foo"\n'
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [17]\n'
        '[[device]]\ndriver = "lamp"\nname = "B"\npins = [17]\n'
    )
    assert len(issues_of(text)) == 3


def test_error_text_lists_the_file_and_each_issue():
    error = ConfigError(
        [ConfigIssue("server.port", "must be between 1 and 65535, not 0"), ConfigIssue("", "x")],
        "/etc/pi-indi.toml",
    )
    assert str(error) == (
        "/etc/pi-indi.toml: 2 problems\n  server.port: must be between 1 and 65535, not 0\n  x"
    )


def test_defaults_fill_an_empty_file():
    config = parse("")
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 7624
    assert config.server.maxconnections == 5
    assert config.gpio.pin_factory == "auto"
    assert config.state.restore is False
    assert config.devices == ()


def test_access_keys_are_read():
    config = parse(
        '[server]\nallow = ["192.168.1.0/24", "fd00::/8", "10.1.2.3"]\n'
        'bind = ["127.0.0.1", "::1"]\nmax_connections_per_minute = 0\n'
        '[[device]]\ndriver = "plain"\nname = "A"\nreadonly = true\n'
        '[[device]]\ndriver = "plain"\nname = "B"'
    )
    assert config.server.allow == ("192.168.1.0/24", "fd00::/8", "10.1.2.3")
    assert config.server.bind == ("127.0.0.1", "::1")
    assert config.server.max_connections_per_minute == 0
    assert [(d.name, d.readonly) for d in config.devices] == [("A", True), ("B", False)]


def test_a_single_network_is_taken_for_the_allow_list():
    assert parse('[server]\nallow = "10.0.0.0/8"').server.allow == ("10.0.0.0/8",)


def test_pins_in_any_spelling_become_canonical_names():
    config = parse(
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = [4, "BCM5", "BOARD31", "J8:32", "WPI3"]'
    )
    assert config.devices[0].options.pins == ("GPIO4", "GPIO5", "GPIO6", "GPIO12", "GPIO22")


def test_a_single_value_is_taken_for_an_array():
    config = parse('[[device]]\ndriver = "lamp"\nname = "A"\npins = 17\nlabels = "Roof"')
    assert config.devices[0].options.pins == ("GPIO17",)
    assert config.devices[0].options.labels == ("Roof",)


def test_integers_are_taken_for_floats():
    config = parse('[[device]]\ndriver = "lamp"\nname = "A"\npins = [17]\nfrequency = 50')
    assert config.devices[0].options.frequency == 50.0
    assert isinstance(config.devices[0].options.frequency, float)


def test_a_driver_that_fails_to_load_is_recorded_not_a_config_error():
    config = parse('[[device]]\ndriver = "broken"\nname = "A"')
    (device,) = config.devices
    assert device.record is not None
    assert device.record.status is DriverStatus.LOAD_ERROR
    assert device.options is None


def test_disabled_devices_are_kept():
    config = parse('[[device]]\ndriver = "lamp"\nname = "A"\npins = [17]\nenabled = false')
    assert config.devices[0].enabled is False


def test_show_config_dict_has_defaults_and_canonical_pins():
    config = parse('[[device]]\ndriver = "lamp"\nname = "A"\npins = ["BOARD11"]')
    data = config_to_dict(config)
    assert data["server"] == {
        "host": "0.0.0.0",
        "port": 7624,
        "bind": [],
        "allow": [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ],
        "maxconnections": 5,
        "max_connections_per_minute": 120,
        "max_connections_per_address": 4,
        "handshake_seconds": 10.0,
        "max_client_queue_mb": 4.0,
        "max_element_kb": 1024,
        "max_blob_mb": 4.0,
    }
    assert data["device"] == [
        {
            "driver": "lamp",
            "name": "A",
            "enabled": True,
            "readonly": False,
            "pins": ["GPIO17"],
            "labels": [],
            "active_high": True,
            "frequency": 100.0,
            "count": 1,
            "mode": "steady",
        }
    ]


def test_load_config_reports_a_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert [str(i) for i in info.value.issues] == ["cannot read it: No such file or directory"]


def test_load_config_refuses_non_utf8(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"[server]\nhost = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, resolve_pin=None, find=find, known_drivers=[*KNOWN])
    assert info.value.issues[0].message.startswith("not UTF-8 text")


def test_an_unknown_mock_revision_is_reported_not_raised():
    # The default pin check asks the installed gpio back end for the board.
    text = '[gpio]\npin_factory = "mock"\nmock_revision = "123"\n[[device]]\ndriver = "led"\nname = "A"\npins = [17]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert [str(i) for i in info.value.issues] == [
        'gpio.mock_revision: unknown old-style revision "123": not a Raspberry Pi revision'
        " gpiozero knows (such as d04170, a Pi 5)"
    ]


def test_without_a_board_a_pin_written_twice_is_still_found():
    # No board to check pins against (resolve_pin=None; an unknown mock_revision):
    # what can be checked still is, a pin written the same way twice.
    text = (
        '[[device]]\ndriver = "lamp"\nname = "A"\npins = ["GPIO17"]\n'
        '[[device]]\ndriver = "zzz"\nname = "B"\npin = "GPIO17"\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, resolve_pin=None, find=find, known_drivers=[*KNOWN])
    assert [str(i) for i in info.value.issues] == [
        "device[1] ('B').driver: unknown driver 'zzz' (known drivers: lamp, sonar, plain; or 'module:Class')",
        "device[1] ('B').pin: GPIO17 is already used by device[0] ('A').pins[0]",
    ]


def test_a_driver_that_fails_to_load_is_a_warning_whatever_its_table_holds():
    # Its keys are its own (a plugin's `pin` may be an I/O expander's): one
    # broken plugin must not stop the other devices from being served.
    text = (
        '[[device]]\ndriver = "broken"\nname = "A"\npins = [17, "BOARD1"]\nenable = true\n'
        '[[device]]\ndriver = "lamp"\nname = "B"\npins = [17]\n'
    )
    config = parse(text)
    broken, lamp = config.devices
    assert broken.record is not None
    assert broken.record.cls is None
    assert lamp.record is not None
    assert lamp.record.cls is not None


def test_an_unknown_drivers_values_that_cannot_be_pins_are_not_checked_as_pins():
    # `echo` is a pin of the sonar driver, but `true` is no pin: the unknown
    # driver is the problem, not a made-up one about its options.
    found = issues_of('[[device]]\ndriver = "nosuch"\nname = "A"\npins = [17]\necho = true\n')
    assert len(found) == 1
    assert found[0].startswith("device[0] ('A').driver: unknown driver 'nosuch'")
