"""Where an API runs: on this machine only, or reachable from elsewhere."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, ``localhost``, or a URL's bracket-free IPv6 host) is this machine
    only: ``localhost`` in any case, and every loopback address (127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
