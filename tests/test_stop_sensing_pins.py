"""A sensing pin that is an output only for moments is not held at stop."""

from __future__ import annotations

import logging

from pi_indi.appliance import Appliance
from pi_indi.config import parse_config


async def test_stopping_a_light_sensor_logs_no_error(caplog):
    config = parse_config(
        '[gpio]\npin_factory = "mock"\n'
        '[[device]]\ndriver = "light_sensor"\nname = "Sky"\npin = 18\n'
        '[[device]]\ndriver = "relay"\nname = "Relays"\npins = [17]\n',
        source="test.toml",
    )
    appliance = Appliance(config)
    appliance.build()
    with caplog.at_level(logging.WARNING):
        appliance.close()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
