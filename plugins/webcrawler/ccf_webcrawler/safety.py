"""SSRF protection: the crawler refuses private, loopback and link-local addresses unless allowed.

A crawler run inside a VPC can reach the instance metadata service and internal hosts; a link or
redirect on a public page must not make it fetch them. Each host name is resolved and every address
checked before a request (a clear per-URL refusal), and the connection itself goes to an address
checked at connect time (:class:`GuardedNetworkBackend`), so a DNS answer that changes between the
two checks (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence

import httpcore

from ccf_core.errors import CCFError
from ccf_webcrawler.network import connect_tcp

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(CCFError):
    """A host resolves to an address the crawler may not connect to."""


class AddressPolicy:
    """Which IP addresses may be fetched.

    Args:
        allow: ``True`` allows every address; ``False`` only public ones; a list of networks allows
            public addresses plus those networks.
    """

    def __init__(self, allow: bool | Sequence[str] = False) -> None:
        self.allow_all = allow is True
        networks = [] if isinstance(allow, bool) else list(allow)
        self.networks: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in networks]

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be fetched, or None when it may."""
        if self.allow_all:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return None
        if address.is_loopback:
            kind = "a loopback"
        elif address.is_link_local:
            kind = "a link-local"
        elif address.is_private or address.is_reserved or address.is_unspecified or address.is_multicast:
            kind = "a private"
        elif not address.is_global:
            kind = "a non-public"
        else:
            return None
        return (
            f"{address} is {kind} address; set allow_private_networks to true (or list its network) "
            "to crawl it"
        )

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, every one of them allowed.

        Raises:
            AddressRefused: when any address is refused (a host with one private address is
                refused whole: which one a connection uses is not ours to choose).
            OSError: when the name does not resolve.
        """
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        else:
            addresses = [literal]
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                raise AddressRefused(
                    reason if str(address) == host.strip("[]") else f"{host} resolves to {reason}"
                )
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend on asyncio (:mod:`ccf_webcrawler.network`), connecting only to
    addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.resolve(host, port)
        except AddressRefused as err:
            raise httpcore.ConnectError(str(err)) from err
        except OSError as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
        # TLS still verifies (and sends SNI for) the host name: httpcore takes it from the URL.
        return await connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the web crawler does not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
