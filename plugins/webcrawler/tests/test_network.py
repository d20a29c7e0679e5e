"""The asyncio network stream under httpcore: timeouts, flow control, end of stream, errors."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable

import httpcore
import pytest
import trustme

from ccf_webcrawler.network import _READ_AHEAD_LIMIT, connect_tcp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _with_server(handler: Handler, client: Callable[[int], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        await client(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def test_a_silent_server_times_the_read_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(b"hello", timeout=5)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(100, timeout=0.05)
        await stream.aclose()

    asyncio.run(_with_server(silent, client))


def test_a_body_larger_than_the_read_ahead_arrives_whole_and_in_order() -> None:
    """Past the read-ahead limit the socket is paused; reading resumes it without losing a byte."""
    body = bytes(range(256)) * (3 * _READ_AHEAD_LIMIT // 256)

    async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        async with asyncio.timeout(5):  # far more than the limit arrives before the first read
            while not stream.protocol.reading_paused:
                await asyncio.sleep(0.01)
        received = bytearray()
        while chunk := await stream.read(65536, timeout=5):
            received += chunk
        assert bytes(received) == body
        assert await stream.read(100, timeout=5) == b""  # the end stays the end
        await stream.aclose()

    asyncio.run(_with_server(sender, client))


def test_readable_reports_a_connection_the_server_closed() -> None:
    """httpcore asks idle pooled connections this before reusing them."""
    closed = asyncio.Event()

    async def closer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(5)
        writer.close()
        closed.set()

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        assert stream.get_extra_info("is_readable") is False
        await stream.write(b"hello", timeout=5)
        await closed.wait()
        async with asyncio.timeout(5):
            while not stream.get_extra_info("is_readable"):
                await asyncio.sleep(0.01)
        assert stream.get_extra_info("server_addr")[1] == port
        await stream.aclose()

    asyncio.run(_with_server(closer, client))


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(httpcore.ConnectError):
            asyncio.run(connect_tcp("127.0.0.1", port, timeout=5))


def test_writing_to_a_closed_connection_fails() -> None:
    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        await stream.aclose()
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"late", timeout=5)

    asyncio.run(_with_server(idle, client))


def test_a_tls_handshake_nobody_answers_is_a_connect_timeout() -> None:
    """The server accepts the connection and never speaks TLS: the request's timeout, as a timeout."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        with pytest.raises(httpcore.ConnectTimeout):
            await stream.start_tls(ssl.create_default_context(), "localhost", timeout=0.2)

    asyncio.run(_with_server(mute, client))


def test_an_untrusted_certificate_is_a_connect_error_caused_by_the_verification() -> None:
    """The cause is kept: the crawler tells a certificate problem from a network one by it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)

    async def tls_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def main() -> None:
        server = await asyncio.start_server(tls_server, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            stream = await connect_tcp("127.0.0.1", port, timeout=5)
            with pytest.raises(httpcore.ConnectError) as raised:
                await stream.start_tls(ssl.create_default_context(), "localhost", timeout=5)
            assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)
        finally:
            server.close()

    asyncio.run(main())


def test_a_peer_that_does_not_read_times_the_write_out() -> None:
    """Back-pressure: once the transport's buffer is full the write waits, up to its timeout."""
    stop = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()

    async def client(port: int) -> None:
        stream = await connect_tcp("127.0.0.1", port, timeout=5)
        with pytest.raises(httpcore.WriteTimeout):
            for _ in range(1000):  # far more than the socket buffers and the transport's limit
                await stream.write(b"x" * 1024 * 1024, timeout=0.2)
        assert stream.protocol.writing_paused
        stop.set()
        await stream.aclose()

    asyncio.run(_with_server(deaf, client))
