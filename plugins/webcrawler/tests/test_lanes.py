"""Request lanes (one small connection pool per request in flight) against a real local server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from ccf_webcrawler.lanes import LaneTransport


class _Server:
    """An HTTP/1.1 server on 127.0.0.1 (keep-alive) that counts connections and requests in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.connections = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> _Server:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    await asyncio.sleep(self.delay)
                finally:
                    self.in_flight -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _client(lanes: int) -> httpx.AsyncClient:
    transport = LaneTransport(
        lanes, lambda: httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=2))
    )
    return httpx.AsyncClient(transport=transport, timeout=5)


def _run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=20))


def test_requests_in_flight_never_exceed_the_lanes_and_each_lane_keeps_its_connection() -> None:
    async def test() -> None:
        async with _Server(delay=0.05) as server, _client(3) as client:
            answers = await asyncio.gather(*(client.get(f"{server.url}/{n}") for n in range(12)))
            assert [a.text for a in answers] == ["ok"] * 12
            assert server.most_in_flight == 3
            assert server.connections == 3  # four requests on each lane's one connection

    _run(test)


def test_a_request_goes_to_a_lane_that_last_talked_to_its_site() -> None:
    async def test() -> None:
        async with _Server() as first, _Server() as second, _client(2) as client:
            for server in (first, second, second, first, first, second):
                assert (await client.get(server.url + "/")).text == "ok"
            # Without the affinity, the lane idle the longest would open a second connection.
            assert (first.connections, second.connections) == (1, 1)

    _run(test)


def test_a_failed_cancelled_or_unread_request_gives_its_lane_back() -> None:
    async def test() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]  # nothing listens there once the probe closes
        async with _Server(delay=0.2) as server, _client(1) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{closed_port}/")
            slow = asyncio.create_task(client.get(server.url + "/slow"))
            await asyncio.sleep(0.05)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            async with client.stream("GET", server.url + "/unread"):
                pass  # closed without reading the body
            server.delay = 0.0
            assert (await client.get(server.url + "/after")).text == "ok"

    _run(test)


def test_a_cancelled_waiter_does_not_hold_up_the_others() -> None:
    async def test() -> None:
        async with _Server(delay=0.1) as server, _client(1) as client:
            busy = asyncio.create_task(client.get(server.url + "/busy"))
            await asyncio.sleep(0.02)
            waiting = [asyncio.create_task(client.get(f"{server.url}/{n}")) for n in range(3)]
            await asyncio.sleep(0.02)
            waiting[0].cancel()
            answers = await asyncio.gather(busy, *waiting[1:])
            assert [a.status_code for a in answers] == [200, 200, 200]
            assert server.most_in_flight == 1

    _run(test)


def test_at_least_one_lane() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LaneTransport(0, httpx.AsyncHTTPTransport)
