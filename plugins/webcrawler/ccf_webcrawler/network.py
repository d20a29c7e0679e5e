"""An httpcore network stream on asyncio's transports and protocols, without anyio in between.

httpcore's default backend goes through anyio, which opens a cancel scope for every read and write
and looks up the current task for each: a third of the CPU time of a 304 Not Modified, the answer
most of a recrawl is made of. The crawler only runs on asyncio, so its streams talk to asyncio
directly: a read waits on a future the protocol completes, a write hands bytes to the transport
and waits only when the transport asks the writer to pause.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import typing

import httpcore

#: Bytes received and not yet read after which the socket is no longer read from.
_READ_AHEAD_LIMIT = 1024 * 1024


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader (or writer) waiting."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_AHEAD_LIMIT and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    def _wake_reader(self) -> None:
        waiter, self.reader = self.reader, None
        _wake(waiter)

    def _wake_writer(self) -> None:
        waiter, self.writer = self.writer, None
        _wake(waiter)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _wait(waiter: asyncio.Future[None], timeout: float | None) -> None:
    if timeout is None:
        await waiter
        return
    async with asyncio.timeout(timeout):
        await waiter


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self.transport = transport
        self.protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self.protocol
        while not protocol.buffer and not protocol.eof:
            protocol.reader = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.reader, timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data for {timeout} s") from None
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) < _READ_AHEAD_LIMIT:
                protocol.reading_paused = False
                self.transport.resume_reading()
            return data
        error = protocol.error
        if error is not None:
            raise httpcore.ReadError(str(error) or type(error).__name__) from error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self.protocol
        if self.transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self.transport.write(buffer)
        while protocol.writing_paused and not protocol.eof:
            protocol.writer = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.writer, timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not write for {timeout} s") from None
        if protocol.error is not None:
            raise httpcore.WriteError(
                str(protocol.error) or type(protocol.error).__name__
            ) from protocol.error

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        # asyncio's own handshake timeout ends the handshake with ConnectionAbortedError, which
        # would read as a failed connection: the request's timeout fires first, as a timeout.
        # (A failed start_tls closes the connection itself.)
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self.transport,
                    self.protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=None if timeout is None else timeout + 5,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"TLS handshake took more than {timeout} s") from None
        except OSError as err:  # ssl.SSLError included; the cause says which (a certificate...)
            raise httpcore.ConnectError(str(err)) from err
        if transport is None:  # pragma: no cover - asyncio returns None only when closing
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self.protocol.transport = transport  # reading is paused and resumed on the TLS layer now
        return AsyncioStream(transport, self.protocol)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # Asked of idle pooled connections: readable means closed by the server (or junk).
            if self.protocol.buffer or self.protocol.eof:
                return True
            sock = self.transport.get_extra_info("socket")
            if sock is None or sock.fileno() < 0:
                return True
            poll = select.poll()
            poll.register(sock.fileno(), select.POLLIN)
            return bool(poll.poll(0))
        if info == "client_addr":
            return self.transport.get_extra_info("sockname")
        if info == "server_addr":
            return self.transport.get_extra_info("peername")
        return self.transport.get_extra_info(info)  # ssl_object, socket


async def connect_tcp(
    host: str,
    port: int,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
) -> AsyncioStream:
    """Open a TCP connection to ``host`` (an address) and ``port`` (TCP_NODELAY, as asyncio sets it)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(
                _Protocol, host, port, local_addr=(local_address, 0) if local_address else None
            )
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"could not connect within {timeout} s") from None
    except OSError as err:
        raise httpcore.ConnectError(str(err)) from err
    sock: socket.socket | None = transport.get_extra_info("socket")
    try:
        for option in socket_options or ():
            if sock is not None:
                sock.setsockopt(*option)
    except OSError as err:
        transport.close()
        raise httpcore.ConnectError(f"cannot set a socket option: {err}") from err
    return AsyncioStream(transport, protocol)
