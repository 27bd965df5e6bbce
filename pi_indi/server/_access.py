"""Who may connect: addresses, networks and connection rates (pure, no I/O)."""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["IPAddress", "IPNetwork", "RateLimit", "host_port", "parse_networks", "peer_ip"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_ip(peer: Any) -> IPAddress | None:
    """The address of a TCP peer; an IPv4-mapped IPv6 address as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack socket reports 192.168.1.5 as ::ffff:192.168.1.5.
        return ip.ipv4_mapped
    return ip


def parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Networks from CIDR strings ("192.168.0.0/16", "::1/128"; a bare address is one host).

    Raises:
        ValueError: one is not a network, or has host bits set ("192.168.1.5/24").
    """
    return tuple(
        n
        if isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        else ipaddress.ip_network(n)
        for n in networks
    )


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RateLimit:
    """Connections let in per address over the last minute (a sliding window)."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self.seen: dict[str, deque[float]] = {}

    def allows(self, key: str, limit: int, now: float) -> bool:
        stamps = self.seen.get(key)
        if stamps is None:
            return True
        while stamps and now - stamps[0] >= self.WINDOW:
            stamps.popleft()
        return len(stamps) < limit

    def record(self, key: str, now: float) -> None:
        stamps = self.seen.get(key)
        if stamps is None:
            if len(self.seen) >= 1024:
                self._prune(now)
            stamps = self.seen[key] = deque()
        stamps.append(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self.seen.items() if not v or now - v[-1] >= self.WINDOW]:
            del self.seen[key]
