"""show-config tells, for each setting a client may change, the value in effect and its origin.

The settings are those pi-indi keeps in ``settings.toml`` of the state
directory (labels, pulse durations, polling periods, what CONFIG_PROCESS
works on); the config file is the administrator's and is never rewritten.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from pi_indi import cli

CONFIG = """\
[state]
directory = "{state}"
restore = true

[[device]]
name = "Roof Relays"
driver = "relay"
pins = [17, 27]
labels = ["Open roof", "Close roof"]

[[device]]
name = "Roof Limits"
driver = "button"
pins = [22, 23]
labels = ["Fully opened", "Fully closed"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pi-indi.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return path


def show(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["show-config", "--config", str(config)]) == 0
    return capsys.readouterr().out


def test_show_config_gives_the_config_files_values_when_nothing_is_saved(config, capsys):
    out = show(config, capsys)
    source = str(config)
    assert f'#   DIGITAL_OUTPUT_LABELS.DIGITAL_OUTPUT_1 = "Open roof"  # from {source}' in out
    assert f"#   PULSE_1.DURATION = 0.0  # from {source}" in out
    assert f'#   DIGITAL_INPUT_LABELS.DIGITAL_INPUT_2 = "Fully closed"  # from {source}' in out
    assert "# [Roof Relays]" in out
    assert "# [Roof Limits]" in out
    # Still a config file, and nothing was written in the state directory.
    tomllib.loads(out.split("\n", 1)[1])
    assert not (config.parent / "state").exists()


def test_show_config_tells_the_settings_a_client_saved(config, capsys):
    state = config.parent / "state"
    state.mkdir()
    settings = {
        "Roof Relays": {
            "labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_2": "Shut"}},
            "pulse_ms": {"PULSE_0": 1500.0},
        }
    }
    (state / "settings.toml").write_text(tomli_w.dumps(settings))
    before = config.read_text()
    out = show(config, capsys)
    saved = f"saved by a client in {state / 'settings.toml'}"
    assert f'#   DIGITAL_OUTPUT_LABELS.DIGITAL_OUTPUT_1 = "Open roof"  # from {config}' in out
    assert f'#   DIGITAL_OUTPUT_LABELS.DIGITAL_OUTPUT_2 = "Shut"  # {saved}' in out
    assert f"#   PULSE_0.DURATION = 1500.0  # {saved}" in out
    assert f"#   PULSE_1.DURATION = 0.0  # from {config}" in out
    # The effective config shows the file's labels: the saved ones are settings on top.
    shown = tomllib.loads(out.split("\n", 1)[1])
    assert shown["device"][0]["labels"] == ["Open roof", "Close roof"]
    assert config.read_text() == before
    assert tomllib.loads((state / "settings.toml").read_text()) == settings
    assert sorted(p.name for p in state.iterdir()) == ["settings.toml"]
